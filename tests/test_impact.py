"""event_impact: hand-checked rates, oracles, simulated effects, placebos and the sample's truth."""

from __future__ import annotations

import math
import re
import warnings
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize

import workbench as wb
from workbench._impact_fit import band_edges, fit_banded
from workbench.errors import BadDataError, BadParameterError, MissingColumnError
from workbench.reports.sections_events import events_block
from workbench.stats import proportion_diff_ci

Z95 = 1.959963984540054
EVENT = date(2025, 3, 1)
AS_OF = date(2025, 6, 30)


# -- helpers ----------------------------------------------------------------------------------


def spells(rows, country="DE"):
    """A literal churn table: (start, churn_date or None, followed_days) per customer."""
    out = []
    for i, (start, churn, follow) in enumerate(rows):
        duration = (churn - start).days if churn else follow
        out.append((f"{country}{i}", start, churn, churn is not None, duration, country))
    return pl.DataFrame(
        out,
        schema=["customer_id", "start", "churn_date", "churned", "duration_days", "country"],
        orient="row",
    )


def hand_table(country="DE", churn_before=2, churn_after=3, stay=4):
    """All start on 2025-02-19 = the baseline start (window 10d, before 10d).

    stay customers are followed 20 days (10 before, 10 after); churn_before churn on day 5
    (churn date 02-24: 5 days exposed); churn_after churn on day 15 (churn date 03-06: 10 + 5).
    """
    s0 = date(2025, 2, 19)
    rows = [(s0, None, 20)] * stay
    rows += [(s0, date(2025, 2, 24), 0)] * churn_before
    rows += [(s0, date(2025, 3, 6), 0)] * churn_after
    return spells(rows, country)


def simulate_subscriptions(
    rng,
    *,
    n=1500,
    m=2.0,
    effect_days=30.0,
    event_day=420.0,
    horizon=700.0,
    period=30.0,
    monthly_hazard=0.08,
):
    """Subscribers starting uniformly over the horizon, exponential lifetimes whose hazard is
    multiplied by m in [event_day, event_day + effect_days), paying each 30-day period that
    starts before the lifetime ends (so churn shows at the end of the last paid period)."""
    lam = monthly_hazard / 30.4375
    start = rng.uniform(0, horizon - 30, n)
    need = rng.exponential(size=n) / lam  # integrated baseline hazard to consume, in days
    e0, e1 = event_day, event_day + effect_days
    pre = np.clip(e0 - start, 0, None)
    inside = np.clip(e1 - np.maximum(start, e0), 0, None) * m
    end = np.where(
        need <= pre,
        start + need,
        np.where(
            need - pre <= inside,
            np.maximum(start, e0) + (need - pre) / m,
            np.maximum(start, e1) + (need - pre - inside),
        ),
    )
    k = np.maximum(np.ceil((np.minimum(end, horizon) - start) / period).astype(int), 1)
    cid = np.repeat(np.arange(n), k)
    idx = np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k)
    ps = start[cid] + idx * period
    ok = ps <= horizon
    t0 = np.datetime64("2024-01-01T00:00:00", "us")
    us = (ps[ok] * 86_400e6).astype("int64")
    length = int(period * 86_400e6)
    return pl.DataFrame(
        {
            "customer_id": cid[ok].astype(np.int64),
            "period_start": pl.Series(t0 + us.astype("timedelta64[us]")),
            "period_end": pl.Series(t0 + (us + length).astype("timedelta64[us]")),
        }
    ).with_columns(pl.col("period_start", "period_end").dt.replace_time_zone("UTC"))


SIM_EVENT = date(2024, 1, 1) + timedelta(days=420)
SIM_AS_OF = date(2024, 1, 1) + timedelta(days=700)


def simulated_impact(subs, **kw):
    return wb.event_impact(
        annotation=SIM_EVENT.isoformat(),
        subscriptions=subs,
        window="30d",
        before="90d",
        as_of=SIM_AS_OF,
        **kw,
    ).table.row(0, named=True)


