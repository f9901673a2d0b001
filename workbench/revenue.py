"""Value retention, the LTV curve, and the MRR bridge with net and gross revenue retention.

v = wb.value_retention(events, start_event="signup", revenue_event="purchase")
ltv = wb.ltv_curve(v)
bridge = wb.mrr_bridge(subscriptions)       # .table per month, .plot() waterfall
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from .cohorts_engine import (
    _counts_by_need,
    _only,
    cell_grid,
    cohorts,
    count_at_least,
    entries,
    prepare,
)
from .cohorts_result import TableResult
from .cohorts_spec import OUTPUT_COLUMNS, START, C, E, K, S, make_spec
from .errors import BadDataError, MissingColumnError, bad_choice
from .periods import (
    index_expr,
    last_complete_index,
    observed,
    rolling_us,
    start_date_expr,
    to_utc,
)
from .schema import (
    AMOUNT,
    CUSTOMER_ID,
    PERIOD_END,
    PERIOD_START,
    TS,
    CustomerSchema,
    SubscriptionSchema,
    canonical,
)

DAYS_PER_MONTH = 30.4375

REVENUE_DEFINITIONS = {
    "value_retention": (
        "Value retention: revenue of each cohort in each period since its start (sum of "
        "amounts of the revenue events), per cohort customer and per paying customer; "
        "cumulative revenue per customer through period k is the LTV curve. For rolling "
        "windows only customers whose window k has elapsed are counted."
    ),
    "ltv_curve": (
        "LTV curve: for each period k, cumulative revenue through k summed over the cohorts "
        "whose period k is complete, divided by their customers (cohort-size weighted)."
    ),
    "mrr": (
        "MRR: each paid period's amount is turned into a monthly rate (amount / n when the "
        "period lasts n whole months within 3 days, else amount x 30.4375 / days). A "
        "customer's MRR in a month is the sum of the rates of the paid periods covering the "
        "month's last instant (period_start <= t < period_end), i.e. the MRR at the end of "
        "the month (month_rule='end', the default). month_rule='start' snapshots the month's "
        "first instant instead, as dbt's MRR playbook does; the two agree for periods that "
        "start on the 1st, and the start rule counts a mid-month start one month later."
    ),
    "bridge": (
        "MRR bridge per month: new (first MRR ever), reactivated (MRR again after a month "
        "without), expansion (MRR up), contraction (MRR down, negative), churned (MRR to zero, "
        "negative); start MRR + all movements = end MRR. Net revenue retention NRR = (start "
        "MRR + expansion - |contraction| - |churned|) / start MRR; gross revenue retention GRR "
        "leaves out expansion."
    ),
}


# -- value retention ----------------------------------------------------------------------------


def value_retention(
    events,
    *,
    period: str = "month",
    window: str = "calendar",
    cohorting: str = "first_time",
    start_event=None,
    revenue_event=None,
    by=None,
    customers=None,
    top_n: int | None = 10,
    as_of=None,
    min_cohort_size: int = 30,
    cohort_period: str | None = None,
    max_period: int | None = None,
    schema=None,
    customer_schema=None,
) -> pl.DataFrame:
    """Revenue per cohort x period: sum, per cohort customer, per paying customer, cumulative.

    Cohorts as in `retention_matrix` (start_event, cohorting, window, period). Revenue is the
    sum of `amount` over `revenue_event` events (None: every event with an amount) in the
    period (calendar periods: any revenue event in period c + k, even one before the start
    event in the cohort period; rolling windows: only at or after the start). Returns by...,
    cohort, period, cohort_size, base (customers counted: the cohort, or for rolling windows
    those whose window has elapsed), paying (customers in base with at least one revenue
    event with a non-null amount in the period, whatever its sign), revenue,
    revenue_per_customer (revenue / base), revenue_per_paying, cumulative_revenue_per_customer
    (revenue of periods 0..k of the customers in base, / base), complete, small.
    """
    spec = make_spec(
        "value_retention",
        period=period,
        window=window,
        cohort_period=cohort_period,
        cohorting=cohorting,
        start_event=start_event,
        return_event=revenue_event,
        by=by,
        top_n=top_n,
        min_cohort_size=min_cohort_size,
        max_period=max_period,
    )
    lf = canonical(events, schema=schema, caller=spec.caller)
    if AMOUNT not in lf.collect_schema().names():
        raise MissingColumnError(
            f"value_retention: events has no amount column. Available: "
            f"{lf.collect_schema().names()}. Fix: pass schema=EventSchema(amount='your_column')."
        )
    inp = prepare(
        lf, spec, as_of=as_of, customers=customers, customer_schema=customer_schema, extra=(AMOUNT,)
    )
    g = [*spec.by, C]
    ent = entries(inp, spec)
    coh = cohorts(ent, spec, inp.as_of)
    grid = cell_grid(coh, spec, inp.as_of)
    info = ent.select(list(dict.fromkeys([*spec.key, *g, START, *([E] if spec.rolling else [S])])))

    rev = _only(inp.events, spec.return_events).filter(pl.col(AMOUNT).is_not_null())
    rev = rev.select(CUSTOMER_ID, TS, AMOUNT).join(info, on=CUSTOMER_ID)
    if spec.rolling:
        k = (pl.col(TS) - pl.col(START)).dt.total_microseconds() // rolling_us(period)
    else:
        k = inp.index(pl.col(TS), period) - pl.col(S)
    per_entry = (
        rev.with_columns(k.alias(K))
        .filter(pl.col(K) >= 0)
        .group_by(
            *spec.key, *[c for c in g if c not in spec.key], K, *([E] if spec.rolling else [])
        )
        .agg(pl.col(AMOUNT).sum().alias("_wb_rev"))
    )
    if spec.rolling:  # only customers whose window k has elapsed count in cell k
        per_entry = per_entry.filter(pl.col(E) >= pl.col(K))
        grid = _counts_by_need(count_at_least(info, E, coh, g), grid, g, "base")
        # revenue of window j counts towards cumulative cells j..E_e: +rev at j, -rev at E_e+1
        stop = per_entry.select(*g, (pl.col(E) + 1).alias(K), (-pl.col("_wb_rev")).alias("_wb_d"))
    else:
        grid = grid.with_columns(pl.col("cohort_size").alias("base"))
        stop = None
    cell = per_entry.group_by(*g, K).agg(
        pl.col("_wb_rev").sum().alias("revenue"), pl.len().alias("paying")
    )
    deltas = per_entry.select(*g, K, pl.col("_wb_rev").alias("_wb_d"))
    if stop is not None:
        deltas = pl.concat([deltas, stop])
    deltas = deltas.group_by(*g, K).agg(pl.col("_wb_d").sum())
    out = (
        grid.join(cell, on=[*g, K], how="left")
        .join(deltas, on=[*g, K], how="left")
        .with_columns(pl.col("revenue", "_wb_d").fill_null(0.0), pl.col("paying").fill_null(0))
        .sort([*g, K])
        .with_columns(pl.col("_wb_d").cum_sum().over(g).alias("_wb_cum"))
        .with_columns(
            start_date_expr(pl.col(C), spec.cohort_period).alias("cohort"),
            pl.col("period").cast(pl.Int64),
            pl.col("base").fill_null(0).cast(pl.Int64),
            pl.col("paying").cast(pl.Int64),
            pl.col("cohort_size").cast(pl.Int64),
        )
        .with_columns(
            _ratio("revenue", "base").alias("revenue_per_customer"),
            _ratio("revenue", "paying").alias("revenue_per_paying"),
            _ratio("_wb_cum", "base").alias("cumulative_revenue_per_customer"),
            (pl.col("cohort_size") < spec.min_cohort_size).alias("small"),
        )
        .select(
            *spec.by,
            "cohort",
            "period",
            "cohort_size",
            "base",
            "paying",
            "revenue",
            "revenue_per_customer",
            "revenue_per_paying",
            "cumulative_revenue_per_customer",
            "complete",
            "small",
        )
        .sort([*spec.by, "cohort", "period"])
    )
    return out.collect()


def _ratio(num: str, den: str) -> pl.Expr:
    return pl.when(pl.col(den) > 0).then(pl.col(num) / pl.col(den))


def ltv_curve(value_table: pl.DataFrame) -> pl.DataFrame:
    """Cohort-size-weighted mean cumulative revenue per customer by period, complete cells only.

    Returns by..., period, cohorts, customers, revenue_per_customer (mean revenue in the
    period), cumulative_revenue_per_customer (the LTV curve).
    """
    if isinstance(value_table, pl.LazyFrame):
        value_table = value_table.collect()
    need = ["period", "base", "revenue", "cumulative_revenue_per_customer", "complete"]
    missing = [c for c in need if c not in value_table.columns]
    if missing:
        raise MissingColumnError(
            f"ltv_curve: the table has no column {missing[0]!r}. Fix: pass the output of "
            f"wb.value_retention."
        )
    extra = {
        "paying",
        "revenue",
        "revenue_per_customer",
        "revenue_per_paying",
        "cumulative_revenue_per_customer",
    }
    by = [c for c in value_table.columns if c not in OUTPUT_COLUMNS and c not in extra]
    return (
        value_table.lazy()
        .filter(pl.col("complete") & (pl.col("base") > 0))
        .group_by(*by, "period")
        .agg(
            pl.len().alias("cohorts"),
            pl.col("base").sum().alias("customers"),
            pl.col("revenue").sum().alias("_wb_rev"),
            (pl.col("cumulative_revenue_per_customer") * pl.col("base")).sum().alias("_wb_cum"),
        )
        .with_columns(
            (pl.col("_wb_rev") / pl.col("customers")).alias("revenue_per_customer"),
            (pl.col("_wb_cum") / pl.col("customers")).alias("cumulative_revenue_per_customer"),
        )
        .drop("_wb_rev", "_wb_cum")
        .sort([*by, "period"])
        .collect()
    )


# -- subscriptions: MRR -------------------------------------------------------------------------


@dataclass(frozen=True)
class MrrBridge(TableResult):
    """Result of `mrr_bridge`: `.table` one row per (by..., month)."""

    def plot(self, **options):
        from .plots.cohorts import plot_mrr_bridge

        return plot_mrr_bridge(self.table, **options)


def _subscriptions(subscriptions, *, caller, schema, as_of):
    subs = canonical(
        subscriptions, schema=schema, caller=caller, default=SubscriptionSchema, require=(AMOUNT,)
    )
    subs = subs.select(CUSTOMER_ID, PERIOD_START, PERIOD_END, AMOUNT)
    if as_of is None:
        latest = subs.select(pl.col(PERIOD_START).max()).collect().item()
        if latest is None:
            raise BadDataError(f"{caller}: subscriptions is empty. Fix: pass paid periods.")
        when = to_utc(latest, caller=caller)
    else:
        when = to_utc(as_of, caller=caller)
    return subs.filter(observed(pl.col(PERIOD_START), when)), when


def monthly_rate_expr() -> pl.Expr:
    """A paid period's amount as a monthly rate (see REVENUE_DEFINITIONS['mrr'])."""
    days = (pl.col(PERIOD_END) - pl.col(PERIOD_START)).dt.total_microseconds() / 86_400e6
    months = (days / DAYS_PER_MONTH).round(0)
    whole = (months >= 1) & ((days - months * DAYS_PER_MONTH).abs() <= 3)
    return (
        pl.when(whole)
        .then(pl.col(AMOUNT) / months)
        .when(days > 0)
        .then(pl.col(AMOUNT) * DAYS_PER_MONTH / days)
        .otherwise(None)
    )


