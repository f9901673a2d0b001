from datetime import UTC, datetime, timedelta

import numpy as np
import plotly.graph_objects as go
import polars as pl
import pytest
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint

import workbench as wb

# ----------------------------------------------------------------------------- FDR on nulls


def _null_frame(rng, n_per_group: int, n_numeric: int, n_categorical: int, n_real: int = 0):
    g = np.r_[np.ones(n_per_group, bool), np.zeros(n_per_group, bool)]
    cols = {"customer_id": [f"c{i}" for i in range(2 * n_per_group)], "churned": g}
    for j in range(n_numeric):
        cols[f"null_num_{j}"] = rng.standard_normal(2 * n_per_group)
    for j in range(n_categorical):
        cols[f"null_cat_{j}"] = rng.choice(["a", "b", "c"], 2 * n_per_group).tolist()
    for j in range(n_real):
        cols[f"real_{j}"] = rng.standard_normal(2 * n_per_group) + 0.8 * g
    return pl.DataFrame(cols)


def test_fdr_on_synthetic_nulls():
    """200 null datasets x 12 features: raw tests hold their level; BH controls the FDR."""
    rng = np.random.default_rng(2024)
    raw, flagged, any_flag, tables = [], [], 0, 200
    for _ in range(tables):
        t = wb.compare_groups(_null_frame(rng, 40, 8, 4), group="churned", alpha=0.05)
        raw += t["p_value"].to_list()
        flagged += t["significant"].to_list()
        any_flag += bool(t["significant"].any())
    raw = np.array(raw)
    assert len(raw) == 200 * 12
    # About alpha of the null tests have raw p < alpha (sd of the share: 0.0044).
    assert 0.035 <= np.mean(raw < 0.05) <= 0.065
    # p-values are uniform under the null.
    assert sps.kstest(raw[~np.isnan(raw)], "uniform").pvalue > 0.001
    # After BH: under the complete null, FDR = P(any rejection) <= alpha (sd 0.015).
    assert any_flag / tables <= 0.05 + 3 * 0.0154
    assert np.mean(flagged) <= 0.05


def test_fdr_with_some_real_effects():
    rng = np.random.default_rng(7)
    fdp, power = [], []
    for _ in range(60):
        t = wb.compare_groups(_null_frame(rng, 50, 20, 0, n_real=5), group="churned")
        sig = t.filter(pl.col("significant"))
        false = sig.filter(pl.col("feature").str.starts_with("null")).height
        fdp.append(false / max(sig.height, 1))
        power.append(sig.filter(pl.col("feature").str.starts_with("real")).height / 5)
    # BH bounds the FDR at alpha x m0/m = 0.05 x 20/25 = 0.04 (sd of the mean ~ 0.01).
    assert np.mean(fdp) <= 0.04 + 0.03
    assert np.mean(power) > 0.8


# ----------------------------------------------------------------------------- hand-checked
def _tiny():
    features = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e", "f"],
            "x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "kind": ["p", "p", "q", "q", "q", "q"],
            "flat": [1.0] * 6,
            "value": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0],
        }
    )
    labels = pl.DataFrame(
        {"customer_id": list("abcdef"), "churned": [True, True, True, False, False, False]}
    )
    return features, labels


def test_departed_patterns_hand_checked():
    features, labels = _tiny()
    with pytest.warns(wb.WorkbenchWarning, match="little power"):
        res = wb.departed_patterns(
            None, cutoff="2025-01-01", features=features.drop("value"), labels=labels
        )
    t = res.table
    assert t["feature"].to_list() == ["x", "kind"]  # 'flat' has no variation
    x = t.filter(feature="x").row(0, named=True)
    assert x["test"] == "Mann-Whitney U"
    assert (x["churned_value"], x["retained_value"]) == (2.0, 5.0)
    assert x["smd"] == pytest.approx(-3.0)  # (2 - 5) / pooled sd 1
    assert x["cliffs_delta"] == pytest.approx(-1.0)
    assert x["p_value"] == pytest.approx(0.1)  # exact: 2 / C(6, 3)
    k = t.filter(feature="kind").row(0, named=True)
    table = np.array([[2, 0], [1, 3]])
    assert k["test"] == "Fisher exact"
    assert k["p_value"] == pytest.approx(sps.fisher_exact(table)[1])
    assert k["cramers_v"] == pytest.approx(
        sps.contingency.association(table, method="cramer", correction=False)
    )
    assert (k["level"], k["prop_diff"]) == ("p", pytest.approx(2 / 3))
    from workbench.stats import bh_adjust

    assert t["p_adjusted"].to_list() == pytest.approx(list(bh_adjust([x["p_value"], k["p_value"]])))
    assert res.params["n_churned"] == 3
    fig = res.plot()
    assert isinstance(fig.data[0], go.Bar) and fig.layout.xaxis.title.text.startswith("Effect")