# -- hand-checked cases -----------------------------------------------------------------------


@pytest.mark.parametrize("adjust", [False, True])
@pytest.mark.parametrize("lazy", [False, True])
def test_literal_counts_give_the_exact_rate_ratio(adjust, lazy):
    tbl = hand_table()
    res = wb.event_impact(
        annotation={"start": EVENT, "label": "jump"},
        churn=tbl.lazy() if lazy else tbl,
        window="10d",
        as_of=AS_OF,
        adjust_tenure=adjust,
    )
    row = res.table.row(0, named=True)
    # before: 2 churns on 4*10 + 2*5 + 3*10 = 80 days; after: 3 churns on 4*10 + 3*5 = 55 days
    assert (row["n_events_before"], row["n_events_after"]) == (2, 3)
    assert (row["exposure_before"], row["exposure_after"]) == (80.0, 55.0)
    ratio = (3 / 55) / (2 / 80)
    assert row["estimate"] == pytest.approx(ratio, rel=1e-9)
    se = math.sqrt(1 / 3 + 1 / 2)
    assert row["ci_low"] == pytest.approx(ratio * math.exp(-Z95 * se), rel=1e-6)
    assert row["ci_high"] == pytest.approx(ratio * math.exp(Z95 * se), rel=1e-6)
    assert row["value_before"] == pytest.approx(2 / 80 * 30.4375)
    assert (row["window_start"], row["window_end"]) == (date(2025, 3, 1), date(2025, 3, 10))
    assert (row["before_start"], row["before_end"]) == (date(2025, 2, 19), date(2025, 2, 28))
    assert row["comparison"] == "everyone"


def test_difference_in_differences_matches_a_poisson_glm_with_interaction():
    tbl = pl.concat([hand_table("DE", 2, 6, 4), hand_table("US", 5, 4, 9)])
    res = wb.event_impact(
        annotation={
            "start": EVENT,
            "label": "launch",
            "segment_column": "country",
            "segment_value": "DE",
        },
        churn=tbl,
        window="10d",
        as_of=AS_OF,
        adjust_tenure=False,
    )
    t = res.table
    assert t["comparison"].to_list() == ["segment", "control", "difference in differences"]
    assert t["group"].to_list() == [
        "country = DE",
        "country != DE",
        "country = DE vs country != DE",
    ]
    seg, ctl = t.row(0, named=True), t.row(1, named=True)
    y = np.array(
        [
            seg["n_events_before"],
            seg["n_events_after"],
            ctl["n_events_before"],
            ctl["n_events_after"],
        ],
        dtype=float,
    )
    e = np.array(
        [
            seg["exposure_before"],
            seg["exposure_after"],
            ctl["exposure_before"],
            ctl["exposure_after"],
        ]
    )
    after, de = np.array([0, 1, 0, 1.0]), np.array([1, 1, 0, 0.0])
    x = np.column_stack([np.ones(4), after, de, after * de])
    with warnings.catch_warnings():  # saturated: statsmodels warns of 0 residual df / fit
        warnings.simplefilter("ignore")
        fit = sm.GLM(y, x, family=sm.families.Poisson(), offset=np.log(e)).fit()
    did = t.row(2, named=True)
    assert did["estimate"] == pytest.approx(math.exp(fit.params[3]), rel=1e-6)
    low, high = np.exp(fit.conf_int()[3])
    assert (did["ci_low"], did["ci_high"]) == (
        pytest.approx(low, rel=1e-5),
        pytest.approx(high, rel=1e-5),
    )
    assert did["p_value"] == pytest.approx(fit.pvalues[3], rel=1e-5)
    assert seg["estimate"] == pytest.approx(math.exp(fit.params[1] + fit.params[3]), rel=1e-6)
    assert "Relative to the control" in res.verdict


