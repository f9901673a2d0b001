"""Activation actions: outcome windows, censoring, oracles, simulation and the sample's truth."""

import warnings
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

import workbench as wb
from workbench.activation import parse_outcome

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def at(days):
    return T0 + timedelta(days=days)


def tiny():
    """Customers 1-4 onboard on day 2; 1, 2, 3 and 5 buy on day 30.5; 9 signs up too late."""
    rows = []
    for c in range(1, 9):
        rows.append((c, at(0), "signup"))
        if c <= 4:
            rows.append((c, at(2), "onboarding_complete"))
        if c in (1, 2, 3, 5):
            rows.append((c, at(30.5), "purchase"))
    rows.append((9, at(40), "signup"))
    rows.append((1, at(60), "visit"))
    return pl.DataFrame(rows, schema=["customer_id", "ts", "event"], orient="row")


def test_tiny_hand_counts():
    res = wb.activation_effect(tiny(), outcome="d30", min_group_size=1)
    t = res.table
    assert t["action"].to_list() == ["onboarding_complete"]  # signup: everyone; visit: no one
    row = t.row(0, named=True)
    assert (row["n_did"], row["retained_did"], row["n_not"], row["retained_not"]) == (4, 3, 4, 1)
    assert row["lift"] == pytest.approx(0.5)
    assert row["ratio"] == pytest.approx(3.0)
    assert row["phi"] == pytest.approx(0.5)  # (3*3 - 1*1) / sqrt(4*4*4*4)
    assert row["test"] == "fisher"
    assert row["p_value"] == pytest.approx(sps.fisher_exact([[3, 1], [1, 3]]).pvalue)
    assert row["rank"] == 1 and row["significant"] is False
    assert res.params["customers"] == 8 and res.params["censored"] == 1
    assert res.params["skipped_actions"] == ["signup", "visit"]
    assert res.params["note"] == "association, not causation"


def test_outcome_windows_and_censoring():
    ev = tiny()
    # Day 30 is [30, 31): the day-30.5 purchases count, and nothing counts on day 29.
    d29 = wb.activation_effect(ev, outcome="d29", min_group_size=1).table.row(0, named=True)
    assert d29["retained_did"] + d29["retained_not"] == 0
    # on_or_after_d31 reaches customer 1's day-60 visit only when visits count as returns.
    later = wb.activation_effect(
        ev,
        actions=["onboarding_complete"],
        outcome="on_or_after_d31",
        return_event="visit",
        min_group_size=1,
    ).table.row(0, named=True)
    assert (later["retained_did"], later["retained_not"]) == (1, 0)
    # With as_of on day 31 the day-30 window of everyone has ended exactly then.
    early = wb.activation_effect(ev, outcome="d30", as_of=at(31), min_group_size=1)
    assert early.params["customers"] == 8
    censored = wb.activation_effect(ev, outcome="d30", as_of=at(30.9), min_group_size=1)
    assert censored.params["customers"] == 0 and censored.params["censored"] == 9
    assert censored.table.height == 0


def test_start_event_and_explicit_actions():
    ev = tiny().with_columns(
        pl.when(pl.col("event") == "signup")
        .then(pl.col("ts") + timedelta(days=1))
        .otherwise(pl.col("ts"))
        .alias("ts")
    )
    # Starting at the signup (day 1), onboarding on day 2 is within 7 days; purchases on day
    # 30.5 fall on day 29.5 after the start, i.e. in "d29".
    t = wb.activation_effect(
        ev, actions=["onboarding_complete"], start_event="signup", outcome="d29", min_group_size=1
    ).table
    assert t.select("retained_did", "retained_not").row(0) == (3, 1)


def test_parse_outcome():
    day = timedelta(days=1)
    assert parse_outcome("d30", caller="x") == (30 * day, 31 * day, False)
    assert parse_outcome("d8-30", caller="x") == (8 * day, 31 * day, False)
    assert parse_outcome("week1", caller="x") == (7 * day, 14 * day, False)
    assert parse_outcome("w2", caller="x") == (14 * day, 21 * day, False)
    assert parse_outcome("month1", caller="x") == (30 * day, 60 * day, False)
    assert parse_outcome("on_or_after_month1", caller="x") == (30 * day, 60 * day, True)
    for bad in ("day", "d30-8", "month", "m1x", 30, "on_or_after"):
        with pytest.raises(wb.BadParameterError, match="outcome="):
            parse_outcome(bad, caller="x")


def test_bad_input():
    ev = tiny()
    with pytest.raises(wb.BadParameterError, match="within='7d' ends after the outcome window"):
        wb.activation_effect(ev, outcome="d3")
    with pytest.raises(
        wb.BadParameterError, match="actions='onboard'.*Did you mean 'onboarding_complete'"
    ):
        wb.activation_effect(ev, actions=["onboard"])
    with pytest.raises(wb.BadParameterError, match="return_event='buy'"):
        wb.activation_effect(ev, return_event="buy")
    with pytest.raises(wb.BadParameterError, match="within='7 days please'"):
        wb.activation_effect(ev, within="7 days please")
    with pytest.raises(wb.MissingColumnError, match="events has no column 'ts'"):
        wb.activation_effect(ev.drop("ts"))
    with pytest.raises(wb.BadParameterError, match="alpha=2"):
        wb.activation_effect(ev, alpha=2)


