"""Shifted-beta-geometric (sBG) model of contractual retention (Fader & Hardie 2007).

Each customer renews at the end of every period with their own probability 1 - theta until
they cancel; churn probabilities theta vary across customers as Beta(alpha, beta). For the
lifetime T (the number of periods a customer pays for):

    P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta),     t = 1, 2, ...
    S(t) = P(T > t) = B(alpha, beta + t) / B(alpha, beta)
    retention r_t = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1)

Retention rises with t because the customers most likely to churn leave first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy import optimize, special

from ..errors import BadDataError, BadParameterError, NotFittedError
from ..stats import z_value

SBG_DEFINITION = (
    "Shifted-beta-geometric model: every subscriber has a fixed chance theta of cancelling at "
    "each renewal; theta varies between subscribers as a Beta(alpha, beta) distribution. "
    "Survival after t renewals is S(t) = B(alpha, beta + t) / B(alpha, beta) and the retention "
    "rate at renewal t is (beta + t - 1) / (alpha + beta + t - 1), rising over time as the "
    "likeliest cancellers leave first (Fader & Hardie 2007)."
)


def _lnbeta(a, b):
    return special.gammaln(a) + special.gammaln(b) - special.gammaln(a + b)


class ShiftedBetaGeometric:
    """sBG model with a lifelines-style interface.

    >>> m = ShiftedBetaGeometric().fit([1000, 631, 468, 382, 326, 289, 262, 241])
    >>> m.params_  # {'alpha': 0.704..., 'beta': 1.182...}

    ``fit(alive)``: ``alive[t]`` customers of one cohort still subscribed after t renewals
    (``alive[0]`` = cohort size). Or ``fit(durations=..., event_observed=..., weights=...)``
    per customer: a churned customer (event 1) with duration t paid t periods and did not
    renew (T = t); a censored one (event 0) with duration t is known to have renewed t times
    (T > t). The alive counts are the special case of n[t-1] - n[t] churners at t and n[-1]
    censored at the last period.

    Fitted attributes: ``params_`` {"alpha", "beta"}, ``standard_errors_`` (from the
    observed information, natural scale), ``log_likelihood_``, ``n_customers_``,
    ``summary`` (a tidy frame with intervals computed on the log scale, so they stay positive).
    The interval level is ``level`` (not ``alpha``, which here names a model parameter).
    Very large alpha and beta (e.g. above 1e4) mean no detectable heterogeneity:
    constant retention beta / (alpha + beta), i.e. a geometric lifetime.
    """

    def __init__(self, *, level: float = 0.95):
        z_value(level, caller="ShiftedBetaGeometric")
        self.level = level
        self.params_: dict | None = None

    # -- fitting ---------------------------------------------------------------------------------

    def fit(self, alive=None, *, durations=None, event_observed=None, weights=None):
        caller = "ShiftedBetaGeometric.fit"
        if (alive is None) == (durations is None):
            raise BadParameterError(
                f"{caller}: pass either alive counts (fit([1000, 631, ...])) or "
                f"durations=... with event_observed=..., not both or neither."
            )
        if alive is not None:
            t, e, w = _from_alive(alive, caller)
        else:
            t, e, w = _from_durations(durations, event_observed, weights, caller)
        self._data = (t, e, w)

        def nll(x):
            a, b = _unlog(x)
            return -_loglik(a, b, t, e, w)

        def grad(x):
            a, b = _unlog(x)
            g = _gradient(a, b, t, e, w)
            return -g * np.array([a, b])

        def hess(x):
            # chain rule on log parameters: H_x = D H D + diag(g * theta), D = diag(theta)
            a, b = _unlog(x)
            theta = np.array([a, b])
            h = _hessian(a, b, t, e, w) * np.outer(theta, theta)
            h[np.diag_indices(2)] += _gradient(a, b, t, e, w) * theta
            return -h

        best = None
        for start in ((0.0, 0.0), (-1.0, 1.0), (1.0, 3.0)):
            res = optimize.minimize(nll, np.array(start), jac=grad, hess=hess, method="trust-exact")
            if best is None or res.fun < best.fun:
                best = res
        a, b = _unlog(best.x)
        self.params_ = {"alpha": a, "beta": b}
        self.log_likelihood_ = float(-best.fun)
        self.n_customers_ = float(w.sum())
        self.converged_ = bool(best.success)
        hess = _hessian(a, b, t, e, w)
        try:
            var = np.diag(np.linalg.inv(-hess))
        except np.linalg.LinAlgError:
            var = np.array([np.nan, np.nan])
        # no curvature (e.g. alpha, beta running off to infinity): no standard errors
        se = np.where(np.isfinite(var) & (var > 0), np.sqrt(np.abs(var)), np.nan)
        self.standard_errors_ = {"alpha": float(se[0]), "beta": float(se[1])}
        return self

    def _check(self):
        if self.params_ is None:
            raise NotFittedError(
                "ShiftedBetaGeometric: the model is not fitted yet. Fix: call .fit(alive) first."
            )
        return self.params_["alpha"], self.params_["beta"]

    @property
    def summary(self) -> pl.DataFrame:
        """param, estimate, se, ci_low, ci_high (Wald interval on the log scale, at ``level``)."""
        self._check()
        z = z_value(self.level)
        rows = []
        for name in ("alpha", "beta"):
            est, se = self.params_[name], self.standard_errors_[name]
            half = z * se / est
            rows.append((name, est, se, est * math.exp(-half), est * math.exp(half)))
        return pl.DataFrame(
            rows, schema=["param", "estimate", "se", "ci_low", "ci_high"], orient="row"
        )

    # -- predictions -----------------------------------------------------------------------------

    def survival(self, periods) -> np.ndarray:
        """S(t) = P(T > t): share of a new cohort still subscribed after t renewals."""
        a, b = self._check()
        t = np.asarray(periods, dtype=float)
        return np.exp(_lnbeta(a, b + t) - _lnbeta(a, b))

    def churn_probability(self, periods) -> np.ndarray:
        """P(T = t): share of a new cohort whose last paid period is t (t >= 1)."""
        a, b = self._check()
        t = np.asarray(periods, dtype=float)
        return np.exp(_lnbeta(a + 1, b + t - 1) - _lnbeta(a, b))

    def retention(self, periods) -> np.ndarray:
        """r_t = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1), t >= 1."""
        a, b = self._check()
        t = np.asarray(periods, dtype=float)
        return (b + t - 1) / (a + b + t - 1)

    def projection(self, horizon: int = 24, cohort_size: float | None = None) -> pl.DataFrame:
        """period 0..horizon with survival, retention (null at 0) and expected customers alive."""
        self._check()
        if not isinstance(horizon, int) or horizon < 1:
            raise BadParameterError(
                f"ShiftedBetaGeometric.projection: horizon={horizon!r} must be a positive integer."
            )
        t = np.arange(horizon + 1)
        n0 = self.n_customers_ if cohort_size is None else float(cohort_size)
        ret = self.retention(np.maximum(t, 1)).astype(float)
        ret[0] = np.nan
        return pl.DataFrame(
            {"period": t, "survival": self.survival(t), "retention": ret}
        ).with_columns(
            pl.col("retention").fill_nan(None),
            (pl.col("survival") * n0).alias("expected_alive"),
        )

    def discounted_expected_lifetime(self, discount_rate: float) -> float:
        """DEL = sum_{t>=0} S(t) / (1 + d)^t = 2F1(1, beta; alpha + beta; 1 / (1 + d)).

        Expected discounted number of payments of a customer just acquired, the first payment
        (t = 0) undiscounted; multiply by the margin per period for the expected lifetime value.
        """
        a, b = self._check()
        d = _rate(discount_rate, "discounted_expected_lifetime")
        out = float(special.hyp2f1(1.0, b, a + b, 1.0 / (1.0 + d)))
        if math.isfinite(out):
            return out
        return 1.0 + float(self._discounted_sum(d, 1)) / (1.0 + d)  # S(0) + x * DERL(n=1)

    def discounted_expected_residual_lifetime(self, discount_rate: float, renewals: int = 0):
        """DERL for a customer who has made ``renewals`` renewals and is at the end of period
        n = renewals + 1, just before the next renewal decision (Fader & Hardie 2010, eq. 6):

            DERL = sum_{t>=n} S(t) / S(n - 1) / (1 + d)^(t - n)
                 = B(alpha, beta + n) / B(alpha, beta + n - 1) * 2F1(1, beta + n; alpha + beta + n; 1/(1+d))

        i.e. the discounted expected number of further payments, the next one undiscounted.
        ``renewals`` may be a number or an array.
        """
        a, b = self._check()
        d = _rate(discount_rate, "discounted_expected_residual_lifetime")
        n = np.asarray(renewals, dtype=float) + 1
        if np.any(n < 1) or np.any(n != np.round(n)):
            raise BadParameterError(
                "discounted_expected_residual_lifetime: renewals must be whole numbers >= 0."
            )
        ratio = (b + n - 1) / (a + b + n - 1)
        out = np.asarray(ratio * special.hyp2f1(1.0, b + n, a + b + n, 1.0 / (1.0 + d)))
        bad = ~np.isfinite(out)
        if bad.any():  # 2F1 fails for huge alpha, beta: sum the series instead
            out = np.where(bad, self._discounted_sum(d, n), out)
        return float(out) if np.ndim(out) == 0 else out

    def _discounted_sum(self, d: float, n) -> np.ndarray:
        """sum_{t>=n} S(t) / S(n-1) / (1+d)^(t-n), summed until the terms are negligible."""
        n = np.atleast_1d(np.asarray(n, dtype=float))
        steps = int(math.ceil(40.0 / math.log1p(d))) + 1
        k = np.arange(steps, dtype=float)
        out = np.array(
            [
                np.sum(
                    np.exp(
                        np.log(self.survival(m + k))
                        - np.log(self.survival(m - 1))
                        - k * math.log1p(d)
                    )
                )
                for m in n
            ]
        )
        return out if out.size > 1 else out[0]

    def __repr__(self) -> str:
        if self.params_ is None:
            return "<ShiftedBetaGeometric: not fitted>"
        p = self.params_
        return (
            f"<ShiftedBetaGeometric: alpha={p['alpha']:.4g}, beta={p['beta']:.4g}, "
            f"LL={self.log_likelihood_:.2f}, n={self.n_customers_:g}>"
        )


def _unlog(x) -> tuple[float, float]:
    """Log parameters -> (alpha, beta), kept within e^-30..e^30 so the search cannot overflow."""
    return math.exp(min(max(x[0], -30.0), 30.0)), math.exp(min(max(x[1], -30.0), 30.0))


def _rate(d, caller) -> float:
    if not isinstance(d, int | float) or isinstance(d, bool) or not (0 < d and math.isfinite(d)):
        raise BadParameterError(
            f"{caller}: discount_rate={d!r} must be a positive number per period, e.g. 0.1."
        )
    return float(d)


# -- data preparation and likelihood -----------------------------------------------------------


def _from_alive(alive, caller):
    n = np.asarray(alive, dtype=float).ravel()
    if n.size < 2 or np.any(~np.isfinite(n)) or np.any(n < 0) or n[0] <= 0:
        raise BadDataError(
            f"{caller}: alive must be at least two non-negative counts starting with the cohort "
            f"size, e.g. [1000, 631, 468], got {list(n[:5])}."
        )
    if np.any(np.diff(n) > 0):
        raise BadDataError(
            f"{caller}: alive counts must not increase over time (customers only leave), got "
            f"{list(n[:8])}. Fix: pass survivors of one cohort, not active customers per period."
        )
    k = n.size - 1
    t = np.concatenate([np.arange(1, k + 1), [k]]).astype(float)
    e = np.concatenate([np.ones(k, bool), [False]])
    w = np.concatenate([n[:-1] - n[1:], [n[-1]]])
    keep = w > 0
    return t[keep], e[keep], w[keep]


def _from_durations(durations, event_observed, weights, caller):
    t = np.asarray(durations, dtype=float).ravel()
    e = (
        np.ones(t.size, bool)
        if event_observed is None
        else np.asarray(event_observed).astype(bool).ravel()
    )
    w = np.ones(t.size) if weights is None else np.asarray(weights, dtype=float).ravel()
    if not (t.size == e.size == w.size) or t.size == 0:
        raise BadDataError(
            f"{caller}: durations, event_observed and weights must be non-empty and of equal "
            f"length, got {t.size}, {e.size}, {w.size}."
        )
    bad = ~np.isfinite(t) | (t != np.round(t)) | (t < 0) | (e & (t < 1)) | ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise BadDataError(
            f"{caller}: {int(bad.sum())} durations are not whole numbers of periods (>= 1 for "
            f"churned customers, >= 0 for censored ones) or have a bad weight; first: "
            f"{t[bad][0]!r}."
        )
    if not (w * e).sum() > 0:
        raise BadDataError(f"{caller}: no churned customers, so churn cannot be estimated.")
    # customers with the same (duration, status) enter the likelihood once, with their count
    key = t * 2 + e
    uniq, inv = np.unique(key, return_inverse=True)
    counts = np.bincount(inv, weights=w)
    keep = counts > 0
    return (uniq // 2)[keep], (uniq % 2 == 1)[keep], counts[keep]


def _loglik(a, b, t, e, w) -> float:
    ll_event = _lnbeta(a + 1, b + t - 1)
    ll_cens = _lnbeta(a, b + t)
    return float(np.sum(w * np.where(e, ll_event, ll_cens)) - w.sum() * _lnbeta(a, b))


def _dlnbeta(a, b):
    """Partial derivatives of ln B(a, b) with respect to a and b."""
    return special.digamma(a) - special.digamma(a + b), special.digamma(b) - special.digamma(a + b)


def _gradient(a, b, t, e, w):
    ea, eb = _dlnbeta(a + 1, b + t - 1)
    ca, cb = _dlnbeta(a, b + t)
    za, zb = _dlnbeta(a, b)
    ga = np.sum(w * np.where(e, ea, ca)) - w.sum() * za
    gb = np.sum(w * np.where(e, eb, cb)) - w.sum() * zb
    return np.array([ga, gb])


def _d2lnbeta(a, b):
    tab = special.polygamma(1, a + b)
    return special.polygamma(1, a) - tab, special.polygamma(1, b) - tab, -tab


def _hessian(a, b, t, e, w):
    eaa, ebb, eab = _d2lnbeta(a + 1, b + t - 1)
    caa, cbb, cab = _d2lnbeta(a, b + t)
    zaa, zbb, zab = _d2lnbeta(a, b)
    W = w.sum()
    haa = np.sum(w * np.where(e, eaa, caa)) - W * zaa
    hbb = np.sum(w * np.where(e, ebb, cbb)) - W * zbb
    hab = np.sum(w * np.where(e, eab, cab)) - W * zab
    return np.array([[haa, hab], [hab, hbb]])


def observed_survival(t, e, w, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Product-limit survival in whole periods 0..horizon (censored at c: known T > c).

    Returns (survival, at_risk); survival is NaN where nobody is left at risk.
    """
    surv = np.full(horizon + 1, np.nan)
    at_risk = np.zeros(horizon + 1)
    surv[0] = 1.0
    at_risk[0] = w.sum()
    s = 1.0
    for k in range(1, horizon + 1):
        n = w[(t >= k)].sum()  # churned at k or later, or censored at k or later
        d = w[e & (t == k)].sum()
        at_risk[k] = n
        if n <= 0:
            break
        s *= 1 - d / n
        surv[k] = s
    return surv, at_risk


