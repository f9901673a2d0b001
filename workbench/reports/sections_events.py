"""Report block "What happened this month": the month's business events and their measured impact.

Each annotation overlapping the report month is listed with the change in the churn hazard in
the `WINDOW` after it against the `BEFORE` days before it (`wb.event_impact`: contractual churn
when subscriptions are available, else inactivity churn with the report's churn definition).
An event's impact can only be measured once the churn of its after window is known, so events
of the last months are listed too, with their impact as soon as it is measurable.
"""

from __future__ import annotations

from datetime import timedelta
from html import escape

import polars as pl

from .blocks import Section, figure_of

WINDOW = "30d"
BEFORE = "90d"
LOOKBACK_DAYS = 183  # earlier events whose impact may have become measurable


def _impact_cell(row: dict | None, did: dict | None) -> str:
    if row is None or row["estimate"] is None:
        return ""
    text = (
        f"{row['estimate']:.2f}x ({row['ci_low']:.2f} to {row['ci_high']:.2f}), "
        f"p = {row['p_value']:.2g}"
    )
    if did is not None and did["estimate"] is not None:
        text += f"; vs control {did['estimate']:.2f}x ({did['ci_low']:.2f} to {did['ci_high']:.2f})"
    return escape(text)


def events_block(
    annotations: pl.DataFrame, impacts: dict, *, month: str, first_day, last_day
) -> str:
    """HTML of the block: a table of the events (this month's first, then recent ones) with
    their measured change in churn, and the plain-words verdicts below it.

    `impacts`: {label: EventImpact or error text}. Every data string is escaped.
    """
    from ..annotations import END, KIND, LABEL, SEGMENT_COLUMN, SEGMENT_VALUE, START, segment_text

    if annotations.height == 0:
        return (
            f'<div class="wb-events"><p>No business events are annotated for '
            f"{escape(month)} or the months before it.</p></div>"
        )
    head = (
        "<tr><th>Event</th><th>Dates</th><th>Kind</th><th>Applies to</th>"
        "<th>Churn hazard after / before</th></tr>"
    )
    rows, verdicts = [], []
    for r in annotations.iter_rows(named=True):
        now = r[START] <= last_day and r[END] >= first_day
        when = f"{r[START]}" if r[END] == r[START] else f"{r[START]} to {r[END]}"
        res = impacts.get(r[LABEL])
        if isinstance(res, str) or res is None:
            cell = escape(res or "")
        else:
            t = res.table
            seg = t.filter(pl.col("comparison") != "difference in differences").row(0, named=True)
            did = t.filter(pl.col("comparison") == "difference in differences")
            cell = _impact_cell(seg, did.row(0, named=True) if did.height else None)
            text = res.verdicts.get(r[LABEL], "")
            if seg["estimate"] is None:
                cell = escape(text.split(": ", 1)[-1].split(".")[0])
            verdicts.append(f"<li>{escape(text)}</li>")
        mark = " <b>(this month)</b>" if now else ""
        rows.append(
            f"<tr><td>{escape(r[LABEL])}{mark}</td><td>{escape(when)}</td>"
            f"<td>{escape(r[KIND] or '')}</td>"
            f"<td>{escape(segment_text(r[SEGMENT_COLUMN], r[SEGMENT_VALUE]))}</td>"
            f'<td class="wb-num">{cell}</td></tr>'
        )
    listing = '<ul class="wb-bullets">' + "".join(verdicts) + "</ul>" if verdicts else ""
    return (
        f'<div class="wb-events"><table class="wb-table"><thead>{head}</thead><tbody>'
        + "".join(rows)
        + f"</tbody></table>{listing}</div>"
    )


def what_happened_html(ctx) -> str | None:
    """The block's HTML for a report context (None without an annotations table)."""
    html, _ = _build(ctx)
    return html


def what_happened(ctx) -> Section | None:
    """Section "What happened this month" (None without an annotations table)."""
    html, results = _build(ctx)
    if html is None:
        return None
    sec = Section("events", "What happened this month")
    sec.add(html)
    measured = [
        r
        for r in results.values()
        if not isinstance(r, str) and r.table["estimate"].drop_nulls().len()
    ]
    if measured:
        from ..impact import EVENT_IMPACT_DEFINITION

        sec.add(figure_of(measured[-1]) if len(measured) == 1 else _combined(measured))
        ctx.define("Event impact", EVENT_IMPACT_DEFINITION, measured[0].params)
    return sec


def _combined(results):
    from dataclasses import replace

    table = pl.concat([r.table for r in results])
    return figure_of(replace(results[0], table=table))


def measure_event(ctx, label: str, start):
    """`wb.event_impact` of one annotation with the report's windows, computed once per report
    (the block here and the table under Drivers share it); a WorkbenchError is re-raised."""
    from ..annotations import LABEL, START, annotation_table
    from ..impact import event_impact

    memo = ctx.cache.setdefault("event_impact", {})
    if (label, start) not in memo:
        ann = annotation_table(ctx.annotations, caller="report")
        one = ann.filter((pl.col(LABEL) == label) & (pl.col(START) == start))
        subs = ctx.subscriptions
        source = (
            {"subscriptions": subs}
            if subs is not None and subs.height
            else {"churn": ctx.churn_definition}
        )
        try:
            memo[label, start] = event_impact(
                ctx.events,
                one,
                customers=ctx.customers,
                window=WINDOW,
                before=BEFORE,
                annotations=ann,
                as_of=ctx.as_of,
                **source,
            )
        except Exception as exc:  # remembered so both callers see the same outcome
            memo[label, start] = exc
    found = memo[label, start]
    if isinstance(found, Exception):
        raise found
    return found


def _build(ctx):
    if getattr(ctx, "annotations", None) is None:
        return None, {}
    from ..annotations import END, LABEL, START, annotation_table
    from ..errors import WorkbenchError

    ann = annotation_table(ctx.annotations, caller="report")
    first_day, last_day = ctx.start.date(), (ctx.end - timedelta(days=1)).date()
    shown = ann.filter(
        (pl.col(START) <= last_day) & (pl.col(END) >= first_day - timedelta(days=LOOKBACK_DAYS))
    ).sort(START, descending=True)
    results: dict = {}
    for row in shown.iter_rows(named=True):
        try:
            res = measure_event(ctx, row[LABEL], row[START])
        except WorkbenchError as exc:
            res = f"not measured: {exc}"
        results[row[LABEL]] = res
    html = events_block(shown, results, month=ctx.month, first_day=first_day, last_day=last_day)
    return html, results
