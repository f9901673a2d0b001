"""Lifecycle (growth accounting), CRR, day-N retention and stickiness: literal cases, sample data."""

from datetime import UTC, date, datetime

import polars as pl
import pytest

import workbench as wb
from workbench.errors import BadParameterError, MissingColumnError


def d(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def log(rows, **extra) -> pl.DataFrame:
    data = {
        "customer_id": [r[0] for r in rows],
        "ts": [d(r[1]) for r in rows],
        "event": [r[2] if len(r) > 2 else "purchase" for r in rows],
    }
    data.update(extra)
    return pl.DataFrame(data)


ABCD = log(
    [
        ("A", "2024-01-05"),
        ("A", "2024-02-10"),
        ("A", "2024-04-01"),
        ("B", "2024-01-20"),
        ("B", "2024-03-03"),
        ("C", "2024-02-02"),
        ("D", "2024-02-05"),
        ("D", "2024-03-30"),
    ]
)


@pytest.mark.parametrize("lazy", [False, True])
def test_lifecycle_literal(lazy):
    # active: Jan {A,B}; Feb {A,C,D}; Mar {B,D}; Apr {A}
    lc = wb.lifecycle(ABCD.lazy() if lazy else ABCD, as_of="2024-04-15")
    assert isinstance(lc, wb.Lifecycle)
    t = lc.table
    assert t.columns == [
        "period_start",
        "new",
        "returning",
        "resurrected",
        "dormant",
        "active",
        "quick_ratio",
        "complete",
    ]
    assert t.select("new", "returning", "resurrected", "dormant", "active").rows() == [
        (2, 0, 0, 0, 2),
        (2, 1, 0, -1, 3),
        (0, 1, 1, -2, 2),
        (0, 0, 1, -2, 1),
    ]
    assert t["quick_ratio"].to_list() == [None, 2.0, 0.5, 0.5]
    assert t["complete"].to_list() == [True, True, True, False]
    assert t["period_start"].to_list() == [date(2024, m, 1) for m in (1, 2, 3, 4)]
    assert lc.params["period"] == "month" and "dormant" in lc.definition


def test_lifecycle_by_group_and_event_filter():
    customers = pl.DataFrame({"customer_id": ["A", "B", "C", "D"], "channel": ["x", "x", "y", "y"]})
    t = wb.lifecycle(ABCD, by="channel", customers=customers, as_of="2024-04-15").table
    summed = (
        t.group_by("period_start")
        .agg(pl.col("new", "dormant", "active").sum())
        .sort("period_start")
    )
    assert summed.select("new", "dormant", "active").rows() == [
        (2, 0, 2),
        (2, -1, 3),
        (0, -2, 2),
        (0, -2, 1),
    ]
    ev = ABCD.with_columns(
        pl.when(pl.col("customer_id") == "C")
        .then(pl.lit("visit"))
        .otherwise(pl.col("event"))
        .alias("event")
    )
    only = wb.lifecycle(ev, event="purchase", as_of="2024-04-15").table
    assert only["new"].to_list() == [2, 1, 0, 0]


def test_crr_from_events_literal():
    # customer at boundary b: activity in [b - 30d, b)
    r = wb.customer_retention_rate(ABCD, inactivity="30d", as_of="2024-04-15")
    t = r.table
    assert t.select(
        "start_customers", "end_customers", "new", "retained", "reactivated", "churned"
    ).rows() == [(0, 2, 2, 0, 0, 0), (2, 3, 2, 1, 0, 1), (3, 2, 0, 1, 1, 2)]
    assert t["crr"].to_list() == [None, 0.5, pytest.approx(2 / 3)]
    assert t["churn_rate"][1] == 0.5
    assert t["ci_low"][1] < 0.5 < t["ci_high"][1]
    assert t["period_start"].to_list() == [date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)]