def simulate(seed, n=4000, nulls=9, lift=0.1):
    """One action ("good") with a real retention lift among doers, `nulls` actions without."""
    rng = np.random.default_rng(seed)
    good = rng.random(n) < 0.4
    retained = rng.random(n) < np.where(good, 0.4 + lift, 0.4)
    start = T0 + timedelta(days=0)
    rows = {"customer_id": [], "ts": [], "event": []}

    def add(mask, day, name):
        ids = np.flatnonzero(mask)
        rows["customer_id"] += ids.tolist()
        rows["ts"] += [start + timedelta(days=day)] * ids.size
        rows["event"] += [name] * ids.size

    add(np.ones(n, bool), 0, "signup")
    add(good, 1, "good")
    for k in range(nulls):
        add(rng.random(n) < 0.3, 2, f"null_{k:03d}")
    add(retained, 35, "purchase")
    add(np.zeros(n, bool) | (np.arange(n) == 0), 80, "visit")  # pushes the data end out
    return pl.DataFrame(rows), good, retained


def test_simulated_action_found_and_oracles():
    ev, good, retained = simulate(3)
    res = wb.activation_effect(ev, outcome="month1", start_event="signup")
    t = res.table
    top = t.row(0, named=True)
    assert top["action"] == "good" and top["significant"]
    assert top["lift_ci_low"] < 0.1 < top["lift_ci_high"]
    assert top["phi"] == pytest.approx(np.corrcoef(good, retained)[0, 1])
    x1, n1, x2, n2 = top["retained_did"], top["n_did"], top["retained_not"], top["n_not"]
    assert top["p_value"] == pytest.approx(proportions_ztest([x1, x2], [n1, n2])[1])
    lo, hi = confint_proportions_2indep(x1, n1, x2, n2, method="newcomb")
    assert (top["lift_ci_low"], top["lift_ci_high"]) == pytest.approx((lo, hi))
    rlo, rhi = confint_proportions_2indep(x1, n1, x2, n2, compare="ratio", method="log")
    assert (top["ratio_ci_low"], top["ratio_ci_high"]) == pytest.approx((rlo, rhi))
    assert t["p_adjusted"].to_list() == pytest.approx(
        multipletests(t["p_value"].to_numpy(), method="fdr_bh")[1]
    )
    assert t["rank"].to_list() == list(range(1, t.height + 1))
    # Ranked by evidence: significant first, then adjusted p-value.
    key = list(zip((~t["significant"]).to_list(), t["p_adjusted"].to_list(), strict=True))
    assert key == sorted(key)
    assert t.filter(pl.col("action") != "good")["significant"].sum() <= 1


def test_null_actions_false_positive_rate():
    ev, _, _ = simulate(17, n=3000, nulls=200, lift=0.0)
    t = wb.activation_effect(ev, outcome="month1", start_event="signup").table
    assert 0.02 <= (t["p_value"] < 0.05).mean() <= 0.09
    assert t["significant"].sum() <= 2


def test_plot_says_association():
    ev, _, _ = simulate(5, n=800, nulls=3)
    res = wb.activation_effect(ev, outcome="month1", start_event="signup")
    fig = res.plot()
    assert len(fig.data) == 1 and fig.data[0].type == "scatter"
    assert "association, not causation" in fig.layout.title.text
    assert fig.layout.xaxis.title.text == "Retention lift (did - did not)"
    assert list(fig.data[0].y) == res.table["action"].to_list()
    assert "association, not causation" in res._repr_html_()


def test_sample_activation_action_has_lower_churn():
    sample = wb.datasets.load_sample()
    truth = sample.truth["activation"]
    subscribers = sample.customers.filter(pl.col("plan") != "none").select("customer_id")
    events = sample.events.join(subscribers, on="customer_id")
    with warnings.catch_warnings():  # rare actions such as an early cancel are small groups
        warnings.simplefilter("ignore", wb.WorkbenchWarning)
        res = wb.activation_effect(
            events,
            within=f"{truth['window_days']}d",
            outcome="on_or_after_month6",
            start_event="signup",
            as_of=sample.as_of,
        )
    # An early cancel is (trivially) the strongest negative association; the activation action
    # must be the strongest positive one.
    helpful = res.table.filter(pl.col("lift") > 0)
    top = helpful.row(0, named=True)
    assert top["action"] == truth["action"]
    assert top["significant"] and top["ratio_ci_low"] > 1
    assert helpful.filter(pl.col("significant")).height == 1
