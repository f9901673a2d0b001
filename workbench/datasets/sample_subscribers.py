"""Subscriber lifetimes (proportional hazards in continuous time) and monthly paid periods.

Hazard of customer i at calendar time t (per day):
    h_i(t) = h0 * exp(x_i' beta) * HR_activation^onboarded * quality_i * m_g(t)
with h0 = BASELINE_MONTHLY_HAZARD / MONTH_DAYS, x_i = (channel, plan, early_support_contacts),
quality_i the social-cohort multiplier and m_g(t) the business-event multipliers of the customer's
profile g = (plan is basic, country is DE). A lifetime is drawn by inverting the cumulative hazard
at an Exp(1) draw. The customer pays every monthly period that starts before the lifetime ends.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import sample_params as P
from .sample_campaigns import outside_windows
from .sample_customers import Customers
from .sample_time import add_months, months_started


@dataclass
class Spells:
    """One row per subscription spell (a first subscription or a reactivation)."""

    cust: np.ndarray
    number: np.ndarray  # 1 for the first spell, 2.. for reactivations
    start: np.ndarray
    churn: np.ndarray  # latent end of the lifetime (may lie after the data end)
    n_periods: np.ndarray  # paid periods (including any after the data end)
    paid_until: np.ndarray  # end of the last paid period


def static_hazard(c: Customers) -> np.ndarray:
    """Per-day hazard of each customer before business-event multipliers."""
    hr = P.HAZARD_RATIOS
    h = np.full(c.n, P.BASELINE_MONTHLY_HAZARD / P.MONTH_DAYS)
    h *= np.where(c.channel == P.CHANNELS.index("paid_search"), hr["channel[paid_search]"], 1.0)
    h *= np.where(c.channel == P.CHANNELS.index("social"), hr["channel[social]"], 1.0)
    h *= np.where(c.plan == P.PLANS.index("pro"), hr["plan[pro]"], 1.0)
    h *= hr["early_support_contacts"] ** c.early_support
    h *= np.where(c.onboarded, P.ACTIVATION["hazard_ratio"], 1.0)
    return h


def _profiles() -> np.ndarray:
    """Daily multiplier m_g(day) for the four profiles g = 2 * is_basic + is_de."""
    n_days = int(P.HORIZON)
    m = np.ones((4, n_days))
    days = np.arange(n_days)
    for key, ann in P.ANNOTATIONS.items():
        lo = P.day_of(ann["effect_start"])
        hi = P.day_of(ann["effect_end"]) if ann["effect_end"] else np.inf
        on = (days >= lo) & (days < hi)
        for g in range(4):
            is_basic, is_de = g >= 2, g % 2 == 1
            if key == "tariff_change" and not is_basic:
                continue
            if key == "competitor_launch" and not is_de:
                continue
            m[g, on] *= ann["hazard_multiplier"]
    return m


_MULT = _profiles()
_CUM = np.concatenate([np.zeros((4, 1)), np.cumsum(_MULT, axis=1)], axis=1)
_GRID = np.arange(_CUM.shape[1], dtype=np.float64)


def _cum(g: int, t: np.ndarray) -> np.ndarray:
    """Integral of m_g from 0 to t (m_g stays at its last value after the data end)."""
    cum = _CUM[g]
    inside = np.interp(t, _GRID, cum)
    return np.where(t <= _GRID[-1], inside, cum[-1] + (t - _GRID[-1]) * _MULT[g, -1])


def _cum_inverse(g: int, target: np.ndarray) -> np.ndarray:
    cum = _CUM[g]
    inside = np.interp(target, cum, _GRID)
    return np.where(target <= cum[-1], inside, _GRID[-1] + (target - cum[-1]) / _MULT[g, -1])


def churn_time(start, exp_draw, hazard, profile, early_mult, early_days):
    """Time t with integral_start^t h(u) du = exp_draw (exact for piecewise-constant m_g).

    The static hazard is multiplied by `early_mult` during the first `early_days` of tenure.
    """
    out = np.empty_like(start)
    for g in range(4):
        sel = profile == g
        if not sel.any():
            continue
        s, e, h, q = start[sel], exp_draw[sel], hazard[sel], early_mult[sel]
        g0 = _cum(g, s)
        g1 = _cum(g, s + early_days)
        early_mass = q * (g1 - g0)  # integrated hazard / h over the early tenure
        need = e / h
        early = need <= early_mass
        t_early = _cum_inverse(g, g0 + need / q)
        t_late = _cum_inverse(g, g1 + need - early_mass)
        out[sel] = np.where(early, t_early, t_late)
    return out


def make_spells(rng: np.random.Generator, c: Customers) -> Spells:
    hazard = static_hazard(c)
    profile = 2 * (c.plan == P.PLANS.index("basic")) + (c.country == P.COUNTRIES.index("DE"))
    cur = np.flatnonzero((c.plan != P.PLANS.index("none")) & (c.first_purchase <= P.AS_OF_DAY))
    start = c.first_purchase[cur]
    react = P.SUBSCRIBER_REACTIVATION
    cq = P.CHANNEL_QUALITY
    quality = np.where(c.late_social, cq["hazard_multiplier"], 1.0)
    quality_days = cq["tenure_days"]
    parts = []
    number = 1
    while cur.size:
        e = rng.exponential(size=cur.size)
        churn = churn_time(start, e, hazard[cur], profile[cur], quality[cur], quality_days)
        n_periods = months_started(start, churn)
        paid_until = add_months(start, n_periods)
        parts.append((cur, np.full(cur.size, number), start, churn, n_periods, paid_until))
        comes_back = (churn <= P.AS_OF_DAY) & (rng.random(cur.size) < react["probability"])
        gap = react["min_gap_days"] + 1 + rng.exponential(react["mean_extra_gap_days"], cur.size)
        restart = outside_windows(paid_until + gap, rng)
        keep = comes_back & (restart <= P.AS_OF_DAY)
        cur, start, number = cur[keep], restart[keep], number + 1
    if not parts:
        i, f = np.array([], dtype=np.int64), np.array([], dtype=np.float64)
        return Spells(i, i, f, f, i, f)
    return Spells(*(np.concatenate(x) for x in zip(*parts, strict=True)))


def periods(spells: Spells) -> tuple[np.ndarray, ...]:
    """Paid periods that start by the data end: (spell index, k, start, end)."""
    last_k = spells.n_periods.copy()
    # Only periods starting at or before AS_OF are observed.
    seen = months_started(spells.start, np.full(len(spells.start), P.AS_OF_DAY))
    n = np.minimum(last_k, seen)
    spell_idx = np.repeat(np.arange(len(n)), n)
    offsets = np.cumsum(n) - n
    k = np.arange(n.sum()) - np.repeat(offsets, n)
    s = spells.start[spell_idx]
    return spell_idx, k, add_months(s, k), add_months(s, k + 1)