MONTH_RULES = ("end", "start")
_MONEY_DIGITS = 9  # a customer's MRR is rounded so float leftovers (0.1 + 0.2 - 0.3) are not MRR


def mrr(subscriptions, *, as_of=None, month_rule: str = "end", schema=None) -> pl.DataFrame:
    """MRR per customer and month (months whose end has passed by `as_of`; MRR > 0 only).

    month_rule : "end" - a paid period counts in month m when it covers the instant m ends
        (period_start < start of m + 1 <= period_end); "start" - when it covers the instant m
        begins (period_start <= start of m < period_end), as dbt's MRR playbook does.
    Returns customer_id, month (Date), mrr.
    """
    _check_month_rule("mrr", month_rule)
    subs, when = _subscriptions(subscriptions, caller="mrr", schema=schema, as_of=as_of)
    return (
        _mrr(subs, when, month_rule)
        .select(CUSTOMER_ID, start_date_expr(pl.col("_wb_m"), "month").alias("month"), "mrr")
        .sort(CUSTOMER_ID, "month")
        .collect()
    )


def _check_month_rule(caller: str, month_rule: str) -> None:
    if month_rule not in MONTH_RULES:
        raise bad_choice(caller, "month_rule", month_rule, MONTH_RULES)


def _mrr(subs: pl.LazyFrame, when, month_rule: str = "end") -> pl.LazyFrame:
    if month_rule == "end":  # period_start < start(m + 1) <= period_end
        lo = index_expr(pl.col(PERIOD_START), "month")
        hi = index_expr(pl.col(PERIOD_END), "month") - 1
    else:  # period_start <= start(m) < period_end
        before = pl.duration(microseconds=1)
        lo = index_expr(pl.col(PERIOD_START) - before, "month") + 1
        hi = index_expr(pl.col(PERIOD_END) - before, "month")
    done = last_complete_index(when, "month")
    return (
        subs.with_columns(monthly_rate_expr().alias("_wb_rate"))
        .select(
            CUSTOMER_ID,
            "_wb_rate",
            pl.int_ranges(lo, pl.min_horizontal(hi, done) + 1).alias("_wb_m"),
        )
        .explode("_wb_m")
        .drop_nulls("_wb_m")
        .group_by(CUSTOMER_ID, "_wb_m")
        .agg(pl.col("_wb_rate").sum().round(_MONEY_DIGITS).alias("mrr"))
        .filter(pl.col("mrr") > 0)
    )


