"""Cohort retention: the retention matrix, the mean retention curve and any cell's customers.

    import workbench as wb
    m = wb.retention_matrix(events, period="month", by="channel", customers=customers)
    curve = wb.retention_curve(m)
    who = wb.cohort_customers(events, cohort="2025-03-01", period=2)

The exact definition of every option is in `RETENTION_DEFINITIONS` (shown in reports).
"""

from __future__ import annotations

import inspect

import numpy as np
import polars as pl

from . import cohorts_bits as bits
from . import cohorts_fast as fast
from .cohorts_engine import (
    activity,
    count_cells,
    empty_check,
    entries,
    fast_cells,
    finish,
    last_active,
    prepare,
)
from .cohorts_spec import OUTPUT_COLUMNS, START, C, E, K, L, make_spec
from .errors import BadParameterError, MissingColumnError, bad_choice
from .periods import PERIOD_DEFINITION, index_of, start_date_expr, to_utc
from .schema import CUSTOMER_ID
from .stats import wilson_exprs

RETENTION_DEFINITIONS = {
    "cohort": (
        "First-time cohorting puts each customer in the period of their first start event (one "
        "cohort per customer); recurring cohorting starts a cohort in every period in which the "
        "customer has a start event. Period 0 is the cohort period itself."
    ),
    "periods": PERIOD_DEFINITION,
    "on": (
        "Retention 'on' period k (bounded, N-day): the share of the cohort with a return event "
        "in exactly period k. Calendar periods compare periods only, so a return event earlier "
        "in the cohort period than the start event counts for period 0; rolling windows count "
        "only return events at or after the start. Customers with return events but no start "
        "event belong to no cohort."
    ),
    "on_or_after": (
        "Retention 'on or after' period k (unbounded): the share of the cohort with a return "
        "event in period k or any later period up to the analysis date."
    ),
    "brackets": (
        "Bracket retention: the share of the cohort with a return event in any period of the "
        "bracket, e.g. days 2-7."
    ),
    "min_events": (
        "With a minimum of m occurrences, a customer counts as active in a period only with at "
        "least m return events in it (the same rule applies to period 0)."
    ),
    "previous": (
        "Reference 'previous': among the customers active in period k-1, the share also active "
        "in period k (for 'on or after': among those active in k-1 or later; with brackets: "
        "among those active in the previous bracket). Period 0 (with brackets, the first "
        "bracket) uses the whole cohort."
    ),
    "maturity": (
        "A cell is complete when its period has fully elapsed by the analysis date (inclusive "
        "to the second: a period ending at b has elapsed when b <= as_of + 1 s). For "
        "calendar periods every cohort member is in the denominator and the newest cells are "
        "shown but flagged; for rolling windows the denominator holds only the customers whose "
        "window has fully elapsed, and the cell is complete once every cohort member's window "
        "has. Incomplete cells are left out of mean curves."
    ),
    "curve": (
        "Mean retention curve: for each period, the sum of retained customers over the sum of "
        "denominators across complete cells, i.e. the cohort-size-weighted mean retention. "
        "Its interval is the Wilson interval of those pooled counts (interval='pooled'), or, "
        "with interval='cohorts' (used for the report's curves), a band that also covers the "
        "variation between cohorts: a Student t interval (cohorts - 1 degrees of freedom, "
        "logit scale) from the cohort-clustered variance of that ratio, never narrower than "
        "the pooled Wilson interval."
    ),
    "interval": (
        "Intervals are Wilson score intervals for a binomial proportion; small cohorts (fewer "
        "customers than min_cohort_size) are flagged."
    ),
}

ENGINES = ("auto", "streaming", "in-memory")

_REFERENCE_ROWS = [
    ("mobile apps", 30, 0.37, "Mobile apps, day 30: ~37% remain (63% gone on average)"),
    ("mobile apps", 90, 0.23, "Mobile apps, month 3: ~23% remain"),
    ("e-commerce apps", 7, 0.38, "E-commerce apps, day 7: ~38% retention"),
]


def reference_figures() -> pl.DataFrame:
    """Industry retention averages for context lines on charts (never targets).

    Mobile apps: more than half of users abandon an app within 30 days, on average 63% are
    gone after 30 days, about 23% remain after three months; e-commerce apps: average day-7
    retention about 38%. Figures quoted in retention-marketing material.
    """
    return pl.DataFrame(
        _REFERENCE_ROWS,
        schema={"segment": pl.String, "day": pl.Int64, "retention": pl.Float64, "label": pl.String},
        orient="row",
    )