def test_crr_from_subscriptions_literal():
    subs = pl.DataFrame(
        {
            "customer_id": ["A", "A", "B", "B", "C"],
            "period_start": [
                d("2024-01-15"),
                d("2024-02-15"),
                d("2024-02-10"),
                d("2024-04-05"),
                d("2024-03-01"),
            ],
            "period_end": [
                d("2024-02-15"),
                d("2024-03-15"),
                d("2024-03-10"),
                d("2024-05-05"),
                d("2024-04-01"),
            ],
            "amount": [10.0] * 5,
        }
    )
    t = wb.customer_retention_rate(subscriptions=subs, as_of=date(2024, 5, 31)).table
    assert t.select(
        "start_customers", "end_customers", "new", "retained", "reactivated", "churned"
    ).rows() == [
        (0, 1, 1, 0, 0, 0),
        (1, 2, 1, 1, 0, 0),
        (2, 1, 1, 0, 0, 2),
        (1, 1, 0, 0, 1, 1),
        (1, 0, 0, 0, 0, 1),
    ]
    assert t["crr"].to_list() == [None, 1.0, 0.0, 1.0, 0.0]


def test_crr_errors():
    with pytest.raises(BadParameterError, match="exactly one of events= "):
        wb.customer_retention_rate()
    with pytest.raises(BadParameterError, match="exactly one of"):
        wb.customer_retention_rate(ABCD, subscriptions=ABCD)
    with pytest.raises(BadParameterError, match="inactivity='ninety days'"):
        wb.customer_retention_rate(ABCD, inactivity="ninety days")


def test_day_n_retention_literal():
    ev = log(
        [
            ("A", "2024-01-01T10:00"),
            ("A", "2024-01-02T09:59"),
            ("A", "2024-01-02T10:00"),
            ("A", "2024-01-04T12:00"),
            ("B", "2024-01-01T23:00"),
            ("B", "2024-01-03T22:59"),
            ("C", "2024-01-03T08:00"),
        ]
    )
    t = wb.day_n_retention(ev, days=(1, 3), as_of="2024-01-05T09:59:59")
    assert t.select("cohort", "day", "base", "retained", "complete").rows() == [
        (date(2024, 1, 1), 1, 3, 2, True),
        (date(2024, 1, 1), 3, 1, 1, False),
    ]
    pooled = wb.day_n_retention(ev, days=[1], per_cohort=False, as_of="2024-01-05T09:59:59")
    assert pooled.select("day", "base", "retained").rows() == [(1, 3, 2)]
    with pytest.raises(BadParameterError, match="days="):
        wb.day_n_retention(ev, days=[-1])


def test_stickiness_literal():
    ev = log(
        [
            ("A", "2024-01-01T01:00"),
            ("A", "2024-01-01T05:00"),
            ("A", "2024-01-05"),
            ("A", "2024-01-09"),
            ("B", "2024-01-03"),
            ("B", "2024-02-03"),
        ]
    )
    t = wb.stickiness(ev, as_of="2024-02-10")
    assert t.select(
        "window_start", "active_periods", "customers", "share", "periods_in_window", "complete"
    ).rows() == [
        (date(2024, 1, 1), 1, 1, 0.5, 31, True),
        (date(2024, 1, 1), 3, 1, 0.5, 31, True),
        (date(2024, 2, 1), 1, 1, 1.0, 29, False),
    ]
    with pytest.raises(BadParameterError, match="does not nest"):
        wb.stickiness(ev, period="week", window="month")


# -- sample data --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample():
    return wb.datasets.load_sample()


