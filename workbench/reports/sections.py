"""Report sections, one function per section: ``ctx -> Section | None``.

Each section calls headless workbench analyses and formats their results; a section whose
analysis module (or input table) is not available returns None and is left out of the report,
including its table-of-contents entry. The template notebook only calls these functions.
"""

from __future__ import annotations

from .blocks import Section, show
from .context import ReportContext, load_context
from .offline import use_offline_renderer
from .sections_appendix import data_quality, definitions
from .sections_summary import summary


def start(**params) -> ReportContext:
    """Set the offline plotly renderer (emitting plotly.js once) and load the report's data."""
    ctx = load_context(**params)
    use_offline_renderer(emit_library=True)
    return ctx


__all__ = [
    "ReportContext",
    "Section",
    "data_quality",
    "definitions",
    "load_context",
    "show",
    "start",
    "summary",
]
