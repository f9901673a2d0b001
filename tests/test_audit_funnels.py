"""Audit: wb.funnel against the pure-Python oracle in tests/oracles/funnels.py."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracles import funnels as ofu
from oracles.gen import BASE, frame, random_events

import workbench as wb

SETTINGS = settings(
    max_examples=int(os.environ.get("AUDIT_EXAMPLES", 60)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
HOURS = tuple(timedelta(hours=h) for h in (0, 6, 12, 18))
NAMES = ("visit", "add_to_cart", "purchase", "other")


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_funnel_matches_oracle(seed):
    rng = np.random.default_rng(seed)
    rows = random_events(rng, n_customers=12, n_days=8, names=NAMES, max_events=10, times=HOURS)
    if not rows:
        return
    order, chained = [("strict", False), ("strict", True), ("any", False)][int(rng.integers(3))]
    steps = ["visit", "add_to_cart", "purchase"]
    if order == "strict" and rng.random() < 0.3:
        steps = ["visit", "visit", "purchase"]  # a repeated step: a later occurrence
    days = int(rng.integers(1, 4))
    window = timedelta(days=days)
    spelled = [f"{days}d", f"{24 * days}h", window][int(rng.integers(3))]
    if rng.random() < 0.5:
        as_of, arg = max(r["ts"] for r in rows), None
    else:
        as_of = BASE + timedelta(days=int(rng.integers(2, 12)), hours=int(rng.choice([0, 12])))
        arg = as_of
    res = wb.funnel(
        frame(rows, tz="Asia/Tokyo"),
        steps,
        window=spelled,
        order=order,
        window_from="previous" if chained else "first",
        as_of=arg,
    )
    exp = ofu.table(rows, steps, window=window, order=order, chained=chained, as_of=as_of)
    got = res.table.select("step", "customers", "time_median").to_dicts()
    assert got == exp
    entered = exp[0]["customers"]
    assert res.table["entered"].to_list() == [entered] * len(steps)
    if entered:
        prev = [e["customers"] for e in exp]
        for k in range(1, len(steps)):
            row = res.table.row(k, named=True)
            assert row["drop_off"] == prev[k - 1] - prev[k]
            if prev[k - 1]:
                assert row["step_conversion"] == pytest.approx(prev[k] / prev[k - 1])
            assert row["overall_conversion"] == pytest.approx(prev[k] / entered)


def test_strict_window_bounds_and_same_instant():
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    ev = pl.DataFrame(
        {
            "customer_id": ["a", "a", "b", "b", "c", "c"],
            "ts": [t0, t0 + timedelta(days=7), t0, t0 + timedelta(days=7, microseconds=1), t0, t0],
            "event": ["visit", "purchase"] * 3,
        }
    )
    t = wb.funnel(ev, ["visit", "purchase"], window="7d", as_of=t0 + timedelta(days=30)).table
    # a: exactly at the deadline counts; b: a microsecond late; c: same instant is not "after"
    assert t["customers"].to_list() == [3, 1]
    anyo = wb.funnel(
        ev, ["visit", "purchase"], window="7d", order="any", as_of=t0 + timedelta(days=30)
    ).table
    assert anyo["customers"].to_list() == [3, 2]  # any order: the same instant counts


def test_excluded_window_open_counts_only_customers_who_entered_by_as_of():
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    ev = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c", "a"],
            "ts": [t0, t0 + timedelta(days=5), t0 + timedelta(days=20), t0 + timedelta(days=1)],
            "event": ["visit"] * 3 + ["purchase"],
        }
    )
    f = wb.funnel(ev, ["visit", "purchase"], window="7d", as_of=t0 + timedelta(days=10))
    assert f.params["entered"] == 1  # a
    assert f.params["excluded_window_open"] == 1  # b; c enters after as_of
