"""Value retention, LTV curve, MRR and the MRR bridge: literal cases and sample-data identities."""

from datetime import UTC, date, datetime

import polars as pl
import pytest

import workbench as wb
from workbench.errors import MissingColumnError


def d(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


EVENTS = pl.DataFrame(
    {
        "customer_id": ["A", "A", "A", "A", "B", "B", "C", "C"],
        "ts": [
            d(t)
            for t in (
                "2024-01-10",
                "2024-01-20",
                "2024-02-05",
                "2024-03-03",
                "2024-01-25",
                "2024-03-01",
                "2024-02-02",
                "2024-02-03",
            )
        ],
        "event": [
            "signup",
            "purchase",
            "purchase",
            "purchase",
            "signup",
            "purchase",
            "signup",
            "purchase",
        ],
        "amount": [None, 10.0, 20.0, 5.0, None, 40.0, None, 7.0],
    }
)


def test_value_retention_literal():
    v = wb.value_retention(
        EVENTS, start_event="signup", revenue_event="purchase", as_of=date(2024, 3, 31)
    )
    assert v.columns == [
        "cohort",
        "period",
        "cohort_size",
        "base",
        "paying",
        "revenue",
        "revenue_per_customer",
        "revenue_per_paying",
        "cumulative_revenue_per_customer",
        "complete",
        "small",
    ]
    assert v.select(
        "period",
        "cohort_size",
        "paying",
        "revenue",
        "revenue_per_customer",
        "revenue_per_paying",
        "cumulative_revenue_per_customer",
    ).rows() == [
        (0, 2, 1, 10.0, 5.0, 10.0, 5.0),
        (1, 2, 1, 20.0, 10.0, 20.0, 15.0),
        (2, 2, 2, 45.0, 22.5, 22.5, 37.5),
        (0, 1, 1, 7.0, 7.0, 7.0, 7.0),
        (1, 1, 0, 0.0, 0.0, None, 7.0),
    ]
    assert v["complete"].all()


def test_ltv_curve_literal():
    v = wb.value_retention(
        EVENTS, start_event="signup", revenue_event="purchase", as_of=date(2024, 3, 31)
    )
    ltv = wb.ltv_curve(v)
    assert ltv.select("period", "cohorts", "customers").rows() == [(0, 2, 3), (1, 2, 3), (2, 1, 2)]
    assert ltv["cumulative_revenue_per_customer"].to_list() == pytest.approx([17 / 3, 37 / 3, 37.5])
    assert ltv["revenue_per_customer"].to_list() == pytest.approx([17 / 3, 20 / 3, 22.5])
    # an incomplete cell is left out
    cut = wb.value_retention(
        EVENTS, start_event="signup", revenue_event="purchase", as_of="2024-03-15"
    )
    assert wb.ltv_curve(cut)["period"].to_list() == [0, 1]


def test_value_retention_rolling_counts_elapsed_customers_only():
    v = wb.value_retention(
        EVENTS,
        start_event="signup",
        revenue_event="purchase",
        period="day",
        window="rolling",
        cohort_period="month",
        as_of="2024-02-04T00:00:00",
        max_period=10,
    )
    jan = v.filter(pl.col("cohort") == date(2024, 1, 1))
    # A (start Jan 10) has 24 elapsed days, B (Jan 25) 9: day 10 counts A only
    assert jan.filter(pl.col("period") == 10).select("base", "revenue").row(0) == (1, 10.0)
    assert jan.filter(pl.col("period") == 8)["base"].item() == 2
    assert jan.filter(pl.col("period") == 10)["cumulative_revenue_per_customer"].item() == 10.0
    feb = v.filter(pl.col("cohort") == date(2024, 2, 1))
    assert feb.select("period", "base", "revenue").rows() == [
        (0, 1, 0.0),
        (1, 1, 7.0),
    ]  # 24 h later


def test_value_retention_needs_amount():
    with pytest.raises(MissingColumnError, match="amount"):
        wb.value_retention(EVENTS.drop("amount"))
    with pytest.raises(MissingColumnError, match="value_retention"):
        wb.ltv_curve(pl.DataFrame({"period": [0]}))


SUBS = pl.DataFrame(
    {
        "customer_id": ["A", "A", "A", "A", "B", "B", "B", "C"],
        "period_start": [
            d(t)
            for t in (
                "2024-01-15",
                "2024-02-15",
                "2024-03-15",
                "2024-04-15",
                "2024-01-20",
                "2024-04-10",
                "2024-05-10",
                "2024-02-01",
            )
        ],
        "period_end": [
            d(t)
            for t in (
                "2024-02-15",
                "2024-03-15",
                "2024-04-15",
                "2024-05-15",
                "2024-02-20",
                "2024-05-10",
                "2024-06-10",
                "2025-02-01",
            )
        ],
        "amount": [10.0, 10.0, 15.0, 5.0, 20.0, 20.0, 20.0, 120.0],
    }
)


def test_mrr_per_customer_literal():
    m = wb.mrr(SUBS, as_of=date(2024, 6, 30))
    got = {(r["customer_id"], r["month"].month): r["mrr"] for r in m.iter_rows(named=True)}
    assert got == {
        ("A", 1): 10.0,
        ("A", 2): 10.0,
        ("A", 3): 15.0,
        ("A", 4): 5.0,
        ("B", 1): 20.0,
        ("B", 4): 20.0,
        ("B", 5): 20.0,
        ("C", 2): 10.0,
        ("C", 3): 10.0,
        ("C", 4): 10.0,
        ("C", 5): 10.0,
        ("C", 6): 10.0,
    }


def test_monthly_rate_normalisation():
    subs = pl.DataFrame(
        {
            "customer_id": ["x", "y", "z"],
            "period_start": [d("2024-02-01"), d("2024-01-01"), d("2024-03-01")],
            "period_end": [d("2024-02-29"), d("2024-12-31"), d("2024-03-15")],
            "amount": [10.0, 120.0, 7.0],
        }
    )
    from workbench.revenue import monthly_rate_expr

    rates = subs.select(monthly_rate_expr().alias("r"))["r"].to_list()
    assert rates == pytest.approx([10.0, 10.0, 7 * 30.4375 / 14])


def test_mrr_bridge_literal():
    b = wb.mrr_bridge(SUBS, as_of=date(2024, 6, 30))
    assert isinstance(b, wb.MrrBridge)
    t = b.table
    assert t.select(
        "start_mrr", "new", "expansion", "contraction", "churned", "reactivated", "end_mrr"
    ).rows() == [
        (0.0, 30.0, 0.0, 0.0, 0.0, 0.0, 30.0),
        (30.0, 10.0, 0.0, 0.0, -20.0, 0.0, 20.0),
        (20.0, 0.0, 5.0, 0.0, 0.0, 0.0, 25.0),
        (25.0, 0.0, 0.0, -10.0, 0.0, 20.0, 35.0),
        (35.0, 0.0, 0.0, 0.0, -5.0, 0.0, 30.0),
        (30.0, 0.0, 0.0, 0.0, -20.0, 0.0, 10.0),
    ]
    assert t["nrr"][0] is None
    assert t["nrr"].to_list()[1:] == pytest.approx([1 / 3, 1.25, 0.6, 30 / 35, 1 / 3])
    assert t["grr"].to_list()[1:] == pytest.approx([1 / 3, 1.0, 0.6, 30 / 35, 1 / 3])
    assert t.select(
        "customers_start",
        "customers_end",
        "new_customers",
        "churned_customers",
        "reactivated_customers",
    ).rows() == [
        (0, 2, 2, 0, 0),
        (2, 2, 1, 1, 0),
        (2, 2, 0, 0, 0),
        (2, 3, 0, 0, 1),
        (3, 2, 0, 1, 0),
        (2, 1, 0, 1, 0),
    ]
    assert t["month"].to_list() == [date(2024, m, 1) for m in range(1, 7)]


def test_mrr_bridge_identity_and_by_on_sample():
    s = wb.datasets.load_sample()
    b = wb.mrr_bridge(s.subscriptions, by="channel", customers=s.customers, as_of=s.as_of)
    t = b.table
    flow = (
        t["start_mrr"]
        + t["new"]
        + t["expansion"]
        + t["contraction"]
        + t["churned"]
        + t["reactivated"]
    )
    assert ((flow - t["end_mrr"]).abs() < 1e-6).all()
    for _, g in t.group_by("channel"):
        g = g.sort("month")
        assert ((g["end_mrr"][:-1] - g["start_mrr"][1:]).abs() < 1e-6).all()
    total = wb.mrr_bridge(s.subscriptions, as_of=s.as_of).table
    summed = t.group_by("month").agg(pl.col("end_mrr").sum()).sort("month")
    assert ((summed["end_mrr"] - total["end_mrr"]).abs() < 1e-6).all()
    assert (t["contraction"] <= 0).all() and (t["churned"] <= 0).all()
    assert (total["grr"].drop_nulls() <= total["nrr"].drop_nulls() + 1e-12).all()
    with pytest.raises(MissingColumnError, match="customers="):
        wb.mrr_bridge(s.subscriptions, by="channel")


def test_mrr_month_rule_start_snapshots_the_first_instant():
    # [period_start, period_end) counts in month m when it covers m's first instant
    m = wb.mrr(SUBS, as_of=date(2024, 6, 30), month_rule="start")
    got = {(r["customer_id"], r["month"].month): r["mrr"] for r in m.iter_rows(named=True)}
    assert got == {
        ("A", 2): 10.0,
        ("A", 3): 10.0,
        ("A", 4): 15.0,
        ("A", 5): 5.0,
        ("B", 2): 20.0,
        ("B", 5): 20.0,
        ("B", 6): 20.0,
        **{("C", k): 10.0 for k in range(2, 7)},  # starts on Feb 1: same under both rules
    }
    b = wb.mrr_bridge(SUBS, as_of=date(2024, 6, 30), month_rule="start")
    t = b.table
    assert t["month"].to_list() == [date(2024, k, 1) for k in range(2, 7)]
    assert t.select(
        "start_mrr", "new", "expansion", "contraction", "churned", "reactivated", "end_mrr"
    ).rows() == [
        (0.0, 40.0, 0.0, 0.0, 0.0, 0.0, 40.0),
        (40.0, 0.0, 0.0, 0.0, -20.0, 0.0, 20.0),
        (20.0, 0.0, 5.0, 0.0, 0.0, 0.0, 25.0),
        (25.0, 0.0, 0.0, -10.0, 0.0, 20.0, 35.0),
        (35.0, 0.0, 0.0, 0.0, -5.0, 0.0, 30.0),
    ]
    assert t["nrr"].to_list()[1:] == pytest.approx([0.5, 1.25, 0.6, 30 / 35])
    assert b.params["month_rule"] == "start"
    with pytest.raises(wb.BadParameterError, match="month_rule='middle'"):
        wb.mrr(SUBS, month_rule="middle")


def test_as_of_includes_its_whole_second():
    """as_of is inclusive at one-second resolution: an event or paid period starting at
    23:59:59.5 is observed by as_of 23:59:59, in every path."""
    late = datetime(2024, 1, 31, 23, 59, 59, 500000)
    ev = pl.DataFrame(
        {
            "customer_id": [1, 1, 2],
            "ts": [datetime(2024, 1, 5), late, late],
            "event": ["purchase"] * 3,
            "amount": [10.0, 5.0, 7.0],
        }
    )
    vr = wb.value_retention(ev, as_of="2024-01-31T23:59:59", min_cohort_size=1)
    assert vr.select("revenue", "complete").rows() == [(22.0, True)]
    m = wb.retention_matrix(ev, as_of="2024-01-31T23:59:59")
    assert m.select("cohort_size", "complete").rows() == [(2, True)]
    assert wb.retention_matrix(ev, as_of="2024-01-31T23:59:58")["cohort_size"].to_list() == [1]
    subs = pl.DataFrame(
        {
            "customer_id": [1],
            "period_start": [late],
            "period_end": [datetime(2024, 2, 29, 23, 59, 59, 500000)],
            "amount": [10.0],
        }
    )
    got = wb.mrr(subs, as_of="2024-01-31T23:59:59")
    assert got.rows() == [(1, date(2024, 1, 1), 10.0)]


def test_float_leftovers_are_not_mrr():
    """Amounts that cancel out (0.1 + 0.2 - 0.3) leave no paying customer and no movement."""
    jan, feb, mar = datetime(2024, 1, 1), datetime(2024, 2, 1), datetime(2024, 3, 1)
    subs = pl.DataFrame(
        {
            "customer_id": [1, 1, 1, 2, 2, 2],
            "period_start": [jan, jan, jan, jan, jan, feb],
            "period_end": [feb, feb, feb, feb, feb, mar],
            "amount": [0.1, 0.2, -0.3, 0.1, 0.2, 0.3],
        }
    )
    assert wb.mrr(subs, as_of="2024-02-29").rows() == [
        (2, date(2024, 1, 1), 0.3),
        (2, date(2024, 2, 1), 0.3),
    ]
    feb_row = wb.mrr_bridge(subs, as_of="2024-02-29").table.filter(
        pl.col("month") == date(2024, 2, 1)
    )
    assert feb_row.select("expansion", "contraction", "churned", "new").row(0) == (0, 0, 0, 0)
