"""Business events on figures: markers and shaded ranges over calendar time, and impact plots."""

from __future__ import annotations

import math
from datetime import UTC as _UTC
from datetime import date, datetime, timedelta

import plotly.graph_objects as go
import polars as pl

_KIND_COLORS = ("#7f7f7f", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf")


def _day(value) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) >= 7:
        try:
            return datetime.fromisoformat(value if len(value) > 7 else value + "-01").date()
        except ValueError:
            return None
    if hasattr(value, "astype"):  # numpy datetime64
        try:
            return _day(value.astype("datetime64[us]").item())
        except (TypeError, ValueError):
            return None
    return None


def _x_span(fig: go.Figure) -> tuple[date, date] | None:
    """First and last calendar day among the traces' x values (None when x is not dates)."""
    days = []
    for trace in fig.data:
        xs = getattr(trace, "x", None)
        if xs is None:
            continue
        for v in xs:
            d = _day(v)
            if d is not None:
                days.append(d)
    # Monthly points stand for their whole month: keep events up to a month after the last one.
    return (min(days), max(days) + timedelta(days=31)) if days else None


def _has_grid(fig: go.Figure) -> bool:
    try:
        fig.get_subplot(1, 1)
    except Exception:  # plotly raises a plain Exception for figures without subplots
        return False
    return True


def add_annotations(fig: go.Figure, annotations, *, row=None, col=None) -> go.Figure:
    """Draw business events on a figure whose x axis is calendar time, and return it.

    A one-day event (end == start) is a dashed vertical line, a longer one a shaded range from
    its start to the end of its last day; each carries its label at the top, with the kind,
    dates and segment on hover. Events entirely outside the figure's dates are left out.
    `row`/`col` pick a subplot; by default lines and ranges span every subplot and labels sit
    on the top one. `annotations`: a table from `wb.load_annotations` (or anything it accepts).
    """
    from ..annotations import (
        END,
        KIND,
        LABEL,
        SEGMENT_COLUMN,
        SEGMENT_VALUE,
        START,
        annotation_table,
        segment_text,
    )

    table = annotation_table(annotations, caller="add_annotations")
    span = _x_span(fig)
    if span is not None:
        table = table.filter((pl.col(END) >= span[0]) & (pl.col(START) <= span[1]))
    kinds = table[KIND].fill_null("event").unique(maintain_order=True).to_list()
    where = {} if row is None and col is None else {"row": row, "col": col}
    label_at = where or ({"row": 1, "col": 1} if _has_grid(fig) else {})
    for i, r in enumerate(table.iter_rows(named=True)):
        kind = r[KIND] or "event"
        color = _KIND_COLORS[kinds.index(kind) % len(_KIND_COLORS)]
        x0 = datetime(r[START].year, r[START].month, r[START].day)
        when = f"{r[START]}" if r[END] == r[START] else f"{r[START]} to {r[END]}"
        hover = (
            f"<b>{r[LABEL]}</b><br>{kind}, {when}<br>applies to "
            f"{segment_text(r[SEGMENT_COLUMN], r[SEGMENT_VALUE])}"
        )
        if r[END] == r[START]:
            fig.add_vline(x=x0, line={"color": color, "dash": "dash", "width": 1.5}, **where)
        else:
            x1 = datetime(r[END].year, r[END].month, r[END].day) + timedelta(days=1)
            fig.add_vrect(
                x0=x0, x1=x1, fillcolor=color, opacity=0.15, line_width=0, layer="below", **where
            )
        fig.add_annotation(
            x=x0,
            y=1,
            yref="y domain",
            text=r[LABEL],
            hovertext=hover,
            showarrow=False,
            xanchor="left",
            yanchor="bottom",
            font={"size": 10, "color": color},
            yshift=14 * (i % 2),
            **label_at,  # alternate heights so close labels stay legible
        )
    return fig


