"""Shared machinery of the customer-value models: input checks, weighted maximum likelihood on
log parameters, Hessian-based standard errors, the summary frame and the prediction tables."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
from scipy import optimize
from scipy.stats import norm

from ..errors import (
    BadDataError,
    BadParameterError,
    MissingColumnError,
    NotFittedError,
    WorkbenchWarning,
    closest,
)
from ..schema import _to_lazy

_LOG_BOUND = 18.0  # parameters are searched within exp(+-18)
# Above this many distinct rows (times the model's _WARM_FACTOR), start from a subsample fit.
_WARM_ROWS = 40_000
_WARM_CUSTOMERS = 20_000
_WARM_BOUND = 9.0  # a subsample optimum beyond exp(+-9) is not used as a start


def _as_frame(rfm, caller: str) -> pl.DataFrame:
    frame = _to_lazy(rfm, caller, "rfm")
    return frame.collect() if isinstance(frame, pl.LazyFrame) else frame


def _require(frame: pl.DataFrame, columns, caller: str, fix: str) -> None:
    for col in columns:
        if col not in frame.columns:
            hint = closest(col, frame.columns)
            did = f" Did you mean {hint!r}?" if hint else ""
            raise MissingColumnError(
                f"{caller}: rfm has no column {col!r}. Available: {frame.columns}.{did} Fix: {fix}."
            )


def _float_column(frame: pl.DataFrame, col: str, caller: str) -> np.ndarray:
    series = frame[col]
    if not series.dtype.is_numeric():
        raise BadDataError(
            f"{caller}: rfm column {col!r} has dtype {series.dtype}, expected numbers. "
            f"Fix: build the table with wb.rfm_summary(events)."
        )
    values = series.cast(pl.Float64).to_numpy()
    bad = ~np.isfinite(values)
    if bad.any():
        raise BadDataError(
            f"{caller}: rfm column {col!r} has {int(bad.sum())} missing or infinite values. "
            f"Fix: drop those customers first."
        )
    return values


def _weights(frame: pl.DataFrame, weights: str | None, caller: str) -> np.ndarray:
    if weights is None:
        return np.ones(frame.height)
    _require(frame, [weights], caller, "pass the name of the column counting the customers")
    w = _float_column(frame, weights, caller)
    if (w < 0).any():
        raise BadDataError(f"{caller}: weights column {weights!r} has negative values.")
    return w


def check_rfm(frequency, recency, T, caller: str, *, discrete: bool = False) -> None:
    """The consistency rules every frequency/recency/age table obeys."""
    label = "periods" if discrete else "T"
    problems = [
        (frequency < 0, "negative frequency"),
        (frequency != np.round(frequency), "non-integer frequency"),
        (recency < 0, "negative recency"),
        (recency > T, f"recency larger than {label}"),
        ((frequency == 0) & (recency != 0), "recency > 0 with frequency 0"),
    ]
    if discrete:
        problems.append((frequency > recency, "frequency larger than recency"))
    for mask, what in problems:
        if mask.any():
            raise BadDataError(
                f"{caller}: {int(mask.sum())} rows have {what}. Fix: build the table with "
                f"wb.rfm_summary(events), or drop those rows."
            )


def collapse(columns: dict[str, np.ndarray], weights: np.ndarray) -> tuple[dict, np.ndarray]:
    """Merge identical rows into one row carrying the summed weight."""
    grouped = (
        pl.LazyFrame({**columns, "__w": weights})
        .filter(pl.col("__w") > 0)
        .group_by(list(columns))
        .agg(pl.col("__w").sum())
        .collect(engine="streaming")  # several times faster than the in-memory engine here
    )
    out = {c: grouped[c].to_numpy() for c in columns}
    order = np.lexsort([out[c] for c in reversed(list(columns))])  # a fixed row order
    return {c: v[order] for c, v in out.items()}, grouped["__w"].to_numpy()[order]


def factorize(*arrays: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Unique combinations of the given columns and, for each row, the index of its combination."""
    frame = pl.DataFrame({f"c{i}": a for i, a in enumerate(arrays)})
    codes = frame.select(pl.struct(frame.columns).rank("dense") - 1).to_series().to_numpy()
    codes = codes.astype(np.int64)
    n = int(codes.max()) + 1 if codes.size else 0
    uniques = []
    for a in arrays:
        u = np.empty(n, dtype=a.dtype)
        u[codes] = a
        uniques.append(u)
    return uniques, codes