def test_departed_patterns_value_restriction():
    features, labels = _tiny()
    with pytest.warns(wb.WorkbenchWarning):
        res = wb.departed_patterns(
            None,
            cutoff="2025-01-01",
            features=features,
            labels=labels,
            min_value_quantile=0.5,
            value="value",
            exclude=("value",),
        )
    # Median of 10..60 is 35: customers d, e, f remain, none churned.
    assert res.params["value_threshold"] == 35.0
    assert (res.params["n_churned"], res.params["n_retained"]) == (0, 3)
    assert "value" not in res.table["feature"].to_list()


def test_departed_patterns_bad_input():
    features, labels = _tiny()
    with pytest.raises(wb.BadParameterError, match="min_value_quantile=1.5"):
        wb.departed_patterns(
            None, cutoff="2025-01-01", features=features, labels=labels, min_value_quantile=1.5
        )
    with pytest.raises(wb.MissingColumnError, match="churned"):
        wb.departed_patterns(
            None, cutoff="2025-01-01", features=features, labels=labels.drop("churned")
        )
    with pytest.raises(wb.MissingColumnError, match="value='ltv'"):
        wb.departed_patterns(
            None,
            cutoff="2025-01-01",
            features=features,
            labels=labels,
            min_value_quantile=0.5,
            value="ltv",
        )
    with pytest.raises(wb.BadParameterError, match="alpha=2"):
        wb.compare_groups(features.join(labels, on="customer_id"), group="churned", alpha=2)


def _feedback():
    t0 = datetime(2025, 5, 1, tzinfo=UTC)
    rows = [(f"a{i}", t0, r) for i, r in enumerate(["price"] * 3 + ["other"])]
    rows += [(f"b{i}", t0, r) for i, r in enumerate(["price"] + ["other"] * 3)]
    rows += [("a0", t0 - timedelta(days=30), "support")]  # earlier answer: superseded
    fb = pl.DataFrame(rows, schema=["customer_id", "ts", "reason"], orient="row")
    cust = pl.DataFrame(
        {
            "customer_id": [f"a{i}" for i in range(4)] + [f"b{i}" for i in range(4)],
            "country": ["DE"] * 4 + ["FR"] * 4,
        }
    )
    return fb, cust


