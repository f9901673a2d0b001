"""Funnels: strict and any order, first entry, windows, breakdowns, Wilson intervals, tests."""

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint

import workbench as wb

STEPS = ["visit", "add_to_cart", "purchase"]


def D(day, hour=0, minute=0):
    return datetime(2024, 1, day, hour, minute, tzinfo=UTC)


def tiny():
    rows = [
        (1, D(1), "visit", "US"),
        (1, D(1, 2), "add_to_cart", "US"),
        (1, D(2), "purchase", "US"),
        (2, D(1), "visit", "UK"),
        (2, D(3), "purchase", "UK"),  # skipped the cart
        (3, D(1), "visit", "US"),
        (3, D(1), "add_to_cart", "US"),  # same instant as the visit
        (3, D(1, 5), "purchase", "US"),
        (4, D(2), "visit", "UK"),
        (5, D(3), "visit", "UK"),
        (5, D(10), "visit", "UK"),
        (5, D(12), "add_to_cart", "UK"),  # 9 days after the first visit
        (7, D(1), "visit", "US"),
        (7, D(1, 1), "purchase", "US"),
        (7, D(1, 2), "add_to_cart", "US"),  # cart after the purchase
        (9, D(30), "visit", "US"),  # window still open at the end of the data
    ]
    return pl.DataFrame(rows, schema=["customer_id", "ts", "event", "country"], orient="row")


def test_strict_order_hand_counts():
    f = wb.funnel(tiny(), STEPS, window="7d")
    t = f.table
    assert t["customers"].to_list() == [6, 2, 1]
    assert t["entered"].to_list() == [6, 6, 6]
    assert t["drop_off"].to_list() == [0, 4, 1]
    assert t["step_conversion"].to_list() == pytest.approx([1.0, 2 / 6, 1 / 2])
    assert t["overall_conversion"].to_list() == pytest.approx([1.0, 2 / 6, 1 / 6])
    assert t["drop_off_rate"].to_list() == pytest.approx([0.0, 4 / 6, 1 / 2])
    assert t["time_median"].to_list() == [None, timedelta(hours=2), timedelta(days=1)]
    assert f.params["entered"] == 6 and f.params["excluded_window_open"] == 1
    assert f.tests is None


def test_any_order_hand_counts_and_time_quantiles():
    t = wb.funnel(tiny(), STEPS, window="7d", order="any").table
    # Customer 3's cart at the visit instant and customer 7's purchase before the cart count.
    assert t["customers"].to_list() == [6, 3, 3]
    assert t["time_median"].to_list() == [None, timedelta(hours=2), timedelta(hours=5)]
    # Linear interpolation over (2h, 5h, 24h).
    assert t["time_p25"][2] == timedelta(hours=3, minutes=30)
    assert t["time_p75"][2] == timedelta(hours=14, minutes=30)


def test_first_step_occurrence_and_window_bounds():
    # Customer 5 converts within 7 days of a later visit, but the first visit is what counts.
    t = wb.funnel(tiny(), STEPS, window="10d").table
    assert t["customers"].to_list()[1] == 3  # with 10 days customer 5 reaches the cart
    exact = pl.DataFrame(
        {
            "customer_id": [1, 1, 2, 2],
            "ts": [D(1), D(8), D(1), D(8, 0, 1)],
            "event": ["visit", "add_to_cart", "visit", "add_to_cart"],
        }
    )
    t = wb.funnel(exact, ["visit", "add_to_cart"], window="7d", as_of="2024-02-01").table
    assert t["customers"].to_list() == [2, 1]  # exactly 7 days is inside, a minute more is not


