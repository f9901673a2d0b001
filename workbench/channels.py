"""Channel quality: acquisition volume and early retention of monthly cohorts per channel."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from . import _effects as fx
from .errors import BadParameterError, MissingColumnError, bad_choice, closest
from .periods import index_expr
from .schema import CUSTOMER_ID, DEFAULT_EVENT, EVENT, SIGNUP_TS, TS, CustomerSchema, canonical
from .stats import wilson_ci

CHANNEL_QUALITY_DEFINITION = (
    "Channel quality: a customer's cohort is the calendar period of their first start event "
    "(first-time cohorts of the retention matrix). Retained at horizon k: a return event in "
    "calendar period cohort + k ('on'), or in that period or any later one up to as_of "
    "('on_or_after'; older cohorts then have had longer to return). A cohort is mature when "
    "period cohort + k has ended by as_of (as_of is inclusive to the second); only mature "
    "cohorts enter rates, trends and tests. Retention has a Wilson interval. Trend: logistic "
    "regression of retained on the cohort index per channel (binomial counts, so cohorts weigh "
    "by size); volume trend: least squares of customers acquired on the cohort index over "
    "complete periods. 'flagged': the last `recent` mature cohorts retain worse than the "
    "channel's earlier mature cohorts (pooled two-proportion z-test, Benjamini-Hochberg "
    "adjusted across channels, below alpha). 'flagged_vs_others': the channel's recent cohorts "
    "fell more than the other channels' cohorts of the same periods (logistic regression with "
    "a fixed effect per cohort period; odds ratio of the channel's recent cohorts, Wald test, "
    "Benjamini-Hochberg adjusted)."
)

_PERIODS = ("day", "week", "month", "quarter")
_CRITERIA = ("on", "on_or_after")


@dataclass(frozen=True)
class ChannelQuality:
    """Result of `channel_quality`.

    `.table`: one row per channel x cohort (size, retained, retention, interval, mature, trend,
    recent). `.summary`: one row per channel (past vs recent retention, test, flag, trends).
    """

    table: pl.DataFrame
    summary: pl.DataFrame
    params: dict = field(default_factory=dict)
    definition: str = CHANNEL_QUALITY_DEFINITION

    def plot(self):
        """Retention of mature cohorts with trend lines per channel, and acquisition volume."""
        from .plots.campaigns import channel_trends

        return channel_trends(self)

    def _repr_html_(self) -> str:
        return fx.result_html("Channel quality", self.definition, self.summary, self.params)


def channel_quality(
    events,
    *,
    customers=None,
    by: str = "channel",
    period: str = "month",
    horizon: int = 1,
    criterion: str = "on",
    recent: int = 6,
    start_event: str | None = None,
    return_event: str | None = DEFAULT_EVENT,
    as_of=None,
    level: float = 0.95,
    alpha: float = 0.05,
    schema=None,
    customer_schema: CustomerSchema | None = None,
) -> ChannelQuality:
    """Acquisition volume and retention at `horizon` of each channel's cohorts over time.

    Built on `wb.retention_matrix` (first-time calendar cohorts): a customer's cohort is the
    `period` ("day", "week", "month", "quarter") of their first `start_event` (None: first
    event of any kind); they are retained when a `return_event` (None: any event) falls in
    period cohort + `horizon` (criterion "on") or in it or later ("on_or_after"). `by` is a
    column of `customers` or of events (its value at the start). Only mature cohorts (period
    cohort + horizon fully elapsed by `as_of`) enter rates, trends and tests.

    `.summary` flags channels whose last `recent` mature cohorts retain significantly worse
    than their earlier mature cohorts (`flagged`: pooled two-proportion z-test, Benjamini-
    Hochberg across channels, adjusted p below `alpha`), and separately channels whose recent
    cohorts fell more than the other channels' same cohorts (`flagged_vs_others`: logistic
    regression with cohort effects, so shocks common to all channels cancel out). It also
    gives the logistic retention trend and the least-squares volume trend per channel.
    """
    from .cohorts import retention_matrix

    caller = "channel_quality"
    if period not in _PERIODS:
        raise bad_choice(caller, "period", period, _PERIODS)
    if criterion not in _CRITERIA:
        raise bad_choice(caller, "criterion", criterion, _CRITERIA)
    horizon = fx.check_count(horizon, caller=caller, param="horizon")
    recent = fx.check_count(recent, caller=caller, param="recent")
    level = fx.check_level(level, caller=caller)
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise BadParameterError(f"{caller}: alpha={alpha!r} must lie strictly between 0 and 1.")
    if not isinstance(by, str):
        raise BadParameterError(f"{caller}: by={by!r} must be one column name, e.g. 'channel'.")
    ev = canonical(events, schema=schema, caller=caller)
    cust = None
    if customers is not None:
        cust = canonical(customers, schema=customer_schema, caller=caller, default=CustomerSchema)
    _check_by(ev, cust, by, caller)
    present = ev.select(pl.col(EVENT).unique()).collect().to_series().drop_nulls().to_list()
    for name, param in ((start_event, "start_event"), (return_event, "return_event")):
        if name is not None and name not in present:
            raise bad_choice(caller, param, name, sorted(present))
    as_of = fx.resolve_as_of(ev, as_of, caller=caller)
    if as_of is None:
        raise BadParameterError(f"{caller}: events is empty, so there are no cohorts to compare.")

    m = retention_matrix(
        ev,
        period=period,
        mode=criterion,
        start_event=start_event,
        return_event=return_event,
        by=by,
        customers=cust,
        top_n=None,
        as_of=as_of,
        level=level,
        max_period=horizon,
    )
    acquired = m.filter(pl.col("period") == 0).select(
        by,
        "cohort",
        pl.col("cohort_size").alias("customers"),
        pl.col("complete").alias("complete_period"),
    )
    at_horizon = m.filter(pl.col("period") == horizon).select(
        by, "cohort", "retained", pl.col("complete").alias("mature")
    )
    cells = (
        acquired.join(at_horizon, on=[by, "cohort"], how="left", nulls_equal=True)
        .with_columns(
            pl.col("retained").fill_null(0),
            pl.col("mature").fill_null(False),
            index_expr(pl.col("cohort").cast(pl.Datetime("us", "UTC")), period).alias("_c"),
        )
        .sort(by, "_c", nulls_last=True)
    )
    table, summary = _analyse(cells, by, recent, level, alpha)
    params = {
        "by": by,
        "period": period,
        "horizon": horizon,
        "criterion": criterion,
        "recent": recent,
        "start_event": start_event or "first event of any kind",
        "return_event": return_event or "any event",
        "as_of": as_of,
        "level": level,
        "alpha": alpha,
        "cohort_engine": "wb.retention_matrix (first-time calendar cohorts)",
    }
    return ChannelQuality(table=table, summary=summary, params=params)


def _check_by(ev, cust, by, caller) -> None:
    ev_cols = [c for c in ev.collect_schema().names() if c not in (CUSTOMER_ID, TS, EVENT)]
    cu_cols = [] if cust is None else [c for c in cust.collect_schema().names() if c != CUSTOMER_ID]
    if by in ev_cols or by in cu_cols:
        return
    options = sorted(set(cu_cols + ev_cols) - {SIGNUP_TS})
    hint = closest(by, options)
    did = f" Did you mean {hint!r}?" if hint else ""
    raise MissingColumnError(
        f"{caller}: by={by!r} is not a column of customers or events. Available: "
        f"{options}.{did} Fix: pass customers= a table with customer_id and {by!r}."
    )


def _versus_others(cells: pl.DataFrame, by, recent_flag, level) -> pl.DataFrame:
    """Per channel: did its recent cohorts drop more than the other channels' same cohorts?

    Binomial GLM over the mature channel x cohort cells: logit(retained) = cohort effect +
    channel effect + delta * (this channel and recent). Cohort effects absorb shocks common to
    every channel (price changes, outages, seasonality); exp(delta) is the odds ratio of the
    channel's recent cohorts against what its own past and the other channels predict.
    """
    import statsmodels.api as sm
    from scipy import stats as sps

    m = cells.get_column("mature").to_numpy()
    sub = cells.filter(pl.Series(m))
    rec = recent_flag[m]
    x = sub.get_column("retained").to_numpy().astype(float)
    n = sub.get_column("customers").to_numpy().astype(float)
    cohorts = sub.get_column("_c").to_numpy()
    levels = np.unique(cohorts)
    cohort_dummies = (cohorts[:, None] == levels[None, :]).astype(float)
    chan = sub.get_column(by).to_list()
    z = sps.norm.ppf(0.5 + level / 2)
    rows = []
    for ch in dict.fromkeys(cells.get_column(by).to_list()):
        is_ch = np.array([c == ch for c in chan], dtype=float)
        inter = is_ch * rec
        row = {
            by: ch,
            "odds_ratio_vs_others": None,
            "or_ci_low": None,
            "or_ci_high": None,
            "p_vs_others": None,
        }
        others = 1 - is_ch
        usable = (
            inter.sum() > 0
            and (is_ch * (1 - rec)).sum() > 0
            and others.sum() > 0
            and 0 < x.sum() < n.sum()
        )
        if usable:
            exog = np.column_stack([cohort_dummies, is_ch, inter])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = sm.GLM(np.column_stack([x, n - x]), exog, family=sm.families.Binomial()).fit()
            b, se = float(fit.params[-1]), float(fit.bse[-1])
            if np.isfinite(b) and np.isfinite(se) and se > 0:
                with np.errstate(over="ignore"):  # separation: an unbounded interval
                    row.update(
                        odds_ratio_vs_others=float(np.exp(b)),
                        or_ci_low=float(np.exp(b - z * se)),
                        or_ci_high=float(np.exp(b + z * se)),
                        p_vs_others=float(2 * sps.norm.sf(abs(b / se))),
                    )
        rows.append(row)
    schema = {
        by: cells.schema[by],
        "odds_ratio_vs_others": pl.Float64,
        "or_ci_low": pl.Float64,
        "or_ci_high": pl.Float64,
        "p_vs_others": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def _analyse(cells: pl.DataFrame, by, recent, level, alpha):
    import statsmodels.api as sm

    x = cells.get_column("retained").to_numpy().astype(float)
    n = cells.get_column("customers").to_numpy().astype(float)
    mature = cells.get_column("mature").to_numpy()
    lo, hi = wilson_ci(x, n, level)
    col = fx.column
    table = cells.with_columns(
        col(np.where(mature, x / n, np.nan)).alias("retention"),
        col(np.where(mature, lo, np.nan)).alias("ci_low"),
        col(np.where(mature, hi, np.nan)).alias("ci_high"),
    )
    trend = np.full(cells.height, np.nan)
    recent_flag = np.zeros(cells.height, dtype=bool)
    rows = []
    chan = cells.get_column(by).to_list()
    for ch in dict.fromkeys(chan):
        idx = np.array([i for i, c in enumerate(chan) if c == ch])
        m = idx[mature[idx]]
        row = {by: ch, "mature_cohorts": int(m.size), "customers": int(n[idx].sum())}
        if m.size:
            rec, past = m[-recent:], m[:-recent]
            recent_flag[rec] = True
            row.update(
                past_customers=int(n[past].sum()),
                past_retained=int(x[past].sum()),
                recent_customers=int(n[rec].sum()),
                recent_retained=int(x[rec].sum()),
            )
        if m.size >= 3 and 0 < x[m].sum() < n[m].sum():
            c = cells.get_column("_c").to_numpy()[m].astype(float)
            exog = sm.add_constant(c - c.min())
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = sm.GLM(
                    np.column_stack([x[m], n[m] - x[m]]), exog, family=sm.families.Binomial()
                ).fit()
            trend[m] = fit.predict(exog)
            row.update(trend_slope=float(fit.params[1]), trend_p_value=float(fit.pvalues[1]))
        done = idx[cells.get_column("complete_period").to_numpy()[idx]]
        if done.size >= 3:
            c = cells.get_column("_c").to_numpy()[done].astype(float)
            if np.ptp(n[done]) == 0:  # constant volume: no trend, and no test to run
                row.update(volume_slope=0.0)
            else:
                ols = sm.OLS(n[done], sm.add_constant(c - c.min())).fit()
                row.update(volume_slope=float(ols.params[1]), volume_p_value=float(ols.pvalues[1]))
        rows.append(row)
    schema = {
        by: cells.schema[by],
        "mature_cohorts": pl.Int64,
        "customers": pl.Int64,
        "past_customers": pl.Int64,
        "past_retained": pl.Int64,
        "recent_customers": pl.Int64,
        "recent_retained": pl.Int64,
        "trend_slope": pl.Float64,
        "trend_p_value": pl.Float64,
        "volume_slope": pl.Float64,
        "volume_p_value": pl.Float64,
    }
    s = pl.DataFrame([{k: r.get(k) for k in schema} for r in rows], schema=schema, orient="row")
    s = s.with_columns(
        pl.col("past_customers", "past_retained", "recent_customers", "recent_retained").fill_null(
            0
        )
    )
    x1, n1 = (
        s.get_column(c).to_numpy().astype(float) for c in ("recent_retained", "recent_customers")
    )
    x2, n2 = (s.get_column(c).to_numpy().astype(float) for c in ("past_retained", "past_customers"))
    with np.errstate(divide="ignore", invalid="ignore"):
        r1, r2 = x1 / n1, x2 / n2
    d_lo, d_hi = fx.diff_ci(x1, n1, x2, n2, level)
    p, _ = fx.proportion_test(x1, n1, x2, n2, test="z")
    padj = fx.adjust(p)
    both = (n1 > 0) & (n2 > 0)
    s = s.with_columns(
        col(r2).alias("past_retention"),
        col(r1).alias("recent_retention"),
        col(np.where(both, r1 - r2, np.nan)).alias("diff"),
        col(d_lo).alias("diff_ci_low"),
        col(d_hi).alias("diff_ci_high"),
        col(p).alias("p_value"),
        col(padj).alias("p_adjusted"),
    ).with_columns(
        ((pl.col("p_adjusted") < alpha) & (pl.col("diff") < 0)).fill_null(False).alias("flagged")
    )
    s = s.join(_versus_others(cells, by, recent_flag, level), on=by, how="left", nulls_equal=True)
    s = s.with_columns(
        col(fx.adjust(s.get_column("p_vs_others").to_numpy())).alias("p_vs_others_adjusted")
    ).with_columns(
        ((pl.col("p_vs_others_adjusted") < alpha) & (pl.col("odds_ratio_vs_others") < 1))
        .fill_null(False)
        .alias("flagged_vs_others")
    )
    table = table.with_columns(col(trend).alias("trend"), pl.Series("recent", recent_flag)).drop(
        "_c"
    )
    order = [
        by,
        "cohort",
        "customers",
        "retained",
        "retention",
        "ci_low",
        "ci_high",
        "mature",
        "complete_period",
        "recent",
        "trend",
    ]
    return table.select(order), s
