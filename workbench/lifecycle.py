"""Growth accounting (lifecycle), customer retention rate, day-N retention and stickiness.

lc = wb.lifecycle(events, period="month")          # new / returning / resurrected / dormant
rates = wb.customer_retention_rate(events)         # CRR = (E - N) / S per month
dn = wb.day_n_retention(events, days=(1, 7, 30), by="channel", customers=customers)
st = wb.stickiness(events, period="day", window="month")
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from .cohorts_engine import _only, entries, prepare
from .cohorts_fast import distinct_pairs
from .cohorts_result import TableResult
from .cohorts_spec import OUTPUT_COLUMNS, C, P, make_spec
from .errors import BadParameterError, WorkbenchError
from .periods import (
    check_period,
    duration_us,
    index_expr,
    index_of,
    last_complete_index,
    observed,
    observed_until,
    parse_duration,
    start_date_expr,
    to_utc,
)
from .schema import (
    CUSTOMER_ID,
    PERIOD_END,
    PERIOD_START,
    TS,
    CustomerSchema,
    SubscriptionSchema,
    canonical,
)
from .stats import wilson_exprs

LIFECYCLE_DEFINITIONS = {
    "lifecycle": (
        "Growth accounting per period: new = first activity ever in this period; returning = "
        "active now and in the previous period; resurrected = active now, not in the previous "
        "period, active some time before; dormant = active in the previous period, not now "
        "(stored and shown as a negative number, so new + resurrected + dormant is the change "
        "in active customers). Quick ratio = (new + resurrected) / |dormant|. In the first "
        "period of the data everyone is new (earlier history is not observed)."
    ),
    "crr": (
        "Customer retention rate for a period: CRR = (E - N) / S, with S the customers at the "
        "period's start, E those at its end and N the new customers acquired during it. Without "
        "subscriptions, a customer 'is a customer' at an instant when their last activity "
        "before it lies within the inactivity threshold (default 90 days); with subscriptions, "
        "when a paid period covers the instant. Churn rate = 1 - CRR. The Wilson interval "
        "treats E - N as successes out of S. E - N equals the customers kept from S only when "
        "no one is reactivated and every new customer is still one at the period's end; a "
        "new customer who lapses within the period (inactivity shorter than the period) lowers "
        "CRR, which can then fall below 0 (no interval is shown) - the retained column counts "
        "the customers kept from S directly."
    ),
    "day_n": (
        "Day-N retention: among customers whose day N has fully elapsed, the share active on "
        "day N, where day N is the 24 hours starting N x 24 h after their start event (their "
        "first event when no start event is named; day 1 = 24-48 h after the start)."
    ),
    "stickiness": (
        "Stickiness: customers active in a window (e.g. a month) by the number of distinct "
        "periods (e.g. days) in which they were active."
    ),
}


@dataclass(frozen=True)
class Lifecycle(TableResult):
    """Result of `lifecycle`: `.table` one row per (by..., period_start)."""

    def plot(self, **options):
        from .plots.cohorts import plot_lifecycle

        return plot_lifecycle(self.table, **options)


@dataclass(frozen=True)
class RetentionRates(TableResult):
    """Result of `customer_retention_rate`: `.table` one row per (by..., period_start)."""

    def plot(self, **options):
        from .plots.cohorts import plot_retention_rate

        return plot_retention_rate(self.table, **options)


def lifecycle(
    events,
    *,
    period: str = "month",
    event=None,
    by=None,
    customers=None,
    top_n: int | None = 10,
    as_of=None,
    schema=None,
    customer_schema=None,
) -> Lifecycle:
    """New, returning, resurrected and dormant customers per calendar period.

    event : the event name(s) that count as activity (None: any event). `by` values are taken
    at the customer's first activity (event column) or from `customers`.
    Returns a `Lifecycle` whose `.table` has by..., period_start (Date), new, returning,
    resurrected, dormant (negative), active, quick_ratio, complete.
    """
    spec = make_spec(
        "lifecycle", period=period, start_event=event, return_event=event, by=by, top_n=top_n
    )
    inp = prepare(
        events,
        spec,
        as_of=as_of,
        schema=schema,
        customers=customers,
        customer_schema=customer_schema,
    )
    g = list(spec.by)
    ent = entries(inp, spec).select(CUSTOMER_ID, C, *g)
    pairs = distinct_pairs(_only(inp.events, spec.return_events), inp, spec)
    same = pl.col(CUSTOMER_ID) == pl.col(CUSTOMER_ID).shift(1)
    same_next = pl.col(CUSTOMER_ID) == pl.col(CUSTOMER_ID).shift(-1)
    rows = (
        pairs.sort([CUSTOMER_ID, P])
        .with_columns(
            pl.when(same).then(pl.col(P).shift(1)).alias("_wb_prev"),
            pl.when(same_next).then(pl.col(P).shift(-1)).alias("_wb_next"),
        )
        .join(ent, on=CUSTOMER_ID)
        .cache()
    )
    last = index_of(inp.as_of, period)
    counts = rows.group_by(*g, P).agg(
        (pl.col(P) == pl.col(C)).sum().alias("new"),
        (pl.col("_wb_prev") == pl.col(P) - 1).sum().alias("returning"),
        (pl.col("_wb_prev") < pl.col(P) - 1).sum().alias("resurrected"),
    )
    gone = pl.col("_wb_next").is_null() | (pl.col("_wb_next") > pl.col(P) + 1)
    dormant = (
        rows.filter(gone & (pl.col(P) < last))
        .group_by(*g, (pl.col(P) + 1).alias(P))
        .agg(pl.len().alias("dormant"))
    )
    first = rows.select(pl.col(P).min().alias("_wb_first"))
    groups = ent.select(g).unique() if g else pl.LazyFrame({"_wb_one": [1]})
    grid = (
        groups.join(first, how="cross")
        .select(*g, pl.int_ranges("_wb_first", last + 1).alias(P))
        .explode(P)
        .drop_nulls(P)  # no activity up to as_of: no rows
    )
    table = (
        grid.join(counts, on=[*g, P], how="left")
        .join(dormant, on=[*g, P], how="left")
        .with_columns(
            pl.col(c).fill_null(0).cast(pl.Int64)
            for c in ("new", "returning", "resurrected", "dormant")
        )
        .with_columns(
            (-pl.col("dormant")).alias("dormant"),
            (pl.col("new") + pl.col("returning") + pl.col("resurrected")).alias("active"),
            pl.when(pl.col("dormant") > 0)
            .then((pl.col("new") + pl.col("resurrected")) / pl.col("dormant"))
            .alias("quick_ratio"),
            (pl.col(P) <= last_complete_index(inp.as_of, period)).alias("complete"),
            start_date_expr(pl.col(P), period).alias("period_start"),
        )
        .select(
            *g,
            "period_start",
            "new",
            "returning",
            "resurrected",
            "dormant",
            "active",
            "quick_ratio",
            "complete",
        )
        .sort([*g, "period_start"])
        .collect()
    )
    params = {
        "period": period,
        "event": event,
        "by": list(spec.by),
        "top_n": top_n,
        "as_of": inp.as_of,
    }
    return Lifecycle(table, params, LIFECYCLE_DEFINITIONS["lifecycle"], "Lifecycle")


def customer_retention_rate(
    events=None,
    *,
    subscriptions=None,
    period: str = "month",
    inactivity="90d",
    event=None,
    by=None,
    customers=None,
    top_n: int | None = 10,
    as_of=None,
    level: float = 0.95,
    schema=None,
    subscription_schema=None,
    customer_schema=None,
) -> RetentionRates:
    """CRR = (E - N) / S and churn rate = 1 - CRR per complete calendar period.

    Pass either `events` (a customer is one while their last activity lies within
    `inactivity`, e.g. "90d") or `subscriptions` (a customer is one while a paid period covers
    the instant), not both. S = customers just before the period starts (activity in
    [start - inactivity, start), or a paid period with period_start < start <= period_end),
    E = the same just before the next period starts (so E of one period is S of the next),
    N = customers whose first activity (first paid period) starts in the period, whether or not
    they are still customers at its end (the formula as written; with `inactivity` shorter than
    the period a new customer can lapse within it, and CRR can fall below 0). Also returns
    retained (in S and E), reactivated (in E, not in S, not new) and churned (S - retained).
    Only periods that have fully elapsed by `as_of` are shown.
    """
    caller = "customer_retention_rate"
    if (events is None) == (subscriptions is None):
        raise BadParameterError(
            f"{caller}: pass exactly one of events= (activity with an inactivity threshold) or "
            f"subscriptions= (paid periods)."
        )
    check_period(caller, period)
    spec = make_spec(
        caller,
        period=period,
        start_event=event,
        return_event=event,
        by=by,
        top_n=top_n,
        level=level,
    )
    if events is not None:
        thr = duration_us(parse_duration(inactivity, caller=caller, param="inactivity"))
        inp = prepare(
            events,
            spec,
            as_of=as_of,
            schema=schema,
            customers=customers,
            customer_schema=customer_schema,
        )
        ent = entries(inp, spec).select(CUSTOMER_ID, C, *spec.by)
        acts = (
            _only(inp.events, spec.return_events)
            .group_by(CUSTOMER_ID, inp.index(pl.col(TS), period).alias(P))
            .agg(pl.col(TS).max().alias("_wb_last"))
        )
        hi = index_expr(pl.col("_wb_last") + pl.duration(microseconds=thr), period)
        covered = acts.select(CUSTOMER_ID, pl.int_ranges(pl.col(P) + 1, hi + 1).alias(P))
        when = inp.as_of
    else:
        covered, ent, when = _subscription_cover(
            subscriptions, spec, as_of, subscription_schema, customers, customer_schema
        )
    table = _crr_table(covered.explode(P).drop_nulls(P).unique(), ent, spec, when, level)
    params = {
        "period": period,
        "basis": "events" if events is not None else "subscriptions",
        "inactivity": inactivity if events is not None else None,
        "event": event,
        "by": list(spec.by),
        "as_of": when,
        "level": level,
    }
    return RetentionRates(table, params, LIFECYCLE_DEFINITIONS["crr"], "Customer retention rate")


def _subscription_cover(subscriptions, spec, as_of, sub_schema, customers, customer_schema):
    """Boundaries (period starts) covered by a paid period, and one entry row per customer."""
    from .cohorts_engine import group_labels

    caller, period = spec.caller, spec.period
    subs = canonical(subscriptions, schema=sub_schema, caller=caller, default=SubscriptionSchema)
    subs = subs.select(CUSTOMER_ID, PERIOD_START, PERIOD_END)
    if as_of is None:
        when = to_utc(subs.select(pl.col(PERIOD_START).max()).collect().item(), caller=caller)
    else:
        when = to_utc(as_of, caller=caller)
    subs = subs.filter(observed(pl.col(PERIOD_START), when))
    # status at a boundary b is taken just before b: period_start < b <= period_end
    lo = index_expr(pl.col(PERIOD_START), period) + 1
    hi = index_expr(pl.col(PERIOD_END), period)
    covered = subs.select(CUSTOMER_ID, pl.int_ranges(lo, hi + 1).alias(P))
    ent = subs.group_by(CUSTOMER_ID).agg(index_expr(pl.col(PERIOD_START).min(), period).alias(C))
    if spec.by:
        if customers is None:
            raise BadParameterError(
                f"{caller}: by= with subscriptions needs a customers= table holding {list(spec.by)}."
            )
        cust = canonical(customers, schema=customer_schema, caller=caller, default=CustomerSchema)
        missing = [b for b in spec.by if b not in cust.collect_schema().names()]
        if missing:
            from .errors import MissingColumnError

            raise MissingColumnError(
                f"{caller}: customers has no column {missing[0]!r} for by=. "
                f"Available: {cust.collect_schema().names()}."
            )
        ent = ent.join(
            cust.select(CUSTOMER_ID, *spec.by).unique(CUSTOMER_ID, keep="first"),
            on=CUSTOMER_ID,
            how="left",
        )
        ent = group_labels(ent, spec)
    return covered, ent, when


def _crr_table(covered: pl.LazyFrame, ent: pl.LazyFrame, spec, as_of, level) -> pl.DataFrame:
    g = list(spec.by)
    done = last_complete_index(as_of, spec.period)
    at_start = covered.with_columns(pl.lit(True).alias("_wb_s"))
    at_end = covered.select(CUSTOMER_ID, (pl.col(P) - 1).alias(P), pl.lit(True).alias("_wb_e"))
    both = (
        at_start.join(at_end, on=[CUSTOMER_ID, P], how="full", coalesce=True)
        .with_columns(pl.col("_wb_s").fill_null(False), pl.col("_wb_e").fill_null(False))
        .join(ent, on=CUSTOMER_ID)
        .filter(pl.col(P) <= done)
    )
    moved = pl.col("_wb_e") & ~pl.col("_wb_s")
    counts = both.group_by(*g, P).agg(
        pl.col("_wb_s").sum().alias("start_customers"),
        pl.col("_wb_e").sum().alias("end_customers"),
        (pl.col("_wb_s") & pl.col("_wb_e")).sum().alias("retained"),
        (moved & (pl.col(C) < pl.col(P))).sum().alias("reactivated"),
    )
    new = ent.group_by(*g, pl.col(C).alias(P)).agg(pl.len().alias("new"))
    first = ent.select(pl.col(C).min().alias("_wb_first"))
    groups = ent.select(g).unique() if g else pl.LazyFrame({"_wb_one": [1]})
    grid = (
        groups.join(first, how="cross")
        .select(*g, pl.int_ranges("_wb_first", done + 1).alias(P))
        .explode(P)
        .drop_nulls(P)
    )
    kept = pl.col("end_customers") - pl.col("new")
    low, high = wilson_exprs(kept, pl.col("start_customers"), level)
    ok = (kept >= 0) & (kept <= pl.col("start_customers"))
    return (
        grid.join(counts, on=[*g, P], how="left")
        .join(new, on=[*g, P], how="left")
        .with_columns(
            pl.col(c).fill_null(0).cast(pl.Int64)
            for c in ("start_customers", "end_customers", "retained", "reactivated", "new")
        )
        .with_columns(
            start_date_expr(pl.col(P), spec.period).alias("period_start"),
            (pl.col("start_customers") - pl.col("retained")).alias("churned"),
            pl.when(pl.col("start_customers") > 0)
            .then(kept / pl.col("start_customers"))
            .alias("crr"),
            pl.when(ok).then(low).alias("ci_low"),
            pl.when(ok).then(high).alias("ci_high"),
        )
        .with_columns((1 - pl.col("crr")).alias("churn_rate"))
        .select(
            *g,
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
        )
        .sort([*g, "period_start"])
        .collect()
    )


def day_n_retention(
    events,
    *,
    days=(1, 7, 30),
    by=None,
    customers=None,
    per_cohort: bool = True,
    cohort_period: str = "month",
    mode: str = "on",
    start_event=None,
    return_event=None,
    top_n: int | None = 10,
    as_of=None,
    level: float = 0.95,
    min_cohort_size: int = 30,
    schema=None,
    customer_schema=None,
) -> pl.DataFrame:
    """Day-N retention (rolling 24 h days from each customer's start) for each N in `days`.

    per_cohort=True: one row per (by..., cohort, day) with cohorts by `cohort_period`;
    False: pooled over all cohorts (customers whose day N has elapsed), one row per (by..., day).
    Columns: by..., [cohort,] day, base, retained, retention, ci_low, ci_high[, complete, small].
    With by="channel" this is channel retention.
    """
    caller = "day_n_retention"
    days = [days] if isinstance(days, int) else list(days)
    if not days or any(not isinstance(d, int) or isinstance(d, bool) or d < 0 for d in days):
        raise BadParameterError(f"{caller}: days={days!r} must be integers >= 0, e.g. (1, 7, 30).")
    from .cohorts import retention_matrix

    try:
        m = retention_matrix(
            events,
            period="day",
            window="rolling",
            cohort_period=cohort_period,
            mode=mode,
            start_event=start_event,
            return_event=return_event,
            by=by,
            customers=customers,
            top_n=top_n,
            as_of=as_of,
            level=level,
            min_cohort_size=min_cohort_size,
            max_period=max(days),
            schema=schema,
            customer_schema=customer_schema,
        )
    except WorkbenchError as err:  # name this function in the message, not the one it calls
        text = str(err)
        if not text.startswith("retention_matrix:"):
            raise
        raise type(err)(caller + text[len("retention_matrix") :]) from None
    by_cols = [c for c in m.columns if c not in _MATRIX_COLS]
    m = m.filter(pl.col("period").is_in(sorted(set(days)))).rename({"period": "day"})
    if per_cohort:
        return m.select(
            *by_cols,
            "cohort",
            "day",
            "base",
            "retained",
            "retention",
            "ci_low",
            "ci_high",
            "complete",
            "small",
        )
    low, high = wilson_exprs("retained", "base", level)
    return (
        m.group_by(*by_cols, "day")
        .agg(pl.col("base").sum(), pl.col("retained").sum())
        .with_columns(
            pl.when(pl.col("base") > 0)
            .then(pl.col("retained") / pl.col("base"))
            .alias("retention"),
            low.alias("ci_low"),
            high.alias("ci_high"),
        )
        .sort([*by_cols, "day"])
    )


_MATRIX_COLS = frozenset(OUTPUT_COLUMNS)  # retention_matrix's own columns; the rest are by-groups
_NESTED = {("day", "week"), ("day", "month"), ("day", "quarter"), ("month", "quarter")}


def stickiness(
    events,
    *,
    period: str = "day",
    window: str = "month",
    event=None,
    by=None,
    customers=None,
    top_n: int | None = 10,
    as_of=None,
    schema=None,
    customer_schema=None,
) -> pl.DataFrame:
    """Customers active in each calendar `window` by their number of active `period`s in it.

    Returns by..., window_start (Date), active_periods (1..), customers, share (of the
    window's active customers), periods_in_window, complete.
    """
    caller = "stickiness"
    check_period(caller, period)
    check_period(caller, window, "window")
    if (period, window) not in _NESTED:
        raise BadParameterError(
            f"{caller}: period={period!r} does not nest inside window={window!r}. Fix: use e.g. "
            f"period='day' with window='week' or 'month', or period='month' with window='quarter'."
        )
    spec = make_spec(
        caller, period=period, start_event=event, return_event=event, by=by, top_n=top_n
    )
    inp = prepare(
        events,
        spec,
        as_of=as_of,
        schema=schema,
        customers=customers,
        customer_schema=customer_schema,
    )
    g = list(spec.by)
    pairs = distinct_pairs(_only(inp.events, spec.return_events), inp, spec)
    win = index_expr(start_date_expr(pl.col(P), period).cast(pl.Datetime("us", "UTC")), window)
    per_customer = pairs.group_by(CUSTOMER_ID, win.alias("_wb_w")).agg(
        pl.len().alias("active_periods")
    )
    if g:
        per_customer = per_customer.join(entries(inp, spec).select(CUSTOMER_ID, *g), on=CUSTOMER_ID)
    done = index_of(observed_until(inp.as_of), window) - 1
    w_start = start_date_expr(pl.col("_wb_w"), window)
    w_end = start_date_expr(pl.col("_wb_w") + 1, window)
    per_len = (w_end - w_start).dt.total_days()
    if period == "week":
        per_len = per_len // 7
    elif period == "month":
        per_len = pl.lit(3)
    return (
        per_customer.group_by(*g, "_wb_w", "active_periods")
        .agg(pl.len().alias("customers"))
        .with_columns(
            (pl.col("customers") / pl.col("customers").sum().over(*g, "_wb_w")).alias("share"),
            w_start.alias("window_start"),
            per_len.cast(pl.Int64).alias("periods_in_window"),
            (pl.col("_wb_w") <= done).alias("complete"),
            pl.col("active_periods").cast(pl.Int64),
            pl.col("customers").cast(pl.Int64),
        )
        .select(
            *g,
            "window_start",
            "active_periods",
            "customers",
            "share",
            "periods_in_window",
            "complete",
        )
        .sort([*g, "window_start", "active_periods"])
        .collect()
    )
