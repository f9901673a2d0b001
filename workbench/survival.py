"""Kaplan-Meier survival curves of a churn table, with log-rank comparisons between groups.

Customers with the same group, duration and status are counted once with a weight, so a table
of ten million customers reduces to a few thousand weighted rows before lifelines sees it. The
weighted Kaplan-Meier estimate, its Greenwood interval and the log-rank statistics are exactly
those of the expanded rows (frequency weights enter every count the same way).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from .errors import BadDataError, BadParameterError, MissingColumnError, WorkbenchWarning, closest
from .stats import bh_adjust, z_value

KM_DEFINITION = (
    "Survival S(t) is the Kaplan-Meier estimate of the share of customers not yet churned t days "
    "after their start: the product over days u <= t of (1 - churned on day u / at risk on day u). "
    "Censored customers count as at risk until their follow-up ends. The band is the "
    "exponential-Greenwood (log-log) interval. Median lifetime: first t with S(t) <= 0.5. "
    "Restricted mean survival time (RMST): the area under S(t) up to the horizon, i.e. the "
    "expected days as a customer within that horizon."
)
LOGRANK_DEFINITION = (
    "Log-rank test: compares observed churn in each group with the churn expected if all groups "
    "shared one survival curve, summed over the days with churn. Pairwise p-values are adjusted "
    "for multiple comparisons with Benjamini-Hochberg (false discovery rate)."
)

DURATION = "duration_days"
CHURNED = "churned"
_W = "__weight"


def check_columns(lf: pl.LazyFrame, cols: Sequence[str], caller: str, table: str = "table"):
    """MissingColumnError naming the first absent column and its closest match."""
    names = lf.collect_schema().names()
    for col in cols:
        if col not in names:
            hint = closest(col, names)
            did = f" Did you mean {hint!r}?" if hint else ""
            raise MissingColumnError(
                f"{caller}: {table} has no column {col!r}. Available: {names}.{did} "
                f"Fix: pass the output of wb.churn_table(...) or name the column."
            )


def as_list(value, caller: str, param: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return list(value)
    raise BadParameterError(
        f"{caller}: {param}={value!r} must be a column name or a list of column names."
    )


def to_lazy(table, caller: str) -> pl.LazyFrame:
    if isinstance(table, pl.LazyFrame):
        return table
    if isinstance(table, pl.DataFrame):
        return table.lazy()
    try:
        import pandas as pd

        if isinstance(table, pd.DataFrame):
            return pl.from_pandas(table).lazy()
    except ImportError:  # pragma: no cover
        pass
    raise BadParameterError(
        f"{caller}: table must be a polars or pandas DataFrame (e.g. from wb.churn_table), "
        f"got {type(table).__name__}."
    )


def aggregate(
    table, *, by: list[str], duration: str, churned: str, weights: str | None, caller: str
) -> pl.DataFrame:
    """(by..., duration, churned) -> summed weights: the whole data in a few thousand rows."""
    lf = to_lazy(table, caller)
    check_columns(lf, [*by, duration, churned, *([weights] if weights else [])], caller)
    schema = lf.collect_schema()
    if not schema[duration].is_numeric():
        raise BadDataError(
            f"{caller}: column {duration!r} must be numeric (days), got {schema[duration]}."
        )
    w = pl.col(weights).cast(pl.Float64) if weights else pl.lit(1.0)
    agg = (
        lf.select(
            *by,
            pl.col(duration).cast(pl.Float64).alias(duration),
            pl.col(churned).cast(pl.Boolean).alias(churned),
            w.alias(_W),
        )
        .group_by(*by, duration, churned)
        .agg(pl.col(_W).sum())
        .sort(*by, duration, churned, nulls_last=True)
        .collect()
    )
    bad = agg.filter(
        pl.col(duration).is_null()
        | pl.col(churned).is_null()
        | (pl.col(duration) < 0)
        | ~pl.col(duration).is_finite()
        | (pl.col(_W) < 0)
    )
    if bad.height:
        raise BadDataError(
            f"{caller}: {int(bad[_W].sum())} rows have a missing, negative or infinite "
            f"{duration!r}, a missing {churned!r} or a negative weight. Fix: drop or repair them."
        )
    return agg.filter(pl.col(_W) > 0)


def group_keys(agg: pl.DataFrame, by: list[str]) -> list[tuple]:
    if not by:
        return [()]
    return [tuple(r) for r in agg.select(by).unique(maintain_order=True).iter_rows()]


def subset(agg: pl.DataFrame, by: list[str], key: tuple) -> pl.DataFrame:
    if not by:
        return agg
    cond = pl.lit(True)
    for col, val in zip(by, key, strict=True):
        cond = cond & (pl.col(col).is_null() if val is None else pl.col(col) == val)
    return agg.filter(cond)


def label(key: tuple) -> str:
    return " / ".join("(missing)" if v is None else str(v) for v in key) if key else "all"


# -- Kaplan-Meier per group --------------------------------------------------------------------


def _km(d: np.ndarray, e: np.ndarray, w: np.ndarray, level: float):
    """lifelines KaplanMeierFitter on weighted rows -> (fitter, step table as numpy columns)."""
    from lifelines import KaplanMeierFitter

    kmf = KaplanMeierFitter(alpha=1 - level)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        kmf.fit(d, event_observed=e, weights=w)
    et = kmf.event_table
    t = et.index.to_numpy(dtype=float)
    s = kmf.survival_function_.iloc[:, 0].to_numpy(dtype=float)
    ci = kmf.confidence_interval_.to_numpy(dtype=float)
    return kmf, {
        "t": t,
        "survival": s,
        "ci_low": ci[:, 0],
        "ci_high": ci[:, 1],
        "at_risk": et["at_risk"].to_numpy(dtype=float),
        "events": et["observed"].to_numpy(dtype=float),
        "censored": et["censored"].to_numpy(dtype=float),
    }


def _step_at(t: np.ndarray, values: np.ndarray, h: float) -> float:
    i = int(np.searchsorted(t, h, side="right")) - 1
    return float(values[max(i, 0)])


def rmst(t, s, at_risk, events, tau: float) -> tuple[float, float]:
    """Area under the KM step function on [0, tau] and its standard error.

    ``t`` are the step times in increasing order, starting at 0 (S is right-continuous and
    equals s[j] on [t[j], t[j+1])). Variance (Klein & Moeschberger, section 4.5): the sum over
    churn days t_i <= tau of A_i^2 d_i / (n_i (n_i - d_i)), with A_i the area under S from t_i
    to tau; a day with n_i = d_i has A_i = 0 and adds nothing.
    """
    t, s = np.asarray(t, dtype=float), np.asarray(s, dtype=float)
    inside = t < tau
    left = t[inside]
    right = np.append(left[1:], tau)
    pieces = s[inside] * (right - left)
    area = float(pieces.sum())
    tail = np.cumsum(pieces[::-1])[::-1]  # area from left[j] to tau
    n, d = np.asarray(at_risk, float)[inside], np.asarray(events, float)[inside]
    ok = (d > 0) & (n > d)
    var = float(np.sum(tail[ok] ** 2 * d[ok] / (n[ok] * (n[ok] - d[ok]))))
    return area, math.sqrt(var)


@dataclass(frozen=True)
class ChurnCurves:
    """Kaplan-Meier curves of a churn table, per group.

    - ``table``: by..., ``t`` (days), ``survival``, ``ci_low``, ``ci_high``, ``at_risk``,
      ``events`` (churned on day t), ``censored`` (follow-up ending on day t);
    - ``summary``: by..., ``customers``, ``churned``, ``median_days`` with ``median_ci_low`` /
      ``median_ci_high`` (null: not reached), ``rmst_days`` with ``rmst_ci_low`` /
      ``rmst_ci_high`` up to ``params["rmst_horizon"]`` (null when follow-up is shorter);
    - ``at_horizons``: by..., ``horizon_days``, ``survival``, ``ci_low``, ``ci_high``,
      ``at_risk`` (null survival when follow-up ends before the horizon).
    """

    table: pl.DataFrame
    summary: pl.DataFrame
    at_horizons: pl.DataFrame
    params: dict = field(default_factory=dict)
    counts: pl.DataFrame = field(default=None, repr=False)
    definition: str = KM_DEFINITION

    def compare(self, *, pairwise: bool = True) -> pl.DataFrame:
        """Log-rank tests between the groups: one "overall" row (all groups at once) and, with
        ``pairwise``, one row per pair with Benjamini-Hochberg adjusted p-values.

        Columns: ``test``, ``group_a``, ``group_b``, ``statistic`` (chi-square), ``df``,
        ``p_value``, ``p_adjusted``.
        """
        by = self.params["by"]
        keys = group_keys(self.counts, by)
        if not by or len(keys) < 2:
            raise BadParameterError(
                "ChurnCurves.compare: there is only one group, so nothing to compare. "
                "Fix: wb.churn_curves(table, by='channel').compare()."
            )
        return logrank_table(self.counts, by, keys, pairwise=pairwise)

    def plot(self, **kwargs):
        """Survival curves with interval bands and a number-at-risk table beneath."""
        from .plots.survival import survival_curves

        return survival_curves(self, **kwargs)

    def _repr_html_(self) -> str:
        from html import escape

        params = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return (
            f"<div><b>Churn curves</b><p>{escape(self.definition)}</p>"
            f"<p><small>{escape(params)}</small></p>{self.summary._repr_html_()}</div>"
        )


def churn_curves(
    table,
    *,
    by=None,
    horizons: Sequence[float] = (30, 90, 365),
    rmst_horizon: float = 365,
    level: float = 0.95,
    duration: str = DURATION,
    churned: str = CHURNED,
    weights: str | None = None,
    min_group_size: int = 30,
) -> ChurnCurves:
    """Kaplan-Meier survival of a churn table (from :func:`workbench.churn_table`), per group.

    ``by``: column(s) to split by (e.g. "channel" after ``churn_table(..., customers=...)``).
    ``horizons``: days at which to read survival; ``rmst_horizon``: days for the restricted mean.
    ``weights``: optional column of frequency weights (rows standing for several customers).
    Groups smaller than ``min_group_size`` customers draw a WorkbenchWarning.

    The curves equal lifelines' ``KaplanMeierFitter`` on the individual rows; see
    ``KM_DEFINITION`` for the exact definitions.
    """
    caller = "churn_curves"
    by = as_list(by, caller, "by")
    z_value(level, caller=caller)
    hz = _horizons(horizons, caller)
    if (
        not isinstance(rmst_horizon, int | float)
        or isinstance(rmst_horizon, bool)
        or not (rmst_horizon > 0 and math.isfinite(rmst_horizon))
    ):
        raise BadParameterError(
            f"{caller}: rmst_horizon={rmst_horizon!r} must be a positive number of days."
        )
    if isinstance(min_group_size, bool) or not isinstance(min_group_size, int | np.integer):
        raise BadParameterError(
            f"{caller}: min_group_size={min_group_size!r} must be a whole number of customers, "
            f"e.g. 30."
        )
    agg = aggregate(
        table, by=by, duration=duration, churned=churned, weights=weights, caller=caller
    )
    if agg.height == 0:
        raise BadDataError(f"{caller}: the table has no rows. Fix: pass a non-empty churn table.")
    agg = (
        agg.rename({duration: DURATION, churned: CHURNED})
        if duration != DURATION or (churned != CHURNED)
        else agg
    )

    curves, summary, at_h, small = [], [], [], []
    for key in group_keys(agg, by):
        g = subset(agg, by, key)
        d = g[DURATION].to_numpy()
        e = g[CHURNED].to_numpy()
        w = g[_W].to_numpy()
        kmf, km = _km(d, e, w, level)
        n = float(w.sum())
        if n < min_group_size:
            small.append(f"{label(key)} ({n:g})")
        keyd = dict(zip(by, key, strict=True))
        curves.append(pl.DataFrame({**{c: [v] * len(km["t"]) for c, v in keyd.items()}, **km}))
        summary.append({**keyd, **_summary(kmf, km, n, float(w[e].sum()), rmst_horizon, level)})
        for h in hz:
            at_h.append({**keyd, "horizon_days": h, **_at_horizon(km, h)})
    if small:
        warnings.warn(
            f"{caller}: {len(small)} group(s) have fewer than {min_group_size} customers, so "
            f"their curves are imprecise: {', '.join(small[:5])}.",
            WorkbenchWarning,
            stacklevel=2,
        )
    schema_by = {c: agg.schema[c] for c in by}
    table_out = pl.concat(
        [c.cast({k: v for k, v in schema_by.items()}) for c in curves], how="vertical"
    ).with_columns(pl.col("at_risk", "events", "censored").cast(pl.Int64))
    params = {
        "by": by,
        "horizons": hz,
        "rmst_horizon": float(rmst_horizon),
        "level": level,
        "duration": duration,
        "churned": churned,
        "weights": weights,
        "customers": float(agg[_W].sum()),
        "ci_method": "exponential Greenwood (log-log), lifelines KaplanMeierFitter",
    }
    return ChurnCurves(
        table=table_out,
        summary=pl.DataFrame(summary, schema_overrides=schema_by),
        at_horizons=pl.DataFrame(at_h, schema_overrides=schema_by),
        params=params,
        counts=agg,
    )


def _horizons(horizons, caller) -> list[float]:
    vals = [horizons] if isinstance(horizons, int | float) else list(horizons or [])
    ok = all(
        isinstance(h, int | float) and not isinstance(h, bool) and h >= 0 and math.isfinite(h)
        for h in vals
    )
    if not ok:
        raise BadParameterError(
            f"{caller}: horizons={horizons!r} must be non-negative numbers of days, "
            f"e.g. (30, 90, 365)."
        )
    return [float(h) for h in vals]


def _first_at_or_below(t: np.ndarray, values: np.ndarray, q: float = 0.5) -> float | None:
    """First time the step curve is <= q (None: never). A tolerance of 1e-12 keeps an exact
    half (2 of 4 churned) at the half although lifelines' product carries a rounding error."""
    hit = np.flatnonzero(values <= q + 1e-12)
    return float(t[hit[0]]) if hit.size else None