def test_window_from_previous_step():
    rows = [
        (1, D(1), "visit"),
        (1, D(6), "add_to_cart"),
        (1, D(11), "purchase"),  # 10 days after the visit, 5 after the cart
    ]
    ev = pl.DataFrame(rows, schema=["customer_id", "ts", "event"], orient="row")
    first = wb.funnel(ev, STEPS, as_of="2024-02-01").table
    prev = wb.funnel(ev, STEPS, window_from="previous", as_of="2024-02-01").table
    assert first["customers"].to_list() == [1, 1, 0]
    assert prev["customers"].to_list() == [1, 1, 1]


def test_as_of_leaves_out_open_windows():
    t = wb.funnel(tiny(), STEPS, as_of="2024-01-08").table
    # as_of = the end of Jan 8: entries after Jan 1 have 7-day windows still open then.
    assert t["customers"].to_list()[0] == 4  # customers 1, 2, 3, 7


def test_wilson_intervals_match_statsmodels():
    t = wb.funnel(tiny(), STEPS, order="any", level=0.9).table
    for row in t.filter(pl.col("step") > 1).iter_rows(named=True):
        prev = row["customers"] + row["drop_off"]
        lo, hi = proportion_confint(row["customers"], prev, alpha=0.1, method="wilson")
        assert (row["step_ci_low"], row["step_ci_high"]) == pytest.approx((lo, hi))
        lo, hi = proportion_confint(row["customers"], row["entered"], alpha=0.1, method="wilson")
        assert (row["overall_ci_low"], row["overall_ci_high"]) == pytest.approx((lo, hi))
    first = t.row(0, named=True)
    assert first["step_ci_low"] is None and first["time_median"] is None


def test_breakdown_by_event_column_with_chi_square():
    f = wb.funnel(tiny(), STEPS, by="country")
    t = f.table
    assert t.select("country", "step", "customers").rows() == [
        ("UK", 1, 3),
        ("UK", 2, 0),
        ("UK", 3, 0),
        ("US", 1, 3),
        ("US", 2, 2),
        ("US", 3, 1),
    ]
    tests = f.tests
    row = tests.filter((pl.col("step") == 2) & (pl.col("measure") == "overall")).row(0, named=True)
    res = sps.chi2_contingency(np.array([[0, 3], [2, 1]]), correction=False)
    assert row["chi2"] == pytest.approx(res.statistic)
    assert row["p_value"] == pytest.approx(res.pvalue)
    assert (row["df"], row["segments"]) == (1, 2)
    # Step 3 from step 2: only US has customers at step 2, so there is nothing to compare.
    step3 = tests.filter((pl.col("step") == 3) & (pl.col("measure") == "step")).row(0, named=True)
    assert step3["segments"] == 1 and step3["p_value"] is None


def test_breakdown_by_customer_attribute():
    customers = pl.DataFrame(
        {"customer_id": [1, 2, 3, 4, 5, 7], "plan": ["a", "a", "b", "b", "b", None]}
    )
    t = wb.funnel(tiny().drop("country"), STEPS, by="plan", customers=customers).table
    got = {(r["plan"], r["step"]): r["customers"] for r in t.iter_rows(named=True)}
    assert got[("a", 1)] == 2 and got[("a", 2)] == 1 and got[("a", 3)] == 1
    assert got[("b", 1)] == 3 and got[("b", 2)] == 0
    assert got[(None, 1)] == 1 and got[(None, 2)] == 1  # customers without a plan stay visible


def test_bad_input():
    ev = tiny()
    with pytest.raises(wb.BadParameterError, match="at least two event names"):
        wb.funnel(ev, ["visit"])
    with pytest.raises(wb.BadParameterError, match="order='random'"):
        wb.funnel(ev, STEPS, order="random")
    with pytest.raises(wb.BadParameterError, match="repeats an event"):
        wb.funnel(ev, ["visit", "visit"], order="any")
    with pytest.raises(wb.BadParameterError, match="window='a week'"):
        wb.funnel(ev, STEPS, window="a week")
    with pytest.raises(wb.BadParameterError, match="needs order='strict'"):
        wb.funnel(ev, STEPS, order="any", window_from="previous")
    with pytest.raises(wb.MissingColumnError, match="by='contry'.*Did you mean 'country'"):
        wb.funnel(ev, STEPS, by="contry")
    with pytest.raises(wb.MissingColumnError, match="events has no column 'customer_id'"):
        wb.funnel(ev.drop("customer_id"), STEPS)