def mrr_bridge(
    subscriptions,
    *,
    by=None,
    customers=None,
    as_of=None,
    month_rule: str = "end",
    schema=None,
    customer_schema=None,
) -> MrrBridge:
    """MRR bridge per month with NRR and GRR (months whose end has passed by `as_of`).

    by : customer attribute(s) from `customers` (e.g. channel).
    month_rule : which instant of a month a paid period must cover to count ("end" or "start";
        see `mrr`).
    Returns an `MrrBridge`; `.table` columns: by..., month, start_mrr, new, expansion,
    contraction (negative), churned (negative), reactivated, end_mrr, customers_start,
    customers_end, new_customers, churned_customers, reactivated_customers, nrr, grr.
    """
    caller = "mrr_bridge"
    _check_month_rule(caller, month_rule)
    spec = make_spec(caller, by=by, top_n=None)
    subs, when = _subscriptions(subscriptions, caller=caller, schema=schema, as_of=as_of)
    g = list(spec.by)
    cur = _mrr(subs, when, month_rule)
    prev = cur.select(
        CUSTOMER_ID, (pl.col("_wb_m") + 1).alias("_wb_m"), pl.col("mrr").alias("_wb_prev")
    )
    first = cur.group_by(CUSTOMER_ID).agg(pl.col("_wb_m").min().alias("_wb_first"))
    done = last_complete_index(when, "month")
    rows = (
        cur.join(prev, on=[CUSTOMER_ID, "_wb_m"], how="full", coalesce=True)
        .filter(pl.col("_wb_m") <= done)
        .with_columns(pl.col("mrr", "_wb_prev").fill_null(0.0))
        .join(first, on=CUSTOMER_ID)
    )
    if g:
        if customers is None:
            raise MissingColumnError(f"{caller}: by= needs a customers= table holding {g}.")
        cust = canonical(customers, schema=customer_schema, caller=caller, default=CustomerSchema)
        missing = [b for b in g if b not in cust.collect_schema().names()]
        if missing:
            raise MissingColumnError(
                f"{caller}: customers has no column {missing[0]!r}. "
                f"Available: {cust.collect_schema().names()}."
            )
        cust = cust.select(CUSTOMER_ID, *[pl.col(b).cast(pl.String) for b in g])
        rows = rows.join(cust.unique(CUSTOMER_ID, keep="first"), on=CUSTOMER_ID, how="left")
        rows = rows.with_columns(pl.col(b).fill_null("(missing)") for b in g)
    was, now = pl.col("_wb_prev"), pl.col("mrr")
    started = (was == 0) & (now > 0)
    is_new = started & (pl.col("_wb_m") == pl.col("_wb_first"))
    is_back = started & (pl.col("_wb_m") > pl.col("_wb_first"))
    zero = pl.lit(0.0)
    movements = rows.group_by(*g, "_wb_m").agg(
        was.sum().alias("start_mrr"),
        pl.when(is_new).then(now).otherwise(zero).sum().alias("new"),
        pl.when((was > 0) & (now > was)).then(now - was).otherwise(zero).sum().alias("expansion"),
        pl.when((was > 0) & (now > 0) & (now < was))
        .then(now - was)
        .otherwise(zero)
        .sum()
        .alias("contraction"),
        pl.when((was > 0) & (now == 0)).then(-was).otherwise(zero).sum().alias("churned"),
        pl.when(is_back).then(now).otherwise(zero).sum().alias("reactivated"),
        now.sum().alias("end_mrr"),
        (was > 0).sum().alias("customers_start"),
        (now > 0).sum().alias("customers_end"),
        is_new.sum().alias("new_customers"),
        ((was > 0) & (now == 0)).sum().alias("churned_customers"),
        is_back.sum().alias("reactivated_customers"),
    )
    groups = rows.select(g).unique() if g else pl.LazyFrame({"_wb_one": [1]})
    start = cur.select(pl.col("_wb_m").min().alias("_wb_lo"))
    grid = (
        groups.join(start, how="cross")
        .select(*g, pl.int_ranges("_wb_lo", done + 1).alias("_wb_m"))
        .explode("_wb_m")
        .drop_nulls("_wb_m")
    )
    money = ["start_mrr", "new", "expansion", "contraction", "churned", "reactivated", "end_mrr"]
    counts = [
        "customers_start",
        "customers_end",
        "new_customers",
        "churned_customers",
        "reactivated_customers",
    ]
    s = pl.col("start_mrr")
    table = (
        grid.join(movements, on=[*g, "_wb_m"], how="left")
        .with_columns(pl.col(money).fill_null(0.0), pl.col(counts).fill_null(0).cast(pl.Int64))
        .with_columns(
            start_date_expr(pl.col("_wb_m"), "month").alias("month"),
            pl.when(s > 0)
            .then((s + pl.col("expansion") + pl.col("contraction") + pl.col("churned")) / s)
            .alias("nrr"),
            pl.when(s > 0).then((s + pl.col("contraction") + pl.col("churned")) / s).alias("grr"),
        )
        .select(*g, "month", *money, *counts, "nrr", "grr")
        .sort([*g, "month"])
        .collect()
    )
    instant = "last" if month_rule == "end" else "first"
    params = {
        "by": g,
        "as_of": when,
        "month_rule": month_rule,
        "mrr_rule": f"paid periods covering the month's {instant} instant",
    }
    return MrrBridge(table, params, REVENUE_DEFINITIONS["bridge"], "MRR bridge")