def retention_matrix(
    events,
    *,
    period: str = "month",
    window: str = "calendar",
    mode: str = "on",
    brackets=None,
    min_events: int = 1,
    reference: str = "total",
    cohorting: str = "first_time",
    start_event=None,
    return_event=None,
    by=None,
    customers=None,
    top_n: int | None = 10,
    as_of=None,
    level: float = 0.95,
    min_cohort_size: int = 30,
    cohort_period: str | None = None,
    max_period: int | None = None,
    engine: str = "auto",
    schema=None,
    customer_schema=None,
) -> pl.DataFrame:
    """Cohort retention triangle: one row per (by..., cohort, period), dense, zero cells included.

    Parameters
    ----------
    events : event log (polars DataFrame/LazyFrame or pandas); columns mapped by `schema`.
    period : "day", "week", "month" or "quarter".
    window : "calendar" (UTC calendar periods) or "rolling" (windows of 1, 7, 30 or 90 days
        from each customer's own start; day 1 = 24-48 h after the start).
    mode : "on" (active in exactly period k) or "on_or_after" (active in k or any later
        period up to as_of, including a window or period not yet complete).
    brackets : instead of single periods, ranges such as [[1], [2, 7], [8, 30]]: one row per
        bracket, retained = active in any period of the bracket (`period` is its first period,
        `period_end` its last, `bracket` its label).
    min_events : a customer is active in a period with at least this many return events (the
        `n_events` weight column is summed when present).
    reference : "total" (share of the cohort) or "previous" (share of those active in k-1;
        with brackets, in the previous bracket; for rolling windows, among those whose window
        k has elapsed). Period 0 (the first bracket) always uses the whole cohort.
    cohorting : "first_time" or "recurring" (every period with a start event starts a cohort).
    start_event, return_event : event name(s) that start a cohort and that count as a return;
        None means any event. Customers without a start event are in no cohort. Calendar
        periods compare periods only (a return event earlier in the cohort period than the
        start event counts for period 0); rolling windows count only return events at or
        after the start. The value of an event attribute in `by` is taken at the (earliest)
        start event: the smallest non-null value among events at that instant.
    by : column(s) to split by: a column of `customers` (joined on customer_id) or of events;
        group values are returned as strings, missing ones as "(missing)".
    top_n : keep the top_n most common values of each `by` column, the rest become "other".
        Values are ranked by their number of cohort entries (customers, for first-time
        cohorts), ties by value; "(missing)" competes like any value. None keeps all.
    as_of : analysis date, inclusive to the second; a bare date means the end of that UTC
        day, a naive datetime is UTC. Default: the latest event (of any name). Later events
        are ignored.
    level : confidence level of the Wilson interval (ci_low, ci_high).
    min_cohort_size : cohorts smaller than this get small=True.
    cohort_period : with rolling windows, the calendar period that groups customers into
        cohorts (e.g. monthly cohorts of daily windows); default `period`.
    max_period : last period to show.
    engine : polars engine of the single collect: "auto", "streaming" (for event logs larger
        than memory) or "in-memory".

    Returns columns by..., cohort (Date: start of the cohort period), period (int),
    cohort_size, base (the denominator), retained, retention, ci_low, ci_high, complete, small.
    For calendar periods base = cohort_size; cells after the analysis date's period are not
    shown and the current period's cells have complete=False. For rolling windows base counts
    only the customers whose window has fully elapsed (retention null when none has), cells
    are shown up to the last window any member has completed, and complete=True once every
    member's window has elapsed. With reference="previous", base is the previous-period
    actives instead.
    """
    spec = make_spec(
        "retention_matrix",
        period=period,
        window=window,
        cohort_period=cohort_period,
        mode=mode,
        brackets=brackets,
        min_events=min_events,
        reference=reference,
        cohorting=cohorting,
        start_event=start_event,
        return_event=return_event,
        by=by,
        top_n=top_n,
        level=level,
        min_cohort_size=min_cohort_size,
        max_period=max_period,
    )
    if engine not in ENGINES:
        raise bad_choice("retention_matrix", "engine", engine, ENGINES)
    options = dict(as_of=as_of, schema=schema, customers=customers, customer_schema=customer_schema)
    cells = None
    kernel = (
        fast.span_counts
        if fast.span_applies(spec)
        else bits.flag_counts
        if bits.flags_apply(spec)
        else None
    )
    if kernel is not None:  # one streaming pass, no range scan; None: not applicable
        inp = prepare(events, spec, ranges=False, **options)
        got = kernel(inp, spec)
        if got is not None:
            inp, counts = got
            cells = fast_cells(inp, spec, counts)
    if cells is None:
        inp = prepare(events, spec, **options)
        cells = count_cells(inp, entries(inp, spec), spec)
    out = finish(cells, spec).collect(engine=engine)
    empty_check(out, inp, spec)
    return out


