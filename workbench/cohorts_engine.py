"""The cohort engine behind `retention_matrix`, `cohort_customers` and the value tables.

Everything here is lazy: the input is reduced early to the few columns a query needs, cohort
entries are one row per customer (or per customer and cohort period, for recurring cohorts),
activity is reduced to distinct (entry, period) pairs, and "on or after" needs only each
customer's last return event. Before the query, one small scan reads the time range and the
range of integer customer ids (the analysis date defaults to the latest event; the ranges size a
day-to-month lookup table and the packed sort keys of `cohorts_fast`); the caller then collects
the whole query once. First-time calendar cohorts on integer ids mostly skip that scan: one
streaming pass gathers each customer's first and last day ("on or after", `cohorts_fast`) or
flags each customer's active periods ("on" by week, month or quarter, `cohorts_bits`), and
the ranges with them.

Notation used in the comments: an *entry* e is a customer in a cohort; s_e its start; a *unit*
u is a period k (or a bracket of periods); E_e the last unit whose window has fully elapsed for
e (rolling windows; calendar cells count everyone); L_e the last period in which e was active.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from . import cohorts_fast as fast
from .cohorts_fast import distinct_pairs
from .cohorts_spec import (
    MISSING,
    OTHER,
    START,
    TOP,
    C,
    CohortSpec,
    E,
    K,
    L,
    N,
    P,
    S,
    W,
)
from .errors import BadDataError, BadParameterError, MissingColumnError, closest
from .periods import (
    US_PER_DAY,
    day_lookup,
    index_expr,
    index_of,
    last_complete_index,
    observed,
    observed_until,
    rolling_us,
    start_date_expr,
    to_utc,
)
from .schema import CUSTOMER_ID, EVENT, N_EVENTS, TS, CustomerSchema, canonical
from .stats import wilson_exprs

# -- inputs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inputs:
    """Canonical, column-pruned events (up to as_of), customer attributes and data ranges."""

    events: pl.LazyFrame
    customers: pl.LazyFrame | None
    event_by: tuple[str, ...]
    weighted: bool
    as_of: datetime
    first_day: int  # day index of the earliest event
    id_range: tuple[int, int] | None  # min and max of integer customer ids

    def index(self, ts: pl.Expr, period: str) -> pl.Expr:
        """Calendar period index of timestamps; months and quarters via a day lookup table."""
        days = ts.to_physical() // US_PER_DAY  # floor: timestamps are microseconds (UTC)
        if period in ("day", "week"):
            return days if period == "day" else (days + 3) // 7
        lut = day_lookup(self.first_day, index_of(self.as_of, "day"), period)
        # every event lies in first_day..as_of (later ones are filtered out before this)
        return pl.lit(lut).gather(days - self.first_day)


def prepare(
    events,
    spec: CohortSpec,
    *,
    as_of,
    schema=None,
    customers=None,
    customer_schema=None,
    extra: Sequence[str] = (),
    ranges: bool = True,
) -> Inputs:
    """Canonical events with only the needed columns, filtered to ts <= as_of.

    ranges=False skips the scan for the data ranges: as_of (None when not given), first_day and
    id_range are then left for the caller's own pass to fill in (`cohorts_fast.span_counts`),
    which also drops rows without a customer id or timestamp (they belong to no period).
    """
    caller = spec.caller
    lf = canonical(events, schema=schema, caller=caller)
    names = lf.collect_schema().names()
    cust = None
    from_customers: set[str] = set()
    if customers is not None:
        cust = canonical(customers, schema=customer_schema, caller=caller, default=CustomerSchema)
        cnames = cust.collect_schema().names()
        from_customers = {b for b in spec.by if b in cnames}
        if cust.collect_schema()[CUSTOMER_ID] != lf.collect_schema()[CUSTOMER_ID]:
            raise BadDataError(
                f"{caller}: customer_id is {lf.collect_schema()[CUSTOMER_ID]} in events but "
                f"{cust.collect_schema()[CUSTOMER_ID]} in customers. Fix: use the same type in both."
            )
        if from_customers:
            cust = cust.select(CUSTOMER_ID, *sorted(from_customers))
            if ranges:  # a streaming pass codes the customers itself, keeping first rows too
                cust = cust.unique(CUSTOMER_ID, keep="first")
        else:
            cust = None
    event_by = tuple(b for b in spec.by if b not in from_customers)
    for b in event_by:
        if b not in names:
            where = "events or customers" if customers is not None else "events"
            hint = closest(b, names)
            did = f" Did you mean {hint!r}?" if hint else ""
            raise MissingColumnError(
                f"{caller}: by={b!r} is not a column of {where}. Available in events: {names}.{did} "
                f"Fix: pass an existing column, or a customers= table that has it."
            )
    weighted = spec.min_events > 1 and N_EVENTS in names
    filtering = spec.start_events is not None or spec.return_events is not None
    needed = [CUSTOMER_ID, TS]
    needed += [EVENT] if filtering or EVENT in event_by else []
    needed += [N_EVENTS] if weighted else []
    needed += [c for c in (*event_by, *extra) if c not in needed]
    lf = lf.select(needed)
    if ranges:
        when, first_day, id_range = _ranges(lf, as_of, caller)
    else:
        when, first_day, id_range = (
            (to_utc(as_of, caller=caller) if as_of is not None else None),
            0,
            None,
        )
    if as_of is not None:
        lf = lf.filter(observed(pl.col(TS), when))
    if ranges:  # else the caller's pass drops them (a filter here would fragment its batches)
        lf = lf.filter(pl.col(CUSTOMER_ID).is_not_null() & pl.col(TS).is_not_null())
    return Inputs(lf, cust, event_by, weighted, when, first_day, id_range)


def _ranges(lf: pl.LazyFrame, as_of, caller: str):
    """One small scan: latest and earliest timestamp, range of integer customer ids."""
    int_ids = lf.collect_schema()[CUSTOMER_ID].is_integer()
    exprs = [pl.col(TS).min().alias("lo"), pl.col(TS).max().alias("hi")]
    if int_ids:
        exprs += [
            pl.col(CUSTOMER_ID).min().alias("id_lo"),
            pl.col(CUSTOMER_ID).max().alias("id_hi"),
        ]
    row = lf.select(exprs).collect(engine="streaming").row(0, named=True)
    if row["hi"] is None:
        raise BadDataError(
            f"{caller}: events has no rows with a timestamp. Fix: pass a non-empty event table."
        )
    when = to_utc(as_of if as_of is not None else row["hi"], caller=caller)
    first_day = index_of(min(to_utc(row["lo"], caller=caller), when), "day")
    id_range = (row["id_lo"], row["id_hi"]) if int_ids else None
    return when, first_day, id_range


def _only(lf: pl.LazyFrame, names: tuple[str, ...] | None) -> pl.LazyFrame:
    return lf if names is None else lf.filter(pl.col(EVENT).is_in(list(names)))


# -- cohort entries -----------------------------------------------------------------------------


def entries(inp: Inputs, spec: CohortSpec) -> pl.LazyFrame:
    """One row per cohort entry: customer, start timestamp, cohort index, by values, E_e."""
    starts = _only(inp.events, spec.start_events)
    first_at_start = [
        pl.col(b).sort_by([pl.col(TS), pl.col(b)], nulls_last=True).first().alias(b)
        for b in inp.event_by
    ]
    if spec.cohorting == "first_time":
        ent = starts.group_by(CUSTOMER_ID).agg(pl.col(TS).min().alias(START), *first_at_start)
        ent = ent.with_columns(index_expr(pl.col(START), spec.cohort_period).alias(C))
    else:
        ent = starts.with_columns(inp.index(pl.col(TS), spec.cohort_period).alias(C))
        ent = ent.group_by(CUSTOMER_ID, C).agg(pl.col(TS).min().alias(START), *first_at_start)
    if inp.customers is not None:
        ent = ent.join(inp.customers, on=CUSTOMER_ID, how="left")
    if spec.rolling:
        until = observed_until(inp.as_of)
        elapsed = (
            pl.lit(until).cast(pl.Datetime("us", "UTC")) - pl.col(START)
        ).dt.total_microseconds()
        ent = ent.with_columns((elapsed // rolling_us(spec.period) - 1).alias(E))
    else:
        ent = ent.with_columns(pl.col(C).alias(S))
    return group_labels(ent.cache(), spec).cache()


def group_labels(ent: pl.LazyFrame, spec: CohortSpec) -> pl.LazyFrame:
    """By values as strings; missing ones labelled; beyond the top_n most common -> 'other'."""
    if not spec.by:
        return ent
    ent = ent.with_columns(pl.col(b).cast(pl.String).fill_null(MISSING) for b in spec.by).cache()
    if spec.top_n is None:
        return ent
    for b in spec.by:
        top = (
            ent.group_by(b)
            .len(N)
            .sort([N, b], descending=[True, False])
            .head(spec.top_n)
            .select(b, pl.lit(True).alias(TOP))
        )
        ent = (
            ent.join(top, on=b, how="left")
            .with_columns(pl.when(pl.col(TOP)).then(pl.col(b)).otherwise(pl.lit(OTHER)).alias(b))
            .drop(TOP)
        )
    return ent


def cohorts(ent: pl.LazyFrame, spec: CohortSpec, as_of: datetime) -> pl.LazyFrame:
    """One row per (by..., cohort): size, last unit of the triangle (kmax, TOP), min E."""
    g = [*spec.by, C]
    aggs = [pl.len().alias("cohort_size")]
    if spec.rolling:
        aggs += [pl.col(E).min().alias("_wb_emin"), pl.col(E).max().clip(0).alias("_wb_kmax")]
    return with_top(ent.group_by(g).agg(aggs), spec, as_of).cache()


def with_top(sizes: pl.LazyFrame, spec: CohortSpec, as_of: datetime) -> pl.LazyFrame:
    """Add the triangle's extent: kmax (as_of period - cohort) for calendar cohorts, and TOP
    (kmax capped at max_period)."""
    if not spec.rolling:
        sizes = sizes.with_columns((index_of(as_of, spec.period) - pl.col(C)).alias("_wb_kmax"))
    top = pl.col("_wb_kmax")
    if spec.max_period is not None:
        top = top.clip(upper_bound=spec.max_period)
    return sizes.with_columns(top.alias(TOP))


# -- activity -----------------------------------------------------------------------------------


def activity(inp: Inputs, ent: pl.LazyFrame, spec: CohortSpec) -> pl.LazyFrame:
    """Distinct (entry, k) pairs with k >= 0 where the entry was active (>= min_events times)."""
    ret = _only(inp.events, spec.return_events)
    weight = pl.col(N_EVENTS).sum() if inp.weighted else pl.len()
    info = ent.select(*spec.key, START, *([E] if spec.rolling else [S]))
    if not spec.rolling:
        if spec.min_events > 1:
            ret = ret.select(
                CUSTOMER_ID,
                inp.index(pl.col(TS), spec.period).alias(P),
                *([N_EVENTS] if inp.weighted else []),
            )
            ret = (
                ret.group_by(CUSTOMER_ID, P)
                .agg(weight.alias(W))
                .filter(pl.col(W) >= spec.min_events)
                .drop(W)
            )
        else:
            ret = distinct_pairs(ret, inp, spec)
        pairs = ret.join(info, on=CUSTOMER_ID).with_columns((pl.col(P) - pl.col(S)).alias(K))
        pairs = pairs.filter(pl.col(K) >= 0).select(*spec.key, K)
    else:
        ret = ret.select(CUSTOMER_ID, TS, *([N_EVENTS] if inp.weighted else []))
        pairs = (
            ret.join(info, on=CUSTOMER_ID)
            .with_columns(
                (
                    (pl.col(TS) - pl.col(START)).dt.total_microseconds() // rolling_us(spec.period)
                ).alias(K)
            )
            .filter(pl.col(K) >= 0)
        )
        if spec.min_events > 1:
            pairs = (
                pairs.group_by(*spec.key, K)
                .agg(weight.alias(W))
                .filter(pl.col(W) >= spec.min_events)
            )
        pairs = pairs.select(*spec.key, K).unique()
    if spec.brackets is not None:
        pairs = _to_brackets(pairs, spec)
    return pairs.cache()


def _to_brackets(pairs: pl.LazyFrame, spec: CohortSpec) -> pl.LazyFrame:
    ks, bs = [], []
    for i, (lo, hi) in enumerate(spec.brackets):
        ks += list(range(lo, hi + 1))
        bs += [i] * (hi - lo + 1)
    mapping = pl.LazyFrame({K: ks, "_wb_b": bs}, schema={K: pl.Int64, "_wb_b": pl.Int64})
    return pairs.join(mapping, on=K).drop(K).rename({"_wb_b": K}).unique()


def last_active(
    inp: Inputs, ent: pl.LazyFrame, spec: CohortSpec, pairs: pl.LazyFrame | None
) -> pl.LazyFrame:
    """(entry key, L_e): the last period k >= 0 in which the entry was active."""
    if pairs is not None:  # thresholded activity (min_events)
        return pairs.group_by(spec.key).agg(pl.col(K).max().alias(L))
    ret = _only(inp.events, spec.return_events)
    last = ret.group_by(CUSTOMER_ID).agg(pl.col(TS).max().alias("_wb_last"))
    out = ent.select(*spec.key, START, *([S] if not spec.rolling else [])).join(
        last, on=CUSTOMER_ID
    )
    if spec.rolling:
        k = (pl.col("_wb_last") - pl.col(START)).dt.total_microseconds() // rolling_us(spec.period)
    else:
        k = inp.index(pl.col("_wb_last"), spec.period) - pl.col(S)
    return out.select(*spec.key, k.alias(L)).filter(pl.col(L) >= 0)


# -- counting -----------------------------------------------------------------------------------


def count_at_least(
    values: pl.LazyFrame, value: str, coh: pl.LazyFrame, g: list[str], weight: str | None = None
) -> pl.LazyFrame:
    """For each cohort (g) and each k in 0..TOP: the number of entries with `value` >= k
    (rows count `weight` times when given)."""
    grid = coh.select(*g, pl.int_ranges(0, pl.col(TOP) + 1).alias(K)).explode(K)
    hist = (
        values.join(coh.select(*g, TOP), on=g)
        .filter(pl.col(value) >= 0)
        .select(
            *g,
            pl.min_horizontal(value, TOP).alias(K),
            pl.col(weight) if weight else pl.lit(1).alias("_wb_one"),
        )
        .group_by(*g, K)
        .agg(pl.col(weight or "_wb_one").sum().alias(N))
    )
    return (
        grid.join(hist, on=[*g, K], how="left")
        .with_columns(pl.col(N).fill_null(0))
        .sort([*g, K])
        .with_columns(pl.col(N).cum_sum(reverse=True).over(g).alias(N))
    )


def units(spec: CohortSpec) -> pl.LazyFrame:
    """The units (periods or brackets): index K, first period, `need` (last period)."""
    if spec.brackets is None:
        return None
    return pl.LazyFrame(
        {
            K: list(range(len(spec.brackets))),
            "period": [lo for lo, _ in spec.brackets],
            "period_end": [hi for _, hi in spec.brackets],
            "bracket": [f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in spec.brackets],
        },
        schema={K: pl.Int64, "period": pl.Int64, "period_end": pl.Int64, "bracket": pl.String},
    )


def cell_grid(coh: pl.LazyFrame, spec: CohortSpec, as_of: datetime) -> pl.LazyFrame:
    """Every cell of the triangle: by..., C, K, period[, period_end, bracket], need, complete."""
    g = [*spec.by, C]
    base_cols = [*g, "cohort_size", "_wb_kmax", *(["_wb_emin"] if spec.rolling else [])]
    if spec.brackets is None:
        grid = coh.select(*base_cols, pl.int_ranges(0, pl.col(TOP) + 1).alias(K)).explode(K)
        grid = grid.with_columns(pl.col(K).alias("period"), pl.col(K).alias("_wb_need"))
    else:
        grid = coh.select(base_cols).join(units(spec), how="cross")
        grid = grid.with_columns(pl.col("period_end").alias("_wb_need"))
        # Calendar: a bracket is shown once it has started; rolling: once someone has elapsed it.
        shown = pl.col("_wb_need") if spec.rolling else pl.col("period")
        grid = grid.filter(shown <= pl.col("_wb_kmax"))
    if spec.rolling:
        complete = pl.col("_wb_emin") >= pl.col("_wb_need")
    else:
        complete = pl.col(C) + pl.col("_wb_need") <= last_complete_index(as_of, spec.period)
    return grid.with_columns(complete.alias("complete")).cache()


def _counts_by_need(
    counts: pl.LazyFrame, grid: pl.LazyFrame, g: list[str], name: str
) -> pl.LazyFrame:
    """Attach count_at_least values to grid cells, looked up at k = need."""
    c = counts.select(*g, pl.col(K).alias("_wb_need"), pl.col(N).alias(name))
    return grid.join(c, on=[*g, "_wb_need"], how="left")


def count_cells(inp: Inputs, ent: pl.LazyFrame, spec: CohortSpec) -> pl.LazyFrame:
    """The retention matrix before formatting: grid cells with base and retained counts."""
    if fast.applies(inp, spec):
        return fast_cells(inp, spec)
    g = [*spec.by, C]
    coh = cohorts(ent, spec, inp.as_of)
    grid = cell_grid(coh, spec, inp.as_of)
    need_pairs = spec.mode == "on" or spec.min_events > 1
    pairs = activity(inp, ent, spec) if need_pairs else None
    info = ent.select(list(dict.fromkeys([*spec.key, *g, *([E] if spec.rolling else [])])))

    # Denominator, reference "total": the whole cohort (calendar) or entries with E_e >= need.
    if spec.rolling:
        grid = _counts_by_need(count_at_least(info, E, coh, g), grid, g, "_wb_base_total")
    else:
        grid = grid.with_columns(pl.col("cohort_size").alias("_wb_base_total"))

    if spec.mode == "on":
        act = pairs.join(info, on=spec.key)
        if spec.rolling:
            act = act.join(grid.select(*g, K, "_wb_need"), on=[*g, K]).filter(
                pl.col(E) >= pl.col("_wb_need")
            )
        ret_total = act.group_by(*g, K).len("_wb_ret_total")
        grid = grid.join(ret_total, on=[*g, K], how="left")
        if spec.reference == "previous":
            prev = pairs.select(*spec.key, (pl.col(K) + 1).alias(K))
            prev = prev.join(info, on=spec.key).join(grid.select(*g, K, "_wb_need"), on=[*g, K])
            if spec.rolling:
                prev = prev.filter(pl.col(E) >= pl.col("_wb_need"))
            both = prev.join(pairs, on=[*spec.key, K])
            grid = grid.join(prev.group_by(*g, K).len("_wb_base_prev"), on=[*g, K], how="left")
            grid = grid.join(both.group_by(*g, K).len("_wb_ret_prev"), on=[*g, K], how="left")
    else:  # on_or_after: retained at k iff last active period >= k (among the elapsed)
        last = last_active(inp, ent, spec, pairs).join(info, on=spec.key).cache()
        upto = pl.min_horizontal(L, E) if spec.rolling else pl.col(L)
        last = last.with_columns(upto.alias("_wb_upto"))
        grid = _counts_by_need(count_at_least(last, "_wb_upto", coh, g), grid, g, "_wb_ret_total")
        if spec.reference == "previous":
            prev_upto = pl.min_horizontal(pl.col(L) + 1, E) if spec.rolling else pl.col(L) + 1
            last = last.with_columns(prev_upto.alias("_wb_pupto"))
            grid = _counts_by_need(
                count_at_least(last, "_wb_pupto", coh, g), grid, g, "_wb_base_prev"
            )
            grid = grid.with_columns(pl.col("_wb_ret_total").alias("_wb_ret_prev"))
    return _reference(grid, spec)


def fast_cells(inp: Inputs, spec: CohortSpec, counts=None) -> pl.LazyFrame:
    """count_cells for first-time calendar cohorts from the kernels' (sizes, data)."""
    sizes, data = counts if counts is not None else fast.fast_counts(inp, spec)
    coh = with_top(sizes, spec, inp.as_of)
    grid = cell_grid(coh, spec, inp.as_of)
    grid = grid.with_columns(pl.col("cohort_size").alias("_wb_base_total"))
    g = [*spec.by, C]
    if spec.mode == "on":  # data: (by..., C, K) counts
        grid = grid.join(data, on=[*g, K], how="left")
        prev = data.select(
            *g, (pl.col(K) + 1).alias(K), pl.col("_wb_ret_total").alias("_wb_base_prev")
        )
        grid = grid.join(prev, on=[*g, K], how="left")
    else:  # data: histogram of (by..., C, L) with counts N
        grid = _counts_by_need(count_at_least(data, L, coh, g, N), grid, g, "_wb_ret_total")
        if spec.reference == "previous":
            plus = data.with_columns((pl.col(L) + 1).alias(L))
            grid = _counts_by_need(count_at_least(plus, L, coh, g, N), grid, g, "_wb_base_prev")
            grid = grid.with_columns(pl.col("_wb_ret_total").alias("_wb_ret_prev"))
    return _reference(grid, spec)