# -- one model per cohort ----------------------------------------------------------------------


@dataclass(frozen=True)
class SBGCohorts:
    """One sBG fit per cohort.

    - ``table``: ``cohort``, ``customers``, ``churned``, ``periods_observed``, ``alpha``,
      ``beta``, ``alpha_se``, ``beta_se``, ``log_likelihood``, ``retention_next`` (projected
      retention at the first unobserved renewal);
    - ``projection``: ``cohort``, ``period`` 0..horizon, ``observed`` (product-limit share still
      subscribed; null where nobody is left to observe), ``at_risk``, ``projected`` (sBG S(t));
    - ``models``: {cohort: fitted ShiftedBetaGeometric}.
    """

    table: pl.DataFrame
    projection: pl.DataFrame
    models: dict = field(repr=False)
    params: dict = field(default_factory=dict)
    definition: str = SBG_DEFINITION

    def plot(self):
        """Observed vs projected share still subscribed, per cohort."""
        from ..plots.survival import sbg_projection

        return sbg_projection(self)

    def _repr_html_(self) -> str:
        from html import escape

        params = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return (
            f"<div><b>Contractual retention by cohort (sBG)</b><p>{escape(self.definition)}</p>"
            f"<p><small>{escape(params)}</small></p>{self.table._repr_html_()}</div>"
        )


