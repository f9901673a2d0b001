"""Figures for leaving customers: segments, ABC x XYZ, overdue, departed patterns, reasons,
propensity calibration, problem segments and win-back lists. Tidy tables in, go.Figure out."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl


def rfm_segments_figure(scores: pl.DataFrame) -> go.Figure:
    """Customers per RFM segment (from `wb.rfm_scores` output or `wb.rfm_segment_counts`)."""
    from ..segments import rfm_segment_counts

    counts = scores if "customers" in scores.columns else rfm_segment_counts(scores)
    fig = go.Figure(
        go.Bar(
            x=counts["segment"].to_list(),
            y=counts["customers"].to_list(),
            customdata=list(
                zip(counts["share"].to_list(), counts["monetary"].to_list(), strict=True)
            ),
            hovertemplate="%{x}<br>%{y} customers (%{customdata[0]:.1%})"
            "<br>monetary %{customdata[1]:,.0f}<extra></extra>",
        )
    )
    fig.update_layout(
        title="Customers by RFM segment", xaxis_title="Segment", yaxis_title="Customers"
    )
    return fig


def abc_xyz_figure(result) -> go.Figure:
    """Nine-cell heatmap: customers per ABC x XYZ cell, revenue share in the hover."""
    m = result.matrix
    z, text, custom = [], [], []
    for a in "ABC":
        row = m.filter(pl.col("abc") == a).sort("xyz")
        z.append(row["customers"].to_list())
        custom.append(row["revenue_share"].to_list())
        text.append([f"{a}{x}: {n}" for x, n in zip(row["xyz"], row["customers"], strict=True)])
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=["X", "Y", "Z"],
            y=["A", "B", "C"],
            text=text,
            texttemplate="%{text}",
            customdata=custom,
            colorscale="Blues",
            colorbar={"title": "Customers"},
            hovertemplate="%{y}%{x}: %{z} customers<br>revenue share %{customdata:.1%}"
            "<extra></extra>",
        )
    )
    fig.update_layout(
        title="ABC (revenue) x XYZ (regularity)",
        xaxis_title="XYZ: regularity of purchases per period",
        yaxis_title="ABC: revenue class",
        yaxis_autorange="reversed",
    )
    return fig


def overdue_figure(result) -> go.Figure:
    """Overdue customers: days overdue against value at stake, one point per customer."""
    t = result.table
    fig = go.Figure(
        go.Scatter(
            x=t["days_overdue"].to_list(),
            y=t["value_at_stake"].to_list(),
            mode="markers",
            text=t["customer_id"].cast(pl.String).to_list(),
            customdata=list(
                zip(t["overdue_ratio"].to_list(), t["category"].to_list(), strict=True)
            ),
            hovertemplate="%{text}<br>%{x} days overdue (ratio %{customdata[0]:.1f})"
            "<br>value at stake %{y:,.2f}<br>usual category %{customdata[1]}<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"Overdue customers ({t.height})",
        xaxis_title="Days past the expected next purchase",
        yaxis_title="Expected value at stake",
    )
    return fig


def departed_patterns_figure(result, top: int = 15) -> go.Figure:
    """Effect sizes of the top features (Cliff's delta, or Cramér's V for categorical)."""
    t = result.table.head(top).reverse()
    labels = [
        f if lv is None else f"{f} [{lv}]" for f, lv in zip(t["feature"], t["level"], strict=True)
    ]
    colors = ["#c0392b" if s else "#95a5a6" for s in t["significant"]]
    fig = go.Figure(
        go.Bar(
            x=t["effect_size"].to_list(),
            y=labels,
            orientation="h",
            marker_color=colors,
            customdata=list(
                zip(
                    t["test"].to_list(),
                    t["p_adjusted"].to_list(),
                    t["n_churned"].to_list(),
                    t["n_retained"].to_list(),
                    strict=True,
                )
            ),
            hovertemplate="%{y}<br>effect %{x:.3f} (%{customdata[0]})<br>BH-adjusted p "
            "%{customdata[1]:.3g}<br>%{customdata[2]} churned, %{customdata[3]} retained"
            "<extra></extra>",
        )
    )
    fig.update_layout(
        title="How departed customers differed (red: significant after BH)",
        xaxis_title="Effect size (Cliff's delta; Cramér's V for categories)",
        yaxis_title="Feature",
    )
    return fig


def churn_reasons_figure(result) -> go.Figure:
    """Share of each churn reason by segment, with Wilson intervals."""
    t = result.table
    fig = go.Figure()
    for seg in t["segment"].unique(maintain_order=True).to_list():
        s = t.filter(pl.col("segment") == seg)
        fig.add_trace(
            go.Bar(
                name=str(seg),
                x=s["reason"].to_list(),
                y=s["share"].to_list(),
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": (s["ci_high"] - s["share"]).to_list(),
                    "arrayminus": (s["share"] - s["ci_low"]).to_list(),
                },
                customdata=list(
                    zip(s["answers"].to_list(), s["segment_answers"].to_list(), strict=True)
                ),
                hovertemplate=f"{seg}: " + "%{x} %{y:.1%} (%{customdata[0]} of %{customdata[1]})"
                "<extra></extra>",
            )
        )
    fig.update_layout(
        title="Churn reasons by segment",
        barmode="group",
        xaxis_title="Reason",
        yaxis_title="Share of answers",
        yaxis_tickformat=".0%",
    )
    return fig


def calibration_figure(result) -> go.Figure:
    """Propensity calibration: observed churn rate against mean predicted, by decile."""
    c = result.calibration
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            name="perfect calibration",
            line={"dash": "dash", "color": "grey"},
        )
    )
    fig.add_trace(
        go.Scatter(
            x=c["mean_predicted"].to_list(),
            y=c["observed_rate"].to_list(),
            mode="markers+lines",
            name="holdout deciles",
            error_y={
                "type": "data",
                "symmetric": False,
                "array": (c["ci_high"] - c["observed_rate"]).to_list(),
                "arrayminus": (c["observed_rate"] - c["ci_low"]).to_list(),
            },
            customdata=list(zip(c["decile"].to_list(), c["customers"].to_list(), strict=True)),
            hovertemplate="decile %{customdata[0]} (%{customdata[1]} customers)<br>predicted "
            "%{x:.1%}, observed %{y:.1%}<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"Churn propensity calibration (holdout AUC {result.auc:.3f})",
        xaxis_title="Mean predicted churn probability",
        yaxis_title="Observed churn rate",
        xaxis_tickformat=".0%",
        yaxis_tickformat=".0%",
    )
    return fig


def problem_segments_figure(result, top: int = 15) -> go.Figure:
    """Churn rate of the top problem segments with Wilson intervals and the base rate."""
    t = result.table.head(top).reverse()
    fig = go.Figure(
        go.Bar(
            x=t["churn_rate"].to_list(),
            y=t["segment"].to_list(),
            orientation="h",
            marker_color=["#c0392b" if s else "#95a5a6" for s in t["significant"]],
            error_x={
                "type": "data",
                "symmetric": False,
                "array": (t["ci_high"] - t["churn_rate"]).to_list(),
                "arrayminus": (t["churn_rate"] - t["ci_low"]).to_list(),
            },
            customdata=list(
                zip(
                    t["customers"].to_list(),
                    t["value_at_risk"].to_list(),
                    t["p_adjusted"].to_list(),
                    strict=True,
                )
            ),
            hovertemplate="%{y}<br>churn %{x:.1%} of %{customdata[0]}<br>value at risk "
            "%{customdata[1]:,.0f}<br>BH-adjusted p %{customdata[2]:.3g}<extra></extra>",
        )
    )
    fig.add_vline(x=result.params["base_rate"], line_dash="dash", annotation_text="base rate")
    fig.update_layout(
        title="Problem segments (red: churn significantly above base rate)",
        xaxis_title="Churn rate",
        yaxis_title="Segment",
        xaxis_tickformat=".0%",
    )
    return fig


def winback_figure(targets: pl.DataFrame) -> go.Figure:
    """Win-back targets: customers and value at stake by strongest reason and offer."""
    g = (
        targets.group_by("reason", "offer")
        .agg(pl.len().alias("customers"), pl.col("value_at_stake").sum().alias("value"))
        .sort("reason", "offer")
    )
    fig = go.Figure()
    for offer in g["offer"].unique(maintain_order=True).to_list():
        s = g.filter(pl.col("offer") == offer)
        fig.add_trace(
            go.Bar(
                name=offer,
                x=s["reason"].to_list(),
                y=s["customers"].to_list(),
                customdata=s["value"].to_list(),
                hovertemplate=f"{offer}: " + "%{x}<br>%{y} customers<br>value at stake "
                "%{customdata:,.0f}<extra></extra>",
            )
        )
    fig.update_layout(
        title="Win-back targets by reason and offer",
        barmode="stack",
        xaxis_title="Strongest reason",
        yaxis_title="Customers",
    )
    return fig
