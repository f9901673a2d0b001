"""Executive summary: headline numbers of the month against the comparison month, as tiles and text.

Every number comes from a headless analysis: `wb.lifecycle` (active, new), `wb.customer_retention_rate`
(churned, CRR), `wb.day_n_retention` (D30), `wb.mrr_bridge` (NRR, GRR) and
`wb.overdue_customers` (should have bought but didn't, value at stake).
"""

from __future__ import annotations

from datetime import date

import polars as pl

from .blocks import Section, bullets, esc, has, optional, tiles
from .kpis import ALPHA, COUNT_TEST, RATE_TEST, count_kpi, plain_kpi, rate_kpi, sentence

D30 = 30


def _row(frame: pl.DataFrame, column: str, when: date) -> dict | None:
    rows = frame.filter(pl.col(column) == when)
    return rows.row(0, named=True) if rows.height else None


def _days(ctx) -> tuple[int, int]:
    return (ctx.end - ctx.start).days, (ctx.compare_end - ctx.compare_start).days


def lifecycle_kpis(ctx) -> list:
    """Active and new customers (wb.lifecycle), churned and CRR (wb.customer_retention_rate)."""
    lifecycle = optional("lifecycle")
    if not has(lifecycle, "lifecycle"):
        return []
    days, days_prev = _days(ctx)
    start, before_start = ctx.start.date(), ctx.compare_start.date()
    lc = lifecycle.lifecycle(ctx.events, period="month", as_of=ctx.as_of)
    ctx.cache["lifecycle"] = lc
    now, before = (
        _row(lc.table, "period_start", start),
        _row(lc.table, "period_start", before_start),
    )
    if now is None:
        return []
    prev = before or {}
    kpis = [
        count_kpi(
            "active",
            "Active customers",
            now["active"],
            prev.get("active"),
            days_current=days,
            days_previous=days_prev,
        ),
        count_kpi(
            "new",
            "New customers",
            now["new"],
            prev.get("new"),
            days_current=days,
            days_previous=days_prev,
        ),
    ]
    ctx.define(
        "Active and new customers (lifecycle)",
        lifecycle.LIFECYCLE_DEFINITIONS["lifecycle"],
        lc.params,
    )
    if has(lifecycle, "customer_retention_rate"):
        rates = lifecycle.customer_retention_rate(
            ctx.events, inactivity=ctx.churn_definition, as_of=ctx.as_of
        )
        ctx.cache["crr"] = rates
        r_now = _row(rates.table, "period_start", start)
        r_prev = _row(rates.table, "period_start", before_start) or {}
        if r_now is not None:
            kpis.append(
                count_kpi(
                    "churned",
                    "Churned customers",
                    r_now["churned"],
                    r_prev.get("churned"),
                    days_current=days,
                    days_previous=days_prev,
                    good_when="down",
                    note=f"customers at the month's start who were no longer customers at its end "
                    f"(inactive for {ctx.churn_definition})",
                )
            )
            kept = min(max(r_now["end_customers"] - r_now["new"], 0), r_now["start_customers"])
            kpis.append(
                rate_kpi(
                    "crr",
                    "Customer retention rate",
                    kept,
                    r_now["start_customers"],
                    min(
                        max(r_prev.get("end_customers", 0) - r_prev.get("new", 0), 0),
                        r_prev.get("start_customers", 0),
                    )
                    if r_prev
                    else None,
                    r_prev.get("start_customers"),
                )
            )
            ctx.define(
                "Churned customers and customer retention rate (CRR)",
                lifecycle.LIFECYCLE_DEFINITIONS["crr"],
                rates.params,
            )
    return kpis


def _latest_mature(table: pl.DataFrame) -> dict | None:
    cells = table.filter(pl.col("complete") & (pl.col("base") > 0))
    return cells.sort("cohort").row(-1, named=True) if cells.height else None


def day30_kpis(ctx) -> list:
    """Day-30 retention of the latest mature monthly cohort, now and at the comparison month."""
    lifecycle = optional("lifecycle")
    if not has(lifecycle, "day_n_retention"):
        return []
    now = _latest_mature(lifecycle.day_n_retention(ctx.events, days=(D30,), as_of=ctx.as_of))
    if now is None:
        return []
    before = _latest_mature(
        lifecycle.day_n_retention(
            ctx.upto(ctx.events, ctx.compare_as_of), days=(D30,), as_of=ctx.compare_as_of
        )
    )
    note = f"cohort {now['cohort']:%Y-%m}"
    if before is not None:
        note += f" vs cohort {before['cohort']:%Y-%m}"
    ctx.define(
        f"D{D30} retention (latest mature cohort)",
        lifecycle.LIFECYCLE_DEFINITIONS["day_n"] + f" Shown: N = {D30}, the latest "
        f"monthly cohort whose every member's day {D30} has elapsed by the analysis date.",
    )
    return [
        rate_kpi(
            "d30",
            f"D{D30} retention (latest mature cohort)",
            now["retained"],
            now["base"],
            before["retained"] if before else None,
            before["base"] if before else None,
            note=note,
        )
    ]


