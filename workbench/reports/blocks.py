"""Building blocks of report sections: escaped HTML tables, figures, tiles, and `show`.

Every string that may come from data (category, channel, plan names) goes through
:func:`esc` before it becomes HTML. Figures are serialised by plotly, which JSON-encodes text.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from html import escape

import polars as pl

from .offline import figure_html


def esc(value) -> str:
    """HTML-escape any value (quotes included)."""
    return escape("" if value is None else str(value), quote=True)


def optional(module: str):
    """The workbench module `module` if it is importable, else None (its section is left out)."""
    try:
        return importlib.import_module(f"workbench.{module}")
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name == f"workbench.{module}" or exc.name.startswith("workbench.")):
            return None
        raise


def has(module, *names: str) -> bool:
    """True when `module` exists and defines every one of `names`."""
    return module is not None and all(hasattr(module, n) for n in names)


@dataclass
class Section:
    """One report section: an id (anchor), a title and its parts (HTML strings or figures)."""

    id: str
    title: str
    parts: list = field(default_factory=list)
    kpis: list | None = None
    lead: str = ""  # HTML shown above the section title (the report header)

    def add(self, part) -> Section:
        if part is not None:
            self.parts.append(part)
        return self

    def text(self, html_text: str) -> Section:
        return self.add(f"<p>{html_text}</p>")

    def note(self, html_text: str) -> Section:
        return self.add(f'<p class="wb-note">{html_text}</p>')

    def heading(self, title: str) -> Section:
        return self.add(f"<h3>{esc(title)}</h3>")

    @property
    def n_figures(self) -> int:
        return sum(1 for p in self.parts if not isinstance(p, str))

    def html(self, *, first: bool = False) -> str:
        body = []
        for part in self.parts:
            if isinstance(part, str):
                body.append(part)
            else:
                body.append(f'<div class="wb-figure">{figure_html(part)}</div>')
        cls = "wb-section wb-first" if first else "wb-section"
        return (
            f'<section class="{cls}" id="{esc(self.id)}">\n{self.lead}'
            f"<h2>{esc(self.title)}</h2>\n" + "\n".join(body) + "\n</section>"
        )


def show(section: Section | None, ctx=None) -> None:
    """Display a section as one HTML output whose metadata feeds the table of contents."""
    if section is None or not section.parts:
        return
    from IPython.display import HTML, display

    first = ctx is not None and not ctx.rendered
    if ctx is not None:
        ctx.rendered.append(section.id)
    meta = {"section": {"id": section.id, "title": section.title}, "figures": section.n_figures}
    if section.kpis is not None:
        meta["kpis"] = [k.to_dict() for k in section.kpis]
    display(HTML(section.html(first=first)), metadata={"workbench": meta})


def _cell(value, fmt: str | None) -> tuple[str, bool]:
    if value is None:
        return "", False
    if isinstance(value, bool):
        return ("yes" if value else "no"), False
    if isinstance(value, int):
        return f"{value:,}", True
    if isinstance(value, float):
        if math.isnan(value):
            return "", True
        if fmt == "pct":
            return f"{value:.1%}", True
        if fmt == "money":
            return f"{value:,.0f}", True
        return (f"{value:,.3g}" if abs(value) < 1 else f"{value:,.1f}"), True
    return esc(value), False


def table(
    frame: pl.DataFrame,
    *,
    formats: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    max_rows: int = 30,
) -> str:
    """A polars frame as an escaped HTML table (numbers right-aligned, at most `max_rows`)."""
    formats, labels = formats or {}, labels or {}
    numeric = {c for c, t in frame.schema.items() if t.is_numeric()}
    head = "".join(
        f'<th class="wb-num">{esc(labels.get(c, c))}</th>'
        if c in numeric
        else f"<th>{esc(labels.get(c, c))}</th>"
        for c in frame.columns
    )
    rows = []
    for row in frame.head(max_rows).iter_rows(named=True):
        cells = []
        for col, value in row.items():
            text, numeric = _cell(value, formats.get(col))
            cells.append(f'<td class="wb-num">{text}</td>' if numeric else f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = ""
    if frame.height > max_rows:
        more = f'<p class="wb-note">First {max_rows} of {frame.height:,} rows.</p>'
    return (
        f'<table class="wb-table"><thead><tr>{head}</tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table>"
        + more
    )


def tiles(kpis) -> str:
    """KPI tiles: value, change and a mark only for statistically real changes."""
    out = []
    for k in kpis:
        judgement = k.judgement
        cls = {"better": " wb-up", "worse": " wb-down"}.get(judgement, "")
        arrow = {"up": "&#9650;", "down": "&#9660;"}.get(k.direction, "")
        delta = esc(k.change_display) if k.change_display else "&nbsp;"
        mark = (
            (
                f'<span class="wb-flag-mark" title="{esc(k.test)}, p = {k.p_value:.3g}">'
                f"{arrow} significant</span>"
            )
            if k.flag
            else ""
        )
        out.append(
            f'<div class="wb-tile{cls}"><div class="wb-tile-label">{esc(k.label)}</div>'
            f'<div class="wb-tile-value">{esc(k.display)}</div>'
            f'<div class="wb-tile-delta{" wb-flag" if k.flag else ""}">{delta}{mark}</div></div>'
        )
    return '<div class="wb-tiles">' + "".join(out) + "</div>"


def bullets(items: list[str]) -> str:
    """An HTML list of already-escaped items."""
    return '<ul class="wb-bullets">' + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


class notes_of:
    """Collect WorkbenchWarnings raised inside the block as notes for a section."""

    def __init__(self, section: Section):
        self.section = section
        self._cm = None
        self._caught = None

    def __enter__(self):
        import warnings

        from ..errors import WorkbenchWarning

        self._cm = warnings.catch_warnings(record=True)
        self._caught = self._cm.__enter__()
        warnings.simplefilter("always", WorkbenchWarning)
        return self

    def __exit__(self, *exc):
        import warnings

        from ..errors import WorkbenchWarning

        self._cm.__exit__(*exc)
        seen = []
        for w in self._caught:
            if issubclass(w.category, WorkbenchWarning):
                text = str(w.message)
                if text not in seen:
                    seen.append(text)
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        if seen and exc[0] is None:
            self.section.note("Notes: " + " ".join(esc(t) for t in seen))
        return False


def figure_of(result, **kwargs):
    """`result.plot(**kwargs)`, or None while the plotting module for it does not exist yet."""
    try:
        return result.plot(**kwargs)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("workbench."):
            return None
        raise
    except ImportError as exc:
        if "workbench" in str(exc):
            return None
        raise