def test_repeated_step_in_strict_order_means_a_second_occurrence():
    t = wb.funnel(tiny(), ["visit", "visit"], window="6d").table
    assert t["customers"].to_list() == [6, 0]
    t = wb.funnel(tiny(), ["visit", "visit"], window="7d").table
    assert t["customers"].to_list() == [6, 1]  # customer 5's second visit is exactly 7 days later


def random_log(seed, n=30):
    rng = np.random.default_rng(seed)
    names = np.array(STEPS + ["other"])
    k = int(rng.integers(1, 8 * n))
    start = datetime(2024, 1, 1, tzinfo=UTC)
    return pl.DataFrame(
        {
            "customer_id": rng.integers(0, n, k),
            "ts": [start + timedelta(hours=int(h)) for h in rng.integers(0, 24 * 40, k)],
            "event": names[rng.integers(0, 4, k)],
        }
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 100_000), st.sampled_from(["1d", "3d", "7d"]))
def test_properties(seed, window):
    ev = random_log(seed)
    strict = wb.funnel(ev, STEPS, window=window, as_of="2024-03-01").table
    anyo = wb.funnel(ev, STEPS, window=window, order="any", as_of="2024-03-01").table
    counts = strict["customers"].to_list()
    assert counts == sorted(counts, reverse=True)
    assert all(s <= a for s, a in zip(counts, anyo["customers"].to_list(), strict=True))
    assert strict["overall_conversion"].is_between(0, 1).all()
    shuffled = wb.funnel(
        ev.sample(fraction=1.0, shuffle=True, seed=seed).lazy(),
        STEPS,
        window=window,
        as_of="2024-03-01",
    ).table
    assert_frame_equal(strict, shuffled)


def test_plot_structure():
    plain = wb.funnel(tiny(), STEPS).plot()
    assert [tr.type for tr in plain.data] == ["bar", "bar"]
    assert [tr.name for tr in plain.data] == ["reached", "dropped off"]
    assert plain.layout.barmode == "stack"
    assert plain.layout.yaxis.title.text == "Customers"
    assert plain.layout.xaxis.title.text == "Step"
    split = wb.funnel(tiny(), STEPS, by="country").plot()
    assert [tr.name for tr in split.data] == ["UK", "US"]
    assert split.layout.barmode == "group"
    assert "reached" in split.data[0].hovertext[0]


def test_sample_funnel_near_truth():
    sample = wb.datasets.load_sample()
    truth = sample.truth["funnel"]
    steps = list(truth["steps"])
    window = f"{truth['window_days']}d"
    t = wb.funnel(sample.events, steps, window=window, as_of=sample.as_of).table
    realised = truth["realised"]
    assert t["customers"][0] == pytest.approx(realised["visitors"], abs=10)
    assert t["step_conversion"][1] == pytest.approx(realised["visit_to_add_to_cart"], abs=0.005)
    assert t["step_ci_low"][1] <= truth["visit_to_add_to_cart"] <= t["step_ci_high"][1]
    # The generator measures the purchase step from the cart time: window_from="previous".
    prev = wb.funnel(sample.events, steps, window=window, window_from="previous").table
    assert prev["step_conversion"][2] == pytest.approx(
        realised["add_to_cart_to_purchase"], abs=0.01
    )
    assert prev["step_ci_low"][2] <= truth["add_to_cart_to_purchase"] <= prev["step_ci_high"][2]
    # From the visit, the purchase must come within 7 days of it, which some carts miss.
    assert t["step_conversion"][2] < prev["step_conversion"][2]
