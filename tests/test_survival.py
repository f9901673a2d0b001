"""Kaplan-Meier curves, log-rank comparisons and Cox drivers, with lifelines as the oracle."""

import math
import warnings

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.datasets import load_rossi
from lifelines.statistics import logrank_test, multivariate_logrank_test
from lifelines.utils import median_survival_times, restricted_mean_survival_time
from statsmodels.stats.multitest import multipletests

import workbench as wb
from workbench.survival import rmst


def churn_rows(n=3000, seed=2, groups=("x", "y", "z")):
    rng = np.random.default_rng(seed)
    g = rng.choice(list(groups), n)
    scale = {"x": 150.0, "y": 200.0, "z": 260.0}
    life = np.ceil(rng.exponential([scale[v] for v in g])).astype(np.int64)
    follow = rng.integers(0, 500, n)
    return pl.DataFrame(
        {"duration_days": np.minimum(life, follow), "churned": life <= follow, "grp": g}
    )


def lifelines_km(sub: pl.DataFrame) -> KaplanMeierFitter:
    return KaplanMeierFitter().fit(sub["duration_days"].to_numpy(), sub["churned"].to_numpy())


# -- Kaplan-Meier ------------------------------------------------------------------------------


@pytest.mark.parametrize("lazy", [False, True])
def test_km_equals_lifelines_on_the_same_rows(lazy):
    df = churn_rows()
    res = wb.churn_curves(df.lazy() if lazy else df, by="grp")
    for g in ("x", "y", "z"):
        sub = df.filter(pl.col("grp") == g)
        k = lifelines_km(sub)
        ours = res.table.filter(pl.col("grp") == g)
        assert ours["t"].to_numpy() == pytest.approx(k.survival_function_.index.to_numpy())
        np.testing.assert_allclose(ours["survival"], k.survival_function_.iloc[:, 0], atol=1e-12)
        ci = k.confidence_interval_.to_numpy()
        np.testing.assert_allclose(ours["ci_low"], ci[:, 0], atol=1e-12)
        np.testing.assert_allclose(ours["ci_high"], ci[:, 1], atol=1e-12)
        et = k.event_table
        assert ours["at_risk"].to_list() == et["at_risk"].astype(int).to_list()
        assert ours["events"].to_list() == et["observed"].astype(int).to_list()
        summ = res.summary.filter(pl.col("grp") == g).row(0, named=True)
        assert summ["median_days"] == k.median_survival_time_
        mci = median_survival_times(k.confidence_interval_)
        assert (summ["median_ci_low"], summ["median_ci_high"]) == tuple(mci.iloc[0])
        assert summ["rmst_days"] == pytest.approx(
            restricted_mean_survival_time(k, t=365), rel=1e-12
        )
        assert summ["customers"] == sub.height and summ["churned"] == sub["churned"].sum()


def test_weighted_rows_equal_expanded_rows():
    df = churn_rows(n=2000)
    agg = df.group_by("grp", "duration_days", "churned").len().rename({"len": "n"})
    a = wb.churn_curves(df, by="grp")
    b = wb.churn_curves(agg, by="grp", weights="n")
    assert a.table.equals(b.table)
    assert a.summary.equals(b.summary)
    assert a.compare().equals(b.compare())


def test_km_tiny_hand_checked():
    # durations 1,2,2,3(censored),4 ; events at 1, 2, 2, 4
    df = pl.DataFrame(
        {"duration_days": [1, 2, 2, 3, 4], "churned": [True, True, True, False, True]}
    )
    res = wb.churn_curves(df, horizons=(0, 2, 3, 10), rmst_horizon=4, min_group_size=0)
    t = res.table
    assert t["t"].to_list() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert t["survival"].to_list() == pytest.approx([1.0, 0.8, 0.8 * 2 / 4, 0.4, 0.0])
    assert t["at_risk"].to_list() == [5, 5, 4, 2, 1]
    h = res.at_horizons
    assert h["survival"].to_list() == pytest.approx([1.0, 0.4, 0.4, 0.0])
    assert h["at_risk"].to_list() == [5, 4, 2, 0]
    s = res.summary.row(0, named=True)
    assert s["median_days"] == 2.0
    # area: 1*1 + 0.8*1 + 0.4*1 + 0.4*1 = 2.6
    assert s["rmst_days"] == pytest.approx(2.6)