def revenue_kpis(ctx) -> list:
    """Net and gross revenue retention of the month (wb.mrr_bridge), when subscriptions exist."""
    revenue = optional("revenue")
    if not has(revenue, "mrr_bridge") or ctx.subscriptions is None or not ctx.subscriptions.height:
        return []
    bridge = revenue.mrr_bridge(ctx.subscriptions, as_of=ctx.as_of)
    ctx.cache["mrr_bridge"] = bridge
    now = _row(bridge.table, "month", ctx.start.date())
    if now is None:
        return []
    prev = _row(bridge.table, "month", ctx.compare_start.date()) or {}
    ctx.define(
        "Net and gross revenue retention (NRR, GRR)",
        revenue.REVENUE_DEFINITIONS["bridge"],
        getattr(bridge, "params", None),
    )
    return [
        plain_kpi("nrr", "Net revenue retention", "ratio", now["nrr"], prev.get("nrr")),
        plain_kpi("grr", "Gross revenue retention", "ratio", now["grr"], prev.get("grr")),
    ]


def overdue_kpis(ctx) -> list:
    """ "Should have bought but didn't": overdue customers and their value at stake."""
    from .sections_actions import overdue_result

    overdue = optional("overdue")
    if not has(overdue, "overdue_customers"):
        return []
    days, days_prev = _days(ctx)
    now = overdue_result(ctx)
    before = overdue.overdue_customers(
        ctx.upto(ctx.events, ctx.compare_as_of), as_of=ctx.compare_as_of
    )
    value = "value_at_stake"
    out = [
        count_kpi(
            "overdue",
            "Should have bought but didn't",
            now.table.height,
            before.table.height,
            days_current=days,
            days_previous=days_prev,
            good_when="down",
        )
    ]
    if value in now.table.columns:
        out.append(
            plain_kpi(
                "overdue_value",
                "Value at stake (overdue)",
                "money",
                now.table[value].sum(),
                before.table[value].sum(),
                good_when="down",
            )
        )
    ctx.define("Should have bought but didn't (overdue)", overdue.OVERDUE_DEFINITION, now.params)
    if hasattr(overdue, "VALUE_AT_STAKE_DEFINITION"):
        ctx.define("Value at stake", overdue.VALUE_AT_STAKE_DEFINITION)
    return out


def headline_kpis(ctx) -> list:
    """The month's KPIs (each with its change against the comparison month), computed once."""
    if "kpis" not in ctx.cache:
        ctx.cache["kpis"] = (
            lifecycle_kpis(ctx) + day30_kpis(ctx) + revenue_kpis(ctx) + overdue_kpis(ctx)
        )
    return ctx.cache["kpis"]


def summary(ctx) -> Section:
    """Header, KPI tiles and the executive summary written from the numbers."""
    kpis = headline_kpis(ctx)
    sec = Section("summary", "Executive summary", kpis=kpis)
    sec.lead = (
        f'<div class="wb-header"><h1>Monthly retention report {esc(ctx.month)}</h1>'
        f'<div class="wb-sub">Data up to {ctx.as_of:%Y-%m-%d %H:%M:%S} UTC &middot; compared '
        f"with {esc(ctx.compare)} &middot; source: {esc(ctx.data_label)} &middot; "
        f"{ctx.events.height:,} event rows up to the month's end</div></div>"
    )
    if not kpis:
        sec.text("No headline number could be computed for this month.")
        return sec
    sec.add(tiles(kpis))
    flagged = [k for k in kpis if k.flag]
    if flagged:
        words = "; ".join(
            f"{esc(k.label.lower())} {'rose' if k.direction == 'up' else 'fell'} "
            f"({esc(k.change_display)}{', ' + k.judgement if k.judgement else ''})"
            for k in flagged
        )
        sec.text(f"<strong>What changed against {esc(ctx.compare)}:</strong> {words}.")
    else:
        sec.text(
            f"<strong>What changed:</strong> no headline number moved beyond normal "
            f"variation against {esc(ctx.compare)}."
        )
    sec.add(bullets([esc(sentence(k, ctx.compare)) for k in kpis]))
    sec.note(
        f"A change is marked only when it is statistically real at the {ALPHA:.0%} level: "
        f"rates use the {esc(RATE_TEST)}; counts use the {esc(COUNT_TEST)}; revenue ratios and "
        f"sums are not tested. Customers present in both months are counted in both, so the "
        f"tests are approximate."
    )
    return sec
