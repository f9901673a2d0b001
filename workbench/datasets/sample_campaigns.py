"""Randomised win-back campaigns with a known causal effect on returning within the window.

Eligible: customers whose last purchase before the send is more than `lapsed_days` old (a share
`targeted_share` of them is drawn when below 1; the later campaign excludes earlier recipients).
Exactly half (rounded down) go to treatment. Potential outcomes share one uniform draw u:
Y(control) = u < control_rate, Y(treatment) = u < control_rate + abs_lift. A return is a real
purchase event inside (sent_ts, sent_ts + window_days]; an eligible customer's own purchases in
that window are replaced by this outcome, so the return rates are known exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import sample_params as P


@dataclass
class CampaignDraw:
    campaign_id: str
    sent: float
    cust: np.ndarray
    treated: np.ndarray
    offer: np.ndarray  # codes into the campaign's offers
    channel: np.ndarray  # codes into the campaign's channels
    returned: np.ndarray
    return_t: np.ndarray


def outside_windows(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Move restarts out of campaign return windows (returns there are the campaign's own)."""
    for camp in P.CAMPAIGNS:
        lo = P.day_of(camp["sent_ts"])
        hi = lo + camp["window_days"] + 1
        inside = (t >= lo) & (t < hi)
        t = np.where(inside, hi + rng.uniform(0, 14, len(t)), t)
    return t


def run_campaigns(rng: np.random.Generator, n: int, pur_cust: np.ndarray, pur_t: np.ndarray):
    """Apply the campaigns in order to the purchase times.

    `pur_cust`/`pur_t` are all purchases (subscription payments included); returns the goods
    purchases to drop (mask over those arrays) and the campaign draws. Only one-off purchases in
    the window are removable; subscription restarts are generated outside the windows.
    """
    removed = np.zeros(pur_t.size, dtype=bool)
    draws: list[CampaignDraw] = []
    seen = np.zeros(n, dtype=bool)
    extra_c, extra_t = np.array([], dtype=np.int64), np.array([], dtype=np.float64)
    for camp in P.CAMPAIGNS:
        sent = P.day_of(camp["sent_ts"])
        all_c = np.concatenate([pur_cust[~removed], extra_c])
        all_t = np.concatenate([pur_t[~removed], extra_t])
        before = all_t <= sent
        last = np.full(n, -np.inf)
        np.maximum.at(last, all_c[before], all_t[before])
        eligible = np.isfinite(last) & (last < sent - camp["lapsed_days"])
        if camp is not P.CAMPAIGNS[0]:
            eligible &= ~seen
        idx = np.flatnonzero(eligible)
        if camp["targeted_share"] < 1:
            idx = idx[rng.random(idx.size) < camp["targeted_share"]]
        seen[idx] = True
        treated = np.zeros(idx.size, dtype=bool)
        treated[rng.permutation(idx.size)[: idx.size // 2]] = True
        offer = rng.integers(0, len(camp["offers"]), idx.size)
        channel = rng.choice(len(camp["channels"]), size=idx.size, p=camp["channel_shares"])
        u = rng.random(idx.size)
        p = camp["control_rate"] + np.where(treated, camp["abs_lift"], 0.0)
        returned = u < p
        return_t = sent + rng.uniform(0.5, camp["window_days"] - 0.5, idx.size)
        hi = sent + camp["window_days"]
        in_window = np.isin(pur_cust, idx) & (pur_t > sent) & (pur_t <= hi)
        removed |= in_window
        extra_c = np.concatenate([extra_c, idx[returned]])
        extra_t = np.concatenate([extra_t, return_t[returned]])
        draws.append(
            CampaignDraw(
                camp["campaign_id"], sent, idx, treated, offer, channel, returned, return_t
            )
        )
    return removed, draws
