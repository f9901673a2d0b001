"""Reference overdue list, category drop-outs, RFM scores and ABC x XYZ classes, by hand.

Day lengths are exact: durations are compared as Fractions of a day (microseconds / 86.4e9),
so a tie on a threshold is a tie.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import timedelta
from fractions import Fraction

from . import churn as oc
from .gen import utc_day

US_PER_DAY = 86_400_000_000


def frac_days(td: timedelta) -> Fraction:
    us = (td.days * 86_400 + td.seconds) * 1_000_000 + td.microseconds
    return Fraction(us, US_PER_DAY)


def _buys(rows, as_of, event="purchase"):
    return [r for r in rows if r["event"] == event and r["ts"] <= as_of]


# -- overdue ------------------------------------------------------------------------------------


def usual_category(buys) -> dict:
    """customer -> category with most purchases; ties: most recent purchase, then A-Z."""
    per = defaultdict(lambda: defaultdict(list))
    for r in buys:
        if r["category"] is not None:
            per[r["customer_id"]][r["category"]].append(r["ts"])
    out = {}
    for c, cats in per.items():
        out[c] = sorted(cats, key=lambda g: (-len(cats[g]), -max(cats[g]).timestamp(), g))[0]
    return out


def overdue(
    rows, *, as_of, k, min_purchases=2, prior_strength=3.0, horizon_days=90.0, max_days_since=None
) -> dict:
    """customer -> row of the model=None overdue table (overdue: days since >= k x typical)."""
    day = utc_day(as_of)
    cyc = oc.purchase_cycles(rows, as_of_day=day, prior_strength=prior_strength)
    buys = _buys(rows, as_of)
    spend = defaultdict(list)
    for r in buys:
        spend[r["customer_id"]].append(r["amount"] or 0.0)
    cats = usual_category(buys)
    out = {}
    for c, v in cyc.items():
        t = v["typical_gap_days"]
        if v["n_purchases"] < min_purchases or t is None:
            continue
        # the typical gap is exp(log(...)): read to 1e-9 days, so an exact rhythm stays exact
        if v["days_since_last"] < k * t - 1e-9:
            continue
        if max_days_since is not None and v["days_since_last"] > max_days_since:
            continue
        mean_spend = sum(spend[c]) / len(spend[c])
        out[c] = {
            "category": cats.get(c),
            "n_purchases": v["n_purchases"],
            "last_purchase": v["last_purchase"],
            "typical_gap_days": t,
            "expected_next": v["expected_next"],
            "days_since_last": v["days_since_last"],
            "overdue_ratio": v["overdue_ratio"],
            "days_overdue": (day - v["expected_next"]).days,
            "expected_purchases": horizon_days / t,
            "expected_spend": mean_spend,
            "value_at_stake": mean_spend * horizon_days / t,
        }
    return out


# -- category drop-outs -------------------------------------------------------------------------


def category_dropouts(
    rows,
    *,
    as_of,
    m=3,
    k=3.0,
    min_window_days=30,
    reference_days=None,
    min_other=1,
    min_share=0.5,
    min_switches=3,
) -> dict:
    """(customer, category) -> row, following the category_dropouts docstring."""
    buys = [r for r in _buys(rows, as_of) if r["category"] is not None]
    per = defaultdict(list)
    for r in buys:
        per[r["customer_id"]].append(r)
    k, min_share = Fraction(k), Fraction(min_share)
    out = {}
    for c, mine in per.items():
        for g in sorted({r["category"] for r in mine}):
            ts = sorted(r["ts"] for r in mine if r["category"] == g)
            n = len(ts)
            if n < m:
                continue
            cycle = frac_days(ts[-1] - ts[0]) / (n - 1)
            if cycle <= 0:
                continue  # every purchase at one instant: no cycle
            window = max(k * cycle, Fraction(min_window_days))
            since = frac_days(as_of - ts[-1])
            if since < window:
                continue  # bought in the recent window

            def age(r):
                return frac_days(as_of - r["ts"])

            def in_ref(r, window=window):
                a = age(r)
                return a >= window and (reference_days is None or a < window + reference_days)

            cat_ref = sum(1 for r in mine if r["category"] == g and in_ref(r))
            ref_all = sum(1 for r in mine if in_ref(r) and r["ts"] <= ts[-1])
            other_recent = sum(1 for r in mine if r["category"] != g and age(r) < window)
            switches = sum(1 for r in mine if r["category"] != g and r["ts"] > ts[-1])
            share = Fraction(cat_ref, ref_all) if ref_all else None
            if (
                cat_ref >= m
                and share is not None
                and share >= min_share
                and other_recent >= min_other
                and switches >= min_switches
            ):
                out[(c, g)] = {
                    "category_purchases": cat_ref,
                    "category_share": float(share),
                    "category_cycle_days": float(cycle),
                    "last_category_purchase": ts[-1],
                    "days_since_category": float(since),
                    "recent_window_days": float(window),
                    "other_purchases_recent": other_recent,
                    "switches": switches,
                    "gap_ratio": float(since / cycle),
                }
    return out


# -- RFM -----------------------------------------------------------------------------------------


def _scores(values: dict) -> dict:
    """1 + floor(5 (rank - 1) / n), rank = 1 + number of strictly smaller values."""
    n = len(values)
    out = {}
    for c, v in values.items():
        rank = 1 + sum(1 for w in values.values() if w < v)
        out[c] = 1 + (5 * (rank - 1)) // n
    return out


def rfm_scores(rows, *, as_of, monetary="total", rules=None) -> dict:
    per = defaultdict(list)
    for r in _buys(rows, as_of):
        per[r["customer_id"]].append(r)
    rec = {c: frac_days(as_of - max(r["ts"] for r in v)) for c, v in per.items()}
    freq = {c: len(v) for c, v in per.items()}
    total = {c: sum(r["amount"] or 0.0 for r in v) for c, v in per.items()}
    mon = {c: round(total[c] if monetary == "total" else total[c] / freq[c], 6) for c in per}
    r_s = _scores({c: -v for c, v in rec.items()})
    f_s = _scores(freq)
    m_s = _scores(mon)
    out = {}
    for c in per:
        seg = None
        for rule in rules or []:
            if (
                rule["r_min"] <= r_s[c] <= rule["r_max"]
                and rule["f_min"] <= f_s[c] <= rule["f_max"]
            ):
                seg = rule["segment"]
                break
        out[c] = {
            "recency_days": float(rec[c]),
            "frequency": freq[c],
            "monetary": mon[c],
            "r_score": r_s[c],
            "f_score": f_s[c],
            "m_score": m_s[c],
            "rfm_score": f"{r_s[c]}{f_s[c]}{m_s[c]}",
            "segment": seg,
        }
    return out


# -- ABC x XYZ -----------------------------------------------------------------------------------


def abc_xyz(
    rows, *, as_of, period_days, n_periods=12, abc=(0.8, 0.15, 0.05), xyz=(0.5, 1.0), min_periods=3
) -> dict:
    length = timedelta(days=period_days)
    buys = _buys(rows, as_of)
    first = {}
    counts = defaultdict(lambda: [0] * n_periods)
    revenue = defaultdict(float)
    for r in buys:
        c = r["customer_id"]
        first[c] = min(first.get(c, r["ts"]), r["ts"])
        j = (as_of - r["ts"]) // length  # period j covers (as_of - (j+1)L, as_of - jL]
        if j < n_periods:
            counts[c][j] += 1
            revenue[c] += r["amount"] or 0.0
    total = sum(revenue.values())
    ranked = sorted(counts, key=lambda c: (-revenue[c], c))
    a, b = Fraction(str(abc[0])), Fraction(str(abc[1]))
    x_max, y_max = Fraction(str(xyz[0])), Fraction(str(xyz[1]))
    out, before = {}, Fraction(0)
    for c in ranked:
        share = Fraction(revenue[c]) / Fraction(total)
        cls = "A" if before < a else ("B" if before < a + b else "C")
        periods = min((as_of - first[c]) // length, n_periods - 1) + 1
        seen = counts[c][:periods]
        mean = Fraction(sum(seen), periods)
        cv2 = None  # squared coefficient of variation, exact
        if periods >= min_periods:
            var = sum((Fraction(x) - mean) ** 2 for x in seen) / periods
            cv2 = var / mean**2
        if cv2 is None:
            x_cls = None
        elif cv2 <= x_max**2:
            x_cls = "X"
        elif cv2 <= y_max**2:
            x_cls = "Y"
        else:
            x_cls = "Z"
        out[c] = {
            "revenue": revenue[c],
            "revenue_share": float(share),
            "cum_share_before": float(before),
            "abc": cls,
            "purchases": sum(counts[c]),
            "periods": periods,
            "mean_per_period": float(mean),
            "cv": None if cv2 is None else math.sqrt(cv2),
            "xyz": x_cls,
        }
        before += share
    return out