def test_renewal_units_fully_inside_windows_have_a_closed_form():
    # 10-day periods. Baseline window [S-10, S), after window [S, S+10).
    s = date(2025, 3, 1)
    rows = []

    def customer(cid, n_periods):
        for k in range(n_periods):
            a = s - timedelta(days=10) + timedelta(days=10 * k)
            rows.append((cid, a, a + timedelta(days=10)))

    for i in range(6):  # churn in the baseline window
        customer(f"b{i}", 1)
    for i in range(14):  # renew through both windows
        customer(f"r{i}", 3)
    for i in range(5):  # churn in the after window
        customer(f"a{i}", 2)
    subs = pl.DataFrame(rows, schema=["customer_id", "period_start", "period_end"], orient="row")
    res = wb.event_impact(
        annotation=s.isoformat(), subscriptions=subs, window="10d", grace="5d", as_of="2025-04-30"
    )
    row = res.table.row(0, named=True)
    # P(churn in a unit of d days) = 1 - exp(-d * rate): rate = -log(1 - y / n) / d per part.
    h_before, h_after = -math.log(1 - 6 / 25), -math.log(1 - 5 / 19)
    assert row["estimate"] == pytest.approx(h_after / h_before, rel=1e-6)
    # Fisher information of log-rate: n H^2 / (e^H - 1).
    var = 1 / (19 * h_after**2 / math.expm1(h_after)) + 1 / (
        25 * h_before**2 / math.expm1(h_before)
    )
    assert row["ci_high"] == pytest.approx(
        h_after / h_before * math.exp(Z95 * math.sqrt(var)), rel=1e-5
    )
    assert (row["n_events_before"], row["n_events_after"]) == (6, 5)
    assert (row["exposure_before"], row["exposure_after"]) == (250.0, 190.0)


def test_retention_compares_shares_at_risk_with_newcombe_intervals():
    tbl = pl.concat([hand_table("DE", 2, 3, 4), hand_table("US", 1, 1, 8)])
    # Customers already there on 02-09 for the baseline window [02-19, 03-01) of 10 days.
    early = spells([(date(2025, 2, 9), None, 40)] * 3, "DE").with_columns(
        pl.format("E{}", pl.col("customer_id")).alias("customer_id")
    )
    res = wb.event_impact(
        annotation={
            "start": EVENT,
            "label": "x",
            "segment_column": "country",
            "segment_value": "DE",
        },
        churn=pl.concat([tbl, early]),
        metric="retention",
        window="10d",
        as_of=AS_OF,
    )
    seg = res.table.row(0, named=True)
    # At risk on 02-19 (DE): 9 + 3 early; 2 churn by 03-01. At risk on 03-01: 7 + 3; 3 churn.
    assert (seg["exposure_before"], seg["n_events_before"]) == (12.0, 2)
    assert (seg["exposure_after"], seg["n_events_after"]) == (10.0, 3)
    assert seg["estimate"] == pytest.approx(7 / 10 - 10 / 12)
    low, high = proportion_diff_ci(7, 10, 10, 12)
    assert (seg["ci_low"], seg["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    ctl = res.table.row(1, named=True)  # US: 10 at risk, 1 churns; then 9, 1 churns
    assert ctl["estimate"] == pytest.approx(8 / 9 - 9 / 10)
    did = res.table.row(2, named=True)
    assert did["estimate"] == pytest.approx((7 / 10 - 10 / 12) - (8 / 9 - 9 / 10))
    assert did["measure"] == "difference in retention differences (segment - control)"


# -- the fitters against oracles ----------------------------------------------------------------


def test_banded_poisson_fit_matches_statsmodels():
    rng = np.random.default_rng(3)
    bands, days = 4, rng.uniform(50, 400, size=(4, 2))
    rates = np.exp(np.array([-4.0, -4.3, -4.8, -5.0]))[:, None] * np.array([1.0, 1.7])
    y = rng.poisson(days * rates)
    theta, cov, ok = fit_banded(days, np.arange(bands), y)
    assert ok
    yy = y.ravel()
    x = np.zeros((8, 5))
    x[np.arange(8), np.repeat(np.arange(4), 2)] = 1
    x[1::2, 4] = 1
    fit = sm.GLM(yy, x, family=sm.families.Poisson(), offset=np.log(days.ravel())).fit()
    np.testing.assert_allclose(theta, fit.params, rtol=1e-7)
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), fit.bse, rtol=1e-5)


