"""Report sections, one function per section: ``ctx -> Section | None``.

Each section calls headless workbench analyses and formats their results; a section whose
analysis module (or input table) is not available returns None and is left out of the report,
including its table-of-contents entry. The template notebook only calls these functions.
"""

from __future__ import annotations

import functools

from . import (
    sections_actions,
    sections_appendix,
    sections_churn,
    sections_cohorts,
    sections_events,
    sections_summary,
)
from .blocks import Section, show
from .context import ReportContext, load_context
from .offline import use_offline_renderer


def _missing_module(exc: ImportError) -> bool:
    """True for an import of a workbench module (or name) that does not exist yet."""
    name = getattr(exc, "name", None) or ""
    return name.startswith("workbench") or "from 'workbench" in str(exc)


def _section(fn):
    """Leave a section out while a workbench module it needs is missing; other errors fail."""

    @functools.wraps(fn)
    def run(ctx: ReportContext) -> Section | None:
        try:
            return fn(ctx)
        except ImportError as exc:
            if _missing_module(exc):
                return None
            raise

    return run


summary = _section(sections_summary.summary)
events = _section(sections_events.what_happened)
acquisition = _section(sections_cohorts.acquisition)
lifecycle = _section(sections_cohorts.lifecycle)
churn = _section(sections_churn.churn)
drivers = _section(sections_churn.drivers)
leaving = _section(sections_churn.leaving)
winback = _section(sections_actions.winback)
funnel = _section(sections_actions.funnel)
definitions = sections_appendix.definitions
data_quality = sections_appendix.data_quality

ORDER = (
    "summary",
    "events",
    "acquisition",
    "lifecycle",
    "churn",
    "drivers",
    "leaving",
    "winback",
    "funnel",
    "definitions",
    "data_quality",
)


def start(**params) -> ReportContext:
    """Set the offline plotly renderer (emitting plotly.js once) and load the report's data."""
    ctx = load_context(**params)
    use_offline_renderer(emit_library=True)
    return ctx


__all__ = [
    "ORDER",
    "ReportContext",
    "Section",
    "acquisition",
    "churn",
    "data_quality",
    "definitions",
    "drivers",
    "events",
    "funnel",
    "leaving",
    "lifecycle",
    "load_context",
    "show",
    "start",
    "summary",
    "winback",
]
