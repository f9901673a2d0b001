"""Audit: wb.activation_effect against the pure-Python oracle in tests/oracles/activation.py."""

from __future__ import annotations

import os
import warnings
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracles import activation as oac
from oracles.gen import BASE, frame, random_events

import workbench as wb

SETTINGS = settings(
    max_examples=int(os.environ.get("AUDIT_EXAMPLES", 60)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
HOURS = tuple(timedelta(hours=h) for h in (0, 12))
NAMES = ("signup", "visit", "purchase", "onboarding", "share")
# outcome -> (start, end, unbounded) in days
OUTCOMES = {
    "d3": (3, 4, False),
    "d2-4": (2, 5, False),
    "week1": (7, 14, False),
    "on_or_after_d3": (3, 4, True),
}


def _run(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", wb.WorkbenchWarning)
        return wb.activation_effect(*args, min_group_size=1, **kw)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_activation_matches_oracle(seed):
    rng = np.random.default_rng(seed)
    rows = random_events(rng, n_customers=15, n_days=16, names=NAMES, max_events=10, times=HOURS)
    present = {r["event"] for r in rows}
    outcome = list(OUTCOMES)[int(rng.integers(len(OUTCOMES)))]
    s, e, unbounded = OUTCOMES[outcome]
    within_days = int(rng.integers(1, s + 1))  # within <= outcome start
    start_event = [None, "signup"][int(rng.integers(2))]
    return_event = ["purchase", "visit"][int(rng.integers(2))]
    if not {return_event, start_event or return_event} <= present:
        return
    explicit = rng.random() < 0.5
    actions = ["onboarding", "share"] if explicit else None
    if explicit and not set(actions) <= present:
        return
    if rng.random() < 0.5:
        as_of, arg = max(r["ts"] for r in rows), None
    else:
        as_of = BASE + timedelta(days=int(rng.integers(5, 20)), hours=int(rng.choice([0, 12])))
        arg = as_of
    names = actions if explicit else sorted(present - {start_event, return_event})
    n, x, did = oac.counts(
        rows,
        actions=names,
        within=timedelta(days=within_days),
        start=timedelta(days=s),
        end=timedelta(days=e),
        unbounded=unbounded,
        as_of=as_of,
        start_event=start_event,
        return_event=return_event,
    )
    if not explicit:
        did = {a: v for a, v in did.items() if 0 < v[0] < n}
    try:
        res = _run(
            frame(rows, tz="America/New_York"),
            actions=actions,
            within=f"{within_days}d",
            outcome=outcome,
            start_event=start_event,
            return_event=return_event,
            as_of=arg,
        )
    except wb.BadParameterError as err:
        assert not names and "no candidate actions" in str(err)
        return
    assert res.params["customers"] == n
    got = {
        r["action"]: (r["n_did"], r["retained_did"], r["n_not"], r["retained_not"])
        for r in res.table.iter_rows(named=True)
    }
    assert got == {a: (nd, xd, n - nd, x - xd) for a, (nd, xd) in did.items()}
    for r in res.table.iter_rows(named=True):
        nd, xd = did[r["action"]]
        if 0 < nd < n:
            assert r["lift"] == pytest.approx(xd / nd - (x - xd) / (n - nd))


def test_action_window_closed_and_outcome_window_half_open():
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    rows = []
    for cid, action_at, return_at in (
        ("a", timedelta(days=7), timedelta(days=30)),  # action at the end of within; d30 start
        ("b", timedelta(days=7, seconds=1), timedelta(days=31)),  # action late; return at d31
        ("c", timedelta(0), timedelta(days=30, hours=23)),
    ):
        rows += [
            (cid, t0, "signup"),
            (cid, t0 + action_at, "tour"),
            (cid, t0 + return_at, "purchase"),
        ]
    ev = pl.DataFrame(rows, schema=["customer_id", "ts", "event"], orient="row")
    r = _run(
        ev, actions=["tour"], outcome="d30", start_event="signup", as_of=t0 + timedelta(days=40)
    ).table.row(0, named=True)
    assert (r["n_did"], r["retained_did"], r["n_not"], r["retained_not"]) == (2, 2, 1, 0)
    # maturity: the d30 window [t0+30d, t0+31d) has ended exactly at t0 + 31d
    res = _run(
        ev,
        actions=["tour"],
        outcome="d30",
        start_event="signup",
        as_of=t0 + timedelta(days=31) - timedelta(microseconds=1),
    )
    assert res.params["customers"] == 0
