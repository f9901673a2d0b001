"""Rate models behind `event_impact`: interval-censored renewals, exact Poisson counts, contrasts.

Interval-censored renewal model (paid periods). A unit k has d_kj days in part j (j = baseline,
after window, after the window) and ends in churn with probability

    P_k = 1 - exp(-sum_j d_kj * exp(theta_j)),

the chance that a latent exponential lifetime with hazard exp(theta_j) per day in part j ends
inside the unit. theta is fitted by maximum likelihood (Fisher scoring on the distinct day
combinations, with step halving); the covariance is the inverse Fisher information.

Exact churn days: the log-rate of a window is log(churns / exposure), the maximum likelihood of
a Poisson model with a log(exposure) offset, with variance 1 / churns.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps


def fit_interval(days: np.ndarray, n: np.ndarray, y: np.ndarray, *, max_iter: int = 200,
                 tol: float = 1e-9) -> tuple[np.ndarray, np.ndarray, bool]:
    """Maximum likelihood log-rates (per day) of the interval-censored renewal model.

    `days`: (cells x parts) day counts; `n`: units per cell; `y`: churned units per cell.
    Returns (theta, covariance, converged). Parts without any days must be left out by the
    caller. A part whose rate runs to zero (no churn can be attributed to it) does not converge.
    """
    days, n, y = (np.asarray(v, dtype=float) for v in (days, n, y))
    parts = days.shape[1]
    total = float((n[:, None] * days).sum())
    theta = np.full(parts, math.log(max(y.sum(), 0.5) / total))

    def loglik(t: np.ndarray) -> float:
        h = days @ np.exp(t)
        with np.errstate(divide="ignore"):
            churn = np.where(y > 0, y * np.log(-np.expm1(-h)), 0.0)
        return float(churn.sum() - ((n - y) * h).sum())

    def score_info(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mu = days * np.exp(t)  # d H_k / d theta_j
        h = mu.sum(axis=1)
        em1 = np.expm1(h)
        dl = y / em1 - (n - y)
        w = n / em1  # Fisher information of H_k
        return mu.T @ dl, mu.T @ (w[:, None] * mu)

    current = loglik(theta)
    converged = False
    for _ in range(max_iter):
        grad, info = score_info(theta)
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError:
            break
        step = np.clip(step, -5.0, 5.0)
        scale = 1.0
        while scale > 1e-6:
            cand = theta + scale * step
            value = loglik(cand)
            if value >= current - 1e-12:
                break
            scale /= 2
        theta, current = cand, value
        if np.max(np.abs(scale * step)) < tol:
            converged = True
            break
    _, info = score_info(theta)
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        cov = np.full((parts, parts), np.nan)
        converged = False
    if not np.all(np.isfinite(cov)) or np.any(np.diag(cov) > 1e6):
        converged = False
    return theta, cov, converged


def wald(estimate: float, variance: float, level: float) -> tuple[float, float, float, float]:
    """exp(estimate) with its normal interval and two-sided p-value, from the log scale."""
    if not (math.isfinite(estimate) and math.isfinite(variance) and variance > 0):
        return (math.nan,) * 4
    se = math.sqrt(variance)
    z = sps.norm.ppf(0.5 + level / 2)
    p = 2 * sps.norm.sf(abs(estimate) / se)
    return math.exp(estimate), math.exp(estimate - z * se), math.exp(estimate + z * se), float(p)


def exact_rate_ratio(y_after: int, e_after: float, y_before: int, e_before: float,
                     level: float) -> tuple[float, float, float, float]:
    """Rate ratio (y_a / e_a) / (y_b / e_b) with the exact conditional interval and p-value.

    Given the total churn count, the after-window count is binomial with success probability
    pi = RR e_a / (RR e_a + e_b); the Clopper-Pearson interval of pi maps onto RR, and the
    p-value is the two-sided binomial test of RR = 1 (pi = e_a / (e_a + e_b)).
    """
    total = y_after + y_before
    if total == 0 or e_after <= 0 or e_before <= 0:
        return (math.nan,) * 4
    alpha = 1 - level
    lo = sps.beta.ppf(alpha / 2, y_after, total - y_after + 1) if y_after > 0 else 0.0
    hi = sps.beta.ppf(1 - alpha / 2, y_after + 1, total - y_after) if y_after < total else 1.0
    odds = e_before / e_after

    def ratio(pi: float) -> float:
        return math.inf if pi >= 1 else pi / (1 - pi) * odds

    est = ratio(y_after / total)
    p = sps.binomtest(y_after, total, e_after / (e_after + e_before)).pvalue
    return (est if math.isfinite(est) else math.nan, ratio(lo),
            ratio(hi) if math.isfinite(ratio(hi)) else math.nan, float(p))


def poisson_log_rates(y: float, e: float) -> tuple[float, float]:
    """log(y / e) and its variance 1 / y (NaN without churn or exposure)."""
    if y <= 0 or e <= 0:
        return math.nan, math.nan
    return math.log(y / e), 1.0 / y
