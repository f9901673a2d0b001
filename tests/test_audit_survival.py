"""Audit: wb.churn_curves against a hand-written product-limit estimator (tests/oracles)."""

from __future__ import annotations

import os
from datetime import timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracles import churn as oc
from oracles import survival as osv
from oracles.gen import BASE, frame, random_events
from scipy.stats import norm

import workbench as wb

SETTINGS = settings(
    max_examples=int(os.environ.get("AUDIT_EXAMPLES", 50)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)


def _random_table(rng, n):
    return pl.DataFrame(
        {
            "duration_days": rng.integers(0, 25, n),
            "churned": rng.random(n) < rng.uniform(0.2, 1.0),
            "grp": rng.choice(["a", "b"], n),
            "w": rng.integers(1, 4, n),  # integer weights: exact fractions
        }
    )


def _check_group(res, rows, key, *, weighted, horizons, tau, level=0.95):
    weight = (lambda r: int(r["w"])) if weighted else (lambda r: 1)
    steps = osv.km(rows, weight=weight)
    table = res.table if key is None else res.table.filter(pl.col("grp") == key)
    got = table.to_dicts()
    assert [g["t"] for g in got] == [s["t"] for s in steps]
    z = norm.ppf(0.5 + level / 2)
    for g, s in zip(got, steps, strict=True):
        assert g["survival"] == pytest.approx(s["survival"], abs=1e-12)
        assert (g["at_risk"], g["events"], g["censored"]) == (
            s["at_risk"],
            s["events"],
            s["censored"],
        )
        ci = osv.loglog_ci(s, z)
        if ci is not None and s["greenwood"] > 0:
            assert (g["ci_low"], g["ci_high"]) == pytest.approx(ci, rel=1e-9)
    summ = res.summary if key is None else res.summary.filter(pl.col("grp") == key)
    summ = summ.row(0, named=True)
    assert summ["customers"] == sum(weight(r) for r in rows)
    assert summ["churned"] == sum(weight(r) for r in rows if r["churned"])
    assert summ["median_days"] == osv.median(steps)
    area = osv.rmst(steps, tau)
    if area is None:
        assert summ["rmst_days"] is None
    else:
        assert summ["rmst_days"] == pytest.approx(area[0], abs=1e-9)
        half = z * area[1]
        assert summ["rmst_ci_low"] == pytest.approx(area[0] - half, abs=1e-9)
        assert summ["rmst_ci_high"] == pytest.approx(area[0] + half, abs=1e-9)
    at_h = res.at_horizons if key is None else res.at_horizons.filter(pl.col("grp") == key)
    for r in at_h.iter_rows(named=True):
        h = r["horizon_days"]
        exp = osv.survival_at(steps, h)
        assert (r["survival"] is None) == (exp is None), h
        if exp is not None:
            assert r["survival"] == pytest.approx(exp, abs=1e-12)
        assert r["at_risk"] == sum(weight(x) for x in rows if x["duration_days"] >= h)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), weighted=st.booleans(), by=st.booleans())
def test_km_matches_product_limit_oracle(seed, weighted, by):
    rng = np.random.default_rng(seed)
    df = _random_table(rng, int(rng.integers(1, 40)))
    horizons = (0, 5, 10.5, 24, 30)
    tau = float(rng.choice([3, 10, 12.5, 24, 40]))
    res = wb.churn_curves(
        df,
        by="grp" if by else None,
        horizons=horizons,
        rmst_horizon=tau,
        weights="w" if weighted else None,
        min_group_size=1,
    )
    rows = df.to_dicts()
    if by:
        for key in sorted(set(df["grp"])):
            part = [r for r in rows if r["grp"] == key]
            _check_group(res, part, key, weighted=weighted, horizons=horizons, tau=tau)
    else:
        _check_group(res, rows, None, weighted=weighted, horizons=horizons, tau=tau)


def test_km_on_a_churn_table_from_a_random_log():
    rng = np.random.default_rng(7)
    rows = random_events(rng, n_customers=80, n_days=60, max_events=6)
    as_of = BASE.date() + timedelta(days=60)
    table = wb.churn_table(frame(rows), inactivity="10d", as_of=as_of)
    spells = oc.inactivity_spells(rows, threshold=10, as_of_day=as_of)
    exp = oc.customer_rows(spells, as_of)
    res = wb.churn_curves(table, rmst_horizon=30, min_group_size=1)
    _check_group(res, list(exp.values()), None, weighted=False, horizons=(30, 90, 365), tau=30)


def test_median_exactly_half_is_the_first_time_survival_reaches_half():
    # 4 customers, 2 churn at day 3: S(3) = 0.5 exactly -> median 3 (first t with S <= 0.5)
    df = pl.DataFrame({"duration_days": [3, 3, 8, 9], "churned": [True, True, False, True]})
    res = wb.churn_curves(df, min_group_size=1)
    assert res.summary["median_days"].item() == 3.0
    # RMST to 8: 3 * 1 + 5 * 0.5 = 5.5
    assert wb.churn_curves(df, rmst_horizon=8, min_group_size=1).summary["rmst_days"].item() == 5.5