_MATRIX_OPTIONS = tuple(
    p for p in inspect.signature(retention_matrix).parameters if p not in ("events", "engine")
)


def _by_columns(matrix: pl.DataFrame) -> list[str]:
    return [c for c in matrix.columns if c not in OUTPUT_COLUMNS]


def _require(frame: pl.DataFrame, caller: str, cols, what: str) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise MissingColumnError(
            f"{caller}: the table has no column {missing[0]!r}. Available: {frame.columns}. "
            f"Fix: pass the output of {what}."
        )


CURVE_INTERVALS = ("pooled", "cohorts")


def retention_curve(
    matrix: pl.DataFrame, *, level: float = 0.95, interval: str = "pooled"
) -> pl.DataFrame:
    """Mean retention per period (and by-group), weighted by cohort size, complete cells only.

    retention = R = sum(retained) / sum(base) over the complete cells of each period. With
    reference="total" the weights are the cohort sizes (for rolling windows, complete cells are
    those in which every member's window has elapsed, so base equals the cohort size); with
    reference="previous" they are the previous-period actives.

    interval : "pooled" (default) - Wilson on the pooled counts: the sampling of customers
        only, as if all cohorts shared one true rate. "cohorts" - also the variation between
        cohorts, which is what matters when the curve stands for "a cohort like these": the ratio
        estimator's cohort-clustered variance V = n / (n - 1) * sum((r_i - R b_i)^2) /
        (sum b_i)^2 over the n cohorts, a Student t interval with n - 1 degrees of freedom on
        the logit scale, widened where needed so that it always contains the pooled Wilson
        interval (a single cohort, or cohorts that agree by chance, give that interval).

    Returns by..., period[, period_end, bracket], cohorts, base, retained, retention, ci_low,
    ci_high.
    """
    if isinstance(matrix, pl.LazyFrame):
        matrix = matrix.collect()
    _require(
        matrix, "retention_curve", ["period", "base", "retained", "complete"], "wb.retention_matrix"
    )
    if interval not in CURVE_INTERVALS:
        raise bad_choice("retention_curve", "interval", interval, CURVE_INTERVALS)
    keys = [*_by_columns(matrix), "period"] + [
        c for c in ("period_end", "bracket") if c in matrix.columns
    ]
    low, high = wilson_exprs("retained", "base", level)
    cells = matrix.lazy().filter(pl.col("complete") & (pl.col("base") > 0))
    share = pl.col("retained").sum().over(keys) / pl.col("base").sum().over(keys)
    spread = ((pl.col("retained") - share * pl.col("base")) ** 2).sum()  # around the ratio
    curve = (
        cells.group_by(keys)
        .agg(
            pl.len().alias("cohorts"),
            pl.col("base").sum(),
            pl.col("retained").sum(),
            *([spread.alias("_wb_ss")] if interval == "cohorts" else []),
        )
        .with_columns(
            (pl.col("retained") / pl.col("base")).alias("retention"),
            low.alias("ci_low"),
            high.alias("ci_high"),
        )
        .sort(keys)
        .collect()
    )
    return _between_cohorts(curve, level) if interval == "cohorts" else curve


def _between_cohorts(curve: pl.DataFrame, level: float) -> pl.DataFrame:
    """Widen the pooled Wilson bounds to the cohort-clustered logit-t interval (see above)."""
    from scipy import stats as st

    n = curve["cohorts"].to_numpy().astype(float)
    r = curve["retention"].to_numpy()
    b = curve["base"].to_numpy().astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(n / (n - 1) * curve["_wb_ss"].to_numpy()) / b
        t = st.t.ppf(0.5 + level / 2, np.maximum(n - 1, 1))
        half = t * se / (r * (1 - r))
        logit = np.log(r / (1 - r))
        lo = 1 / (1 + np.exp(-(logit - half)))
        hi = 1 / (1 + np.exp(-(logit + half)))
    usable = (n >= 2) & (r > 0) & (r < 1) & np.isfinite(half)
    return curve.drop("_wb_ss").with_columns(
        pl.Series(
            "ci_low",
            np.where(usable, np.fmin(lo, curve["ci_low"].to_numpy()), curve["ci_low"].to_numpy()),
        ),
        pl.Series(
            "ci_high",
            np.where(usable, np.fmax(hi, curve["ci_high"].to_numpy()), curve["ci_high"].to_numpy()),
        ),
    )