def test_horizon_and_rmst_beyond_follow_up_are_null():
    df = pl.DataFrame({"duration_days": [5, 10, 20], "churned": [True, False, False]})
    res = wb.churn_curves(df, horizons=(10, 30), rmst_horizon=365, min_group_size=0)
    assert res.at_horizons["survival"].to_list()[1] is None
    assert res.summary["rmst_days"][0] is None
    assert res.summary["median_days"][0] is None  # never below 0.5


def test_rmst_standard_error_without_censoring_is_the_sample_one():
    rng = np.random.default_rng(3)
    d = rng.integers(1, 400, 1500)
    res = wb.churn_curves(
        pl.DataFrame({"duration_days": d, "churned": [True] * d.size}), rmst_horizon=200
    )
    x = np.minimum(d, 200)
    s = res.summary.row(0, named=True)
    assert s["rmst_days"] == pytest.approx(x.mean(), rel=1e-12)
    se = (s["rmst_ci_high"] - s["rmst_ci_low"]) / (2 * 1.959963984540054)
    assert se == pytest.approx(x.std() / math.sqrt(x.size), rel=1e-9)


def test_rmst_function_direct():
    area, se = rmst([0.0, 1.0, 2.0], [1.0, 0.5, 0.25], [4, 4, 2], [0, 2, 1], 3.0)
    assert area == pytest.approx(1.0 + 0.5 + 0.25)
    # A at t=1: 0.5 + 0.25 = 0.75 ; A at t=2: 0.25
    assert se == pytest.approx(math.sqrt(0.75**2 * 2 / (4 * 2) + 0.25**2 * 1 / (2 * 1)))


@settings(max_examples=30, deadline=None)
@given(
    d=st.lists(st.integers(0, 50), min_size=1, max_size=60),
    seed=st.integers(0, 1000),
)
def test_survival_never_increases_and_stays_in_unit_interval(d, seed):
    rng = np.random.default_rng(seed)
    df = pl.DataFrame({"duration_days": d, "churned": rng.random(len(d)) < 0.6})
    t = wb.churn_curves(df, horizons=(10,), min_group_size=0).table
    s = t["survival"].to_numpy()
    assert np.all(np.diff(s) <= 1e-15) and np.all((s >= 0) & (s <= 1))
    assert np.all(t["ci_low"].to_numpy() <= s + 1e-12)


# -- log-rank ----------------------------------------------------------------------------------


def test_compare_equals_lifelines_on_expanded_rows_with_bh():
    df = churn_rows(n=2500)
    cmp = wb.churn_curves(df, by="grp").compare()
    d, e, g = df["duration_days"].to_numpy(), df["churned"].to_numpy(), df["grp"].to_numpy()
    overall = cmp.filter(pl.col("test") == "overall").row(0, named=True)
    ref = multivariate_logrank_test(d, g, e)
    assert overall["statistic"] == pytest.approx(ref.test_statistic, rel=1e-12)
    assert overall["p_value"] == pytest.approx(ref.p_value, rel=1e-9)
    assert overall["df"] == 2
    pairs = cmp.filter(pl.col("test") == "pairwise")
    assert pairs.select("group_a", "group_b").rows() == [("x", "y"), ("x", "z"), ("y", "z")]
    for r in pairs.iter_rows(named=True):
        a, b = g == r["group_a"], g == r["group_b"]
        ref = logrank_test(d[a], d[b], e[a], e[b])
        assert r["statistic"] == pytest.approx(ref.test_statistic, rel=1e-12)
        assert r["p_value"] == pytest.approx(ref.p_value, rel=1e-9)
    bh = multipletests(pairs["p_value"].to_numpy(), method="fdr_bh")[1]
    np.testing.assert_allclose(pairs["p_adjusted"], bh, rtol=1e-12)
    assert cmp["p_value"].max() < 0.05  # the groups do differ


def test_compare_needs_groups_and_small_groups_warn():
    df = churn_rows(n=200)
    with pytest.raises(wb.BadParameterError, match="only one group"):
        wb.churn_curves(df).compare()
    with pytest.warns(wb.WorkbenchWarning, match="fewer than 100 customers"):
        wb.churn_curves(df, by="grp", min_group_size=100)


def test_churn_curves_errors():
    df = churn_rows(n=50)
    with pytest.raises(wb.MissingColumnError, match="no column 'chanel'"):
        wb.churn_curves(df, by="chanel", min_group_size=0)
    with pytest.raises(wb.BadDataError, match="negative"):
        wb.churn_curves(df.with_columns(pl.col("duration_days") - 1000), min_group_size=0)
    with pytest.raises(wb.BadParameterError, match="horizons"):
        wb.churn_curves(df, horizons=("a year",))
    with pytest.raises(wb.BadParameterError, match="level"):
        wb.churn_curves(df, level=95)