def dot(a, b) -> float:
    """Inner product of two 1-D arrays, without BLAS (whose threads make long vector products
    slow on a busy machine)."""
    return float(np.multiply(a, b).sum())


def as_array(*values):
    """Broadcast scalars or array-likes (lists, numpy, polars/pandas series) to float arrays."""
    arrays = [
        np.asarray(v.to_numpy() if hasattr(v, "to_numpy") else v, dtype=float) for v in values
    ]
    return np.broadcast_arrays(*arrays)


def scalar_or_array(value: np.ndarray, *inputs):
    """Return a float when every input was a scalar, else the array."""
    if all(np.ndim(i) == 0 for i in inputs):
        return float(np.asarray(value).reshape(-1)[0])
    return value


class CustomerModel:
    """Base of the models: maximum likelihood on log parameters with weighted (collapsed) rows.

    Settings: ``penalizer`` adds penalizer x (sum of squared parameters) per customer to the
    negative log-likelihood, as lifetimes does (0: plain maximum likelihood); ``alpha`` sets the
    level of the summary's confidence intervals (0.05: 95%).

    Subclasses define ``_PARAMS`` (natural-scale names), ``_prepare(columns, weights)`` (the
    data object, from collapsed rows), ``_loglik(params, data)`` (total log-likelihood),
    optionally ``_loglik_grad(params, data)`` (it and its natural-scale gradient in one pass),
    and ``_start(data)``.
    """

    _PARAMS: tuple[str, ...] = ()
    _WARM_FACTOR = 1.0  # smaller for models whose likelihood is costly to evaluate

    def __init__(self, *, penalizer: float = 0.0, alpha: float = 0.05) -> None:
        if not penalizer >= 0:
            raise BadParameterError(
                f"{type(self).__name__}: penalizer={penalizer!r} must be >= 0. Fix: pass 0 for "
                f"plain maximum likelihood or a small positive value such as 0.001."
            )
        if not 0 < alpha < 1:
            raise BadParameterError(
                f"{type(self).__name__}: alpha={alpha!r} must be in (0, 1), e.g. 0.05 for 95% "
                f"confidence intervals."
            )
        self.penalizer = penalizer
        self.alpha = alpha

    # -- fitting -------------------------------------------------------------------------------
    def _objective(self, theta, data, scale):
        if np.max(np.abs(theta)) > _LOG_BOUND:
            return 1e100
        params = np.exp(theta)
        with np.errstate(all="ignore"):
            ll = self._loglik(params, data)
        value = -ll / scale + self.penalizer * np.sum(params**2)
        return value if np.isfinite(value) else 1e100

    def _objective_grad(self, theta, data, scale):
        if np.max(np.abs(theta)) > _LOG_BOUND:
            return 1e100, np.zeros_like(theta)
        params = np.exp(theta)
        with np.errstate(all="ignore"):
            ll, grad = self._loglik_grad(params, data)
        value = -ll / scale + self.penalizer * np.sum(params**2)
        g = (-grad / scale + 2 * self.penalizer * params) * params
        if not (np.isfinite(value) and np.all(np.isfinite(g))):
            return 1e100, np.zeros_like(theta)
        return value, g

    def _has_gradient(self) -> bool:
        return type(self)._loglik_grad is not CustomerModel._loglik_grad

    def _loglik_grad(self, params, data):  # pragma: no cover - overridden where available
        raise NotImplementedError

    def _bfgs(self, data, theta0, scale, hess_inv=None, maxiter=2000):
        # Moderate tolerances: Newton steps with the exact Hessian finish the job (_polish).
        if self._has_gradient():
            fun, jac, gtol = self._objective_grad, True, 1e-7
        else:
            fun, jac, gtol = self._objective, None, 1e-6
        # BFGS rather than L-BFGS-B: the latter's BLAS calls are slow when threads compete.
        return optimize.minimize(
            fun,
            theta0,
            args=(data, scale),
            jac=jac,
            method="BFGS",
            options={"maxiter": maxiter, "gtol": gtol, "hess_inv0": hess_inv},
        )

    def _maximize(self, data, theta0, n_total: float, hess_inv=None):
        """Minimise the mean negative log-likelihood over log parameters; then Newton-polish."""
        scale = float(n_total)
        res = self._bfgs(data, theta0, scale, hess_inv)
        if not self._gradient_small(res.x, data, scale, 1e-4):
            # A restart from the Nelder-Mead optimum rescues the rare line-search failure.
            nm = optimize.minimize(
                self._objective,
                res.x,
                args=(data, scale),
                method="Nelder-Mead",
                options={"maxiter": 5000, "xatol": 1e-10, "fatol": 1e-14},
            )
            res = self._bfgs(data, nm.x, scale)
        theta = np.asarray(res.x, dtype=float)
        hessian = self._hessian(theta, data)
        theta, hessian = self._polish(theta, hessian, data, scale)
        return theta, hessian, self._gradient_small(theta, data, scale, 1e-5)

    def _total(self, theta, data) -> float:
        params = np.exp(theta)
        with np.errstate(all="ignore"):
            return float(self._loglik(params, data)) - self._penalty_total(params)

    def _penalty_total(self, params) -> float:
        return float(self.penalizer * np.sum(params**2) * self._scale) if self.penalizer else 0.0

    def _grad_theta(self, theta, data) -> np.ndarray:
        """Gradient of the (penalised) total log-likelihood with respect to log parameters."""
        if self._has_gradient():
            params = np.exp(theta)
            with np.errstate(all="ignore"):
                g = self._loglik_grad(params, data)[1] - 2 * self.penalizer * self._scale * params
            return g * params
        h = 1e-5
        g = np.empty_like(theta)
        for i in range(len(theta)):
            e = np.zeros_like(theta)
            e[i] = h
            g[i] = (self._total(theta + e, data) - self._total(theta - e, data)) / (2 * h)
        return g

    def _gradient_small(self, theta, data, scale, tol) -> bool:
        """Whether the mean log-likelihood is flat (to `tol`) in every log parameter."""
        g = self._grad_theta(theta, data) / scale
        return bool(np.all(np.isfinite(g)) and np.max(np.abs(g)) < tol)

    def _hessian(self, theta, data) -> np.ndarray:
        """Numerical Hessian of the total log-likelihood on the log scale."""
        k = len(theta)
        hess = np.empty((k, k))
        if self._has_gradient():
            h = 1e-5
            for j in range(k):
                e = np.zeros(k)
                e[j] = h
                hess[:, j] = (
                    self._grad_theta(theta + e, data) - self._grad_theta(theta - e, data)
                ) / (2 * h)
            return (hess + hess.T) / 2
        h = 1e-3
        f0 = self._total(theta, data)
        for i in range(k):
            ei = np.zeros(k)
            ei[i] = h
            hess[i, i] = (
                self._total(theta + ei, data) - 2 * f0 + self._total(theta - ei, data)
            ) / h**2
            for j in range(i):
                ej = np.zeros(k)
                ej[j] = h
                v = (
                    self._total(theta + ei + ej, data)
                    - self._total(theta + ei - ej, data)
                    - self._total(theta - ei + ej, data)
                    + self._total(theta - ei - ej, data)
                ) / (4 * h**2)
                hess[i, j] = hess[j, i] = v
        return hess

    def _polish(self, theta, hessian, data, scale):
        """Up to three Newton steps from the optimiser's answer (they tighten the last digits).

        The Hessian is computed again only if the steps moved the estimate noticeably.
        """
        best = self._total(theta, data)
        start = theta
        for _ in range(3):
            g = self._grad_theta(theta, data)
            if not (np.all(np.isfinite(g)) and np.all(np.isfinite(hessian))):
                break
            try:
                step = np.linalg.solve(hessian, g)
            except np.linalg.LinAlgError:
                break
            candidate = theta - step
            value = self._total(candidate, data)
            if not np.isfinite(value) or value < best - 1e-12 * abs(best):
                break
            theta, best = candidate, max(value, best)
            if np.max(np.abs(step)) < 1e-8:
                break
        if np.max(np.abs(theta - start)) > 1e-4:
            hessian = self._hessian(theta, data)
        return theta, hessian

    def _finish(self, theta, hessian, converged, n_total, n_rows) -> None:
        params = np.exp(theta)
        names = self._PARAMS
        self.params_ = dict(zip(names, map(float, params), strict=True))
        self.log_likelihood_ = self._total(theta, self._data) + self._penalty_total(params)
        self.n_customers_ = float(n_total)
        self.n_rows_ = int(n_rows)
        self.converged_ = converged
        self.AIC_ = 2 * len(names) - 2 * self.log_likelihood_
        cov = np.full((len(names), len(names)), np.nan)
        try:
            info = -hessian
            if np.all(np.isfinite(info)) and np.all(np.linalg.eigvalsh(info) > 0):
                cov_log = np.linalg.inv(info)
                cov = cov_log * np.outer(params, params)  # delta method: d p / d log p = p
        except np.linalg.LinAlgError:
            pass
        self.variance_matrix_ = cov
        self.standard_errors_ = dict(zip(names, map(float, np.sqrt(np.diag(cov))), strict=True))
        if not converged:
            warnings.warn(
                f"{type(self).__name__}: the optimiser did not converge; the estimates may be "
                f"unreliable (the likelihood may be flat, e.g. too few repeat customers).",
                WorkbenchWarning,
                stacklevel=3,
            )
        elif np.isnan(cov).all():
            warnings.warn(
                f"{type(self).__name__}: the Hessian at the optimum is not negative definite; "
                f"standard errors are not available (a parameter is at the edge of its range).",
                WorkbenchWarning,
                stacklevel=3,
            )

    def _run_fit(self, cols: dict, w: np.ndarray):
        """Fit on collapsed rows `cols` with weights `w`.

        With many distinct rows, a fit on a random subsample of about 20,000 customers first
        gives the starting point and the curvature, so the full data is visited a few times only.
        """
        n_total, n_rows = float(w.sum()), len(w)
        data = self._data = self._prepare(cols, w)
        self._scale = n_total
        theta0, hess_inv = np.log(np.asarray(self._start(data), dtype=float)), None
        if n_rows > _WARM_ROWS * self._WARM_FACTOR:
            rng = np.random.default_rng(0)
            ws = rng.poisson(w * min(1.0, _WARM_CUSTOMERS / n_total)).astype(float)
            keep = ws > 0
            sub = self._prepare({k: v[keep] for k, v in cols.items()}, ws[keep])
            res = self._bfgs(sub, theta0, ws.sum(), maxiter=200)
            # Use it only when the subsample has an interior optimum (a small sample may put
            # one on the edge, e.g. Pareto/NBD's s and beta running off together).
            if np.max(np.abs(res.x)) < _WARM_BOUND and self._gradient_small(
                res.x, sub, ws.sum(), 1e-4
            ):
                theta0 = res.x
                curvature = -self._hessian(theta0, sub) / ws.sum()
                if np.all(np.isfinite(curvature)) and np.all(np.linalg.eigvalsh(curvature) > 0):
                    hess_inv = np.linalg.inv(curvature)
                    hess_inv = (hess_inv + hess_inv.T) / 2
        theta, hessian, converged = self._maximize(data, theta0, n_total, hess_inv)
        self._finish(theta, hessian, converged, n_total, n_rows)
        return self

    # -- fitted state --------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise NotFittedError(
                f"{type(self).__name__}: the model is not fitted yet. Fix: call "
                f".fit(rfm) first, e.g. {type(self).__name__}().fit(wb.rfm_summary(events))."
            )

    def _p(self) -> tuple[float, ...]:
        self._check_fitted()
        return tuple(self.params_[n] for n in self._PARAMS)

    @property
    def summary(self) -> pl.DataFrame:
        """param, estimate, se, ci_low, ci_high (Wald interval on the log scale, level 1 - alpha)."""
        self._check_fitted()
        z = norm.ppf(1 - self.alpha / 2)
        est = np.array([self.params_[n] for n in self._PARAMS])
        se = np.array([self.standard_errors_[n] for n in self._PARAMS])
        half = z * se / est
        return pl.DataFrame(
            {
                "param": list(self._PARAMS),
                "estimate": est,
                "se": se,
                "ci_low": est * np.exp(-half),
                "ci_high": est * np.exp(half),
            }
        )

    def __repr__(self) -> str:
        if not hasattr(self, "params_"):
            return f"<{type(self).__name__}: not fitted>"
        shown = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return (
            f"<{type(self).__name__}: {shown}; log-likelihood {self.log_likelihood_:.2f} on "
            f"{self.n_customers_:,.0f} customers>"
        )


