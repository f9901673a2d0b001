"""Shared statistics: Wilson intervals, two-proportion tests, multiple-testing adjustment.

Every function is vectorised: it takes scalars, lists, numpy arrays or polars Series and
returns numpy arrays (floats for scalar input). `wilson_exprs` builds the same interval as
polars expressions, for use inside lazy queries.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from scipy import stats as _st

from .errors import BadParameterError, bad_choice

WILSON_DEFINITION = (
    "Wilson score interval: the set of proportions p for which |x/n - p| <= z * sqrt(p(1-p)/n), "
    "with z the normal quantile for the confidence level. It stays inside [0, 1] and behaves "
    "well for small counts and rates near 0 or 1."
)

_ALTERNATIVES = ("two-sided", "larger", "smaller")


def z_value(level: float, *, caller: str = "z_value") -> float:
    """Two-sided normal quantile for a confidence `level` in (0, 1), e.g. 1.96 for 0.95."""
    if not isinstance(level, int | float) or not 0 < level < 1:
        raise BadParameterError(
            f"{caller}: level={level!r} must be a number strictly between 0 and 1. "
            f"Fix: pass e.g. level=0.95."
        )
    return float(_st.norm.ppf(0.5 + level / 2))


def _arr(values) -> np.ndarray:
    if isinstance(values, pl.Series):
        return values.cast(pl.Float64).to_numpy()
    return np.asarray(values, dtype=float)


def _out(arr: np.ndarray, scalar: bool):
    return float(arr) if scalar else arr


def _check_counts(x: np.ndarray, n: np.ndarray, caller: str) -> None:
    bad = (x < 0) | (n < 0) | (x > n)
    if np.any(bad & ~np.isnan(x) & ~np.isnan(n)):
        i = int(np.flatnonzero(bad)[0])
        raise BadParameterError(
            f"{caller}: successes must lie between 0 and trials; got successes={x.flat[i]:g}, "
            f"trials={n.flat[i]:g}. Fix: pass counts with 0 <= successes <= trials."
        )


def wilson_ci(successes, trials, level: float = 0.95):
    """Wilson score interval for proportions successes / trials, element-wise.

    Returns ``(low, high)``: floats for scalar input, numpy arrays otherwise. Cells with
    zero trials give NaN.
    """
    z = z_value(level, caller="wilson_ci")
    scalar = np.ndim(successes) == 0 and np.ndim(trials) == 0
    x, n = np.broadcast_arrays(_arr(successes), _arr(trials))
    _check_counts(x, n, "wilson_ci")
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / n
        z2n = z * z / n
        denom = 1 + z2n
        centre = (p + z2n / 2) / denom
        half = z / denom * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        # exact ends at x = 0 and x = n (the formula gives them up to rounding)
        low = np.where(n > 0, np.where(x == 0, 0.0, np.clip(centre - half, 0, 1)), np.nan)
        high = np.where(n > 0, np.where(x == n, 1.0, np.clip(centre + half, 0, 1)), np.nan)
    return _out(low, scalar), _out(high, scalar)


def wilson_exprs(successes: str | pl.Expr, trials: str | pl.Expr, level: float = 0.95):
    """The Wilson interval as two polars expressions ``(low, high)``; null where trials is 0."""
    z = z_value(level, caller="wilson_exprs")
    x = pl.col(successes) if isinstance(successes, str) else successes
    n = pl.col(trials) if isinstance(trials, str) else trials
    x, n = x.cast(pl.Float64), n.cast(pl.Float64)
    p = x / n
    z2n = z * z / n
    denom = 1 + z2n
    centre = (p + z2n / 2) / denom
    half = z / denom * (p * (1 - p) / n + z * z / (4 * n * n)).sqrt()
    low = pl.when(n > 0).then(pl.when(x == 0).then(0.0).otherwise((centre - half).clip(0.0, 1.0)))
    high = pl.when(n > 0).then(pl.when(x == n).then(1.0).otherwise((centre + half).clip(0.0, 1.0)))
    return low, high


def _check_alternative(alternative: str, caller: str) -> None:
    if alternative not in _ALTERNATIVES:
        raise bad_choice(caller, "alternative", alternative, _ALTERNATIVES)


def two_proportion_test(x1, n1, x2, n2, *, alternative: str = "two-sided"):
    """Pooled two-proportion z-test of p1 = x1/n1 against p2 = x2/n2, element-wise.

    z = (p1 - p2) / sqrt(p (1 - p) (1/n1 + 1/n2)) with p = (x1 + x2) / (n1 + n2).
    `alternative`: "two-sided", "larger" (p1 > p2) or "smaller" (p1 < p2).
    Returns ``(z, pvalue)``; NaN where a group is empty or the pooled rate is 0 or 1.
    """
    _check_alternative(alternative, "two_proportion_test")
    scalar = all(np.ndim(v) == 0 for v in (x1, n1, x2, n2))
    a, b, c, d = np.broadcast_arrays(_arr(x1), _arr(n1), _arr(x2), _arr(n2))
    _check_counts(a, b, "two_proportion_test")
    _check_counts(c, d, "two_proportion_test")
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (a + c) / (b + d)
        se = np.sqrt(pooled * (1 - pooled) * (1 / b + 1 / d))
        z = (a / b - c / d) / se
        z = np.where((b > 0) & (d > 0) & (se > 0), z, np.nan)
    if alternative == "two-sided":
        p = 2 * _st.norm.sf(np.abs(z))
    elif alternative == "larger":
        p = _st.norm.sf(z)
    else:
        p = _st.norm.cdf(z)
    return _out(z, scalar), _out(np.asarray(p, dtype=float), scalar)


def proportion_diff_ci(x1, n1, x2, n2, level: float = 0.95):
    """Newcombe's hybrid score interval for the difference p1 - p2, element-wise.

    Built from the two Wilson intervals (Newcombe 1998, method 10). Returns ``(low, high)``.
    """
    l1, u1 = wilson_ci(x1, n1, level)
    l2, u2 = wilson_ci(x2, n2, level)
    scalar = all(np.ndim(v) == 0 for v in (x1, n1, x2, n2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = _arr(x1) / _arr(n1), _arr(x2) / _arr(n2)
        d = p1 - p2
        low = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
        high = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return _out(np.asarray(low), scalar), _out(np.asarray(high), scalar)


def bh_adjust(pvalues):
    """Benjamini-Hochberg adjusted p-values (false discovery rate), in the input order.

    adjusted_(i) = min over j >= i of p_(j) * m / j on the ascending order, capped at 1.
    NaN p-values stay NaN and do not count towards m.
    """
    p = _arr(pvalues).ravel()
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        raise BadParameterError(
            "bh_adjust: p-values must lie in [0, 1]. Fix: pass raw p-values, not statistics."
        )
    q = p[ok]
    m = q.size
    if m:
        order = np.argsort(q, kind="mergesort")
        ranked = q[order] * m / np.arange(1, m + 1)
        ranked = np.minimum.accumulate(ranked[::-1])[::-1]
        adj = np.empty(m)
        adj[order] = np.minimum(ranked, 1.0)
        out[ok] = adj
    return out


def holm_adjust(pvalues):
    """Holm step-down adjusted p-values (family-wise error rate), in the input order."""
    p = _arr(pvalues).ravel()
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    m = q.size
    if m:
        order = np.argsort(q, kind="mergesort")
        ranked = np.maximum.accumulate(q[order] * (m - np.arange(m)))
        adj = np.empty(m)
        adj[order] = np.minimum(ranked, 1.0)
        out[ok] = adj
    return out


def normal_ci(estimate, std_error, level: float = 0.95):
    """Symmetric normal interval estimate -/+ z * std_error, element-wise."""
    z = z_value(level, caller="normal_ci")
    e, s = _arr(estimate), _arr(std_error)
    scalar = np.ndim(estimate) == 0 and np.ndim(std_error) == 0
    return _out(e - z * s, scalar), _out(e + z * s, scalar)


def is_finite_number(value) -> bool:
    """True for a real, finite int or float (bools excluded)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
