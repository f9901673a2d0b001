"""Figures for cohorts: retention heatmap triangle, retention curves, lifecycle bars, retention
rate, MRR bridge waterfall and LTV curves (tidy tables in, go.Figure out)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from ..cohorts_spec import OUTPUT_COLUMNS
from .annotations import add_annotations, add_cohort_annotations

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
# retention_matrix / retention_curve columns; any other column is a by-group
_MATRIX_COLS = frozenset(OUTPUT_COLUMNS) | {"cohorts", "day"}
INCOMPLETE_NOTE = "period not over yet: count still growing"


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _by(table: pl.DataFrame, known=_MATRIX_COLS) -> list[str]:
    return [c for c in table.columns if c not in known]


def _groups(table: pl.DataFrame, by: list[str]) -> list[dict]:
    return table.select(by).unique(maintain_order=True).sort(by).to_dicts() if by else [{}]


def _subset(table: pl.DataFrame, key: dict) -> pl.DataFrame:
    for col, val in key.items():
        table = table.filter(pl.col(col) == val)
    return table


def _name(key: dict) -> str:
    return " / ".join(str(v) for v in key.values()) if key else "all"


def _select_group(table: pl.DataFrame, by: list[str], group) -> tuple[pl.DataFrame, list[dict]]:
    if group is None:
        return table, _groups(table, by)
    key = group if isinstance(group, dict) else {by[0]: group}
    return _subset(table, key), [key]


def _pct(x) -> str:
    return "" if x is None else f"{100 * x:.0f}%"


def _pct_expr(col: str) -> pl.Expr:
    """Vectorised `_pct`: whole percent with a % sign, "" for null."""
    return (
        pl.when(pl.col(col).is_null())
        .then(pl.lit(""))
        .otherwise((pl.col(col) * 100).round(0).cast(pl.Int64).cast(pl.String) + pl.lit("%"))
    )


# -- retention heatmap --------------------------------------------------------------------------


def plot_retention_heatmap(
    matrix: pl.DataFrame,
    *,
    group=None,
    max_groups: int = 6,
    title: str = "Cohort retention",
    annotations=None,
    period: str = "month",
) -> go.Figure:
    """Triangle heatmap of `retention_matrix`: cohorts down, periods across.

    Incomplete cells (period not over yet) are drawn faded and marked with '*'; the hover
    shows retained / base, the Wilson interval and the cohort size. With by-groups, one panel
    per group (up to `max_groups`) unless `group=` picks one. `annotations` (business events)
    outline the cells of the calendar periods they fall in (`add_cohort_annotations`; `period`
    is the matrix's calendar period).
    """
    by = _by(matrix)
    table, keys = _select_group(matrix, by, group)
    keys = keys[:max_groups]
    fig = make_subplots(
        rows=len(keys),
        cols=1,
        subplot_titles=[_name(k) for k in keys] if by else None,
        vertical_spacing=0.08 if len(keys) > 1 else 0.0,
    )
    xcol = "bracket" if "bracket" in table.columns else "period"
    later = table.filter(pl.col("period") > 0)["retention"].drop_nulls()
    zmax = float(later.max()) if later.len() else 1.0
    for i, key in enumerate(keys, start=1):
        t = _subset(table, key).sort("cohort", "period")
        cohorts = t["cohort"].unique(maintain_order=True).to_list()
        xs = t[xcol].unique(maintain_order=True).to_list()
        if xcol == "period":
            xs = sorted(xs)
        # Dense numpy grids (NaN / "" where a cell is absent or in the other trace): plotly
        # validates arrays at once, where nested lists cost seconds on daily triangles.
        shape = (len(cohorts), len(xs))
        t = t.join(pl.DataFrame({"cohort": cohorts}).with_row_index("__i"), on="cohort").join(
            pl.DataFrame({xcol: xs}).with_row_index("__j"), on=xcol
        )
        for complete in (True, False):
            sel = t.filter(pl.col("complete") == complete)
            i_idx, j_idx = sel["__i"].to_numpy(), sel["__j"].to_numpy()
            z = np.full(shape, np.nan)
            z[i_idx, j_idx] = sel["retention"].fill_null(np.nan).to_numpy()
            text = np.full(shape, "", dtype=object)
            labels = sel.select(_pct_expr("retention") + ("" if complete else "*"))
            text[i_idx, j_idx] = labels.to_series().to_numpy()
            custom = np.full((*shape, 6), None, dtype=object)
            cols = [
                sel["retained"].to_numpy(),
                sel["base"].to_numpy(),
                sel.select(_pct_expr("ci_low")).to_series().to_numpy(),
                sel.select(_pct_expr("ci_high")).to_series().to_numpy(),
                sel["cohort_size"].to_numpy(),
                np.full(sel.height, "" if complete else INCOMPLETE_NOTE, dtype=object),
            ]
            for k, col in enumerate(cols):
                custom[i_idx, j_idx, k] = col
            fig.add_trace(
                go.Heatmap(
                    z=z,
                    x=[str(x) for x in xs],
                    y=[str(c) for c in cohorts],
                    text=text,
                    texttemplate="%{text}",
                    customdata=custom,
                    zmin=0,
                    zmax=zmax,
                    colorscale="Blues",
                    opacity=1.0 if complete else 0.45,
                    showscale=complete and i == 1,
                    colorbar={"title": "retention", "tickformat": ".0%"},
                    name="complete" if complete else "incomplete",
                    hovertemplate=(
                        "cohort %{y}, period %{x}<br>retention %{z:.1%} "
                        "(%{customdata[0]} of %{customdata[1]})<br>95% CI %{customdata[2]} to "
                        "%{customdata[3]}<br>cohort size %{customdata[4]}<br>%{customdata[5]}"
                        "<extra></extra>"
                    ),
                ),
                row=i,
                col=1,
            )
        fig.update_yaxes(title_text="cohort", autorange="reversed", type="category", row=i, col=1)
        fig.update_xaxes(title_text="periods since cohort start", type="category", row=i, col=1)
    n_cohorts = matrix["cohort"].n_unique() if matrix.height else 1
    fig.update_layout(
        title=f"{title}<br><sup>* faded cells: {INCOMPLETE_NOTE}</sup>",
        height=len(keys) * max(300, 90 + 24 * n_cohorts),
        template="plotly_white",
    )
    return fig if annotations is None else add_cohort_annotations(fig, annotations, period=period)


# -- retention curves ---------------------------------------------------------------------------


def _band(fig, x, low, high, color, name, row=None):
    kw = {"row": row, "col": 1} if row else {}
    fig.add_trace(
        go.Scatter(
            x=x,
            y=high,
            mode="lines",
            line={"width": 0},
            showlegend=False,
            hoverinfo="skip",
            legendgroup=name,
        ),
        **kw,
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=low,
            mode="lines",
            line={"width": 0},
            fill="tonexty",
            fillcolor=_rgba(color, 0.18),
            showlegend=False,
            hoverinfo="skip",
            legendgroup=name,
            name=f"{name} interval",
        ),
        **kw,
    )


def plot_retention_curves(
    curve: pl.DataFrame,
    *,
    reference: bool = False,
    unit: str = "period",
    title: str = "Mean retention curve",
) -> go.Figure:
    """Retention by period with its interval as a band, one line per by-group (`retention_curve`
    output, or any table with period/retention/ci_low/ci_high such as `day_n_retention`).

    reference=True adds the industry averages of `reference_figures()` as labelled dotted
    lines, for context only (they are not targets).
    """
    xcol = "day" if "day" in curve.columns and "period" not in curve.columns else "period"
    by = _by(curve, _MATRIX_COLS | {"customers"})
    fig = go.Figure()
    for i, key in enumerate(_groups(curve, by)):
        t = _subset(curve, key).sort(xcol)
        color = _PALETTE[i % len(_PALETTE)]
        name = _name(key)
        x = t[xcol].to_list()
        _band(fig, x, t["ci_low"].to_list(), t["ci_high"].to_list(), color, name)
        fig.add_trace(
            go.Scatter(
                x=x,
                y=t["retention"].to_list(),
                mode="lines+markers",
                name=name,
                legendgroup=name,
                line={"color": color},
                customdata=list(
                    zip(
                        t["retained"].to_list(),
                        t["base"].to_list(),
                        t["ci_low"].to_list(),
                        t["ci_high"].to_list(),
                        strict=True,
                    )
                ),
                hovertemplate=(
                    f"{name}<br>{unit} %{{x}}: %{{y:.1%}} (%{{customdata[0]}} of "
                    "%{customdata[1]})<br>95% CI %{customdata[2]:.1%} to "
                    "%{customdata[3]:.1%}<extra></extra>"
                ),
            )
        )
    if reference:
        add_reference_lines(fig, unit)
    fig.update_layout(title=title, template="plotly_white", hovermode="closest")
    fig.update_xaxes(title_text=f"{unit}s since start")
    fig.update_yaxes(title_text="retention", tickformat=".0%", rangemode="tozero")
    return fig


REFERENCE_NAME = "industry averages (context, not targets)"
_UNIT_DAYS = {"day": 1, "week": 7, "month": 30, "quarter": 90}


def add_reference_lines(fig: go.Figure, unit: str = "period") -> go.Figure:
    """Industry averages from `reference_figures()`, labelled as context, never as targets.

    With a known unit (day, week, month, quarter) each figure is a short dotted marker at its
    own day (day 30 = month 1); otherwise a dotted horizontal line across the chart.
    """
    from ..cohorts import reference_figures

    refs = reference_figures()
    if unit in _UNIT_DAYS:
        xs, ys, labels = [], [], []
        for r in refs.iter_rows(named=True):
            x = r["day"] / _UNIT_DAYS[unit]
            if abs(x - round(x)) <= 0.1 and round(x) >= 1:
                xs.append(round(x))
                ys.append(r["retention"])
                labels.append(r["label"])
        if xs:
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys,
                    mode="markers+text",
                    name=REFERENCE_NAME,
                    text=labels,
                    textposition="middle right",
                    textfont={"size": 10, "color": "#666666"},
                    marker={
                        "symbol": "line-ew-open",
                        "size": 28,
                        "color": "#666666",
                        "line": {"width": 2, "dash": "dot"},
                    },
                    hovertemplate="%{text}: %{y:.0%} (industry average, context only)<extra></extra>",
                )
            )
        return fig
    for i, r in enumerate(refs.iter_rows(named=True)):
        fig.add_hline(
            y=r["retention"],
            line={"dash": "dot", "color": "#888888", "width": 1},
            annotation_text=f"{r['label']} (industry average, context only)",
            annotation_position="top left" if i % 2 else "bottom right",
            annotation_font_size=10,
        )
    return fig


# -- lifecycle ----------------------------------------------------------------------------------

_LIFECYCLE = (
    ("new", "#2ca02c"),
    ("returning", "#1f77b4"),
    ("resurrected", "#ff7f0e"),
    ("dormant", "#d62728"),
)


def plot_lifecycle(
    table: pl.DataFrame, *, group=None, title: str = "Lifecycle", annotations=None
) -> go.Figure:
    """Stacked bars per period: new, returning, resurrected above zero, dormant below.

    With by-groups and no `group=`, the groups are summed. Incomplete periods are faded.
    `annotations` (a table from `wb.load_annotations`) marks business events.
    """
    by = [
        c
        for c in table.columns
        if c
        not in {
            "period_start",
            "new",
            "returning",
            "resurrected",
            "dormant",
            "active",
            "quick_ratio",
            "complete",
        }
    ]
    if group is not None:
        table, _ = _select_group(table, by, group)
    if by:
        table = (
            table.group_by("period_start")
            .agg(
                pl.col("new", "returning", "resurrected", "dormant", "active").sum(),
                pl.col("complete").all(),
            )
            .sort("period_start")
        )
    x = table["period_start"].to_list()
    opacity = [1.0 if c else 0.45 for c in table["complete"].to_list()]
    fig = go.Figure()
    for col, color in _LIFECYCLE:
        fig.add_trace(
            go.Bar(
                x=x,
                y=table[col].to_list(),
                name=col,
                marker={"color": color, "opacity": opacity},
                customdata=[
                    [abs(v), "" if c else INCOMPLETE_NOTE]
                    for v, c in zip(table[col].to_list(), table["complete"].to_list(), strict=True)
                ],
                hovertemplate=f"%{{x|%Y-%m-%d}}<br>{col}: %{{customdata[0]}} customers"
                "<br>%{customdata[1]}<extra></extra>",
            )
        )
    fig.update_layout(barmode="relative", title=title, template="plotly_white")
    fig.update_xaxes(title_text="period")
    fig.update_yaxes(title_text="customers (dormant below zero)")
    return fig if annotations is None else add_annotations(fig, annotations)


def plot_retention_rate(
    table: pl.DataFrame, *, title: str = "Customer retention rate", annotations=None
) -> go.Figure:
    """CRR per period with its interval band, one line per by-group; `annotations` (a table
    from `wb.load_annotations`) marks business events."""
    by = [
        c
        for c in table.columns
        if c
        not in {
            "period_start",
            "start_customers",
            "end_customers",
            "new",
            "retained",
            "reactivated",
            "churned",
            "crr",
            "churn_rate",
            "ci_low",
            "ci_high",
        }
    ]
    fig = go.Figure()
    for i, key in enumerate(_groups(table, by)):
        t = _subset(table, key).sort("period_start").drop_nulls("crr")
        color, name = _PALETTE[i % len(_PALETTE)], _name(key)
        x = t["period_start"].to_list()
        _band(fig, x, t["ci_low"].to_list(), t["ci_high"].to_list(), color, name)
        fig.add_trace(
            go.Scatter(
                x=x,
                y=t["crr"].to_list(),
                mode="lines+markers",
                name=name,
                line={"color": color},
                customdata=list(
                    zip(
                        t["start_customers"].to_list(),
                        t["end_customers"].to_list(),
                        t["new"].to_list(),
                        strict=True,
                    )
                ),
                hovertemplate=(
                    f"{name}<br>%{{x|%Y-%m-%d}}: CRR %{{y:.1%}}<br>S=%{{customdata[0]}}, "
                    "E=%{customdata[1]}, N=%{customdata[2]}<extra></extra>"
                ),
            )
        )
    fig.update_layout(title=title, template="plotly_white")
    fig.update_xaxes(title_text="period")
    fig.update_yaxes(title_text="CRR = (E - N) / S", tickformat=".0%")
    return fig if annotations is None else add_annotations(fig, annotations)


# -- revenue ------------------------------------------------------------------------------------

_BRIDGE = ("new", "expansion", "reactivated", "contraction", "churned")


def plot_mrr_bridge(
    table: pl.DataFrame, *, month=None, group=None, title: str = "MRR bridge"
) -> go.Figure:
    """Waterfall from start MRR through new, expansion, reactivated, contraction and churned
    to end MRR, for one month (default: the last) or month="all" (first start to last end)."""
    by = [
        c
        for c in table.columns
        if c
        not in {
            "month",
            "start_mrr",
            *_BRIDGE,
            "end_mrr",
            "customers_start",
            "customers_end",
            "new_customers",
            "churned_customers",
            "reactivated_customers",
            "nrr",
            "grr",
        }
    ]
    if group is not None:
        table, _ = _select_group(table, by, group)
    if by:
        table = (
            table.group_by("month")
            .agg(pl.col("start_mrr", *_BRIDGE, "end_mrr").sum())
            .sort("month")
        )
    table = table.sort("month")
    if month == "all":
        rows, label = table, f"{table['month'][0]} to {table['month'][-1]}"
    else:
        which = table["month"][-1] if month is None else month
        rows = table.filter(pl.col("month") == pl.lit(which).cast(pl.Date))
        label = str(which)
    start = float(rows["start_mrr"][0]) if rows.height else 0.0
    end = float(rows["end_mrr"][-1]) if rows.height else 0.0
    moves = [float(rows[c].sum()) for c in _BRIDGE]
    fig = go.Figure(
        go.Waterfall(
            x=["start MRR", *_BRIDGE, "end MRR"],
            measure=["absolute", *["relative"] * len(_BRIDGE), "total"],
            y=[start, *moves, end],
            text=[f"{v:,.0f}" for v in (start, *moves, end)],
            textposition="outside",
            decreasing={"marker": {"color": "#d62728"}},
            increasing={"marker": {"color": "#2ca02c"}},
            totals={"marker": {"color": "#1f77b4"}},
            hovertemplate="%{x}: %{y:,.2f}<extra></extra>",
        )
    )
    fig.update_layout(title=f"{title}, {label}", template="plotly_white", showlegend=False)
    fig.update_xaxes(title_text="movement")
    fig.update_yaxes(title_text="monthly recurring revenue")
    return fig


def plot_value_curves(
    table: pl.DataFrame,
    *,
    unit: str = "period",
    title: str = "Cumulative revenue per customer (LTV curve)",
) -> go.Figure:
    """LTV curves per by-group from `ltv_curve` (or `value_retention` cells, averaged)."""
    by = [
        c
        for c in table.columns
        if c
        not in _MATRIX_COLS
        | {
            "customers",
            "paying",
            "revenue",
            "revenue_per_customer",
            "revenue_per_paying",
            "cumulative_revenue_per_customer",
        }
    ]
    fig = go.Figure()
    for i, key in enumerate(_groups(table, by)):
        t = _subset(table, key).sort("period")
        color, name = _PALETTE[i % len(_PALETTE)], _name(key)
        n = t["customers"].to_list() if "customers" in t.columns else t["base"].to_list()
        fig.add_trace(
            go.Scatter(
                x=t["period"].to_list(),
                y=t["cumulative_revenue_per_customer"].to_list(),
                mode="lines+markers",
                name=name,
                line={"color": color},
                customdata=n,
                hovertemplate=(
                    f"{name}<br>{unit} %{{x}}: %{{y:,.2f}} per customer "
                    "(%{customdata} customers)<extra></extra>"
                ),
            )
        )
    fig.update_layout(title=title, template="plotly_white")
    fig.update_xaxes(title_text=f"{unit}s since start")
    fig.update_yaxes(title_text="cumulative revenue per customer")
    return fig