def fit_sbg_cohorts(
    data,
    *,
    cohort: str = "cohort",
    period: str = "period",
    alive: str = "alive",
    period_days: float = 30.4375,
    horizon: int = 24,
    level: float = 0.95,
    min_customers: int = 20,
) -> SBGCohorts:
    """Fit one shifted-beta-geometric model per cohort and project retention to ``horizon``.

    ``data`` is either

    - a survivors table with columns ``cohort``, ``period`` (0, 1, 2, ...) and ``alive``
      (customers of the cohort still subscribed after that many renewals; period 0 = cohort
      size), e.g. a retention matrix in long form; or
    - a churn table from ``wb.churn_table(..., subscriptions=...)`` (``start``,
      ``duration_days``, ``churned``). Durations become periods of ``period_days`` (a month by
      default): a churned customer paid T = max(1, round(duration_days / period_days))
      periods; a censored one is known to have renewed floor(duration_days / period_days)
      times. Cohorts are the ``cohort`` column if present, else the start month ("2025-03").

    Cohorts with fewer than ``min_customers`` customers or without any churn are skipped
    (listed in ``params["skipped"]``).
    """
    caller = "fit_sbg_cohorts"
    if not isinstance(horizon, int) or isinstance(horizon, bool) or horizon < 1:
        raise BadParameterError(f"{caller}: horizon={horizon!r} must be a positive integer.")
    if not isinstance(period_days, int | float) or not period_days > 0:
        raise BadParameterError(f"{caller}: period_days={period_days!r} must be positive.")
    df = data.collect() if isinstance(data, pl.LazyFrame) else data
    if not isinstance(df, pl.DataFrame):
        raise BadParameterError(
            f"{caller}: data must be a polars DataFrame (survivors or churn table), "
            f"got {type(data).__name__}."
        )
    if alive in df.columns and period in df.columns:
        groups = _alive_groups(df, cohort, period, alive, caller)
        kind = "survivors"
    elif {"duration_days", "churned"} <= set(df.columns):
        groups = _churn_groups(df, cohort, period_days, caller)
        kind = "churn table"
    else:
        raise BadDataError(
            f"{caller}: data has neither ({period!r}, {alive!r}) columns of a survivors table "
            f"nor ('duration_days', 'churned') of a churn table. Available: {df.columns}."
        )
    rows, proj, models, skipped = [], [], {}, []
    for key, (t, e, w) in groups:
        if w.sum() < min_customers or (w * e).sum() == 0:
            skipped.append(key)
            continue
        m = ShiftedBetaGeometric(level=level).fit(durations=t, event_observed=e, weights=w)
        models[key] = m
        seen = int(t.max())
        obs, at_risk = observed_survival(t, e, w, horizon)
        rows.append(
            {
                "cohort": key,
                "customers": float(w.sum()),
                "churned": float((w * e).sum()),
                "periods_observed": seen,
                "alpha": m.params_["alpha"],
                "beta": m.params_["beta"],
                "alpha_se": m.standard_errors_["alpha"],
                "beta_se": m.standard_errors_["beta"],
                "log_likelihood": m.log_likelihood_,
                "retention_next": float(m.retention(seen + 1)),
            }
        )
        k = np.arange(horizon + 1)
        proj.append(
            pl.DataFrame(
                {
                    "cohort": [key] * (horizon + 1),
                    "period": k,
                    "observed": obs,
                    "at_risk": at_risk,
                    "projected": m.survival(k),
                }
            ).with_columns(pl.col("observed").fill_nan(None))
        )
    if not rows:
        raise BadDataError(
            f"{caller}: no cohort has {min_customers}+ customers and at least one churn. "
            f"Fix: lower min_customers or use coarser cohorts."
        )
    params = {
        "input": kind,
        "period_days": period_days if kind == "churn table" else None,
        "horizon": horizon,
        "level": level,
        "min_customers": min_customers,
        "skipped": skipped,
    }
    return SBGCohorts(
        table=pl.DataFrame(rows),
        projection=pl.concat(proj),
        models=models,
        params=params,
    )


