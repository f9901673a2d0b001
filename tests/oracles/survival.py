"""Reference Kaplan-Meier (product-limit) estimator, median, RMST and horizon reads, by hand."""

from __future__ import annotations

import math
from fractions import Fraction


def km(rows, *, weight=lambda r: 1.0) -> list[dict]:
    """rows: dicts with duration_days, churned. One step per distinct time (and t = 0):
    t, at_risk (duration >= t), events, censored, survival, and the Greenwood sum so far.
    Survival is an exact fraction (integer weights), so an exact half is exactly 0.5."""
    times = sorted({0.0} | {float(r["duration_days"]) for r in rows})
    s, green, out = Fraction(1), 0.0, []
    for t in times:
        n = sum(weight(r) for r in rows if r["duration_days"] >= t)
        d = sum(weight(r) for r in rows if r["duration_days"] == t and r["churned"])
        c = sum(weight(r) for r in rows if r["duration_days"] == t and not r["churned"])
        if n > 0:
            s *= 1 - Fraction(d) / Fraction(n)
            if d > 0 and n > d:
                green += d / (n * (n - d))
        out.append(
            {"t": t, "at_risk": n, "events": d, "censored": c, "survival": s, "greenwood": green}
        )
    for st in out:
        st["exact"], st["survival"] = st["survival"], float(st["survival"])
    return out


def loglog_ci(step: dict, z: float) -> tuple[float, float] | None:
    """Exponential Greenwood interval S^exp(+-z sqrt(V) / log S); None where undefined."""
    s, v = step["survival"], step["greenwood"]
    if not 0 < s < 1:
        return None
    se = math.sqrt(v) / abs(math.log(s))
    return s ** math.exp(z * se), s ** math.exp(-z * se)


def survival_at(steps, h: float):
    """S(h) of the right-continuous step function; None past the last time while S > 0."""
    if h > steps[-1]["t"] and steps[-1]["survival"] > 0:
        return None
    value = 1.0
    for st in steps:
        if st["t"] <= h:
            value = st["survival"]
    return value


def median(steps):
    for st in steps:
        if st["exact"] <= Fraction(1, 2):
            return st["t"]
    return None


def rmst(steps, tau: float):
    """(area under S on [0, tau], standard error) or None when follow-up ends before tau with
    S > 0. Variance: sum over churn days t_i <= tau of A_i^2 d_i / (n_i (n_i - d_i)), A_i the
    area under S from t_i to tau."""
    if tau > steps[-1]["t"] and steps[-1]["survival"] > 0:
        return None

    def area_from(a: float) -> float:
        total = 0.0
        for i, st in enumerate(steps):
            lo = max(st["t"], a)
            hi = min(steps[i + 1]["t"] if i + 1 < len(steps) else math.inf, tau)
            if hi > lo:
                total += st["survival"] * (hi - lo)
        return total

    var = 0.0
    for st in steps:
        n, d = st["at_risk"], st["events"]
        if st["t"] < tau and d > 0 and n > d:
            var += area_from(st["t"]) ** 2 * d / (n * (n - d))
    return area_from(0.0), math.sqrt(var)
