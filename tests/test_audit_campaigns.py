"""Audit: wb.campaign_effect against the pure-Python oracle in tests/oracles/campaigns.py."""

from __future__ import annotations

import math
import os
import warnings
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracles import campaigns as ocp
from oracles.gen import BASE, frame, random_events

import workbench as wb

SETTINGS = settings(
    max_examples=int(os.environ.get("AUDIT_EXAMPLES", 50)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
HOURS = tuple(timedelta(hours=h) for h in (0, 1, 12, 23))


def _campaigns(rng, n_customers):
    rows = []
    for camp in ("A", "B"):
        sent = BASE + timedelta(days=int(rng.integers(0, 10)), hours=int(rng.choice([0, 12, 23])))
        for c in range(n_customers + 2):  # two recipients without any event
            if rng.random() < 0.4:
                continue
            group = "treatment" if rng.random() < 0.6 else "control"
            rows.append(
                {"customer_id": f"c{c}", "campaign_id": camp, "sent_ts": sent, "group": group}
            )
            if rng.random() < 0.2:  # a later resend in the same group
                rows.append(
                    {
                        "customer_id": f"c{c}",
                        "campaign_id": camp,
                        "sent_ts": sent + timedelta(days=2),
                        "group": group,
                    }
                )
    return rows


def _run(events, campaigns, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", wb.WorkbenchWarning)
        return wb.campaign_effect(events, campaigns, min_group_size=1, **kw)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_campaign_effect_matches_oracle(seed):
    rng = np.random.default_rng(seed)
    rows = random_events(rng, n_customers=10, n_days=20, names=("purchase", "visit"), times=HOURS)
    if not rows:
        return
    camps = _campaigns(rng, 10)
    if not camps:
        return
    days = int(rng.integers(1, 6))
    window, win = [
        (f"{days}d", timedelta(days=days)),
        (f"{24 * days}h", timedelta(days=days)),
        (timedelta(days=days), timedelta(days=days)),
    ][int(rng.integers(3))]
    outcome = ["return", "any", "visit", ["visit", "purchase"]][int(rng.integers(4))]
    names = {"return": ("purchase",), "any": None, "visit": ("visit",)}.get(
        outcome if isinstance(outcome, str) else "",
        tuple(outcome) if isinstance(outcome, list) else None,
    )
    if rng.random() < 0.5:
        as_of, arg = max(r["ts"] for r in rows), None
    else:
        as_of = BASE + timedelta(days=int(rng.integers(3, 20)), hours=12)
        arg = as_of
    present = {r["event"] for r in rows if r["ts"] <= as_of} | {r["event"] for r in rows}
    if isinstance(outcome, list) or outcome == "visit":
        if not set(names) <= present:
            return
    cp = pl.DataFrame(
        camps,
        schema={
            "customer_id": pl.String,
            "campaign_id": pl.String,
            "sent_ts": pl.Datetime("us", "UTC"),
            "group": pl.String,
        },
    )
    res = _run(frame(rows, tz="America/New_York"), cp, window=window, outcome=outcome, as_of=arg)
    exp = ocp.effect(rows, camps, window=win, as_of=as_of, outcome=names)
    table = res.table
    assert sorted(table["campaign_id"].to_list()) == sorted({c["campaign_id"] for c in camps})
    for r in table.iter_rows(named=True):
        camp = r["campaign_id"]
        t = exp.get((camp, "treatment"), {"n": 0, "returned": 0})
        c = exp.get((camp, "control"), {"n": 0, "returned": 0})
        assert (r["n_treatment"], r["returned_treatment"]) == (t["n"], t["returned"])
        assert (r["n_control"], r["returned_control"]) == (c["n"], c["returned"])
        for side, e in (("treatment", t), ("control", c)):
            if e["n"]:
                assert r[f"rate_{side}"] == pytest.approx(e["rate"])
                assert r[f"revenue_per_recipient_{side}"] == pytest.approx(e["revenue_mean"])
            else:
                assert r[f"rate_{side}"] is None
                assert r[f"revenue_per_recipient_{side}"] is None
        if t["n"] and c["n"]:
            assert r["lift"] == pytest.approx(t["rate"] - c["rate"])
            assert r["revenue_diff"] == pytest.approx(t["revenue_mean"] - c["revenue_mean"])
            assert r["incremental_customers"] == pytest.approx((t["rate"] - c["rate"]) * t["n"])
            if c["returned"]:  # a ratio of rates; its Katz interval needs returns on both sides
                assert r["rel_lift"] == pytest.approx(t["rate"] / c["rate"] - 1)
                assert (r["rel_lift_ci_low"] is None) == (t["returned"] == 0)
            else:
                assert r["rel_lift"] is None
            if r["test"] == "z":
                p = (t["returned"] + c["returned"]) / (t["n"] + c["n"])
                se = math.sqrt(p * (1 - p) * (1 / t["n"] + 1 / c["n"]))
                if se > 0:
                    zz = (t["rate"] - c["rate"]) / se
                    assert r["p_value"] == pytest.approx(math.erfc(abs(zz) / math.sqrt(2)))
        else:
            assert r["lift"] is None and r["p_value"] is None


def test_window_bounds_are_exclusive_at_send_and_inclusive_at_end():
    sent = BASE
    events = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "ts": [
                sent,
                sent + timedelta(days=3),
                sent + timedelta(days=3, microseconds=1),
                sent + timedelta(seconds=1),
            ],
            "event": ["purchase"] * 4,
            "amount": [1.0, 2.0, 4.0, 8.0],
        }
    )
    camps = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e"],
            "campaign_id": ["A"] * 5,
            "sent_ts": [sent] * 5,
            "group": ["treatment"] * 4 + ["control"],
        }
    )
    r = _run(events, camps, window="3d", as_of=sent + timedelta(days=10)).table.row(0, named=True)
    assert (r["n_treatment"], r["returned_treatment"]) == (4, 2)  # b (at the end) and d
    assert r["revenue_per_recipient_treatment"] == pytest.approx((2.0 + 8.0) / 4)
    assert (r["n_control"], r["returned_control"], r["revenue_per_recipient_control"]) == (
        1,
        0,
        0.0,
    )


