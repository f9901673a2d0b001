"""Audit: wb.purchase_cycles and wb.churn_table (every mode, episodes) against the pure-Python
oracle in tests/oracles/churn.py on many small random logs (thresholds hit exactly, same-day
duplicates, one-event customers, local time zones near midnight UTC)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracles import churn as oc
from oracles.gen import BASE, ZONES, frame, random_events, utc_day

import workbench as wb

SETTINGS = settings(
    max_examples=int(__import__("os").environ.get("AUDIT_EXAMPLES", 60)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
SEEDS = st.integers(0, 2**32 - 1)
KINDS = ("eager", "lazy", "pandas")


def _as_of_value(day: date, rng):
    """The same UTC analysis day written five ways (a Tokyo time that is the next local day)."""
    pick = int(rng.integers(5))
    if pick == 0:
        return day
    if pick == 1:
        return day.isoformat()
    if pick == 2:
        return datetime(day.year, day.month, day.day, 23, 30, tzinfo=UTC).astimezone(
            __import__("zoneinfo").ZoneInfo("Asia/Tokyo")
        )
    if pick == 3:
        return datetime(day.year, day.month, day.day, 0, 0)  # naive: UTC
    return datetime(day.year, day.month, day.day, 12, 0, tzinfo=UTC)


def _setup(seed, **kw):
    rng = np.random.default_rng(seed)
    rows = random_events(rng, **kw)
    tz = ZONES[int(rng.integers(len(ZONES)))]
    kind = KINDS[int(rng.integers(len(KINDS)))]
    return rng, rows, tz, kind


def _pick_as_of(rng, rows, n_days):
    """(argument, UTC day): None (latest event day) or a day inside or just after the data."""
    if rows and rng.random() < 0.3:
        return None, max(utc_day(r["ts"]) for r in rows)
    day = BASE.date() + timedelta(days=int(rng.integers(0, n_days + 5)))
    return _as_of_value(day, rng), day


def _compare(out: pl.DataFrame, expected: dict, *, episodes: bool):
    keys = ["customer_id", "episode"] if episodes else ["customer_id"]
    got = {}
    for r in out.iter_rows(named=True):
        key = (r["customer_id"], r["episode"]) if episodes else r["customer_id"]
        got[key] = {k: v for k, v in r.items() if k not in keys}
    assert set(got) == set(expected)
    for key, exp in expected.items():
        assert got[key] == exp, (key, got[key], exp)


# -- purchase_cycles ---------------------------------------------------------------------------


@SETTINGS
@given(seed=SEEDS)
def test_purchase_cycles_matches_oracle(seed):
    rng, rows, tz, kind = _setup(seed)
    arg, day = _pick_as_of(rng, rows, 40)
    if not rows:
        return
    prior = [0, 0.5, 3.0, 10][int(rng.integers(4))]
    event = ["purchase", ["purchase", "visit"]][int(rng.integers(2))]
    out = wb.purchase_cycles(
        frame(rows, tz=tz, kind=kind), as_of=arg, prior_strength=prior, event=event
    )
    exp = oc.purchase_cycles(rows, as_of_day=day, event=event, prior_strength=prior)
    assert sorted(out["customer_id"].to_list()) == sorted(exp)
    for r in out.iter_rows(named=True):
        e = exp[r["customer_id"]]
        for col in ("n_purchases", "first_purchase", "last_purchase", "days_since_last"):
            assert r[col] == e[col], col
        for col in ("mean_gap_days", "own_weight", "typical_gap_days", "overdue_ratio"):
            if e[col] is None:
                assert r[col] is None, col
            else:
                assert r[col] == pytest.approx(e[col], rel=1e-9), col
        t = e["typical_gap_days"]
        if t is not None and abs(t - math.floor(t) - 0.5) > 1e-9:  # clear of a rounding tie
            assert r["expected_next"] == e["expected_next"]


# -- churn_table: inactivity -------------------------------------------------------------------


@SETTINGS
@given(seed=SEEDS, episodes=st.booleans())
def test_inactivity_matches_oracle(seed, episodes):
    rng, rows, tz, kind = _setup(seed, n_days=30)
    if not rows:
        return
    arg, day = _pick_as_of(rng, rows, 30)
    threshold = [1, 2, 3, 5, 7, 10][int(rng.integers(6))]
    spelled = [f"{threshold}d", threshold, timedelta(days=threshold)][int(rng.integers(3))]
    event = [None, "purchase", ["purchase", "visit"]][int(rng.integers(3))]
    names = None if event is None else ({event} if isinstance(event, str) else set(event))
    out = wb.churn_table(
        frame(rows, tz=tz, kind=kind), inactivity=spelled, as_of=arg, episodes=episodes, event=event
    )
    spells = oc.inactivity_spells(rows, threshold=threshold, as_of_day=day, names=names)
    exp = oc.episode_rows(spells) if episodes else oc.customer_rows(spells, day)
    _compare(out, exp, episodes=episodes)


def test_inactivity_edge_last_activity_exactly_threshold_before_as_of():
    # last active 10 days before as_of: censored at 10d, churned at 9d
    rows = [
        {"customer_id": "x", "ts": BASE, "event": "visit", "amount": 0.0, "category": "a"},
        {
            "customer_id": "x",
            "ts": BASE + timedelta(days=5, hours=23, minutes=59),
            "event": "visit",
            "amount": 0.0,
            "category": "a",
        },
    ]
    as_of = BASE.date() + timedelta(days=15)
    for threshold, churned in ((10, False), (9, True)):
        out = wb.churn_table(frame(rows), inactivity=f"{threshold}d", as_of=as_of)
        r = out.row(0, named=True)
        assert r["churned"] is churned and r["days_since_last"] == 10
        exp = oc.customer_rows(
            oc.inactivity_spells(rows, threshold=threshold, as_of_day=as_of), as_of
        )["x"]
        assert {k: v for k, v in r.items() if k != "customer_id"} == exp
    # censored at 10d: followed until as_of - 10 = day 5 -> duration 5
    assert wb.churn_table(frame(rows), inactivity="10d", as_of=as_of)["duration_days"].item() == 5


# -- churn_table: subscriptions ----------------------------------------------------------------


def _random_periods(rng, n_customers=5, n_days=60):
    out = []
    for c in range(n_customers):
        t = int(rng.integers(0, 20))
        for _ in range(int(rng.integers(0, 5))):
            length = int(rng.integers(0, 12))
            start = BASE + timedelta(days=t, hours=int(rng.choice([0, 13, 23])))
            end = BASE + timedelta(days=t + length, hours=int(rng.choice([0, 1, 23])))
            out.append({"customer_id": f"s{c}", "period_start": start, "period_end": end})
            t += length + int(rng.integers(-3, 8))  # overlaps, renewals in time and late
            if t > n_days:
                break
    return out


@SETTINGS
@given(seed=SEEDS, episodes=st.booleans())
def test_subscriptions_matches_oracle(seed, episodes):
    rng = np.random.default_rng(seed)
    periods = _random_periods(rng)
    if not periods:
        return
    grace = int(rng.integers(0, 8))
    day = BASE.date() + timedelta(days=int(rng.integers(0, 70)))
    arg = _as_of_value(day, rng)
    if rng.random() < 0.3:
        arg, day = None, max(utc_day(p["period_start"]) for p in periods)
    subs = pl.DataFrame(
        periods,
        schema={
            "customer_id": pl.String,
            "period_start": pl.Datetime("us", "UTC"),
            "period_end": pl.Datetime("us", "UTC"),
        },
    )
    out = wb.churn_table(subscriptions=subs, grace=f"{grace}d", as_of=arg, episodes=episodes)
    spells = oc.subscription_spells(periods, grace=grace, as_of_day=day)
    exp = oc.episode_rows(spells) if episodes else oc.customer_rows(spells, day)
    _compare(out, exp, episodes=episodes)


def test_subscriptions_grace_edge():
    # paid [Jan 1, Jan 31); renewal on Feb 5 is in time with grace 5, late with grace 4
    periods = [
        {"customer_id": "x", "period_start": BASE, "period_end": BASE + timedelta(days=30)},
        {
            "customer_id": "x",
            "period_start": BASE + timedelta(days=35),
            "period_end": BASE + timedelta(days=65),
        },
    ]
    subs = pl.DataFrame(periods)
    assert (
        wb.churn_table(subscriptions=subs, grace="5d", as_of="2025-03-31", episodes=True).height
        == 1
    )
    two = wb.churn_table(subscriptions=subs, grace="4d", as_of="2025-03-08", episodes=True)
    assert two["churn_date"].to_list() == [date(2025, 1, 31), None]
    # churned only once end + grace <= as_of: end Mar 7 + 5 = Mar 12
    one = wb.churn_table(
        subscriptions=subs.head(1).with_columns(pl.col("period_end") + timedelta(days=35)),
        grace="5d",
        as_of="2025-03-11",
    )
    assert not one["churned"].item()
    one = wb.churn_table(
        subscriptions=subs.head(1).with_columns(pl.col("period_end") + timedelta(days=35)),
        grace="5d",
        as_of="2025-03-12",
    )
    assert one["churned"].item()


def test_subscriptions_zero_length_period_keeps_last_active_on_its_start_day():
    periods = pl.DataFrame(
        {
            "customer_id": ["x"],
            "period_start": [BASE + timedelta(hours=1)],
            "period_end": [BASE + timedelta(hours=20)],
        }
    )
    r = wb.churn_table(subscriptions=periods, grace="3d", as_of="2025-01-31").row(0, named=True)
    assert r["start"] == r["last_active"] == date(2025, 1, 1)
    assert r["churned"] and r["churn_date"] == date(2025, 1, 1) and r["duration_days"] == 0


# -- churn_table: cancel event -----------------------------------------------------------------


@SETTINGS
@given(seed=SEEDS, episodes=st.booleans())
def test_cancel_event_matches_oracle(seed, episodes):
    rng, rows, tz, kind = _setup(seed, n_days=20, names=("purchase", "visit", "cancel", "cancel"))
    if not rows:
        return
    arg, day = _pick_as_of(rng, rows, 20)
    event = [None, "purchase"][int(rng.integers(2))]
    names = None if event is None else {event}
    out = wb.churn_table(
        frame(rows, tz=tz, kind=kind),
        cancel_event="cancel",
        as_of=arg,
        episodes=episodes,
        event=event,
    )
    spells = oc.cancel_spells(rows, cancel_event="cancel", as_of_day=day, names=names)
    exp = oc.episode_rows(spells) if episodes else oc.customer_rows(spells, day)
    _compare(out, exp, episodes=episodes)


# -- churn_table: own cycle --------------------------------------------------------------------


@SETTINGS
@given(seed=SEEDS, episodes=st.booleans())
def test_own_cycle_matches_oracle(seed, episodes):
    rng, rows, tz, kind = _setup(seed, n_days=30, names=("purchase", "purchase", "visit"))
    arg, day = _pick_as_of(rng, rows, 30)
    cyc = oc.purchase_cycles(rows, as_of_day=day) if rows else {}
    if not any(v["mean_gap_days"] for v in cyc.values()):
        return  # no rhythm: an error, tested below
    k = [0.5, 1, 1.5, 2, 3][int(rng.integers(5))]
    prior = [0.0, 3.0][int(rng.integers(2))]
    out = wb.churn_table(
        frame(rows, tz=tz, kind=kind),
        own_cycle=k,
        as_of=arg,
        episodes=episodes,
        prior_strength=prior,
    )
    lags = oc.own_cycle_thresholds(rows, k=k, as_of_day=day, prior_strength=prior)
    spells = oc.inactivity_spells(
        rows, threshold=None, as_of_day=day, names={"purchase"}, thresholds=lags
    )
    exp = oc.episode_rows(spells) if episodes else oc.customer_rows(spells, day)
    _compare(out, exp, episodes=episodes)


def test_own_cycle_regular_rhythm_threshold_is_exact():
    # Everyone buys every 7 days: the typical gap is 7 (up to rounding), so with k=1 the
    # threshold must be 7 days, not 6 because exp(log 7) lands a hair below 7.
    rows = []
    for c in range(4):
        for j in range(3 + c):
            rows.append(
                {
                    "customer_id": f"c{c}",
                    "ts": BASE + timedelta(days=7 * j),
                    "event": "purchase",
                    "amount": 1.0,
                    "category": "a",
                }
            )
    for k in (1, 2, 3):
        out = wb.churn_table(frame(rows), own_cycle=k, as_of="2025-03-01")
        assert out["threshold_days"].to_list() == [7 * k] * 4
    cyc = wb.purchase_cycles(frame(rows), as_of="2025-03-01", prior_strength=0)
    assert cyc["typical_gap_days"].to_list() == pytest.approx([7.0] * 4, rel=1e-12)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(seed=SEEDS, mode=st.sampled_from(["inactivity", "cancel_event", "own_cycle"]))
def test_pre_aggregated_day_table_gives_the_same_churn_table(seed, mode):
    rng = np.random.default_rng(seed)
    rows = random_events(rng, n_days=30, names=("purchase", "visit", "cancel"))
    if not rows:
        return
    raw = frame(rows, tz="Asia/Tokyo")
    reduced = (
        frame(rows)
        .group_by("customer_id", "event", "category", pl.col("ts").dt.truncate("1d"))
        .agg(pl.col("amount").sum(), pl.len().cast(pl.Int64).alias("n_events"))
    )
    kw = {"inactivity": "5d", "cancel_event": "cancel", "own_cycle": 1.5}
    as_of = BASE.date() + timedelta(days=int(rng.integers(5, 35)))
    try:
        a = wb.churn_table(raw, as_of=as_of, episodes=True, **{mode: kw[mode]})
    except wb.BadDataError:  # own_cycle without any rhythm
        return
    b = wb.churn_table(reduced, as_of=as_of, episodes=True, **{mode: kw[mode]})
    assert a.equals(b)
