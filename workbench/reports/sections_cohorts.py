"""Sections on arriving and staying: acquisition and cohorts, and the lifecycle of the base."""

from __future__ import annotations

import polars as pl

from .blocks import Section, esc, figure_of, has, notes_of, optional, table

HEADLINE_PERIODS = (1, 3, 6, 12)


def _by_available(ctx) -> bool:
    return (ctx.customers is not None and ctx.by in ctx.customers.columns) or (
        ctx.by in ctx.events.columns
    )


def monthly_matrix(ctx, *, by: str | None = None) -> pl.DataFrame:
    """`wb.retention_matrix` by calendar month at the report's analysis date (cached)."""
    key = ("monthly_matrix", by)
    if key not in ctx.cache:
        cohorts = optional("cohorts")
        kwargs = {"by": by, "customers": ctx.customers} if by else {}
        ctx.cache[key] = cohorts.retention_matrix(
            ctx.events, period="month", as_of=ctx.as_of, **kwargs
        )
    return ctx.cache[key]


def cohort_table(matrix: pl.DataFrame) -> pl.DataFrame:
    """One row per cohort: size and retention at the headline periods (complete cells only)."""
    cells = matrix.filter(pl.col("period").is_in(HEADLINE_PERIODS)).with_columns(
        pl.when(pl.col("complete")).then(pl.col("retention")).alias("retention")
    )
    sizes = matrix.group_by("cohort").agg(pl.col("cohort_size").first())
    if not cells.height:
        return sizes.sort("cohort", descending=True)
    wide = cells.pivot(on="period", index="cohort", values="retention")
    wide = wide.rename({str(k): f"month {k}" for k in HEADLINE_PERIODS if str(k) in wide.columns})
    return sizes.join(wide, on="cohort", how="left").sort("cohort", descending=True)


def acquisition(ctx) -> Section | None:
    """Cohort retention heatmap, mean curves by channel with reference lines, channel quality."""
    channels, cohorts = optional("channels"), optional("cohorts")
    with_cohorts = has(cohorts, "retention_matrix")
    with_channels = has(channels, "channel_quality") and _by_available(ctx)
    if not (with_cohorts or with_channels):
        return None
    plots = optional("plots.cohorts")
    sec = Section("acquisition", "Acquisition and cohorts")
    with notes_of(sec):
        if with_cohorts:
            matrix = monthly_matrix(ctx)
            sec.heading("Monthly cohorts: share of each cohort active in each later month")
            if has(plots, "plot_retention_heatmap"):
                sec.add(
                    plots.plot_retention_heatmap(
                        matrix,
                        title="Cohort retention by month",
                        annotations=ctx.annotations,  # outlined: the months they fall in
                        period="month",
                    )
                )
            sec.add(
                table(
                    cohort_table(matrix),
                    max_rows=24,
                    labels={"cohort_size": "customers"},
                    formats={f"month {k}": "pct" for k in HEADLINE_PERIODS},
                )
            )
            sec.note(
                "Empty cells: the period has not fully elapsed by the analysis date. "
                "Active = any event. Outlined cells: the months of the business events "
                "(see 'What happened')."
            )
            for name in ("cohort", "on", "maturity", "interval"):
                ctx.define(
                    f"Cohort retention: {name}",
                    cohorts.RETENTION_DEFINITIONS[name],
                    {
                        "period": "month",
                        "window": "calendar",
                        "mode": "on",
                        "cohorting": "first_time",
                        "as_of": ctx.as_of,
                    }
                    if name == "cohort"
                    else None,
                )
            if _by_available(ctx) and has(cohorts, "retention_curve"):
                curves = cohorts.retention_curve(monthly_matrix(ctx, by=ctx.by), interval="cohorts")
                sec.heading(f"Mean retention curves by {ctx.by}")
                if has(plots, "plot_retention_curves"):
                    sec.add(
                        plots.plot_retention_curves(
                            curves,
                            reference=True,
                            unit="month",
                            title=f"Mean retention by {ctx.by} (complete cells, cohort-weighted)",
                        )
                    )
                ctx.define("Mean retention curve", cohorts.RETENTION_DEFINITIONS["curve"])
                if has(cohorts, "reference_figures"):
                    refs = cohorts.reference_figures()
                    sec.note(
                        "Dotted lines: industry averages for context, never targets: "
                        + "; ".join(esc(r) for r in refs["label"])
                        + "."
                    )
        if with_channels:
            cq = channels.channel_quality(
                ctx.events, customers=ctx.customers, by=ctx.by, as_of=ctx.as_of
            )
            sec.heading(f"Channel quality: acquisition and month-1 purchase retention by {ctx.by}")
            sec.add(figure_of(cq))
            cols = [
                c
                for c in (
                    ctx.by,
                    "mature_cohorts",
                    "customers",
                    "past_retention",
                    "recent_retention",
                    "diff",
                    "p_value",
                    "flagged",
                )
                if c in cq.summary.columns
            ]
            sec.add(
                table(
                    cq.summary.select(cols),
                    formats={"past_retention": "pct", "recent_retention": "pct", "diff": "pct"},
                )
            )
            ctx.define("Channel quality", channels.CHANNEL_QUALITY_DEFINITION, cq.params)
    return sec if sec.parts else None


