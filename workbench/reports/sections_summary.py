"""Executive summary: headline numbers of the month against the comparison month, as tiles and text."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from ..schema import CUSTOMER_ID, TS
from .blocks import Section, bullets, esc, tiles
from .kpis import ALPHA, COUNT_TEST, RATE_TEST, count_kpi, plain_kpi, rate_kpi, sentence


def _gap(ctx) -> timedelta:
    from .._leaving import parse_duration

    return parse_duration(ctx.churn_definition, "report", "churn_definition")


def customer_counts(events: pl.DataFrame, start: datetime, end: datetime, gap: timedelta) -> dict:
    """Active, new and churned customers of [start, end), and the CRR counts.

    active: customers with at least one event in the month. new: customers whose first event
    falls in the month. churned: customers whose last event plus the churn gap falls in the
    month (they crossed the inactivity threshold then). CRR = (E - N) / S with S the customers
    active in the gap before the month's start, E those active in the gap before its end and
    N the new ones.
    """
    lf = events.lazy().filter(pl.col(TS) < end)
    per = lf.group_by(CUSTOMER_ID).agg(
        pl.col(TS).min().alias("first"),
        pl.col(TS).max().alias("last"),
        ((pl.col(TS) >= start) & (pl.col(TS) < end)).any().alias("active"),
        ((pl.col(TS) >= start - gap) & (pl.col(TS) < start)).any().alias("alive_start"),
        (pl.col(TS) >= end - gap).any().alias("alive_end"),
    )
    row = per.select(
        pl.col("active").sum().alias("active"),
        pl.col("first").is_between(start, end, closed="left").sum().alias("new"),
        (pl.col("last") + gap).is_between(start, end, closed="left").sum().alias("churned"),
        pl.col("alive_start").sum().alias("start_base"),
        pl.col("alive_end").sum().alias("end_base"),
    ).collect().row(0, named=True)
    return {k: int(v or 0) for k, v in row.items()}


def headline_kpis(ctx) -> list:
    """The month's KPIs (each with its change against the comparison month)."""
    gap = _gap(ctx)
    now = customer_counts(ctx.events, ctx.start, ctx.end, gap)
    before = customer_counts(ctx.events, ctx.compare_start, ctx.compare_end, gap)
    days = (ctx.end - ctx.start).days
    days_prev = (ctx.compare_end - ctx.compare_start).days
    kpis = [
        count_kpi("active", "Active customers", now["active"], before["active"],
                  days_current=days, days_previous=days_prev),
        count_kpi("new", "New customers", now["new"], before["new"],
                  days_current=days, days_previous=days_prev),
        count_kpi("churned", "Churned customers", now["churned"], before["churned"],
                  days_current=days, days_previous=days_prev, good_when="down",
                  note=f"inactive for {ctx.churn_definition}"),
    ]
    kept = max(now["end_base"] - now["new"], 0)
    kept_prev = max(before["end_base"] - before["new"], 0)
    if now["start_base"] and before["start_base"]:
        kpis.append(rate_kpi("crr", "Customer retention rate", min(kept, now["start_base"]),
                             now["start_base"], min(kept_prev, before["start_base"]),
                             before["start_base"]))
    kpis += day30_kpis(ctx)
    kpis += overdue_kpis(ctx, days, days_prev)
    ctx.define("Active customers", "Customers with at least one event in the month.")
    ctx.define("New customers", "Customers whose first event ever falls in the month.")
    ctx.define("Churned customers",
               f"Customers whose last event plus the churn gap ({ctx.churn_definition}) falls in "
               f"the month: they crossed the inactivity threshold during the month and have not "
               f"come back. Customers whose last event is closer to the month's end than the gap "
               f"are not churned (censored).")
    ctx.define("Customer retention rate (CRR)",
               f"CRR = (E - N) / S, with S the customers active in the {ctx.churn_definition} "
               f"before the month's start, E those active in the {ctx.churn_definition} before "
               f"its end and N the customers new in the month; capped at 1.")
    return kpis


