"""Conversion funnels: who reaches each step within a window of entering, and how fast."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy import stats as sps

from . import _effects as fx
from .errors import BadParameterError, MissingColumnError, bad_choice, closest
from .schema import CUSTOMER_ID, EVENT, TS, CustomerSchema, EventSchema, canonical, suggest_column
from .stats import wilson_ci

FUNNEL_DEFINITION = (
    "Funnel: a customer enters at their first step-1 event (time t1; later step-1 events are "
    "ignored). order='strict': they reach step k when steps 2..k happened in that order at "
    "strictly increasing times t1 < t2 < ... < tk <= t1 + window (each tj is the earliest "
    "occurrence after the previous step's time). order='any': they reach step k when each of "
    "steps 2..k occurred at some time in [t1, t1 + window], in any order. Step conversion = "
    "reached k / reached k-1; overall conversion = reached k / entered; both with Wilson "
    "intervals. Drop-off = reached k-1 - reached k. Time to convert = time from t1 to reaching "
    "step k (strict: tk; any: the latest of the steps' first occurrences). With "
    "window_from='previous' (strict order) each step must follow the previous one within the "
    "window instead (still taking the earliest occurrence of each step). Only customers whose "
    "window has ended by as_of are counted."
)

_ORDERS = ("strict", "any")
_WINDOW_FROM = ("first", "previous")
_QUANTILES = {"time_p25": 0.25, "time_median": 0.5, "time_p75": 0.75, "time_p90": 0.9}


@dataclass(frozen=True)
class Funnel:
    """Result of `funnel`: one row per (`by` values x) step; `.tests` compares segments."""

    table: pl.DataFrame
    params: dict = field(default_factory=dict)
    tests: pl.DataFrame | None = None
    definition: str = FUNNEL_DEFINITION

    def plot(self):
        """Bars of customers reaching each step, with drop-off and conversion in the labels."""
        from .plots.campaigns import funnel_bars

        return funnel_bars(self)

    def _repr_html_(self) -> str:
        return fx.result_html("Funnel", self.definition, self.table, self.params)


def _check_steps(steps, order, caller) -> list[str]:
    if (
        not isinstance(steps, list | tuple)
        or len(steps) < 2
        or not all(isinstance(s, str) and s for s in steps)
    ):
        raise BadParameterError(
            f"{caller}: steps={steps!r} must be a list of at least two event names, e.g. "
            f"steps=['visit', 'add_to_cart', 'purchase']."
        )
    if order == "any" and len(set(steps)) != len(steps):
        raise BadParameterError(
            f"{caller}: steps={list(steps)!r} repeats an event, which only order='strict' can "
            f"read (as a repeated occurrence). Fix: use order='strict' or distinct steps."
        )
    return list(steps)


def _check_event_column(events, schema, caller: str) -> None:
    """A funnel reads event names: refuse a table without them (the loader would otherwise
    call every row a purchase)."""
    src = (schema or EventSchema()).source_name(EVENT)
    if isinstance(events, pl.LazyFrame):
        names = events.collect_schema().names()
    else:
        names = list(getattr(events, "columns", []))
    if names and src not in names:
        hint = suggest_column(EVENT, src, [str(n) for n in names])
        did = f" Did you mean {hint!r}?" if hint else ""
        raise MissingColumnError(
            f"{caller}: events has no column {src!r} (event name), which a funnel needs. "
            f"Available: {names}.{did} Fix: pass schema=EventSchema(event='your_column')."
        )


def _by_sources(ev, cust, by, caller) -> tuple[list[str], list[str]]:
    ev_cols = [c for c in ev.collect_schema().names() if c not in (CUSTOMER_ID, TS, EVENT)]
    cu_cols = [] if cust is None else [c for c in cust.collect_schema().names() if c != CUSTOMER_ID]
    from_ev, from_cu = [], []
    for col in by:
        if col in ev_cols and col in cu_cols:
            raise BadParameterError(
                f"{caller}: by={col!r} is a column of both events and customers, so it is "
                f"ambiguous. Fix: rename one of them, e.g. customers.rename({{{col!r}: "
                f"'customer_{col}'}})."
            )
        if col in ev_cols:
            from_ev.append(col)
        elif col in cu_cols:
            from_cu.append(col)
        else:
            options = sorted(set(ev_cols + cu_cols))
            hint = closest(col, options)
            did = f" Did you mean {hint!r}?" if hint else ""
            raise MissingColumnError(
                f"{caller}: by={col!r} is not a column of events"
                + ("" if cust is None else " or customers")
                + f". Available: {options}.{did} Fix: pass customers= a table with customer_id "
                f"and {col!r}, or choose an available column."
            )
    return from_ev, from_cu


def funnel(
    events,
    steps,
    *,
    window="7d",
    order: str = "strict",
    window_from: str = "first",
    by=None,
    customers=None,
    as_of=None,
    level: float = 0.95,
    schema=None,
    customer_schema: CustomerSchema | None = None,
) -> Funnel:
    """Customers reaching each step of `steps` within `window` of entering the funnel.

    A customer enters at their first `steps[0]` event. With order="strict" they reach step k
    when steps 2..k follow in order at strictly increasing times, all within `window` of the
    entry; with order="any" each of steps 2..k must occur in [entry, entry + window] in any
    order. `window_from="previous"` (strict order only) instead gives each step `window` from
    the previous step's time, as some tools do. `by` splits by an event column (its value on the entry event) or a `customers`
    column; then `.tests` holds chi-square tests of whether conversion differs between
    segments. Customers who entered less than `window` before `as_of` (default: the last event;
    a bare date means the end of that UTC day) are left out because their window is still open
    - with window_from="previous", less than (number of steps - 1) x `window` before, the
    longest the whole chain may take (``params["excluded_window_open"]`` counts those who
    entered by `as_of`). Each step time is
    the earliest qualifying occurrence after the previous step's time, also with
    window_from="previous" (a later occurrence of an intermediate step is not tried).
    See FUNNEL_DEFINITION.
    """
    caller = "funnel"
    if order not in _ORDERS:
        raise bad_choice(caller, "order", order, _ORDERS)
    steps = _check_steps(steps, order, caller)
    if window_from not in _WINDOW_FROM:
        raise bad_choice(caller, "window_from", window_from, _WINDOW_FROM)
    if window_from == "previous" and order != "strict":
        raise BadParameterError(
            f"{caller}: window_from='previous' needs order='strict' (with order='any' there is "
            f"no previous step). Fix: use window_from='first' or order='strict'."
        )
    win = fx.parse_window(window, caller=caller, param="window")
    level = fx.check_level(level, caller=caller)
    _check_event_column(events, schema, caller)
    ev = canonical(events, schema=schema, caller=caller)
    cust = None
    if customers is not None:
        cust = canonical(customers, schema=customer_schema, caller=caller, default=CustomerSchema)
    by_cols = fx.as_list(by, caller=caller, param="by")
    from_ev, from_cu = _by_sources(ev, cust, by_cols, caller)
    as_of = fx.resolve_as_of(ev, as_of, caller=caller)

    entries = (
        ev.filter(pl.col(EVENT) == steps[0])
        .group_by(CUSTOMER_ID)
        .agg(
            pl.col(TS).min().alias("_t1"),
            *[pl.col(c).sort_by(TS).first() for c in from_ev],
        )
    )
    if as_of is not None:
        entered_all = entries.filter(pl.col("_t1") <= as_of)  # entered by as_of
        # The longest a customer can take: one window, or one per step after the first.
        span = win * (len(steps) - 1) if window_from == "previous" else win
        entries = entries.filter(pl.col("_t1") + span <= as_of)
    if from_cu:
        base, cu = _align(entries, cust)
        entries = base.join(
            cu.select(CUSTOMER_ID, *from_cu).unique(subset=[CUSTOMER_ID], keep="first"),
            on=CUSTOMER_ID,
            how="left",
        )
    reach = (
        _strict_times(ev, entries, steps, win, chained=window_from == "previous")
        if order == "strict"
        else _any_times(ev, entries, steps, win)
    )
    long = pl.concat(
        [
            reach.filter(pl.col(f"_t{j}").is_not_null()).select(
                *by_cols,
                pl.lit(j, dtype=pl.Int64).alias("step"),
                (pl.col(f"_t{j}") - pl.col("_t1")).alias("_dt"),
            )
            for j in range(1, len(steps) + 1)
        ]
    )
    agg = long.group_by(*by_cols, "step").agg(
        pl.len().alias("customers"),
        *[
            pl.col("_dt").quantile(q, interpolation="linear").alias(k)
            for k, q in _QUANTILES.items()
        ],
    )
    if as_of is not None:
        agg, n_all = pl.collect_all([agg, entered_all.select(pl.len())])
        n_open = n_all.item() - int(agg.filter(pl.col("step") == 1).get_column("customers").sum())
    else:
        agg, n_open = agg.collect(), 0
    table = _table(agg, steps, by_cols, level)
    tests = _chi_square(table, by_cols) if by_cols else None
    params = {
        "steps": steps,
        "window": window,
        "order": order,
        "window_from": window_from,
        "by": by_cols,
        "level": level,
        "as_of": as_of,
        "entered": int(table.filter(pl.col("step") == 1).get_column("customers").sum()),
        "excluded_window_open": n_open,
    }
    return Funnel(table=table, params=params, tests=tests)


def _align(a: pl.LazyFrame, b: pl.LazyFrame):
    da, db = a.collect_schema()[CUSTOMER_ID], b.collect_schema()[CUSTOMER_ID]
    if da == db:
        return a, b
    cast = pl.col(CUSTOMER_ID).cast(pl.String)
    return a.with_columns(cast), b.with_columns(cast)


def _step_events(ev: pl.LazyFrame, name: str) -> pl.LazyFrame:
    return ev.filter(pl.col(EVENT) == name).select(CUSTOMER_ID, pl.col(TS).alias("_ts"))


def _strict_times(ev, entries, steps, win, *, chained: bool = False) -> pl.LazyFrame:
    """Per entrant, the time each step was reached in order (null once the chain breaks).

    `chained`: each step's deadline is the previous step's time + window (else entry + window).
    """
    out = entries.with_columns((pl.col("_t1") + win).alias("_deadline"))
    for j in range(2, len(steps) + 1):
        prev = f"_t{j - 1}"
        if chained:
            out = out.with_columns((pl.col(prev) + win).alias("_deadline"))
        nxt = (
            out.filter(pl.col(prev).is_not_null())
            .select(CUSTOMER_ID, prev, "_deadline")
            .join(_step_events(ev, steps[j - 1]), on=CUSTOMER_ID, how="inner")
            .filter((pl.col("_ts") > pl.col(prev)) & (pl.col("_ts") <= pl.col("_deadline")))
            .group_by(CUSTOMER_ID)
            .agg(pl.col("_ts").min().alias(f"_t{j}"))
        )
        out = out.join(nxt, on=CUSTOMER_ID, how="left")
    return out


def _any_times(ev, entries, steps, win) -> pl.LazyFrame:
    """Per entrant, the time steps 2..k had all occurred in the window (null if one is missing)."""
    out = entries.with_columns((pl.col("_t1") + win).alias("_deadline"))
    for j in range(2, len(steps) + 1):
        hit = (
            out.select(CUSTOMER_ID, "_t1", "_deadline")
            .join(_step_events(ev, steps[j - 1]), on=CUSTOMER_ID, how="inner")
            .filter((pl.col("_ts") >= pl.col("_t1")) & (pl.col("_ts") <= pl.col("_deadline")))
            .group_by(CUSTOMER_ID)
            .agg(pl.col("_ts").min().alias(f"_hit{j}"))
        )
        out = out.join(hit, on=CUSTOMER_ID, how="left")
    # Reaching k needs every step 2..k; its time is the latest of their first occurrences.
    for j in range(2, len(steps) + 1):
        hits = [pl.col(f"_hit{i}") for i in range(2, j + 1)]
        all_hit = pl.all_horizontal([h.is_not_null() for h in hits])
        out = out.with_columns(pl.when(all_hit).then(pl.max_horizontal(hits)).alias(f"_t{j}"))
    return out


def _table(agg: pl.DataFrame, steps, by_cols, level) -> pl.DataFrame:
    names = pl.DataFrame(
        {"step": list(range(1, len(steps) + 1)), "event": steps},
        schema={"step": pl.Int64, "event": pl.String},
    )
    if by_cols:
        groups = agg.select(by_cols).unique()
        grid = groups.join(names, how="cross")
    else:
        grid = names
    t = grid.join(agg, on=[*by_cols, "step"], how="left", nulls_equal=True).with_columns(
        pl.col("customers").fill_null(0).cast(pl.Int64)
    )
    t = t.sort([*by_cols, "step"], nulls_last=True)
    over = by_cols if by_cols else None
    prev = pl.col("customers").shift(1)
    first = pl.col("customers").first()
    if over:
        prev, first = prev.over(over), first.over(over)
    t = t.with_columns(prev.alias("_prev"), first.alias("entered"))
    x = t.get_column("customers").to_numpy().astype(float)
    step_one = t.get_column("step").to_numpy() == 1
    n_prev = np.where(step_one, x, t.get_column("_prev").fill_null(0).to_numpy().astype(float))
    n0 = t.get_column("entered").to_numpy().astype(float)
    s_lo, s_hi = wilson_ci(x, n_prev, level)
    o_lo, o_hi = wilson_ci(x, n0, level)
    with np.errstate(divide="ignore", invalid="ignore"):
        step_conv = np.where(step_one, 1.0, x / n_prev)
        overall = x / n0
    nan_first = lambda a: np.where(step_one, np.nan, a)  # noqa: E731
    col = fx.column
    t = t.with_columns(
        col(step_conv).alias("step_conversion"),
        col(nan_first(s_lo)).alias("step_ci_low"),
        col(nan_first(s_hi)).alias("step_ci_high"),
        col(np.where(step_one, 1.0, overall)).alias("overall_conversion"),
        col(nan_first(o_lo)).alias("overall_ci_low"),
        col(nan_first(o_hi)).alias("overall_ci_high"),
        pl.when(pl.col("step") > 1)
        .then(pl.col("_prev") - pl.col("customers"))
        .otherwise(0)
        .cast(pl.Int64)
        .alias("drop_off"),
        col(np.where(step_one, 0.0, 1 - step_conv)).alias("drop_off_rate"),
    )
    times = list(_QUANTILES)
    t = t.with_columns(pl.when(pl.col("step") > 1).then(pl.col(c)).alias(c) for c in times)
    return t.select(
        *by_cols,
        "step",
        "event",
        "entered",
        "customers",
        "step_conversion",
        "step_ci_low",
        "step_ci_high",
        "overall_conversion",
        "overall_ci_low",
        "overall_ci_high",
        "drop_off",
        "drop_off_rate",
        *times,
    )


def _chi_square(table: pl.DataFrame, by_cols) -> pl.DataFrame:
    """Per step and measure: chi-square test of independence of segment and conversion."""
    rows = []
    for step in sorted(set(table.get_column("step").to_list()) - {1}):
        part = table.filter(pl.col("step") == step)
        x = part.get_column("customers").to_numpy().astype(float)
        for measure, denom in (
            ("step", (part.get_column("customers") + part.get_column("drop_off")).to_numpy()),
            ("overall", part.get_column("entered").to_numpy()),
        ):
            denom = denom.astype(float)
            keep = denom > 0
            row = {
                "step": step,
                "event": part.item(0, "event"),
                "measure": measure,
                "segments": int(keep.sum()),
                "chi2": None,
                "df": None,
                "p_value": None,
                "min_expected": None,
            }
            obs = np.column_stack([x[keep], denom[keep] - x[keep]])
            if keep.sum() >= 2 and (obs.sum(axis=0) > 0).all():
                res = sps.chi2_contingency(obs, correction=False)
                row.update(
                    chi2=float(res.statistic),
                    df=int(res.dof),
                    p_value=float(res.pvalue),
                    min_expected=float(np.min(res.expected_freq)),
                )
            rows.append(row)
    schema = {
        "step": pl.Int64,
        "event": pl.String,
        "measure": pl.String,
        "segments": pl.Int64,
        "chi2": pl.Float64,
        "df": pl.Int64,
        "p_value": pl.Float64,
        "min_expected": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")
