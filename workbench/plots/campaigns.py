"""Figures for campaigns, funnels, activation and channel quality (results in, go.Figure out)."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from .annotations import add_annotations

_PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


def _fmt(v, spec: str = ".1%") -> str:
    return "n/a" if v is None else format(v, spec)


def _labels(table: pl.DataFrame, keys: list[str]) -> list[str]:
    return [" / ".join(str(r[k]) for k in keys) for r in table.select(keys).iter_rows(named=True)]


def lift_forest(result, *, scale: str = "absolute") -> go.Figure:
    """Forest plot: each campaign (x segment) with its lift and interval; a line marks no effect."""
    from ..errors import bad_choice

    if scale not in ("absolute", "relative"):
        raise bad_choice("CampaignEffect.plot", "scale", scale, ("absolute", "relative"))
    t = result.table
    keys = ["campaign_id", *result.params.get("by", [])]
    col = "lift" if scale == "absolute" else "rel_lift"
    labels = _labels(t, keys)
    est = t.get_column(col).to_list()
    lo = t.get_column(f"{col}_ci_low").to_list()
    hi = t.get_column(f"{col}_ci_high").to_list()
    hover = [
        f"<b>{lab}</b><br>treatment: {r['returned_treatment']}/{r['n_treatment']} "
        f"({_fmt(r['rate_treatment'])})<br>control: {r['returned_control']}/{r['n_control']} "
        f"({_fmt(r['rate_control'])})<br>lift: {_fmt(r['lift'])} [{_fmt(r['lift_ci_low'])}, "
        f"{_fmt(r['lift_ci_high'])}]<br>relative: {_fmt(r['rel_lift'])}<br>"
        f"p = {_fmt(r['p_value'], '.3g')} ({r['test']}), BH-adjusted {_fmt(r['p_adjusted'], '.3g')}"
        for lab, r in zip(labels, t.iter_rows(named=True), strict=True)
    ]
    fig = go.Figure(
        go.Scatter(
            x=est,
            y=labels,
            mode="markers",
            marker={"size": 10, "symbol": "square", "color": _PALETTE[0]},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [
                    None if h is None or e is None else h - e for e, h in zip(est, hi, strict=True)
                ],
                "arrayminus": [
                    None if lw is None or e is None else e - lw
                    for e, lw in zip(est, lo, strict=True)
                ],
            },
            hovertext=hover,
            hoverinfo="text",
            name="lift",
        )
    )
    fig.add_vline(x=0, line_dash="dash", line_color="grey")
    level = result.params.get("level", 0.95)
    what = (
        "Lift in return rate (treatment - control)"
        if scale == "absolute"
        else ("Relative lift (treatment rate / control rate - 1)")
    )
    fig.update_layout(
        title=f"Campaign effect within {result.params.get('window')} ({level:.0%} intervals)",
        xaxis_title=what,
        yaxis_title="Campaign",
        xaxis_tickformat=".0%",
        yaxis={"autorange": "reversed"},
        showlegend=False,
        template="plotly_white",
    )
    return fig


def funnel_bars(result) -> go.Figure:
    """Customers reaching each step (bars) with the drop-off from the previous step stacked on
    top; with a breakdown, overall conversion per segment with Wilson intervals."""
    t = result.table
    by = result.params.get("by", [])
    steps = result.params["steps"]
    fig = go.Figure()
    if not by:
        conv = t.get_column("overall_conversion").to_list()
        fig.add_bar(
            x=steps,
            y=t.get_column("customers").to_list(),
            name="reached",
            marker_color=_PALETTE[0],
            text=[_fmt(c) for c in conv],
            textposition="inside",
            hovertext=[
                f"<b>{r['event']}</b><br>reached: {r['customers']} of {r['entered']} "
                f"({_fmt(r['overall_conversion'])})<br>from previous step: "
                f"{_fmt(r['step_conversion'])} [{_fmt(r['step_ci_low'])}, "
                f"{_fmt(r['step_ci_high'])}]<br>median time: {r['time_median']}"
                for r in t.iter_rows(named=True)
            ],
            hoverinfo="text",
        )
        fig.add_bar(
            x=steps,
            y=t.get_column("drop_off").to_list(),
            name="dropped off",
            marker_color="#d3d3d3",
            hovertext=[
                f"dropped off before {r['event']}: {r['drop_off']} ({_fmt(r['drop_off_rate'])})"
                for r in t.iter_rows(named=True)
            ],
            hoverinfo="text",
        )
        fig.update_layout(barmode="stack", yaxis_title="Customers")
    else:
        labels = _labels(t, by)
        t = t.with_columns(pl.Series("_label", labels))
        for i, (seg,) in enumerate(t.select("_label").unique(maintain_order=True).iter_rows()):
            part = t.filter(pl.col("_label") == seg)
            conv = part.get_column("overall_conversion").to_list()
            lo = part.get_column("overall_ci_low").to_list()
            hi = part.get_column("overall_ci_high").to_list()
            fig.add_bar(
                x=steps,
                y=conv,
                name=seg,
                marker_color=_PALETTE[i % len(_PALETTE)],
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [None if h is None else h - c for c, h in zip(conv, hi, strict=True)],
                    "arrayminus": [
                        None if lw is None else c - lw for c, lw in zip(conv, lo, strict=True)
                    ],
                },
                hovertext=[
                    f"<b>{seg}: {r['event']}</b><br>reached: {r['customers']} of {r['entered']} "
                    f"({_fmt(r['overall_conversion'])})<br>drop-off: {r['drop_off']}"
                    for r in part.iter_rows(named=True)
                ],
                hoverinfo="text",
            )
        fig.update_layout(
            barmode="group",
            yaxis_title="Share of entrants reaching the step",
            yaxis_tickformat=".0%",
            legend_title=" / ".join(by),
        )
    fig.update_layout(
        title=f"Funnel within {result.params.get('window')} of the first step "
        f"({result.params.get('order')} order)",
        xaxis_title="Step",
        template="plotly_white",
    )
    return fig


def activation_lift(result) -> go.Figure:
    """Retention lift of doers over non-doers per action, with intervals; significant actions
    (after Benjamini-Hochberg) are highlighted."""
    t = result.table
    lift = t.get_column("lift").to_list()
    lo = t.get_column("lift_ci_low").to_list()
    hi = t.get_column("lift_ci_high").to_list()
    sig = t.get_column("significant").to_list()
    fig = go.Figure(
        go.Scatter(
            x=lift,
            y=t.get_column("action").to_list(),
            mode="markers",
            marker={"size": 11, "color": [_PALETTE[2] if s else _PALETTE[7] for s in sig]},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [
                    None if h is None or v is None else h - v for v, h in zip(lift, hi, strict=True)
                ],
                "arrayminus": [
                    None if lw is None or v is None else v - lw
                    for v, lw in zip(lift, lo, strict=True)
                ],
            },
            hovertext=[
                f"<b>{r['action']}</b><br>did: {r['retained_did']}/{r['n_did']} "
                f"({_fmt(r['retention_did'])})<br>did not: {r['retained_not']}/{r['n_not']} "
                f"({_fmt(r['retention_not'])})<br>lift {_fmt(r['lift'])} "
                f"[{_fmt(r['lift_ci_low'])}, {_fmt(r['lift_ci_high'])}], phi "
                f"{_fmt(r['phi'], '.3f')}<br>BH-adjusted p = {_fmt(r['p_adjusted'], '.3g')}"
                for r in t.iter_rows(named=True)
            ],
            hoverinfo="text",
            name="lift",
        )
    )
    fig.add_vline(x=0, line_dash="dash", line_color="grey")
    p = result.params
    fig.update_layout(
        title=f"Retention ({p.get('outcome')}) of customers who did each action within "
        f"{p.get('within')} vs those who did not — association, not causation",
        xaxis_title="Retention lift (did - did not)",
        yaxis_title="Action",
        xaxis_tickformat=".0%",
        yaxis={"autorange": "reversed"},
        showlegend=False,
        template="plotly_white",
    )
    return fig


def channel_trends(result, *, annotations=None) -> go.Figure:
    """Two panels: retention of mature cohorts per channel with its logistic trend line (and
    flagged channels marked), and acquisition volume per cohort; `annotations` (a table from
    `wb.load_annotations`) marks business events on both."""
    t = result.table
    by = result.params["by"]
    flagged = set(result.summary.filter(pl.col("flagged")).get_column(by).cast(pl.String).to_list())
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.65, 0.35]
    )
    channels = t.get_column(by).cast(pl.String).unique(maintain_order=True).to_list()
    for i, ch in enumerate(channels):
        color = _PALETTE[i % len(_PALETTE)]
        part = t.filter(pl.col(by).cast(pl.String) == ch)
        mature = part.filter(pl.col("mature"))
        name = f"{ch} (recent cohorts worse)" if ch in flagged else ch
        fig.add_trace(
            go.Scatter(
                x=mature.get_column("cohort").to_list(),
                y=mature.get_column("retention").to_list(),
                mode="markers",
                marker={"color": color, "size": 7},
                name=name,
                legendgroup=ch,
                hovertext=[
                    f"<b>{ch} {r['cohort']}</b><br>retained {r['retained']} of {r['customers']} "
                    f"({_fmt(r['retention'])}) [{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]"
                    for r in mature.iter_rows(named=True)
                ],
                hoverinfo="text",
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=mature.get_column("cohort").to_list(),
                y=mature.get_column("trend").to_list(),
                mode="lines",
                line={"color": color, "dash": "dash", "width": 3 if ch in flagged else 1.5},
                name=f"{ch} trend",
                legendgroup=ch,
                showlegend=False,
                hoverinfo="skip",
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=part.get_column("cohort").to_list(),
                y=part.get_column("customers").to_list(),
                mode="lines+markers",
                line={"color": color},
                name=f"{ch} acquired",
                legendgroup=ch,
                showlegend=False,
                hovertext=[
                    f"{ch} {r['cohort']}: {r['customers']} acquired"
                    for r in part.iter_rows(named=True)
                ],
                hoverinfo="text",
            ),
            row=2,
            col=1,
        )
    p = result.params
    fig.update_yaxes(
        title_text=f"Retained at {p.get('period')} {p.get('horizon')}",
        tickformat=".0%",
        row=1,
        col=1,
    )
    fig.update_yaxes(title_text="Customers acquired", row=2, col=1)
    fig.update_xaxes(title_text=f"Acquisition cohort ({p.get('period')})", row=2, col=1)
    fig.update_layout(
        title=f"Channel quality by {by}: retention of mature cohorts and volume",
        template="plotly_white",
    )
    return fig if annotations is None else add_annotations(fig, annotations)
