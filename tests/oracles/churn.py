"""Reference purchase rhythm and churn table (wb.purchase_cycles, wb.churn_table), by hand.

Days are UTC calendar days. Everything is written from the docstrings: spells of being a
customer, churn when the threshold has passed without activity, censoring at as_of - threshold.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, timedelta

from .gen import utc_day


def active_days(rows, names, as_of_day) -> dict:
    """customer -> sorted distinct UTC days with an event in `names` (None: any) up to as_of."""
    out = defaultdict(set)
    for r in rows:
        if names is not None and r["event"] not in names:
            continue
        d = utc_day(r["ts"])
        if d <= as_of_day:
            out[r["customer_id"]].add(d)
    return {c: sorted(v) for c, v in out.items()}


# -- purchase cycles ---------------------------------------------------------------------------


def purchase_cycles(rows, *, as_of_day: date, event="purchase", prior_strength=3.0) -> dict:
    names = {event} if isinstance(event, str) else set(event)
    days = active_days(rows, names, as_of_day)
    out = {}
    for c, ds in days.items():
        n = len(ds)
        gaps = n - 1
        mean_gap = (ds[-1] - ds[0]).days / gaps if gaps > 0 else None
        w = gaps / (gaps + prior_strength) if gaps > 0 else 0.0
        out[c] = {
            "n_purchases": n,
            "first_purchase": ds[0],
            "last_purchase": ds[-1],
            "mean_gap_days": mean_gap,
            "own_weight": w,
        }
    with_gap = [v for v in out.values() if v["mean_gap_days"] is not None]
    total_w = sum(v["own_weight"] for v in with_gap)
    centre = (
        sum(v["own_weight"] * math.log(v["mean_gap_days"]) for v in with_gap) / total_w
        if total_w > 0
        else None
    )
    for v in out.values():
        if centre is None:
            typical = None
        else:
            own = v["own_weight"] * math.log(v["mean_gap_days"]) if v["mean_gap_days"] else 0.0
            typical = math.exp(own + (1 - v["own_weight"]) * centre)
        v["typical_gap_days"] = typical
        v["days_since_last"] = (as_of_day - v["last_purchase"]).days
        if typical is None:
            v["expected_next"] = None
            v["overdue_ratio"] = None
        else:
            v["expected_next"] = v["last_purchase"] + timedelta(days=round(typical))
            v["overdue_ratio"] = v["days_since_last"] / typical
    return out


# -- churn table -------------------------------------------------------------------------------


def _activity_spells(days: list[date], threshold: int) -> list[dict]:
    """Spells of one customer's active days. Between active days p < a the customer counted as
    churned on day a - 1 when (a - 1) - p > threshold; then a starts a new spell."""
    spells = [{"start": days[0], "last": days[0]}]
    for a in days[1:]:
        p = spells[-1]["last"]
        if (a - timedelta(days=1) - p).days > threshold:
            spells.append({"start": a, "last": a})
        else:
            spells[-1]["last"] = a
    for s in spells:
        s["churn_date"] = s["last"] + timedelta(days=1)
    return spells


def _close(spells, as_of_day, threshold, observed_churn) -> list[dict]:
    """Set status, duration and the other columns of each spell of one customer."""
    for i, s in enumerate(spells):
        is_last = i == len(spells) - 1
        churned = (not is_last) or observed_churn(s)
        s["churned"] = churned
        s["reactivated"] = churned and not is_last
        if churned:
            s["duration_days"] = (s["churn_date"] - s["start"]).days
        else:
            s["churn_date"] = None
            s["duration_days"] = max((as_of_day - s["start"]).days - threshold, 0)
        s["threshold_days"] = threshold
        s["days_since_last"] = (as_of_day - s["last"]).days
    return spells


def inactivity_spells(rows, *, threshold, as_of_day, names=None, thresholds=None) -> dict:
    """customer -> spells; `thresholds` (customer -> days) overrides `threshold` per customer."""
    out = {}
    for c, ds in active_days(rows, names, as_of_day).items():
        lag = thresholds[c] if thresholds is not None else threshold
        spells = _activity_spells(ds, lag)
        out[c] = _close(
            spells, as_of_day, lag, lambda s, lag=lag: (as_of_day - s["last"]).days > lag
        )
    return out


def subscription_spells(periods, *, grace, as_of_day) -> dict:
    """periods: dicts customer_id, period_start, period_end (aware datetimes)."""
    per = defaultdict(list)
    for p in periods:
        a = utc_day(p["period_start"])
        if a > as_of_day:
            continue
        b = max(utc_day(p["period_end"]), a)
        per[p["customer_id"]].append((a, b))
    out = {}
    for c, ivs in per.items():
        ivs.sort()
        spells = [{"start": ivs[0][0], "end": ivs[0][1], "paid": ivs[0][1] > ivs[0][0]}]
        for a, b in ivs[1:]:
            if (a - spells[-1]["end"]).days <= grace:  # renewed in time
                spells[-1]["end"] = max(spells[-1]["end"], b)
                spells[-1]["paid"] = spells[-1]["paid"] or b > a
            else:
                spells.append({"start": a, "end": b, "paid": b > a})
        for s in spells:
            s["churn_date"] = s["end"]
            # the day before the end; the start day when every period of the spell is empty
            s["last"] = s["end"] - timedelta(days=1) if s.pop("paid") else s["start"]
        out[c] = _close(
            spells, as_of_day, grace, lambda s: s["end"] + timedelta(days=grace) <= as_of_day
        )
    return out


def cancel_spells(rows, *, cancel_event, as_of_day, names=None) -> dict:
    """A spell ends churned at the first cancel after its last activity, once activity (a kept
    non-cancel event) follows on a later day or the data end; last_active of a churned spell is
    its cancel day."""
    per = defaultdict(lambda: defaultdict(lambda: [False, False]))  # day -> [cancel, other]
    for r in rows:
        d = utc_day(r["ts"])
        if d > as_of_day:
            continue
        if r["event"] == cancel_event:
            per[r["customer_id"]][d][0] = True
        elif names is None or r["event"] in names:
            per[r["customer_id"]][d][1] = True
    out = {}
    for c, days in per.items():
        spells, cur = [], None
        for d in sorted(days):
            has_cancel, has_other = days[d]
            if cur is not None and has_other and cur["cancel"] is not None and d > cur["cancel"]:
                spells.append(cur)
                cur = None
            if cur is None:
                cur = {"start": d, "last": d, "cancel": None}
            if has_other:
                cur["last"] = d
            if has_cancel and cur["cancel"] is None:
                cur["cancel"] = d
        spells.append(cur)
        for s in spells:
            s["churn_date"] = s["cancel"]
            if s["cancel"] is not None:
                s["last"] = s["cancel"]
        for i, s in enumerate(spells[:-1]):
            assert s["cancel"] is not None, (c, i)
        out[c] = _close(spells, as_of_day, 0, lambda s: s["cancel"] is not None)
    return out


def own_cycle_thresholds(rows, *, k, as_of_day, event="purchase", prior_strength=3.0) -> dict:
    cyc = purchase_cycles(rows, as_of_day=as_of_day, event=event, prior_strength=prior_strength)
    # the typical gap is exp(log(...)): read it to 1e-9 days so that an exact rhythm stays exact
    return {c: math.floor(k * v["typical_gap_days"] + 1e-9) for c, v in cyc.items()}


def customer_rows(spells_by_customer: dict, as_of_day: date) -> dict:
    """episodes=False: one row per customer, start = first activity, status of the last spell."""
    out = {}
    for c, spells in spells_by_customer.items():
        last, start = spells[-1], spells[0]["start"]
        lag = last["threshold_days"]
        if last["churned"]:
            duration = (last["churn_date"] - start).days
        else:
            duration = max((as_of_day - start).days - lag, 0)
        out[c] = {
            "start": start,
            "last_active": last["last"],
            "churn_date": last["churn_date"],
            "churned": last["churned"],
            "duration_days": duration,
            "threshold_days": lag,
            "days_since_last": last["days_since_last"],
            "n_episodes": len(spells),
        }
    return out


def episode_rows(spells_by_customer: dict) -> dict:
    """episodes=True: (customer, episode) -> row."""
    out = {}
    for c, spells in spells_by_customer.items():
        for i, s in enumerate(spells, start=1):
            out[(c, i)] = {
                "start": s["start"],
                "last_active": s["last"],
                "churn_date": s["churn_date"],
                "churned": s["churned"],
                "duration_days": s["duration_days"],
                "threshold_days": s["threshold_days"],
                "days_since_last": s["days_since_last"],
                "reactivated": s["reactivated"],
            }
    return out