def _summary(kmf, km, n, n_events, tau, level) -> dict:
    t, s = km["t"], km["survival"]
    defined = tau <= t[-1] or s[-1] == 0
    if defined:
        area, se = rmst(t, s, km["at_risk"], km["events"], tau)
        z = z_value(level)
        r_lo, r_hi = area - z * se, area + z * se
    else:
        area = r_lo = r_hi = None
    return {
        "customers": int(round(n)),
        "churned": int(round(n_events)),
        "median_days": _first_at_or_below(t, s),
        "median_ci_low": _first_at_or_below(t, km["ci_low"]),
        "median_ci_high": _first_at_or_below(t, km["ci_high"]),
        "rmst_days": area,
        "rmst_ci_low": r_lo,
        "rmst_ci_high": r_hi,
    }


def _at_horizon(km, h) -> dict:
    t, s = km["t"], km["survival"]
    at_risk = float(np.sum((km["events"] + km["censored"])[t >= h]))
    if h > t[-1] and s[-1] > 0:
        return {"survival": None, "ci_low": None, "ci_high": None, "at_risk": 0}
    return {
        "survival": _step_at(t, s, h),
        "ci_low": _step_at(t, km["ci_low"], h),
        "ci_high": _step_at(t, km["ci_high"], h),
        "at_risk": int(round(at_risk)),
    }