def test_interval_fit_matches_direct_likelihood_maximisation():
    rng = np.random.default_rng(4)
    days = rng.integers(0, 31, size=(40, 3)).astype(float)
    days[:, 0] += 1
    band = rng.integers(0, 2, 40)
    n = rng.integers(5, 30, 40).astype(float)
    h = days @ np.array([0.004, 0.009, 0.005]) * np.where(band == 1, 0.7, 1.0)
    y = rng.binomial(n.astype(int), -np.expm1(-h)).astype(float)
    theta, cov, ok = fit_banded(days, band, y, n)
    assert ok

    def nll(t):
        rates = np.exp(np.array([t[band], t[band] + t[2], t[band] + t[3]]).T)
        hh = (days * rates).sum(axis=1)
        return -(y * np.log(-np.expm1(-hh)) - (n - y) * hh).sum()

    best = optimize.minimize(
        nll,
        theta + 0.3,
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000},
    )
    np.testing.assert_allclose(theta, best.x, atol=1e-4)
    assert nll(theta) <= best.fun + 1e-9


def test_tenure_adjusted_ratio_agrees_with_a_time_varying_cox_model():
    from lifelines import CoxTimeVaryingFitter

    rng = np.random.default_rng(5)
    n, lo, st, hi = 2000, 300, 390, 420
    start = rng.uniform(0, 380, n).round()
    lam = 0.002 * rng.gamma(2.0, 0.5, n)  # heterogeneity: the base ages and selects
    t = start + rng.exponential(1 / lam)
    # multiplier 1.8 in [st, hi): redraw the remaining life at the higher rate inside
    inside = (t >= st) & (start < hi)
    left = np.maximum(start, st)
    t = np.where(inside, left + rng.exponential(1 / (1.8 * lam)), t)
    t = np.where(inside & (t > hi), hi + rng.exponential(1 / lam), t)
    end = np.floor(t) + 1  # churn date: the day after the day of the churn
    as_of = 600
    churned = end <= as_of
    t0 = date(2024, 1, 1)
    tbl = pl.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "start": [t0 + timedelta(days=int(s)) for s in start],
            "churn_date": [
                t0 + timedelta(days=int(e)) if c else None
                for e, c in zip(end, churned, strict=True)
            ],
            "churned": churned,
            "duration_days": np.where(churned, end - start, as_of - start).astype(int),
        }
    )
    res = wb.event_impact(
        annotation=(t0 + timedelta(days=st)).isoformat(),
        churn=tbl,
        window=f"{hi - st}d",
        before=f"{st - lo}d",
        as_of=t0 + timedelta(days=as_of),
    )
    ours = res.table.row(0, named=True)
    # Start-stop episodes on the tenure scale inside [lo, hi), split at the event day.
    ep = []
    for i in range(n):
        a, b = max(start[i], lo), min(end[i], hi)
        for p0, p1, flag in ((a, min(b, st), 0), (max(a, st), b, 1)):
            if p1 > p0:
                ev = bool(churned[i] and end[i] == p1 and end[i] <= hi)
                ep.append((i, p0 - start[i], p1 - start[i], flag, ev))
    frame = pl.DataFrame(ep, schema=["id", "t0", "t1", "after", "event"], orient="row")
    ctv = CoxTimeVaryingFitter()
    ctv.fit(frame.to_pandas(), id_col="id", start_col="t0", stop_col="t1", event_col="event")
    cox = math.exp(ctv.params_["after"])
    assert abs(math.log(ours["estimate"]) - math.log(cox)) < 0.06
    assert ours["ci_low"] < 1.8 < ours["ci_high"]


