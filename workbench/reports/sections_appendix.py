"""Appendices: the definition of every metric shown, and the data-quality account of the input."""

from __future__ import annotations

import polars as pl

from .blocks import Section, esc, table


def definitions(ctx) -> Section:
    """Every metric as computed in this report, with its parameters."""
    sec = Section("definitions", "Appendix: definitions")
    params = {
        "Report month": ctx.month,
        "Analysis date (as_of)": f"{ctx.as_of:%Y-%m-%d %H:%M:%S} UTC",
        "Comparison month": ctx.compare,
        "Churn definition (inactivity gap)": ctx.churn_definition,
        "Breakdown attribute": ctx.by,
    }
    sec.heading("Parameters")
    sec.add(table(pl.DataFrame({"parameter": list(params), "value": list(params.values())})))
    sec.heading("Metrics")
    rows = "".join(
        f"<dt><strong>{esc(name)}</strong></dt><dd>{esc(text)}</dd>"
        for name, text in ctx.definitions.items()
    )
    sec.add(f'<dl class="wb-definitions">{rows}</dl>')
    return sec


def _late_data(sec: Section, ctx) -> None:
    """Headline numbers that moved since this month was last rendered: late-arriving data."""
    prev = ctx.previous_render
    kpis = ctx.cache.get("kpis") or []
    if not prev or not kpis:
        return
    before = {k.get("key"): k for k in prev.get("kpis", [])}
    rows = []
    for k in kpis:
        old = before.get(k.key)
        if old is not None and old.get("value") != k.value:
            rows.append((k.label, old.get("display", ""), k.display))
    sec.heading("Late data: changes since the last rendering of this month")
    when = esc(prev.get("rendered_at") or "an earlier run")
    if not rows:
        sec.text(f"The headline numbers equal those of the rendering of {when}.")
        return
    sec.text(
        f"{len(rows)} headline number(s) differ from the rendering of {when} "
        f"(source then: {esc(prev.get('source') or 'unknown')}): data for this month "
        f"arrived or changed since."
    )
    sec.add(table(pl.DataFrame(rows, schema=["metric", "before", "now"], orient="row")))


def data_quality(ctx) -> Section:
    """Rows read and rejected (with the reasons), duplicates, date range, rows after the month."""
    sec = Section("data-quality", "Appendix: data quality")
    rep = ctx.load_report
    if rep is not None:
        frame = rep.to_frame()
        extra = pl.DataFrame(
            {
                "item": [
                    "rows after the report month (not used here)",
                    "rows used (up to the month)",
                ],
                "value": [f"{ctx.rows_after_month:,}", f"{ctx.events.height:,}"],
            }
        )
        sec.heading(f"Events ({esc(rep.source)})")
        sec.add(table(pl.concat([frame, extra]), max_rows=100))
        if rep.rejected:
            sec.note(
                "Rejected rows were left out of every analysis; the reasons above are the "
                "checks of wb.load_events (null keys, unparseable values, timestamps after "
                f"the load date {esc(rep.as_of)})."
            )
        else:
            sec.note("No row was rejected by the checks of wb.load_events.")
    sides = []
    for name in ("customers", "subscriptions", "campaigns", "feedback"):
        frame = getattr(ctx, name)
        if frame is not None:
            sides.append((name, frame.height))
    if sides:
        sec.heading("Side tables (rows known by the month's end)")
        sec.add(
            table(pl.DataFrame({"table": [s[0] for s in sides], "rows": [s[1] for s in sides]}))
        )
    _late_data(sec, ctx)
    if ctx.load_notes:
        sec.heading("Notes from loading")
        sec.add(
            '<ul class="wb-bullets">'
            + "".join(f"<li>{esc(n)}</li>" for n in ctx.load_notes)
            + "</ul>"
        )
    return sec
