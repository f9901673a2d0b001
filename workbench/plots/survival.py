"""Figures for churn and survival: Kaplan-Meier curves with an at-risk table, Cox forest plot,
and observed vs projected retention of contractual cohorts (results in, go.Figure out)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

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


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _label(row: dict, by: list[str]) -> str:
    return " / ".join("(missing)" if row[c] is None else str(row[c]) for c in by) if by else "all"


def _tick_times(t_max: float) -> list[float]:
    for step in (1, 7, 14, 30, 60, 90, 180, 365, 730):
        if t_max / step <= 8:
            break
    return [float(x) for x in np.arange(0, t_max + 1e-9, step)]


def survival_curves(result, *, show_ci: bool = True, reference_lines: bool = False) -> go.Figure:
    """Kaplan-Meier step curves per group with interval bands; number at risk underneath.

    ``reference_lines`` adds the labelled industry averages for apps (63% gone after 30 days,
    about 23% left after 90 days) as context, not as targets.
    """
    by = result.params["by"]
    t = result.table
    groups = t.select(by).unique(maintain_order=True).to_dicts() if by else [{}]
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.8, 0.2], vertical_spacing=0.04
    )
    t_max = float(t["t"].max())
    ticks = _tick_times(t_max)
    level = result.params.get("level", 0.95)
    for i, key in enumerate(groups):
        g = t
        for col, val in key.items():
            g = g.filter(pl.col(col).is_null() if val is None else pl.col(col) == val)
        name = _label(key, by)
        color = _PALETTE[i % len(_PALETTE)]
        x, s = g["t"].to_list(), g["survival"].to_list()
        lo, hi = g["ci_low"].to_list(), g["ci_high"].to_list()
        hover = [
            f"<b>{name}</b><br>day {tt:g}: {ss:.1%} not churned [{ll:.1%}, {hh:.1%}]<br>"
            f"at risk {n:,}, churned that day {d:,}"
            for tt, ss, ll, hh, n, d in zip(
                x, s, lo, hi, g["at_risk"].to_list(), g["events"].to_list(), strict=True
            )
        ]
        if show_ci:
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=hi,
                    line={"width": 0, "shape": "hv"},
                    hoverinfo="skip",
                    showlegend=False,
                    legendgroup=name,
                ),
                row=1,
                col=1,
            )
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=lo,
                    line={"width": 0, "shape": "hv"},
                    fill="tonexty",
                    fillcolor=_rgba(color, 0.18),
                    hoverinfo="skip",
                    showlegend=False,
                    legendgroup=name,
                    name=f"{name} {level:.0%} interval",
                ),
                row=1,
                col=1,
            )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=s,
                name=name,
                legendgroup=name,
                line={"color": color, "shape": "hv"},
                hovertext=hover,
                hoverinfo="text",
                mode="lines",
            ),
            row=1,
            col=1,
        )
        tt = np.asarray(x)
        leaving = np.asarray(g["events"].to_list()) + np.asarray(g["censored"].to_list())
        at_risk = [int(leaving[tt >= tick].sum()) for tick in ticks]
        fig.add_trace(
            go.Scatter(
                x=ticks,
                y=[name] * len(ticks),
                mode="text",
                text=[f"{n:,}" for n in at_risk],
                textfont={"color": color},
                showlegend=False,
                hovertemplate=f"{name}: %{{text}} at risk on day %{{x}}<extra></extra>",
            ),
            row=2,
            col=1,
        )
    if reference_lines:
        for day, value, text in (
            (30, 0.37, "apps: 63% gone after 30 days"),
            (90, 0.23, "apps: ~23% left after 3 months"),
        ):
            fig.add_trace(
                go.Scatter(
                    x=[day],
                    y=[value],
                    mode="markers+text",
                    text=[text],
                    textposition="top right",
                    marker={"symbol": "x", "color": "grey"},
                    name="industry reference",
                    showlegend=False,
                ),
                row=1,
                col=1,
            )
    fig.update_yaxes(
        title_text="Share not churned", tickformat=".0%", range=[0, 1.02], row=1, col=1
    )
    fig.update_yaxes(title_text="At risk", autorange="reversed", showgrid=False, row=2, col=1)
    fig.update_xaxes(title_text="Days since start", tickvals=ticks, row=2, col=1)
    fig.update_layout(
        title=f"Customer survival (Kaplan-Meier, {level:.0%} intervals)",
        template="plotly_white",
        hovermode="closest",
        legend_title_text=" / ".join(by) if by else None,
    )
    return fig


def hazard_forest(result) -> go.Figure:
    """Hazard ratio of each covariate with its interval, on a log axis; 1 = no effect."""
    t = result.table
    names = t["covariate"].to_list()
    hr, lo, hi = (t[c].to_list() for c in ("hazard_ratio", "ci_low", "ci_high"))
    hover = [
        f"<b>{n}</b><br>hazard ratio {h:.3f} [{a:.3f}, {b:.3f}]<br>p = {p:.3g}"
        for n, h, a, b, p in zip(names, hr, lo, hi, t["p_value"].to_list(), strict=True)
    ]
    fig = go.Figure(
        go.Scatter(
            x=hr,
            y=names,
            mode="markers",
            marker={"size": 10, "symbol": "square", "color": _PALETTE[0]},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [b - h for h, b in zip(hr, hi, strict=True)],
                "arrayminus": [h - a for h, a in zip(hr, lo, strict=True)],
            },
            hovertext=hover,
            hoverinfo="text",
            name="hazard ratio",
        )
    )
    fig.add_vline(x=1, line_dash="dash", line_color="grey")
    refs = result.params.get("reference", {})
    note = "; ".join(f"{k} vs {v!r}" for k, v in refs.items())
    level = result.params.get("level", 0.95)
    fig.update_layout(
        title=f"Churn drivers: Cox hazard ratios ({level:.0%} intervals)"
        + (f"<br><sub>reference levels: {note}</sub>" if note else ""),
        xaxis={"type": "log", "title": "Hazard ratio (above 1: churns sooner)"},
        yaxis={"title": "Covariate", "autorange": "reversed"},
        showlegend=False,
        template="plotly_white",
    )
    return fig


def sbg_projection(result) -> go.Figure:
    """Observed (markers) vs sBG-projected (lines) share of each cohort still subscribed."""
    t = result.projection
    fig = go.Figure()
    cohorts = t["cohort"].unique(maintain_order=True).to_list()
    for i, c in enumerate(cohorts):
        g = t.filter(pl.col("cohort") == c)
        color = _PALETTE[i % len(_PALETTE)]
        fig.add_trace(
            go.Scatter(
                x=g["period"].to_list(),
                y=g["projected"].to_list(),
                mode="lines",
                name=f"{c} projected",
                legendgroup=str(c),
                line={"color": color},
                hovertemplate=f"{c}: period %{{x}}, projected %{{y:.1%}}<extra></extra>",
            )
        )
        obs = g.filter(pl.col("observed").is_not_null())
        fig.add_trace(
            go.Scatter(
                x=obs["period"].to_list(),
                y=obs["observed"].to_list(),
                mode="markers",
                name=f"{c} observed",
                legendgroup=str(c),
                marker={"color": color},
                customdata=obs["at_risk"].to_list(),
                hovertemplate=f"{c}: period %{{x}}, observed %{{y:.1%}} "
                "(at risk %{customdata})<extra></extra>",
            )
        )
    fig.update_layout(
        title="Contractual retention: observed vs shifted-beta-geometric projection",
        xaxis_title="Period (renewals since start)",
        yaxis={"title": "Share still subscribed", "tickformat": ".0%", "range": [0, 1.02]},
        template="plotly_white",
    )
    return fig