def cohort_customers(
    events,
    *,
    cohort,
    period: int,
    unit: str = "month",
    group=None,
    status: str = "retained",
    **options,
) -> pl.DataFrame:
    """The customers behind one cell of `retention_matrix` (same options, same counts).

    cohort : the cohort's start date (any date inside the cohort period is accepted).
    period : the cell's period, as in the matrix's `period` column (for brackets: the
        bracket's first period).
    unit : the matrix's `period=` option (day, week, month, quarter), renamed here because
        `period` names the cell.
    group : the by-group: a value (one `by` column) or a dict {column: value}.
    status : "retained" (the cell's retained customers), "lost" (in the denominator, not
        retained) or "base" (the whole denominator, with a `retained` flag).

    Returns by..., cohort, period, customer_id, start (the start event's timestamp), retained.
    """
    caller = "cohort_customers"
    unknown = [k for k in options if k not in _MATRIX_OPTIONS or k == "period"]
    if unknown:
        raise BadParameterError(
            f"{caller}: unknown option {unknown[0]!r}. It accepts the options of "
            f"retention_matrix: {list(_MATRIX_OPTIONS)}, with period= passed as unit=."
        )
    statuses = ("retained", "lost", "base")
    if status not in statuses:
        raise bad_choice(caller, "status", status, statuses)
    io = {
        k: options.pop(k)
        for k in ("customers", "as_of", "schema", "customer_schema")
        if k in options
    }
    spec = make_spec(caller, period=unit, **options)
    if not isinstance(period, int) or isinstance(period, bool) or period < 0:
        raise BadParameterError(f"{caller}: period={period!r} must be an integer >= 0.")
    u, need = period, period  # unit index (period or bracket) and its last period
    if spec.brackets is not None:
        firsts = [lo for lo, _ in spec.brackets]
        if period not in firsts:
            raise BadParameterError(
                f"{caller}: period={period} is not the first period of a bracket. "
                f"Choose one of {firsts}."
            )
        u = firsts.index(period)
        need = spec.brackets[u][1]
    filters = _group_filters(caller, spec.by, group)
    inp = prepare(
        events,
        spec,
        as_of=io.get("as_of"),
        schema=io.get("schema"),
        customers=io.get("customers"),
        customer_schema=io.get("customer_schema"),
    )
    cidx = index_of(to_utc(cohort, caller=caller, param="cohort"), spec.cohort_period)
    ent = entries(inp, spec).filter(pl.col(C) == cidx, *filters)
    if spec.rolling:
        ent = ent.filter(pl.col(E) >= need)
    need_pairs = spec.mode == "on" or spec.min_events > 1
    pairs = activity(inp, ent, spec) if need_pairs else None
    if spec.mode == "on":
        flags = pairs.group_by(spec.key).agg(
            (pl.col(K) == u).any().alias("_wb_now"), (pl.col(K) == u - 1).any().alias("_wb_prev")
        )
    else:
        last = last_active(inp, ent, spec, pairs).join(
            ent.select(*spec.key, *([E] if spec.rolling else [])), on=spec.key
        )
        upto = pl.min_horizontal(L, E) if spec.rolling else pl.col(L)
        flags = last.select(
            *spec.key, (upto >= u).alias("_wb_now"), (pl.col(L) >= u - 1).alias("_wb_prev")
        )
    out = ent.join(flags, on=spec.key, how="left").with_columns(
        pl.col("_wb_now").fill_null(False), pl.col("_wb_prev").fill_null(False)
    )
    if spec.reference == "previous" and u > 0:
        out = out.filter(pl.col("_wb_prev"))
    if status == "retained":
        out = out.filter(pl.col("_wb_now"))
    elif status == "lost":
        out = out.filter(~pl.col("_wb_now"))
    return (
        out.select(
            *spec.by,
            start_date_expr(pl.col(C), spec.cohort_period).alias("cohort"),
            pl.lit(period, pl.Int64).alias("period"),
            CUSTOMER_ID,
            pl.col(START).alias("start"),
            pl.col("_wb_now").alias("retained"),
        )
        .sort(CUSTOMER_ID)
        .collect()
    )


def _group_filters(caller: str, by: tuple[str, ...], group) -> list[pl.Expr]:
    if group is None:
        return []
    if not by:
        raise BadParameterError(
            f"{caller}: group= needs by=. Fix: pass by= as well, or drop group=."
        )
    if not isinstance(group, dict):
        if len(by) != 1:
            raise BadParameterError(
                f"{caller}: with several by columns, group must be a dict {{column: value}}."
            )
        group = {by[0]: group}
    unknown = [k for k in group if k not in by]
    if unknown:
        raise BadParameterError(f"{caller}: group column {unknown[0]!r} is not in by={list(by)}.")
    return [pl.col(k) == str(v) for k, v in group.items()]