def test_lifecycle_sums_are_consistent_on_sample(sample):
    t = wb.lifecycle(sample.events, as_of=sample.as_of).table
    # active = new + returning + resurrected; change in active = new + resurrected + dormant
    change = t["active"].diff().drop_nulls()
    flow = (t["new"] + t["resurrected"] + t["dormant"])[1:]
    assert (change == flow).all()
    # active matches a direct count of distinct active customers per month
    direct = (
        sample.events.group_by(pl.col("ts").dt.truncate("1mo").dt.date().alias("m"))
        .agg(pl.col("customer_id").n_unique())
        .sort("m")
    )
    assert t["active"].to_list() == direct["customer_id"].to_list()
    # everyone is new exactly once
    assert t["new"].sum() == sample.events["customer_id"].n_unique()
    # returning + |dormant| of a month = active customers of the previous month
    assert ((t["returning"] - t["dormant"])[1:] == t["active"][:-1]).all()


def test_crr_relations_on_sample(sample):
    t = wb.customer_retention_rate(sample.events, as_of=sample.as_of).table
    assert (t["end_customers"][:-1] == t["start_customers"][1:]).all()  # E of t is S of t+1
    assert (t["start_customers"] == t["retained"] + t["churned"]).all()
    ok = t.drop_nulls("crr")
    assert (
        (ok["crr"] - (ok["end_customers"] - ok["new"]) / ok["start_customers"]).abs() < 1e-12
    ).all()
    subs = wb.customer_retention_rate(
        subscriptions=sample.subscriptions,
        by="channel",
        customers=sample.customers,
        as_of=sample.as_of,
    ).table
    assert set(subs["channel"].unique()) == {"organic", "paid_search", "social", "referral"}


def test_day_n_by_channel_on_sample(sample):
    t = wb.day_n_retention(
        sample.events,
        days=(1, 7, 30),
        by="channel",
        customers=sample.customers,
        per_cohort=False,
        as_of=sample.as_of,
    )
    assert t.height == 12
    assert ((t["ci_low"] <= t["retention"]) & (t["retention"] <= t["ci_high"])).all()
    # D-N bases shrink with N (fewer customers have had 30 days yet)
    for _, g in t.group_by("channel"):
        assert g.sort("day")["base"].is_sorted(descending=True)


def test_missing_by_column_for_lifecycle():
    with pytest.raises(MissingColumnError, match="by='channel'"):
        wb.lifecycle(ABCD, by="channel")


def test_pre_aggregated_customer_days_give_identical_results():
    """A warehouse reduction to one row per (customer, event, day) with n_events and the day's
    amount changes nothing at day grain or coarser."""
    s = wb.datasets.load_sample(seed=4, n_customers=300)
    ev = s.events.select("customer_id", "ts", "event", "amount")
    reduced = ev.group_by("customer_id", "event", pl.col("ts").dt.truncate("1d")).agg(
        pl.col("amount").sum(), pl.len().cast(pl.Int64).alias("n_events")
    )
    kw = {"as_of": s.as_of}
    for period in ("day", "week", "month"):
        for opts in (
            {},
            {"mode": "on_or_after"},
            {"min_events": 2},
            {"start_event": "signup", "return_event": "purchase"},
        ):
            assert wb.retention_matrix(reduced, period=period, **opts, **kw).equals(
                wb.retention_matrix(ev, period=period, **opts, **kw)
            ), (period, opts)
    assert wb.lifecycle(reduced, **kw).table.equals(wb.lifecycle(ev, **kw).table)
    assert wb.customer_retention_rate(reduced, **kw).table.equals(
        wb.customer_retention_rate(ev, **kw).table
    )
    assert wb.stickiness(reduced, **kw).equals(wb.stickiness(ev, **kw))
    a = wb.value_retention(reduced, start_event="signup", revenue_event="purchase", **kw)
    b = wb.value_retention(ev, start_event="signup", revenue_event="purchase", **kw)
    assert a.drop(
        "revenue", "revenue_per_customer", "revenue_per_paying", "cumulative_revenue_per_customer"
    ).equals(
        b.drop(
            "revenue",
            "revenue_per_customer",
            "revenue_per_paying",
            "cumulative_revenue_per_customer",
        )
    )
    assert (a["revenue"] - b["revenue"]).abs().max() < 1e-9
