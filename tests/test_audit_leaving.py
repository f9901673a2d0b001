"""Audit: wb.overdue_customers (model=None), wb.category_dropouts, wb.rfm_scores and wb.abc_xyz
against the pure-Python oracles in tests/oracles/leaving.py."""

from __future__ import annotations

import os
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracles import leaving as ol
from oracles.gen import BASE, frame, random_events

import workbench as wb

SETTINGS = settings(
    max_examples=int(os.environ.get("AUDIT_EXAMPLES", 50)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
SEEDS = st.integers(0, 2**32 - 1)
HOURS = tuple(timedelta(hours=h) for h in (0, 6, 12, 23))
BUY = ("purchase", "purchase", "visit")


def _as_of(rng, rows, n_days):
    if rng.random() < 0.3:
        return max(r["ts"] for r in rows), None
    at = BASE + timedelta(
        days=int(rng.integers(n_days // 2, n_days + 5)), hours=int(rng.choice([0, 12]))
    )
    return at, at


def _approx_row(got: dict, exp: dict):
    for col, e in exp.items():
        if isinstance(e, float):
            assert got[col] == pytest.approx(e, rel=1e-9, abs=1e-12), col
        else:
            assert got[col] == e, col


@SETTINGS
@given(seed=SEEDS)
def test_overdue_customers_matches_oracle(seed):
    rng = np.random.default_rng(seed)
    rows = random_events(rng, n_customers=12, n_days=40, names=BUY, max_events=8, times=HOURS)
    if not any(r["event"] == "purchase" for r in rows):
        return
    at, arg = _as_of(rng, rows, 40)
    k = [0.5, 1.0, 1.5, 2.0][int(rng.integers(4))]
    prior = [0.0, 3.0][int(rng.integers(2))]
    min_p = [1, 2, 3][int(rng.integers(3))]
    limit = [None, 10][int(rng.integers(2))]
    exp = ol.overdue(
        rows,
        as_of=at,
        k=k,
        min_purchases=min_p,
        prior_strength=prior,
        horizon_days=60.0,
        max_days_since=limit,
    )
    res = wb.overdue_customers(
        frame(rows, tz="Asia/Tokyo"),
        as_of=arg,
        k=k,
        min_purchases=min_p,
        prior_strength=prior,
        horizon="60d",
        model=None,
        max_days_since=None if limit is None else f"{limit}d",
    )
    got = {r["customer_id"]: r for r in res.table.iter_rows(named=True)}
    assert set(got) == set(exp)
    for c, e in exp.items():
        _approx_row(got[c], e)
        assert got[c]["p_alive"] is None
    values = res.table["value_at_stake"].to_list()
    assert values == sorted(values, reverse=True)


@pytest.mark.parametrize("gap", [3, 7, 9])
def test_overdue_exact_rhythm_is_overdue_at_exactly_k_gaps(gap):
    # every `gap` days, last purchase 2 gaps before as_of: overdue_ratio = 2 exactly -> overdue
    # at k=2 although exp(log gap) is a hair above gap
    rows = []
    for c in range(3):
        for j in range(4):
            rows.append(
                {
                    "customer_id": f"c{c}",
                    "ts": BASE + timedelta(days=gap * j),
                    "event": "purchase",
                    "amount": 10.0,
                    "category": "a",
                }
            )
    as_of = BASE + timedelta(days=3 * gap + 2 * gap, hours=12)
    res = wb.overdue_customers(frame(rows), as_of=as_of, k=2, model=None)
    assert res.table.height == 3
    assert res.table["days_since_last"].to_list() == [2 * gap] * 3
    assert res.table["overdue_ratio"].to_list() == pytest.approx([2.0] * 3)


@SETTINGS
@given(seed=SEEDS)
def test_category_dropouts_matches_oracle(seed):
    rng = np.random.default_rng(seed)
    rows = random_events(
        rng, n_customers=8, n_days=60, names=BUY, max_events=14, times=HOURS, categories=("a", "b")
    )
    if not any(r["event"] == "purchase" for r in rows):
        return
    at, arg = _as_of(rng, rows, 60)
    kw = {
        "m": [2, 3][int(rng.integers(2))],
        "k": [1.0, 1.5, 3.0][int(rng.integers(3))],
        "min_other": [1, 2][int(rng.integers(2))],
        "min_share": [0.0, 0.5, 0.75][int(rng.integers(3))],
        "min_switches": [1, 2, 3][int(rng.integers(3))],
    }
    window = [0, 5, 10][int(rng.integers(3))]
    ref = [None, 10, 20][int(rng.integers(3))]
    out = wb.category_dropouts(
        frame(rows, tz="America/New_York"),
        as_of=arg,
        min_window=f"{window}d" if window else None,
        reference=None if ref is None else f"{ref}d",
        **kw,
    )
    exp = ol.category_dropouts(rows, as_of=at, min_window_days=window, reference_days=ref, **kw)
    got = {(r["customer_id"], r["category"]): r for r in out.iter_rows(named=True)}
    assert set(got) == set(exp)
    for key, e in exp.items():
        _approx_row(got[key], e)


@SETTINGS
@given(seed=SEEDS, monetary=st.sampled_from(["total", "mean"]))
def test_rfm_scores_matches_oracle(seed, monetary):
    rng = np.random.default_rng(seed)
    rows = random_events(
        rng, n_customers=int(rng.integers(1, 14)), n_days=30, names=BUY, times=HOURS
    )
    if not any(r["event"] == "purchase" for r in rows):
        return
    at, arg = _as_of(rng, rows, 30)
    if not any(r["event"] == "purchase" and r["ts"] <= at for r in rows):
        return
    out = wb.rfm_scores(frame(rows, tz="Asia/Tokyo"), as_of=arg, monetary=monetary)
    exp = ol.rfm_scores(rows, as_of=at, monetary=monetary, rules=wb.RFM_SEGMENT_RULES.to_dicts())
    got = {r["customer_id"]: r for r in out.iter_rows(named=True)}
    assert set(got) == set(exp)
    for c, e in exp.items():
        _approx_row(got[c], e)


@SETTINGS
@given(seed=SEEDS)
def test_abc_xyz_matches_oracle(seed):
    rng = np.random.default_rng(seed)
    rows = random_events(rng, n_customers=12, n_days=50, names=BUY, max_events=12, times=HOURS)
    at, arg = _as_of(rng, rows, 50) if rows else (BASE, BASE)
    period = [5, 7, 10][int(rng.integers(3))]
    n_periods = [3, 4, 6][int(rng.integers(3))]
    min_periods = [2, 3][int(rng.integers(2))]
    exp = ol.abc_xyz(
        rows, as_of=at, period_days=period, n_periods=n_periods, min_periods=min_periods
    )
    ev = frame(rows, tz="America/New_York")
    if sum(v["revenue"] for v in exp.values()) <= 0:
        with pytest.raises(wb.BadDataError, match="no positive revenue"):
            wb.abc_xyz(
                ev, as_of=at, period=f"{period}d", n_periods=n_periods, min_periods=min_periods
            )
        return
    res = wb.abc_xyz(
        ev, as_of=arg, period=f"{period}d", n_periods=n_periods, min_periods=min_periods
    )
    got = {r["customer_id"]: r for r in res.table.iter_rows(named=True)}
    assert set(got) == set(exp)
    for c, e in exp.items():
        _approx_row(got[c], e)
    cells = {(r["abc"], r["xyz"]): r["customers"] for r in res.matrix.iter_rows(named=True)}
    for (a, x), n in cells.items():
        assert n == sum(1 for e in exp.values() if e["abc"] == a and e["xyz"] == x)
