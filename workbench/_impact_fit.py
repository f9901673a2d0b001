"""Rate models behind `event_impact`: tenure-banded hazards with a window effect.

Each group (the segment, or the control) is fitted on its own. Customer-time is cut into cells
k, each in one tenure band b(k) and with d_kj days in window part j (j = 0 baseline before the
event, 1 the after window, and for paid periods 2 the time after the window). The daily hazard
in cell k, part j is exp(alpha_b(k) + beta_j) with beta_0 = 0, so exp(beta_1) is the hazard
ratio of the after window against the baseline among customers of the same tenure.

- Exact churn days (``interval=False``): churns y_kj are Poisson with mean
  d_kj exp(alpha_b + beta_j), the piecewise-exponential model (a Poisson GLM with a log-exposure
  offset).
- Paid periods (``interval=True``): cell k holds n_k renewal units with identical day counts, y_k
  of which ended in churn. A unit ends in churn when the latent lifetime ends inside it, with
  probability 1 - exp(-H_k), H_k = sum_j d_kj exp(alpha_b + beta_j): the churn is only known to
  lie somewhere in the last paid period (interval censoring).

Both are fitted by maximum likelihood with Fisher scoring and step halving; the covariance is
the inverse Fisher information.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps


def band_edges(
    tenure_events: np.ndarray, churned: np.ndarray, edges: tuple[float, ...], min_events: int = 10
) -> list[float]:
    """Merge adjacent tenure bands (days) until each holds at least `min_events` churns.

    `tenure_events`: tenure (days) of each churn or unit; `churned`: its churn count (0/1 or
    counts). Returns the kept edges, starting at 0 and ending with inf.
    """
    counts = np.histogram(tenure_events, bins=np.asarray(edges), weights=churned)[0]
    kept = [edges[0]]
    acc = 0.0
    for i, c in enumerate(counts):
        acc += c
        if acc >= min_events and i < len(counts) - 1:
            kept.append(edges[i + 1])
            acc = 0.0
    if acc < min_events and len(kept) > 1:  # too few in the last band: merge it downwards
        kept.pop()
    kept.append(edges[-1])
    return kept


def fit_banded(
    days: np.ndarray,
    band: np.ndarray,
    y: np.ndarray,
    n: np.ndarray | None = None,
    *,
    max_iter: int = 200,
    tol: float = 1e-9,
):
    """Maximum likelihood of the banded model.

    `days` (cells x parts), `band` (cells,) integer band of each cell. Poisson when `n` is None
    (`y` has shape cells x parts); interval-censored units otherwise (`y` and `n` per cell).
    Parts without exposure must be left out by the caller. Returns (theta, covariance,
    converged) with theta = (alpha_0 .. alpha_{B-1}, beta_1 .. beta_{J-1}).
    """
    days = np.asarray(days, dtype=float)
    band = np.asarray(band, dtype=np.int64)
    y = np.asarray(y, dtype=float)
    interval = n is not None
    k, parts = days.shape
    bands = int(band.max()) + 1
    p = bands + parts - 1
    x = np.zeros((k, parts, p))
    x[np.arange(k), :, band] = 1.0
    for j in range(1, parts):
        x[:, j, bands + j - 1] = 1.0
    theta = np.zeros(p)
    for b in range(bands):
        sel = band == b
        churns = y[sel].sum()
        theta[b] = math.log(
            max(churns, 0.5)
            / max(float(((n[sel, None] if interval else 1) * days[sel]).sum()), 1e-9)
        )

    def mu_of(t):
        return days * np.exp(x @ t)

    if interval:
        nn = np.asarray(n, dtype=float)

        def loglik(t):
            h = mu_of(t).sum(axis=1)
            with np.errstate(divide="ignore"):
                churn = np.where(y > 0, y * np.log(-np.expm1(-h)), 0.0)
            return float(churn.sum() - ((nn - y) * h).sum())

        def score_info(t):
            mu = mu_of(t)
            g = np.einsum("kj,kjp->kp", mu, x)
            em1 = np.expm1(mu.sum(axis=1))
            return g.T @ (y / em1 - (nn - y)), g.T @ ((nn / em1)[:, None] * g)
    else:

        def loglik(t):
            mu = mu_of(t)
            with np.errstate(divide="ignore"):
                lg = np.where(y > 0, y * np.log(np.where(mu > 0, mu, 1.0)), 0.0)
            return float(lg.sum() - mu.sum())

        def score_info(t):
            mu = mu_of(t)
            grad = np.einsum("kj,kjp->p", y - mu, x)
            return grad, np.einsum("kj,kjp,kjq->pq", mu, x, x)

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
        cand, value = theta + step, loglik(theta + step)
        while value < current - 1e-12 and scale > 1e-6:
            scale /= 2
            cand = theta + scale * step
            value = loglik(cand)
        theta, current = cand, value
        if np.max(np.abs(scale * step)) < tol:
            converged = True
            break
    _, info = score_info(theta)
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return theta, np.full((p, p), np.nan), False
    if not np.all(np.isfinite(cov)) or np.any(np.diag(cov) > 1e4):
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