class TransactionModel(CustomerModel):
    """Base of the continuous-time purchase models (BG/NBD, MBG/NBD, Pareto/NBD).

    Subclasses implement ``conditional_probability_alive``,
    ``expected_number_of_purchases_up_to_time`` and
    ``conditional_expected_number_of_purchases_up_to_time``.
    """

    _COLUMNS = ("frequency", "recency", "T")

    def fit(self, rfm, *, weights: str | None = None):
        """Fit on an rfm table (``wb.rfm_summary``): columns frequency, recency, T.

        Customers with identical (frequency, recency, T) are merged into one weighted row, which
        leaves the likelihood unchanged. ``weights`` names a column that already counts the
        customers a row stands for.
        """
        caller = f"{type(self).__name__}.fit"
        frame = _as_frame(rfm, caller)
        _require(frame, self._COLUMNS, caller, "build the table with wb.rfm_summary(events)")
        x, tx, T = (_float_column(frame, c, caller) for c in self._COLUMNS)
        w = _weights(frame, weights, caller)
        if frame.height == 0 or w.sum() <= 0:
            raise BadDataError(f"{caller}: rfm has no customers. Fix: check the event filter.")
        check_rfm(x, tx, T, caller)
        if not (x[w > 0] > 0).any():
            raise BadDataError(
                f"{caller}: no customer has a repeat purchase, so purchase rates and drop-out "
                f"cannot be estimated. Fix: use a longer calibration period."
            )
        if (T <= 0).all():
            raise BadDataError(
                f"{caller}: every customer has T = 0, so there is no time to observe repeat "
                f"purchases. Fix: use a later observation end."
            )
        cols, w = collapse({"x": x, "tx": tx, "T": T}, w)
        self._fit_stats = {"max_frequency": int(x.max()), "max_T": float(T.max())}
        return self._run_fit(cols, w)

    def _start(self, data):
        x, T, w = data["x"], data["T"], data["w"]
        rate = max(float(np.sum(w * x)), 1e-3) / max(float(np.sum(w * T)), 1e-9)
        return self._default_start(1.0 / rate)

    # -- predictions as tables -----------------------------------------------------------------
    def predict(self, rfm, *, t: float) -> pl.DataFrame:
        """The rfm table with ``p_alive`` and ``expected_purchases`` (over the next `t` units)."""
        caller = f"{type(self).__name__}.predict"
        self._check_fitted()
        frame = _as_frame(rfm, caller)
        _require(frame, self._COLUMNS, caller, "build the table with wb.rfm_summary(events)")
        x, tx, T = (_float_column(frame, c, caller) for c in self._COLUMNS)
        return frame.with_columns(
            pl.Series("p_alive", self.conditional_probability_alive(x, tx, T)),
            pl.Series(
                "expected_purchases",
                self.conditional_expected_number_of_purchases_up_to_time(t, x, tx, T),
            ),
        )

    def holdout_table(self, rfm, *, max_frequency: int = 7) -> pl.DataFrame:
        """Mean actual vs predicted holdout purchases by calibration frequency.

        Customers are grouped by calibration frequency 0, 1, ..., ``max_frequency`` (the last
        group is "max_frequency or more"); the prediction is the model's conditional expectation
        over ``duration_holdout``. Columns: frequency, label, n_customers, actual, predicted.
        """
        caller = f"{type(self).__name__}.holdout_table"
        self._check_fitted()
        frame = _as_frame(rfm, caller)
        fix = "build the table with wb.rfm_summary(events, calibration_end=...)"
        _require(frame, (*self._COLUMNS, "frequency_holdout", "duration_holdout"), caller, fix)
        if not (isinstance(max_frequency, int) and max_frequency >= 1):
            raise BadParameterError(
                f"{caller}: max_frequency={max_frequency!r} must be an int >= 1."
            )
        x, tx, T, dur = (
            _float_column(frame, c, caller) for c in (*self._COLUMNS, "duration_holdout")
        )
        predicted = self.conditional_expected_number_of_purchases_up_to_time(dur, x, tx, T)
        table = (
            pl.DataFrame(
                {
                    "frequency": np.minimum(x, max_frequency).astype(np.int64),
                    "actual": frame["frequency_holdout"].cast(pl.Float64),
                    "predicted": predicted,
                }
            )
            .group_by("frequency")
            .agg(pl.len().alias("n_customers"), pl.col("actual").mean(), pl.col("predicted").mean())
            .sort("frequency")
        )
        label = (
            pl.when(pl.col("frequency") == max_frequency)
            .then(pl.format("{}+", pl.col("frequency")))
            .otherwise(pl.col("frequency").cast(pl.String))
        )
        return table.select(
            "frequency",
            label.alias("label"),
            pl.col("n_customers").cast(pl.Int64),
            "actual",
            "predicted",
        )

    def _grid(self, max_frequency, max_recency):
        stats = self._fit_stats
        max_frequency = stats["max_frequency"] if max_frequency is None else int(max_frequency)
        max_recency = int(np.floor(stats["max_T"])) if max_recency is None else int(max_recency)
        f, r = np.meshgrid(np.arange(max_frequency + 1), np.arange(max_recency + 1), indexing="ij")
        f, r = f.ravel().astype(float), r.ravel().astype(float)
        keep = ~((f == 0) & (r > 0))  # a customer without repeats has recency 0
        return f[keep], r[keep], float(max_recency)

    def probability_alive_matrix(self, *, max_frequency=None, max_recency=None) -> pl.DataFrame:
        """P(alive) for every (frequency, recency) on a grid, for customers of age T = max_recency.

        Defaults: the largest frequency and age seen in the fit. Tidy: frequency, recency, T,
        p_alive.
        """
        self._check_fitted()
        f, r, T = self._grid(max_frequency, max_recency)
        return pl.DataFrame(
            {
                "frequency": f.astype(np.int64),
                "recency": r,
                "T": np.full(len(f), T),
                "p_alive": self.conditional_probability_alive(f, r, T),
            }
        )

    def expected_purchases_matrix(
        self, *, t: float = 1.0, max_frequency=None, max_recency=None
    ) -> pl.DataFrame:
        """Expected purchases over the next `t` units on a (frequency, recency) grid, T = max_recency.

        Tidy: frequency, recency, T, t, expected_purchases.
        """
        self._check_fitted()
        f, r, T = self._grid(max_frequency, max_recency)
        return pl.DataFrame(
            {
                "frequency": f.astype(np.int64),
                "recency": r,
                "T": np.full(len(f), T),
                "t": np.full(len(f), float(t)),
                "expected_purchases": self.conditional_expected_number_of_purchases_up_to_time(
                    t, f, r, T
                ),
            }
        )