def _alive_groups(df, cohort, period, alive, caller):
    keys = [cohort] if cohort in df.columns else []
    out = []
    for key, g in df.sort([*keys, period]).group_by(keys or pl.lit(0), maintain_order=True):
        p = g[period].to_numpy()
        if not np.array_equal(p, np.arange(len(p))):
            raise BadDataError(
                f"{caller}: cohort {key[0]!r} has periods {list(p[:6])}; expected 0, 1, 2, ... "
                f"without gaps. Fix: one row per period from 0."
            )
        t, e, w = _from_alive(g[alive].to_numpy(), caller)
        out.append((str(key[0]) if keys else "all", (t, e, w)))
    return out


def _churn_groups(df, cohort, period_days, caller):
    if cohort in df.columns:
        key_expr = pl.col(cohort).cast(pl.String)
    elif "start" in df.columns:
        key_expr = pl.col("start").dt.strftime("%Y-%m")
    else:
        key_expr = pl.lit("all")
    ratio = pl.col("duration_days").cast(pl.Float64) / period_days
    periods = (
        pl.when(pl.col("churned"))
        .then(pl.max_horizontal(ratio.round(0), pl.lit(1.0)))
        .otherwise(ratio.floor())
    )
    agg = (
        df.select(key_expr.alias("__k"), periods.alias("__t"), pl.col("churned").alias("__e"))
        .group_by("__k", "__t", "__e")
        .len()
        .sort("__k", "__t", "__e")
    )
    out = []
    for (key,), g in agg.group_by("__k", maintain_order=True):
        out.append(
            (
                key,
                (
                    g["__t"].to_numpy().astype(float),
                    g["__e"].to_numpy().astype(bool),
                    g["len"].to_numpy().astype(float),
                ),
            )
        )
    return out