def test_churn_reasons_hand_checked():
    fb, cust = _feedback()
    with pytest.warns(wb.WorkbenchWarning, match="expected counts"):
        res = wb.churn_reasons(fb, customers=cust, by="country")
    t = res.table.sort("segment", "reason")
    assert t["segment"].to_list() == ["DE", "DE", "FR", "FR"]
    assert t["reason"].to_list() == ["other", "price", "other", "price"]
    assert t["answers"].to_list() == [1, 3, 3, 1]
    assert t["share"].to_list() == [0.25, 0.75, 0.75, 0.25]
    low, high = proportion_confint(3, 4, alpha=0.05, method="wilson")
    de_price = t.filter(segment="DE", reason="price").row(0, named=True)
    assert (de_price["ci_low"], de_price["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    chi2 = sps.chi2_contingency([[1, 3], [3, 1]], correction=False)
    assert res.test["statistic"] == pytest.approx(chi2.statistic)
    assert res.test["p_value"] == pytest.approx(chi2.pvalue)
    assert res.test["dof"] == 1
    overall = wb.churn_reasons(fb)
    assert overall.test is None and overall.table["segment"].unique().to_list() == ["all"]
    fig = res.plot()
    assert len(fig.data) == 2 and fig.layout.yaxis.title.text == "Share of answers"


def test_churn_reasons_bad_input():
    fb, cust = _feedback()
    with pytest.raises(wb.MissingColumnError, match="by='plan'"):
        wb.churn_reasons(fb, customers=cust, by="plan")
    with pytest.raises(wb.MissingColumnError, match="reason"):
        wb.churn_reasons(fb.drop("reason"))


def _segments_data():
    n = 400
    ids = [f"c{i:03d}" for i in range(n)]
    channel = ["paid"] * 100 + ["organic"] * 300
    country = ["DE", "FR"] * 200
    churned = [i < 60 for i in range(100)] + [i < 100 for i in range(300)]
    cust = pl.DataFrame({"customer_id": ids, "channel": channel, "country": country})
    labels = pl.DataFrame({"customer_id": ids, "churned": churned})
    value = pl.DataFrame({"customer_id": ids, "ltv": [2.0] * 100 + [1.0] * 300})
    return cust, labels, value


def test_problem_segments_hand_checked():
    cust, labels, value = _segments_data()
    res = wb.problem_segments(
        None, cutoff="2025-01-01", customers=cust, labels=labels, value=value, min_customers=30
    )
    t = res.table
    base = 160 / 400
    assert res.params["base_rate"] == base
    top = t.row(0, named=True)
    assert (top["dimension"], top["segment"]) == ("channel", "channel=paid")
    assert (top["customers"], top["churned"], top["churn_rate"]) == (100, 60, 0.6)
    assert top["p_value"] == pytest.approx(
        sps.binomtest(60, 100, base, alternative="greater").pvalue
    )
    assert top["significant"] and top["value_at_risk"] == 200.0
    assert top["excess_churned"] == pytest.approx(60 - 100 * base)
    assert top["lift"] == pytest.approx(1.5)
    organic = t.filter(segment="channel=organic").row(0, named=True)
    assert not organic["significant"]
    # Pairs are tested too: channel x country.
    pair = t.filter(segment="channel=paid & country=DE").row(0, named=True)
    assert pair["customers"] == 50 and pair["dimension"] == "channel x country"
    from workbench.stats import bh_adjust

    assert t["p_adjusted"].to_list() == pytest.approx(list(bh_adjust(t["p_value"].to_numpy())))
    # Significant segments first, then by value at risk.
    sig = t["significant"].to_list()
    assert sig == sorted(sig, reverse=True)
    fig = res.plot()
    assert isinstance(fig.data[0], go.Bar) and fig.layout.xaxis.title.text == "Churn rate"


def test_problem_segments_bad_input():
    cust, labels, value = _segments_data()
    with pytest.raises(wb.MissingColumnError, match="plan"):
        wb.problem_segments(
            None, cutoff="2025-01-01", customers=cust, labels=labels, value=value, by=["plan"]
        )
    with pytest.raises(wb.BadParameterError, match="min_customers=0"):
        wb.problem_segments(
            None, cutoff="2025-01-01", customers=cust, labels=labels, value=value, min_customers=0
        )
    with pytest.raises(wb.BadParameterError, match="value must be"):
        wb.problem_segments(None, cutoff="2025-01-01", customers=cust, labels=labels, value=3)


# ----------------------------------------------------------------------------- sample data
@pytest.mark.slow
def test_patterns_on_the_sample():
    s = wb.datasets.load_sample()
    res = wb.departed_patterns(
        s.events,
        cutoff="2025-09-01",
        customers=s.customers,
        subscriptions=s.subscriptions,
        annotations=s.annotations,
        active_within="180d",
    )
    top = res.significant["feature"].to_list()
    assert "days_since_last_activity" in top[:5]
    # Channel is not in the truth of the buyer process; subscription status is.
    assert res.table.filter(feature="subscribed_at_cutoff")["significant"].item()
    reasons = wb.churn_reasons(s.feedback, customers=s.customers, by="country")
    de = reasons.table.filter(segment="DE", reason="competitor")["share"].item()
    us = reasons.table.filter(segment="US", reason="competitor")["share"].item()
    assert de > us  # the competitor launched in DE


def test_mann_whitney_matches_scipy():
    from workbench.patterns import mann_whitney

    rng = np.random.default_rng(0)
    for n1, n2, ties in [
        (5, 7, False),
        (30, 45, False),
        (30, 45, True),
        (200, 150, True),
        (6, 40, True),
    ]:
        x, y = rng.normal(size=n1), rng.normal(0.3, size=n2)
        if ties:
            x, y = np.round(x), np.round(y)
        ref = sps.mannwhitneyu(x, y, alternative="two-sided")
        u, p = mann_whitney(x, y)
        assert u == pytest.approx(ref.statistic) and p == pytest.approx(ref.pvalue, rel=1e-9)


@pytest.mark.slow
def test_high_value_departures_and_problem_segments_on_the_sample():
    s = wb.datasets.load_sample()
    kw = {"cutoff": "2025-09-01", "customers": s.customers, "active_within": "180d"}
    high = wb.departed_patterns(s.events, min_value_quantile=0.8, **kw)
    everyone = wb.departed_patterns(s.events, **kw)
    n_high = high.params["n_churned"] + high.params["n_retained"]
    n_all = everyone.params["n_churned"] + everyone.params["n_retained"]
    assert n_high == pytest.approx(0.2 * n_all, rel=0.05)
    assert high.params["value"] == "value_at_stake" and high.params["value_threshold"] > 0
    seg = wb.problem_segments(s.events, **kw)
    top = seg.significant
    assert top.height > 0 and (top["churn_rate"] > top["base_rate"]).all()
    # One-off buyers (plan "none") leave more often than subscribers under this label.
    assert seg.table.filter(segment="plan=none")["significant"].item()


@pytest.mark.slow
def test_contractual_labels_from_churn_table():
    s = wb.datasets.load_sample()
    labels = wb.churn_table(subscriptions=s.subscriptions, as_of="2025-12-31")
    res = wb.problem_segments(
        None,
        cutoff="2025-09-01",
        customers=s.customers,
        labels=labels,
        value=pl.DataFrame({"customer_id": labels["customer_id"], "v": [1.0] * labels.height}),
        by=["channel", "plan"],
        pairs=False,
    )
    t = res.table
    # Truth: paid_search subscribers churn 1.6x as fast as organic ones.
    assert t.filter(segment="channel=paid_search")["significant"].item()
    assert not t.filter(segment="channel=organic")["significant"].item()
