"""One-off buyers: BG/NBD purchase times, comebacks, categories (with drop-outs) and spend.

BG/NBD: while alive, customer i buys as a Poisson process with rate lambda_i ~ Gamma(r, alpha)
(per day); after each repeat purchase they drop out with probability p_i ~ Beta(a, b). The first
purchase opens the process. A share of dropped-out customers comes back after a long gap and
starts a fresh process with the same lambda_i and p_i.
"""

from __future__ import annotations

import numpy as np

from . import sample_params as P
from .sample_campaigns import outside_windows
from .sample_customers import Customers


def _bgnbd(rng: np.random.Generator, cust, start, rate, dropout):
    """Purchase times of one BG/NBD spell per customer; returns (cust, t, last t, dropped)."""
    out_c, out_t = [cust], [start]
    t = start.copy()
    last = start.copy()
    dropped = np.zeros(cust.size, dtype=bool)
    lives = rng.geometric(dropout)  # repeat purchases up to and including the last one
    count = np.zeros(cust.size, dtype=np.int64)
    act = np.arange(cust.size)
    while act.size:
        t_next = t[act] + rng.exponential(1.0 / rate[act])
        ok = t_next < P.HORIZON
        act, t_next = act[ok], t_next[ok]
        t[act] = t_next
        last[act] = t_next
        count[act] += 1
        out_c.append(cust[act])
        out_t.append(t_next)
        dies = count[act] >= lives[act]
        dropped[act[dies]] = True
        act = act[~dies]
    return np.concatenate(out_c), np.concatenate(out_t), last, dropped


def purchase_times(rng: np.random.Generator, c: Customers):
    """(customer index, time) of every goods purchase of one-off buyers; and comeback ids."""
    cur = np.flatnonzero((c.plan == P.PLANS.index("none")) & (c.first_purchase <= P.AS_OF_DAY))
    cust_all, t_all = [], []
    comeback = P.BUYER_COMEBACK
    start = c.first_purchase[cur]
    returned = []
    for spell in range(2):
        cu, t, last, dropped = _bgnbd(rng, cur, start, c.rate[cur], c.dropout[cur])
        cust_all.append(cu)
        t_all.append(t)
        if spell == 1:
            break
        back = dropped & (rng.random(cur.size) < comeback["probability"])
        gap = rng.uniform(comeback["min_gap_days"], comeback["max_gap_days"], cur.size)
        restart = outside_windows(last + gap, rng)
        keep = back & (restart <= P.AS_OF_DAY)
        cur, start = cur[keep], restart[keep]
        returned.append(cur)
    cust = np.concatenate(cust_all)
    t = np.concatenate(t_all)
    keep = t <= P.AS_OF_DAY
    return cust[keep], t[keep], np.concatenate(returned) if returned else np.array([], int)


def categories(rng: np.random.Generator, c: Customers, cust: np.ndarray, t: np.ndarray):
    """Category code of each goods purchase, and the generated category drop-outs.

    A share of customers with at least CATEGORY_DROPOUT["min_purchases"] purchases stops buying
    their favourite category from the midpoint of their purchases on (their first two purchases
    are in that category); they keep buying the other categories.
    """
    order = np.lexsort((t, cust))
    cs, ts = cust[order], t[order]
    n_by = np.bincount(cs, minlength=c.n)
    first_pos = np.cumsum(n_by) - n_by
    rank = np.arange(cs.size) - first_pos[cs]

    cd = P.CATEGORY_DROPOUT
    cand = np.flatnonzero(n_by >= cd["min_purchases"])
    chosen = cand[rng.random(cand.size) < cd["share"]]
    is_drop = np.zeros(c.n, dtype=bool)
    is_drop[chosen] = True
    fav = c.prefs.argmax(axis=1)
    mid = n_by // 2
    drop_t = np.full(c.n, np.inf)
    pos = first_pos[chosen] + mid[chosen]
    drop_t[chosen] = (ts[pos - 1] + ts[pos]) / 2

    probs = c.prefs[cs].copy()
    after = is_drop[cs] & (rank >= mid[cs])
    probs[after, fav[cs[after]]] = 0.0
    probs /= probs.sum(axis=1, keepdims=True)
    u = rng.random(cs.size)
    code = (u[:, None] > np.cumsum(probs, axis=1)).sum(axis=1)
    code = np.minimum(code, len(P.CATEGORIES) - 1)
    forced = is_drop[cs] & (rank < 2)
    code[forced] = fav[cs[forced]]
    out = np.empty_like(code)
    out[order] = code
    return out, chosen, fav[chosen], drop_t[chosen]


def amounts(rng: np.random.Generator, c: Customers, cust: np.ndarray) -> np.ndarray:
    """Gamma-gamma spend: z ~ Gamma(p, nu_i), nu_i ~ Gamma(q, gamma); rounded to cents."""
    z = rng.gamma(P.GAMMA_GAMMA["p"], 1.0 / c.spend_nu[cust])
    return np.maximum(np.round(z, 2), 0.5)