def test_band_merging_keeps_enough_churns_per_band():
    edges = (0.0, 30.0, 60.0, 90.0, math.inf)
    assert band_edges(np.array([0, 30, 60, 90.0]), np.array([12, 3, 9, 20]), edges) == [
        0.0,
        30.0,
        90.0,
        math.inf,
    ]
    assert band_edges(np.array([0, 30.0]), np.array([4, 3]), (0.0, 30.0, math.inf)) == [
        0.0,
        math.inf,
    ]


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(0, 10))
def test_single_band_estimate_is_the_crude_rate_ratio(before, after, stay):
    tbl = hand_table("DE", before, after, stay)
    row = wb.event_impact(
        annotation=EVENT.isoformat(), churn=tbl, window="10d", as_of=AS_OF
    ).table.row(0, named=True)
    crude = (after / (10 * stay + 5 * after)) / (before / (10 * stay + 5 * before + 10 * after))
    assert row["estimate"] == pytest.approx(crude, rel=1e-8)


# -- simulations: effects recovered, placebos calibrated -----------------------------------------


def test_simulated_effect_after_a_date_is_recovered_from_monthly_renewals():
    rng = np.random.default_rng(11)
    logs, covered = [], 0
    for _ in range(12):
        row = simulated_impact(simulate_subscriptions(rng, m=2.0))
        logs.append(math.log(row["estimate"]))
        covered += row["ci_low"] <= 2.0 <= row["ci_high"]
    assert abs(np.mean(logs) - math.log(2.0)) < 0.1
    assert covered >= 10


def test_dating_churn_by_the_end_of_the_paid_period_would_dilute_the_effect():
    rng = np.random.default_rng(12)
    subs = simulate_subscriptions(rng, n=4000, m=2.5)
    tbl = wb.churn_table(subscriptions=subs, episodes=True, as_of=SIM_AS_OF)
    naive = wb.event_impact(
        annotation=SIM_EVENT.isoformat(), churn=tbl, window="30d", before="90d"
    ).table.row(0, named=True)
    ours = simulated_impact(subs)
    assert abs(math.log(ours["estimate"] / 2.5)) < 0.25  # sd of the log estimate is about 0.1
    assert naive["estimate"] < ours["estimate"] - 0.3


def test_placebo_dates_reject_no_more_often_than_the_level_says():
    rng = np.random.default_rng(13)
    rejections = sum(
        simulated_impact(simulate_subscriptions(rng, n=800, m=1.0))["p_value"] < 0.05
        for _ in range(100)
    )
    assert rejections <= 10


# -- the sample's known events ------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample():
    return wb.datasets.load_sample()


@pytest.mark.parametrize(
    ("key", "before"),
    # Baselines: 90 days, except the outage, whose 90 days would reach back into the tariff
    # change's effect on basic subscribers (flagged as concurrent); 60 days stop short of it.
    [("tariff_change", "90d"), ("outage", "60d"), ("competitor_launch", "90d")],
)
def test_sample_events_are_recovered_within_their_intervals(sample, key, before):
    truth = sample.truth["annotations"][key]
    start, stop = truth["effect_start"], truth["effect_end"]
    window = f"{(stop - start).days}d" if stop else "90d"  # open-ended: up to the data's reach
    ann = sample.annotations.filter(pl.col("label") == truth["label"])
    res = wb.event_impact(
        annotation=ann,
        subscriptions=sample.subscriptions,
        customers=sample.customers,
        window=window,
        before=before,
        annotations=sample.annotations,
    )
    t = res.table
    m = truth["hazard_multiplier"]
    for row in t.iter_rows(named=True):
        if row["comparison"] in ("segment", "everyone", "difference in differences"):
            assert row["ci_low"] <= m <= row["ci_high"], row
    if truth["segment_column"]:
        assert t["comparison"][0] == "segment"
        assert t["group"][0] == f"{truth['segment_column']} = {truth['segment_value']}"
    assert truth["label"] in res.verdict


