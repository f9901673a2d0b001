"""The "on" flag kernel (one streaming pass into per-period flag rows), with and without splits
by customer attributes, against the general engine, on the edges where a shortcut could go
wrong."""

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from _kernels import pass_and_general

from workbench import cohorts_bits, cohorts_fast


def _events(n_customers=400, seed=5, first_id=1, step=1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    counts = rng.geometric(0.2, n_customers)
    owner = np.repeat(np.arange(n_customers), counts)
    start = rng.integers(0, 400 * 86400, n_customers)
    secs = start[owner] + rng.exponential(90 * 86400, owner.size).astype(np.int64)
    ts = np.datetime64("2024-01-20T00:00:00", "s") + secs.astype("timedelta64[s]")
    return pl.DataFrame(
        {
            "customer_id": pl.Series(owner * step + first_id, dtype=pl.Int64),
            "ts": pl.Series(ts.astype("datetime64[us]")).dt.replace_time_zone("UTC"),
            "event": rng.choice(["visit", "purchase"], owner.size),
        }
    )


def _customers(events, seed=6) -> pl.DataFrame:
    ids = events["customer_id"].unique().sort()
    rng = np.random.default_rng(seed)
    keep = rng.random(len(ids)) < 0.9  # the rest: "(missing)"
    return pl.DataFrame(
        {
            "customer_id": ids.filter(pl.Series(keep)),
            "channel": rng.choice(["ads", "seo", "social", "referral", "tv"], len(ids))[keep],
            "plan": rng.choice(["basic", "pro"], len(ids))[keep],
        }
    )


def _both(monkeypatch, events, **kw):
    """(flag kernel result, general engine result, whether the flag kernel produced it)."""
    return pass_and_general(
        monkeypatch,
        events,
        module=cohorts_bits,
        pass_name="period_flags",
        gate="flags_apply",
        mode="on",
        **kw,
    )


OPTIONS = [
    {"by": "channel"},
    {"by": "channel", "top_n": 2},
    {"by": ["channel", "plan"], "reference": "previous"},
    {"by": "plan", "period": "quarter", "max_period": 2},
    {"by": "plan", "period": "week", "as_of": "2024-09-30"},
    {"by": "channel", "as_of": datetime(2024, 11, 15, tzinfo=UTC), "level": 0.9},
    {"by": "channel", "start_event": "purchase", "return_event": "purchase"},
]


@pytest.mark.parametrize("kw", OPTIONS, ids=[str(sorted(k)) for k in OPTIONS])
def test_flag_kernel_equals_the_general_engine(monkeypatch, kw):
    ev = _events()
    flags, general, used = _both(monkeypatch, ev, customers=_customers(ev), **kw)
    assert used
    assert flags.equals(general)
    assert flags["retained"].sum() > flags.filter(pl.col("period") == 0)["retained"].sum() > 0


@pytest.mark.parametrize("second", [58, 59])
def test_latest_event_in_the_final_second(monkeypatch, second):
    ev = _events().filter(pl.col("ts") < datetime(2024, 12, 1, tzinfo=UTC))
    last = datetime(2024, 12, 31, 23, 59, second, 1, tzinfo=UTC)
    ev = pl.concat([ev, pl.DataFrame({"customer_id": [3], "ts": [last], "event": ["visit"]})])
    flags, general, used = _both(monkeypatch, ev, by="channel", customers=_customers(ev))
    assert used and flags.equals(general)
    december = flags.filter(pl.col("cohort") == datetime(2024, 11, 1).date(), pl.col("period") == 1)
    assert set(december["complete"]) == {second == 59}


@pytest.mark.parametrize(
    ("first_id", "step", "reverse"), [(-70_000, 9, False), (0, 1, True), (5 * 10**6, 2, True)]
)
def test_id_layouts_and_arrival_order(monkeypatch, first_id, step, reverse):
    ev = _events(first_id=first_id, step=step)
    ev = ev.reverse() if reverse else ev.sort("ts")  # time order grows periods chunk by chunk
    monkeypatch.setattr(cohorts_fast, "_CHUNK", 300)  # many small chunks
    flags, general, used = _both(monkeypatch, ev.lazy(), by="plan", customers=_customers(ev))
    assert used and flags.equals(general)


def test_days_before_1970_and_missing_values(monkeypatch):
    ev = _events().with_columns(pl.col("ts") - timedelta(days=365 * 60))
    holes = pl.DataFrame(
        {"customer_id": [None, 7], "ts": [ev["ts"][0], None], "event": ["visit"] * 2},
        schema=ev.schema,
    )
    flags, general, used = _both(
        monkeypatch, pl.concat([ev, holes]).lazy(), by="channel", customers=_customers(ev)
    )
    assert used and flags.equals(general)


def test_unfit_inputs_fall_back(monkeypatch):
    ev = _events()
    cust = _customers(ev)
    # more than 64 periods (weekly over two years), ids beyond 32 bits, text ids, event columns
    for events, kw in [
        (ev, {"period": "week"}),
        (ev.with_columns(pl.col("customer_id") + 2**40), {}),
    ]:
        c = cust.with_columns(pl.col("customer_id") + (2**40 if kw == {} else 0))
        flags, general, used = _both(monkeypatch, events, by="channel", customers=c, **kw)
        assert not used and flags.equals(general)
    flags, general, used = _both(monkeypatch, ev, by="event")
    assert not used and flags.equals(general)
    # days: the sort kernel runs instead
    plain, general, used = _both(monkeypatch, ev, period="day")
    assert not used and plain.equals(general)


def test_without_a_split(monkeypatch):
    ev = _events()
    for kw in ({}, {"reference": "previous", "period": "quarter"}, {"as_of": "2024-08-31"}):
        flags, general, used = _both(monkeypatch, ev, **kw)
        assert used and flags.equals(general)