def _reference(grid: pl.LazyFrame, spec: CohortSpec) -> pl.LazyFrame:
    """base and retained for the chosen reference; period 0 always uses the whole cohort."""
    fill = [c for c in grid.collect_schema().names() if c.startswith(("_wb_ret", "_wb_base"))]
    grid = grid.with_columns(pl.col(c).fill_null(0) for c in fill)
    if spec.reference == "previous":
        first = pl.col(K) == 0
        base = pl.when(first).then("_wb_base_total").otherwise("_wb_base_prev")
        ret = pl.when(first).then("_wb_ret_total").otherwise("_wb_ret_prev")
    else:
        base, ret = pl.col("_wb_base_total"), pl.col("_wb_ret_total")
    return grid.with_columns(base.alias("base"), ret.alias("retained"))


def finish(cells: pl.LazyFrame, spec: CohortSpec) -> pl.LazyFrame:
    """Rates, Wilson intervals, flags and the public column order."""
    low, high = wilson_exprs("retained", "base", spec.level)
    out = cells.with_columns(
        start_date_expr(pl.col(C), spec.cohort_period).alias("cohort"),
        pl.col("base").cast(pl.Int64),
        pl.col("retained").cast(pl.Int64),
        pl.col("cohort_size").cast(pl.Int64),
        pl.col("period").cast(pl.Int64),
    ).with_columns(
        pl.when(pl.col("base") > 0).then(pl.col("retained") / pl.col("base")).alias("retention"),
        low.alias("ci_low"),
        high.alias("ci_high"),
        (pl.col("cohort_size") < spec.min_cohort_size).alias("small"),
    )
    extra = ["period_end", "bracket"] if spec.brackets is not None else []
    cols = [
        *spec.by,
        "cohort",
        "period",
        *extra,
        "cohort_size",
        "base",
        "retained",
        "retention",
        "ci_low",
        "ci_high",
        "complete",
        "small",
    ]
    return out.select(cols).sort([*spec.by, "cohort", "period"])


def empty_check(result: pl.DataFrame, inp: Inputs, spec: CohortSpec) -> None:
    """A typo in an event name gives no cohorts: say which names exist instead."""
    if result.height or spec.start_events is None:
        return
    names = inp.events.select(pl.col(EVENT).unique().sort()).collect().to_series().to_list()
    missing = [e for e in spec.start_events if e not in names]
    if missing:
        hint = closest(missing[0], [str(n) for n in names])
        did = f" Did you mean {hint!r}?" if hint else ""
        raise BadParameterError(
            f"{spec.caller}: start_event={missing[0]!r} does not occur in events up to as_of. "
            f"Event names present: {names[:20]}.{did}"
        )