def test_sample_tariff_change_shows_strong_evidence_and_a_placebo_shows_none(sample):
    tariff = sample.annotations.filter(pl.col("kind") == "pricing")
    res = wb.event_impact(
        annotation=tariff,
        subscriptions=sample.subscriptions,
        customers=sample.customers,
        window="30d",
        before="90d",
    )
    seg = res.table.row(0, named=True)
    assert seg["p_value"] < 0.001 and seg["estimate"] > 1.5
    assert "strong evidence that churn rose in plan = basic" in res.verdict
    placebo = wb.event_impact(
        annotation="2024-12-01", subscriptions=sample.subscriptions, window="60d", before="90d"
    )
    row = placebo.table.row(0, named=True)
    assert row["ci_low"] < 1 < row["ci_high"] and row["p_value"] > 0.05
    assert "no clear evidence" in placebo.verdict


def test_concurrent_events_and_the_data_edge_are_named_in_the_verdict(sample):
    res = wb.event_impact(
        annotation=sample.annotations,
        subscriptions=sample.subscriptions,
        customers=sample.customers,
        window="90d",
        before="90d",
    )
    t = res.table
    outage = t.filter(pl.col("label") == "Service outage").row(0, named=True)
    # The tariff change falls in the baseline, the competitor launch in the 90 days after.
    assert outage["concurrent"] == "Basic plan price 9.99 -> 12.99; Competitor launch in DE"
    comp = res.verdicts["Competitor launch in DE"]
    assert "other annotated events overlap the compared windows (Service outage)" in comp
    assert "churn is known only up to 2025-11-15" in comp
    assert t.height == 7 and res.coefficients is not None
    assert set(res.coefficients["term"]) >= {"after window"}


def test_event_after_the_observable_horizon_is_not_measurable(sample):
    res = wb.event_impact(annotation="2025-12-01", subscriptions=sample.subscriptions)
    assert res.table["estimate"][0] is None
    assert "not measurable yet" in res.verdict


def test_events_mode_uses_inactivity_churn(sample):
    res = wb.event_impact(
        sample.events, {"start": "2025-01-15", "label": "placebo"}, churn="90d", window="30d"
    )
    assert res.params["churn"] == "inactivity churn (90 days)"
    assert res.params["method"] == "Poisson rates on exact churn days"
    assert res.table["n_events_before"][0] > 50


def test_result_object_plots_and_renders(sample):
    res = wb.event_impact(
        annotation=sample.annotations,
        subscriptions=sample.subscriptions,
        customers=sample.customers,
        window="30d",
        before="90d",
    )
    fig = res.plot()
    assert fig.layout.xaxis.type == "log"
    assert len(fig.data[0].x) == res.table.height
    assert "Hazard ratio" in fig.layout.xaxis.title.text
    html = res._repr_html_()
    assert "Event impact" in html and "Verdict" in html
    assert res.params["measure"] == "hazard ratio (after / before)"
    assert "tenure" in res.definition


