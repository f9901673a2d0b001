"""Sections on arriving and staying: acquisition and cohorts, and the lifecycle of the base."""

from __future__ import annotations

import polars as pl

from .blocks import Section, esc, figure_of, has, notes_of, optional, table

HEADLINE_PERIODS = (1, 3, 6, 12)
D30 = 30


def monthly_matrix(ctx, *, by: str | None = None) -> pl.DataFrame:
    """`wb.retention_matrix` by calendar month at the report's analysis date (cached)."""
    key = ("monthly_matrix", by)
    if key not in ctx.cache:
        cohorts = optional("cohorts")
        kwargs = {"by": by, "customers": ctx.customers} if by else {}
        ctx.cache[key] = cohorts.retention_matrix(ctx.events, period="month", as_of=ctx.as_of,
                                                  **kwargs)
    return ctx.cache[key]


def day30(events, as_of) -> dict | None:
    """Day-30 retention of the latest monthly cohort whose day-30 window has elapsed."""
    cohorts = optional("cohorts")
    m = cohorts.retention_matrix(events, period="day", window="rolling", cohort_period="month",
                                 max_period=D30, as_of=as_of)
    cells = m.filter((pl.col("period") == D30) & pl.col("complete") & (pl.col("base") > 0))
    if not cells.height:
        return None
    return cells.sort("cohort").row(-1, named=True)


def _cohort_table(matrix: pl.DataFrame) -> pl.DataFrame:
    """One row per cohort: size and retention at the headline periods (complete cells only)."""
    cells = matrix.filter(pl.col("period").is_in(HEADLINE_PERIODS)).with_columns(
        pl.when(pl.col("complete")).then(pl.col("retention")).alias("retention"))
    wide = cells.pivot(on="period", index="cohort", values="retention")
    wide = wide.rename({str(k): f"month {k}" for k in HEADLINE_PERIODS if str(k) in wide.columns})
    sizes = matrix.group_by("cohort").agg(pl.col("cohort_size").first())
    return sizes.join(wide, on="cohort", how="left").sort("cohort", descending=True)


def _plot(module, names: tuple[str, ...], *args, **kwargs):
    for name in names:
        if has(module, name):
            return getattr(module, name)(*args, **kwargs)
    return None


def _by_available(ctx) -> bool:
    return (ctx.customers is not None and ctx.by in ctx.customers.columns) or (
        ctx.by in ctx.events.columns)


def acquisition(ctx) -> Section | None:
    """Cohort retention heatmap, curves by channel, and channel quality over time."""
    channels, cohorts = optional("channels"), optional("cohorts")
    if not (has(cohorts, "retention_matrix") or
            (has(channels, "channel_quality") and _by_available(ctx))):
        return None
    sec = Section("acquisition", "Acquisition and cohorts")
    with notes_of(sec):
        if has(cohorts, "retention_matrix"):
            plots = optional("plots.cohorts")
            matrix = monthly_matrix(ctx)
            sec.heading("Monthly cohorts: share of each cohort active in each later month")
            sec.add(_plot(plots, ("retention_heatmap", "heatmap", "cohort_heatmap"), matrix))
            sec.add(table(_cohort_table(matrix), max_rows=24, formats={
                f"month {k}": "pct" for k in HEADLINE_PERIODS}))
            sec.note("Empty cells: the period has not fully elapsed by the analysis date.")
            for name in ("cohort", "on", "maturity", "interval"):
                ctx.define(f"Cohort retention: {name}", cohorts.RETENTION_DEFINITIONS[name])
            if _by_available(ctx):
                curves = cohorts.retention_curve(monthly_matrix(ctx, by=ctx.by))
                fig = _plot(plots, ("retention_curves", "curves", "curve_plot"), curves,
                            reference=True) if plots is not None else None
                sec.heading(f"Mean retention curves by {ctx.by}")
                sec.add(fig)
                if fig is None:
                    wide = curves.filter(pl.col("period").is_in(HEADLINE_PERIODS)).pivot(
                        on="period", index=ctx.by, values="retention")
                    wide = wide.rename({str(k): f"month {k}" for k in HEADLINE_PERIODS
                                        if str(k) in wide.columns})
                    sec.add(table(wide, formats={f"month {k}": "pct"
                                                 for k in HEADLINE_PERIODS}))
                ctx.define("Mean retention curve", cohorts.RETENTION_DEFINITIONS["curve"])
                if has(cohorts, "reference_figures"):
                    refs = cohorts.reference_figures()
                    sec.note("Reference figures (industry averages, context only, never "
                             "targets): " + "; ".join(esc(r) for r in refs["label"]) + ".")
        if has(channels, "channel_quality") and _by_available(ctx):
            cq = channels.channel_quality(ctx.events, customers=ctx.customers, by=ctx.by,
                                          as_of=ctx.as_of)
            sec.heading(f"Channel quality: acquisition and month-1 retention by {ctx.by}")
            sec.add(figure_of(cq))
            cols = [c for c in (ctx.by, "mature_cohorts", "customers", "past_retention",
                                "recent_retention", "diff", "p_value", "flagged")
                    if c in cq.summary.columns]
            sec.add(table(cq.summary.select(cols), formats={
                "past_retention": "pct", "recent_retention": "pct", "diff": "pct"}))
            ctx.define("Channel quality", channels.CHANNEL_QUALITY_DEFINITION, cq.params)
    return sec if sec.parts else None


def lifecycle(ctx) -> Section | None:
    """Growth accounting: new, retained, resurrected and dormant customers per month."""
    lifecycle_mod = optional("lifecycle")
    if lifecycle_mod is None:
        return None
    return None