def lifecycle(ctx) -> Section | None:
    """Growth accounting, customer retention rate per month, and the MRR bridge."""
    lifecycle_mod = optional("lifecycle")
    if not has(lifecycle_mod, "lifecycle"):
        return None
    from .sections_summary import headline_kpis

    headline_kpis(ctx)  # computes (once) the lifecycle, CRR and MRR tables shown here
    plots = optional("plots.cohorts")
    sec = Section("lifecycle", "Lifecycle of the customer base")
    with notes_of(sec):
        lc = ctx.cache.get("lifecycle") or lifecycle_mod.lifecycle(
            ctx.events, period="month", as_of=ctx.as_of
        )
        sec.heading("New, returning, resurrected and dormant customers per month")
        sec.add(figure_of(lc))
        recent = lc.table.tail(6).select(
            "period_start", "new", "returning", "resurrected", "dormant", "active", "quick_ratio"
        )
        sec.add(
            table(
                recent.sort("period_start", descending=True),
                labels={"period_start": "month", "quick_ratio": "quick ratio"},
            )
        )
        ctx.define(
            "Lifecycle (growth accounting)",
            lifecycle_mod.LIFECYCLE_DEFINITIONS["lifecycle"],
            lc.params,
        )
        rates = ctx.cache.get("crr")
        if rates is not None and rates.table.height:
            sec.heading(f"Customer retention rate per month (inactivity {ctx.churn_definition})")
            sec.add(figure_of(rates))
        bridge = ctx.cache.get("mrr_bridge")
        if bridge is not None and bridge.table.height and has(plots, "plot_mrr_bridge"):
            sec.heading(f"MRR bridge of {ctx.month}")
            sec.add(
                plots.plot_mrr_bridge(
                    bridge.table, month=ctx.start.date(), title=f"MRR bridge {ctx.month}"
                )
            )
            row = bridge.table.filter(pl.col("month") == ctx.start.date())
            if row.height:
                cols = [
                    c
                    for c in (
                        "start_mrr",
                        "new",
                        "expansion",
                        "reactivated",
                        "contraction",
                        "churned",
                        "end_mrr",
                        "nrr",
                        "grr",
                    )
                    if c in row.columns
                ]
                sec.add(
                    table(
                        row.select(cols),
                        formats={
                            "nrr": "pct",
                            "grr": "pct",
                            **{c: "money" for c in cols if c not in ("nrr", "grr")},
                        },
                    )
                )
            ctx.define("MRR", optional("revenue").REVENUE_DEFINITIONS["mrr"])
    return sec