def test_row_order_and_column_names_do_not_matter(sample):
    subs = sample.subscriptions
    kw = {"window": "30d", "before": "90d"}
    ann = {"start": "2025-03-01", "label": "t"}
    a = wb.event_impact(annotation=ann, subscriptions=subs, **kw).table
    renamed = subs.sample(fraction=1.0, shuffle=True, seed=1).rename({"period_start": "from"})
    b = wb.event_impact(
        annotation=ann,
        subscriptions=renamed.to_pandas(),
        subscription_schema=wb.SubscriptionSchema(period_start="from"),
        **kw,
    ).table
    assert a.equals(b)


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"metric": "hazard"}, BadParameterError, "metric='hazard' is not supported"),
        ({"window": "a month"}, BadParameterError, "window='a month' is not a whole number"),
        ({"metric": "retention", "before": "60d"}, BadParameterError, "equal length"),
        ({"segment": "DE"}, BadParameterError, "segment='DE' is not supported"),
        ({"segment": False, "control": "UK"}, BadParameterError, "control= needs a segment"),
        ({"control": "UK"}, BadParameterError, "applies to everyone"),
        ({"control": 3, "segment": ("country", "DE")}, BadParameterError, "control=3"),
        ({"segment": {"contry": "DE"}}, MissingColumnError, "Did you mean 'country'"),
        ({"segment": {"country": "DEU"}}, BadDataError, "Did you mean 'DE'"),
        ({"level": 95}, BadParameterError, "level=95"),
        ({"churn": "90d"}, BadParameterError, "either subscriptions= .* or churn="),
    ],
)
def test_bad_parameters_raise_with_a_fix(sample, kwargs, error, match):
    kw = {"subscriptions": sample.subscriptions, "customers": sample.customers}
    with pytest.raises(error, match=match):
        wb.event_impact(annotation="2025-03-01", **{**kw, **kwargs})


def test_bad_annotation_and_missing_sources():
    with pytest.raises(MissingColumnError, match="no column 'label'"):
        wb.event_impact(annotation=pl.DataFrame({"start": ["2025-03-01"]}), churn=hand_table())
    with pytest.raises(BadDataError, match="ends .* before it starts"):
        wb.event_impact(
            annotation={"start": "2025-03-05", "end": "2025-03-01", "label": "x"},
            churn=hand_table(),
        )
    with pytest.raises(BadDataError, match="cannot be parsed"):
        wb.event_impact(annotation={"start": "2025-02-30", "label": "x"}, churn=hand_table())
    with pytest.raises(BadParameterError, match="no churn data"):
        wb.event_impact(annotation="2025-03-01")
    with pytest.raises(BadParameterError, match="pass the event"):
        wb.event_impact(churn=hand_table())
    with pytest.raises(MissingColumnError, match="churn table has no column 'churned'"):
        wb.event_impact(annotation="2025-03-01", churn=hand_table().drop("churned"))


# -- report block -------------------------------------------------------------------------------


def test_report_block_escapes_labels_and_lists_impacts():
    ann = wb.load_annotations(pl.DataFrame({"start": ["2025-03-01"], "label": ["<b>x</b> & y"]}))
    res = wb.event_impact(annotation=ann, churn=hand_table(), window="10d", as_of=AS_OF)
    html = events_block(
        ann,
        {"<b>x</b> & y": res},
        month="2025-03",
        first_day=date(2025, 3, 1),
        last_day=date(2025, 3, 31),
    )
    assert "&lt;b&gt;x&lt;/b&gt; &amp; y" in html and "<b>x</b> &" not in html
    assert "(this month)" in html and "2.18x" in html
    empty = events_block(
        ann.clear(), {}, month="2025-03", first_day=date(2025, 3, 1), last_day=date(2025, 3, 31)
    )
    assert "No business events" in empty


def test_report_section_for_a_month_with_a_measurable_event():
    from workbench.reports.context import load_context
    from workbench.reports.sections_events import what_happened

    sec = what_happened(load_context(month="2025-06"))
    assert sec.id == "events" and sec.title == "What happened this month"
    body = sec.html()
    assert "Service outage <b>(this month)</b>" in body and "not measurable yet" in body
    assert "Basic plan price 9.99 -&gt; 12.99" in body
    assert re.search(r"<td class=\"wb-num\">\d\.\d\dx \(\d\.\d\d to \d\.\d\d\), p = ", body)
    assert sec.n_figures == 1