def test_churn_curves_from_a_churn_table_and_plot():
    s = wb.datasets.load_sample()
    table = wb.churn_table(
        s.events, subscriptions=s.subscriptions, as_of=s.as_of, customers=s.customers
    )
    res = wb.churn_curves(table, by="plan")
    assert set(res.summary["plan"]) == {"basic", "pro"}
    assert res.at_horizons.height == 6
    fig = res.plot()
    names = {t.name for t in fig.data if t.mode == "lines" and t.showlegend is not False}
    assert {"basic", "pro"} <= names
    assert fig.layout.yaxis.title.text == "Share not churned"
    assert fig.layout.xaxis2.title.text == "Days since start"
    assert sum(1 for t in fig.data if t.mode == "text") == 2  # at-risk rows
    assert "Churn curves" in res._repr_html_()
    cmp = res.compare()
    assert cmp.filter(pl.col("test") == "overall")["p_value"][0] < 0.001  # pro churns less


# -- Cox drivers -------------------------------------------------------------------------------


def rossi():
    return pl.from_pandas(load_rossi())


def test_cox_equals_lifelines_on_rossi():
    df = rossi()
    covs = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]
    with pytest.warns(wb.WorkbenchWarning, match="'age'.*'wexp'"):
        res = wb.churn_drivers(df, covariates=covs, duration="week", churned="arrest")
    ref = CoxPHFitter().fit(load_rossi(), duration_col="week", event_col="arrest")
    assert res.table["covariate"].to_list() == covs
    np.testing.assert_allclose(res.table["hazard_ratio"], ref.summary["exp(coef)"], rtol=1e-9)
    np.testing.assert_allclose(res.table["ci_low"], ref.summary["exp(coef) lower 95%"], rtol=1e-9)
    np.testing.assert_allclose(res.table["ci_high"], ref.summary["exp(coef) upper 95%"], rtol=1e-9)
    np.testing.assert_allclose(res.table["p_value"], ref.summary["p"], rtol=1e-7)
    assert res.concordance == pytest.approx(ref.concordance_index_)
    # published rossi values (lifelines docs): prio HR 1.10, fin HR 0.68
    hr = dict(res.table.select("covariate", "hazard_ratio").iter_rows())
    assert (round(hr["prio"], 2), round(hr["fin"], 2)) == (1.10, 0.68)


def test_cox_categorical_expansion_and_reference():
    df = rossi().with_columns(
        pl.when(pl.col("fin") == 1).then(pl.lit("aid")).otherwise(pl.lit("no_aid")).alias("money")
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", wb.WorkbenchWarning)  # rossi's age violates PH
        res = wb.churn_drivers(
            df, covariates=["money", "age", "prio"], duration="week", churned="arrest"
        )
        flipped = wb.churn_drivers(
            df,
            covariates=["money", "age", "prio"],
            duration="week",
            churned="arrest",
            reference={"money": "no_aid"},
        )
    assert res.params["reference"] == {"money": "aid"}
    assert res.table["covariate"].to_list() == ["money[no_aid]", "age", "prio"]
    ref = CoxPHFitter().fit(
        load_rossi()[["week", "arrest", "fin", "age", "prio"]], "week", "arrest"
    )
    hr_fin = ref.summary.loc["fin", "exp(coef)"]
    assert res.table["hazard_ratio"][0] == pytest.approx(1 / hr_fin, rel=1e-7)
    assert flipped.table["covariate"][0] == "money[aid]"
    assert flipped.table["hazard_ratio"][0] == pytest.approx(hr_fin, rel=1e-7)
    fig = res.plot()
    assert (
        fig.layout.xaxis.type == "log" and list(fig.data[0].y) == res.table["covariate"].to_list()
    )


def test_cox_warns_in_plain_words_on_ph_violation():
    # rossi's age and wexp are the textbook violations (lifelines' check_assumptions flags
    # them in the full model: rank-transform p = 0.0007 and 0.0068)
    covs = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]
    with pytest.warns(wb.WorkbenchWarning, match=r"'age'.*changes over the customer lifetime"):
        res = wb.churn_drivers(rossi(), covariates=covs, duration="week", churned="arrest")
    bad = res.ph_test.filter(pl.col("violated"))
    assert bad["covariate"].to_list() == ["age", "wexp"]
    assert bad["p_value"].to_list() == pytest.approx([0.00071, 0.0068], abs=5e-5)