# -- log-rank ----------------------------------------------------------------------------------


def logrank_table(agg: pl.DataFrame, by: list[str], keys: list[tuple], *, pairwise: bool):
    """Overall and pairwise log-rank tests (lifelines, weighted rows) with BH-adjusted p-values."""
    from lifelines.statistics import logrank_test, multivariate_logrank_test

    labels = {k: label(k) for k in keys}
    gid = np.zeros(agg.height, dtype=np.int64)
    parts = {}
    for i, k in enumerate(keys):
        mask = _mask(agg, by, k)
        gid[mask] = i
        parts[k] = np.flatnonzero(mask)
    d = agg[DURATION].to_numpy()
    e = agg[CHURNED].to_numpy()
    w = agg[_W].to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        res = multivariate_logrank_test(d, gid, e, weights=w)
        rows = [
            {
                "test": "overall",
                "group_a": "all groups",
                "group_b": None,
                "statistic": float(res.test_statistic),
                "df": int(res.degrees_of_freedom),
                "p_value": float(res.p_value),
            }
        ]
        if pairwise:
            for i, a in enumerate(keys):
                for b in keys[i + 1 :]:
                    ia, ib = parts[a], parts[b]
                    r = logrank_test(d[ia], d[ib], e[ia], e[ib], weights_A=w[ia], weights_B=w[ib])
                    rows.append(
                        {
                            "test": "pairwise",
                            "group_a": labels[a],
                            "group_b": labels[b],
                            "statistic": float(r.test_statistic),
                            "df": 1,
                            "p_value": float(r.p_value),
                        }
                    )
    out = pl.DataFrame(
        rows,
        schema={
            "test": pl.String,
            "group_a": pl.String,
            "group_b": pl.String,
            "statistic": pl.Float64,
            "df": pl.Int64,
            "p_value": pl.Float64,
        },
    )
    pair = out["test"] == "pairwise"
    adj = np.array(out["p_value"].to_list(), dtype=float)
    if pair.any():
        idx = np.flatnonzero(pair.to_numpy())
        adj[idx] = bh_adjust(adj[idx])
    return out.with_columns(pl.Series("p_adjusted", adj))


def _mask(agg: pl.DataFrame, by: list[str], key: tuple) -> np.ndarray:
    m = np.ones(agg.height, dtype=bool)
    for col, val in zip(by, key, strict=True):
        s = agg[col]
        m &= (s.is_null() if val is None else (s == val).fill_null(False)).to_numpy()
    return m