def test_as_of_date_means_the_end_of_that_day():
    events = pl.DataFrame(
        {
            "customer_id": ["a", "z"],
            "ts": [datetime(2025, 1, 3, 18, tzinfo=UTC), datetime(2025, 1, 9, tzinfo=UTC)],
            "event": ["purchase", "visit"],
            "amount": [5.0, 0.0],
        }
    )
    camps = pl.DataFrame(
        {
            "customer_id": ["a", "b"],
            "campaign_id": ["A", "A"],
            "sent_ts": [datetime(2025, 1, 1, tzinfo=UTC)] * 2,
            "group": ["treatment", "control"],
        }
    )
    for as_of in (date(2025, 1, 3), "2025-01-03"):
        r = _run(events, camps, window="2d", as_of=as_of).table.row(0, named=True)
        assert r["returned_treatment"] == 0  # Jan 3 18:00 is after Jan 1 + 2d
        r = _run(events, camps, window="3d", as_of=as_of).table.row(0, named=True)
        assert r["returned_treatment"] == 1  # a purchase during the as_of day counts
        assert r["revenue_per_recipient_treatment"] == 5.0


def test_by_offer_uses_the_first_send_and_counts_each_segment():
    rng = np.random.default_rng(3)
    rows = random_events(rng, n_customers=30, n_days=15, names=("purchase", "visit"), times=HOURS)
    camps = _campaigns(rng, 30)
    seen = set()
    for r in sorted(camps, key=lambda r: r["sent_ts"]):  # a resend's offer must not count
        key = (r["campaign_id"], r["customer_id"])
        r["offer"] = "late" if key in seen else str(rng.choice(["x", "y"]))
        seen.add(key)
    cp = pl.DataFrame(camps)
    as_of = BASE + timedelta(days=30)
    res = _run(frame(rows), cp, window="4d", by="offer", as_of=as_of)
    assert "late" not in res.table["offer"].to_list()
    first = {}
    for r in sorted(camps, key=lambda r: r["sent_ts"]):
        first.setdefault((r["campaign_id"], r["customer_id"]), r["offer"])
    for offer in {v for v in first.values()}:
        part = [r for r in camps if first[(r["campaign_id"], r["customer_id"])] == offer]
        exp = ocp.effect(rows, part, window=timedelta(days=4), as_of=as_of)
        for row in res.table.filter(pl.col("offer") == offer).iter_rows(named=True):
            for side in ("treatment", "control"):
                e = exp.get((row["campaign_id"], side), {"n": 0, "returned": 0})
                assert (row[f"n_{side}"], row[f"returned_{side}"]) == (e["n"], e["returned"])