def test_cox_strata_and_errors():
    df = rossi()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", wb.WorkbenchWarning)
        res = wb.churn_drivers(
            df, covariates=["fin", "prio"], strata=["wexp"], duration="week", churned="arrest"
        )
    ref = CoxPHFitter(strata=["wexp"]).fit(
        load_rossi()[["week", "arrest", "fin", "prio", "wexp"]], "week", "arrest"
    )
    np.testing.assert_allclose(res.table["coef"], ref.summary["coef"], rtol=1e-9)
    with pytest.raises(wb.BadParameterError, match="both covariates and strata"):
        wb.churn_drivers(df, covariates=["fin"], strata="fin", duration="week", churned="arrest")
    with pytest.raises(wb.BadParameterError, match="not a level"):
        wb.churn_drivers(
            df.with_columns(pl.col("fin").cast(pl.String)),
            covariates=["fin"],
            reference={"fin": "maybe"},
            duration="week",
            churned="arrest",
        )
    with pytest.raises(wb.MissingColumnError, match="no column 'duration_days'"):
        wb.churn_drivers(df, covariates=["fin"])
    with pytest.raises(wb.BadDataError, match="single value"):
        wb.churn_drivers(
            df.with_columns(pl.lit("a").alias("k")),
            covariates=["k"],
            duration="week",
            churned="arrest",
        )


@pytest.mark.slow
def test_cox_recovers_simulated_hazard_ratios():
    """Exponential lifetimes with known ratios: over 3 seeds x 3 ratios at least 8 of the 9
    95% intervals cover the truth, and every estimate is within 3 standard errors."""
    truth = {"channel[paid]": 1.6, "channel[social]": 0.7, "contacts": 1.25}
    covered = 0
    for seed in range(3):
        rng = np.random.default_rng(seed)
        n = 6000
        channel = rng.choice(["organic", "paid", "social"], n, p=[0.5, 0.3, 0.2])
        contacts = rng.poisson(0.6, n)
        hr = {"organic": 1.0, "paid": 1.6, "social": 0.7}
        rate = np.array([hr[c] for c in channel]) * 1.25**contacts / 200
        life = rng.exponential(1 / rate)
        follow = rng.uniform(0, 700, n)
        df = pl.DataFrame(
            {
                "duration_days": np.minimum(life, follow),
                "churned": life <= follow,
                "channel": channel,
                "contacts": contacts,
            }
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", wb.WorkbenchWarning)  # a chance PH flag is fine
            res = wb.churn_drivers(df, covariates=["channel", "contacts"])
        assert res.params["reference"] == {"channel": "organic"}
        for r in res.table.iter_rows(named=True):
            covered += r["ci_low"] <= truth[r["covariate"]] <= r["ci_high"]
            assert abs(r["coef"] - math.log(truth[r["covariate"]])) < 3 * r["se"], r
    assert covered >= 8


@pytest.mark.slow
def test_cox_recovers_sample_hazard_ratios_across_seeds():
    """Contractual first spells of the sample data; the generating ratios should sit inside the
    95% intervals except by chance: over 4 seeds x 4 ratios at least 13 of 16 intervals cover
    the truth (15.2 expected), and no estimate is more than 3 standard errors away."""
    covered, total = 0, 0
    for seed in range(4):
        s = wb.datasets.load_sample(seed=seed)
        table = wb.churn_table(
            s.events,
            subscriptions=s.subscriptions,
            as_of=s.as_of,
            customers=s.customers,
            episodes=True,
        )
        first = table.filter(pl.col("episode") == 1)
        res = wb.churn_drivers(first, covariates=["channel", "plan", "early_support_contacts"])
        for key, hr in s.truth["hazard_ratios"].items():
            r = res.table.filter(pl.col("covariate") == key).row(0, named=True)
            covered += r["ci_low"] <= hr <= r["ci_high"]
            total += 1
            assert abs(r["coef"] - math.log(hr)) < 3 * r["se"], (seed, key, r)
    assert total == 16 and covered >= 13


def test_cox_drops_rows_with_missing_values_with_a_warning():
    df = rossi().to_pandas()
    df.loc[:9, "prio"] = np.nan
    with pytest.warns(wb.WorkbenchWarning, match="10 of 432 rows"):
        res = wb.churn_drivers(
            pl.from_pandas(df), covariates=["prio", "fin"], duration="week", churned="arrest"
        )
    assert res.params["rows"] == 422


def test_pandas_input_accepted():
    df = churn_rows(n=300).to_pandas()
    assert isinstance(df, pd.DataFrame)
    res = wb.churn_curves(df, by="grp")
    assert res.summary.height == 3