def impact_forest(result) -> go.Figure:
    """Forest plot of `event_impact`: each event x comparison with its estimate and interval."""
    t = result.table
    hazard = result.params.get("metric") == "churn_hazard"
    labels = [f"{r['label']}: {r['group']}" for r in t.iter_rows(named=True)]
    est = t.get_column("estimate").to_list()
    lo = t.get_column("ci_low").to_list()
    hi = t.get_column("ci_high").to_list()

    def fmt(v, spec):
        return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)

    spec = ".2f" if hazard else "+.1%"
    rate = ".3f" if hazard else ".1%"
    hover = []
    for r in t.iter_rows(named=True):
        text = (
            f"<b>{r['label']}</b><br>{r['group']} ({r['comparison']})<br>"
            f"{r['measure']}: {fmt(r['estimate'], spec)} [{fmt(r['ci_low'], spec)}, "
            f"{fmt(r['ci_high'], spec)}], p = {fmt(r['p_value'], '.3g')}"
        )
        if r["n_events_before"] is not None:
            text += (
                f"<br>before: {r['n_events_before']} churns, {fmt(r['value_before'], rate)}"
                f"<br>after: {r['n_events_after']} churns, {fmt(r['value_after'], rate)}"
            )
        hover.append(text)
    colors = [
        "#d62728" if c == "difference in differences" else "#1f77b4"
        for c in t.get_column("comparison").to_list()
    ]
    fig = go.Figure(
        go.Scatter(
            x=est,
            y=labels,
            mode="markers",
            marker={"size": 10, "symbol": "square", "color": colors},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [
                    None if h is None or e is None else h - e for e, h in zip(est, hi, strict=True)
                ],
                "arrayminus": [
                    None if w is None or e is None else e - w for e, w in zip(est, lo, strict=True)
                ],
            },
            hovertext=hover,
            hoverinfo="text",
            name="estimate",
        )
    )
    fig.add_vline(x=1 if hazard else 0, line_dash="dash", line_color="grey")
    level = result.params.get("level", 0.95)
    fig.update_layout(
        title=f"Churn after business events ({level:.0%} intervals; window {result.params.get('window')})",
        xaxis_title=(
            "Hazard ratio after / before (red: relative to the control)"
            if hazard
            else "Retention change after - before (red: relative to the control)"
        ),
        yaxis_title="Event: group",
        xaxis_type="log" if hazard else "linear",
        xaxis_tickformat=None if hazard else "+.0%",
        yaxis={"autorange": "reversed"},
        showlegend=False,
        template="plotly_white",
    )
    return fig


__all__ = ["add_annotations", "impact_forest"]


def add_cohort_annotations(fig: go.Figure, annotations, *, period: str = "month") -> go.Figure:
    """Mark business events on a calendar retention heatmap (`plot_retention_heatmap`), in place.

    An event falls in one calendar period, which is cell (cohort c, period k) with
    k = its period - c's period: a diagonal across the triangle. Each cell whose period
    overlaps the event (start to end) is outlined, one legend entry per event, with the label,
    kind and dates on hover. Only for calendar periods (`period` of the matrix: day, week, month,
    quarter); rolling windows have no common calendar.
    """
    from ..annotations import END, KIND, LABEL, START, annotation_table
    from ..periods import PERIODS, index_of

    if period not in PERIODS:
        from ..errors import bad_choice

        raise bad_choice("add_cohort_annotations", "period", period, list(PERIODS))
    table = annotation_table(annotations, caller="add_cohort_annotations")
    panels = {}  # (xaxis, yaxis) -> (period labels, cohort labels) of the heatmap there
    for trace in fig.data:
        if isinstance(trace, go.Heatmap) and trace.x is not None and trace.y is not None:
            panels.setdefault((trace.xaxis or "x", trace.yaxis or "y"), (trace.x, trace.y))
    kinds = table[KIND].fill_null("event").unique(maintain_order=True).to_list()

    def idx(day: date) -> int:
        return index_of(datetime(day.year, day.month, day.day, tzinfo=_UTC), period)

    for n, r in enumerate(table.iter_rows(named=True)):
        color = _KIND_COLORS[kinds.index(r[KIND] or "event") % len(_KIND_COLORS)]
        lo, hi = idx(r[START]), idx(r[END])
        when = f"{r[START]}" if r[END] == r[START] else f"{r[START]} to {r[END]}"
        for p, ((xaxis, yaxis), (xs, ys)) in enumerate(panels.items()):
            shown = {str(x) for x in xs}
            cells_x, cells_y = [], []
            for y in ys:
                start = _day(y)
                if start is None:
                    continue
                for k in range(lo - idx(start), hi - idx(start) + 1):
                    if str(k) in shown:
                        cells_x.append(str(k))
                        cells_y.append(y)
            if not cells_x:
                continue
            fig.add_trace(
                go.Scatter(
                    x=cells_x,
                    y=cells_y,
                    mode="markers",
                    marker={
                        "symbol": "square-open",
                        "size": 20,
                        "color": color,
                        "line": {"width": 2},
                    },
                    name=r[LABEL],
                    legendgroup=f"event{n}",
                    showlegend=p == 0,
                    hovertemplate=f"<b>{r[LABEL]}</b><br>{r[KIND] or 'event'}, {when}"
                    "<br>cohort %{y}, period %{x}<extra></extra>",
                    xaxis=xaxis,
                    yaxis=yaxis,
                )
            )
    if any(isinstance(t, go.Scatter) for t in fig.data):  # the legend below, off the colour bar
        fig.update_layout(legend={"orientation": "h", "yanchor": "top", "y": -0.12, "x": 0})
    return fig