def day30_kpis(ctx) -> list:
    """Day-30 retention of the latest mature monthly cohort, now and at the comparison month."""
    from .blocks import has, optional
    from .sections_cohorts import D30, day30

    cohorts = optional("cohorts")
    if not has(cohorts, "retention_matrix"):
        return []
    now = day30(ctx.events, ctx.as_of)
    before = day30(ctx.upto(ctx.events, ctx.compare_as_of), ctx.compare_as_of)
    if now is None:
        return []
    note = f"cohort {now['cohort']:%Y-%m}"
    if before is not None:
        note += f" vs cohort {before['cohort']:%Y-%m}"
    ctx.define(f"D{D30} retention",
               f"Share of a monthly cohort active on day {D30} after their own start (rolling "
               f"daily windows, 'on' criterion: an event in [start + {D30} days, start + "
               f"{D30 + 1} days)); the latest cohort whose every member's day-{D30} window has "
               f"elapsed by the analysis date. " + cohorts.RETENTION_DEFINITIONS["on"])
    if before is None:
        return [rate_kpi("d30", f"D{D30} retention (latest mature cohort)", now["retained"],
                         now["base"], None, None, note=note)]
    return [rate_kpi("d30", f"D{D30} retention (latest mature cohort)", now["retained"],
                     now["base"], before["retained"], before["base"], note=note)]


def overdue_kpis(ctx, days: int, days_prev: int) -> list:
    """"Should have bought but didn't": overdue customers and their value at stake."""
    from .blocks import has, optional
    from .sections_actions import overdue_result

    overdue = optional("overdue")
    if not has(overdue, "overdue_customers"):
        return []
    now = overdue_result(ctx)
    before = overdue.overdue_customers(ctx.upto(ctx.events, ctx.compare_as_of),
                                       as_of=ctx.compare_as_of)
    value = "value_at_stake"
    out = [count_kpi("overdue", "Should have bought but didn't", now.table.height,
                     before.table.height, days_current=days, days_previous=days_prev,
                     good_when="down")]
    if value in now.table.columns:
        out.append(plain_kpi("overdue_value", "Value at stake (overdue)", "money",
                             now.table[value].sum(), before.table[value].sum(),
                             good_when="down"))
    ctx.define("Should have bought but didn't (overdue)", overdue.OVERDUE_DEFINITION,
               now.params)
    if hasattr(overdue, "VALUE_AT_STAKE_DEFINITION"):
        ctx.define("Value at stake", overdue.VALUE_AT_STAKE_DEFINITION)
    return out


def summary(ctx) -> Section:
    """Header, KPI tiles and the executive summary written from the numbers."""
    kpis = ctx.cache.get("kpis") or headline_kpis(ctx)
    ctx.cache["kpis"] = kpis
    sec = Section("summary", "Executive summary", kpis=kpis)
    sec.lead = (
        f'<div class="wb-header"><h1>Monthly retention report {esc(ctx.month)}</h1>'
        f'<div class="wb-sub">Data up to {ctx.as_of:%Y-%m-%d %H:%M:%S} UTC &middot; compared '
        f"with {esc(ctx.compare)} &middot; source: {esc(ctx.data_label)} &middot; "
        f"{ctx.events.height:,} events read for this month and before</div></div>"
    )
    sec.add(tiles(kpis))
    flagged = [k for k in kpis if k.flag]
    if flagged:
        words = ", ".join(f"{esc(k.label.lower())} ({esc(k.change_display)})" for k in flagged)
        sec.text(f"<strong>What changed:</strong> {words}.")
    else:
        sec.text(f"<strong>What changed:</strong> no headline number moved beyond normal "
                 f"variation against {esc(ctx.compare)}.")
    sec.add(bullets([esc(sentence(k, ctx.compare)) for k in kpis]))
    sec.note(
        f"A change is marked only when it is statistically real at the {ALPHA:.0%} level: "
        f"rates use the {esc(RATE_TEST)}; counts use the {esc(COUNT_TEST)}; revenue ratios are "
        f"not tested. Customers active in both months are counted in both, so the tests are "
        f"approximate."
    )
    return sec
