"""Campaign effect and test planning: hand-checked counts, statsmodels oracles, simulation."""

import warnings
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_effectsize,
    proportions_ztest,
)

import workbench as wb


def D(day, hour=0):
    return datetime(2024, 1, day, hour, tzinfo=UTC)


AS_OF = "2024-03-01"


def tiny():
    """Campaign A (sent Jan 1): treatment 1-3, control 4-6. Campaign B: treatment only."""
    campaigns = pl.DataFrame(
        {
            "customer_id": [1, 2, 3, 4, 5, 6, 1, 2],
            "campaign_id": ["A"] * 6 + ["B"] * 2,
            "sent_ts": [D(1)] * 6 + [D(10)] * 2,
            "group": ["treatment"] * 3 + ["control"] * 3 + ["treatment"] * 2,
            "offer": ["x", "y", "x", "x", "y", "y", "z", "z"],
        }
    )
    events = pl.DataFrame(
        {
            "customer_id": [1, 1, 2, 3, 4, 5, 6],
            "ts": [D(1), D(5), D(31), D(31, 1), D(3), D(2), D(1, 1)],
            "event": [
                "purchase",
                "purchase",
                "purchase",
                "purchase",
                "purchase",
                "visit",
                "purchase",
            ],
            "amount": [10.0, 20.0, 5.0, 50.0, 7.0, None, 3.0],
        }
    )
    return events, campaigns


def only_a(frame):
    return frame.filter(pl.col("campaign_id") == "A")


def test_tiny_campaign_counts_rates_and_revenue():
    events, campaigns = tiny()
    with pytest.warns(wb.WorkbenchWarning, match="smaller than 30 customers"):
        res = wb.campaign_effect(events, only_a(campaigns), window="30d", as_of=AS_OF)
    row = res.table.row(0, named=True)
    # c1: purchase at sent_ts does not count, D5 does; c2: exactly sent + 30d counts;
    # c3: 30d + 1h is too late. c4 and c6 return; c5 only visited.
    assert (row["n_treatment"], row["returned_treatment"]) == (3, 2)
    assert (row["n_control"], row["returned_control"]) == (3, 2)
    assert row["rate_treatment"] == pytest.approx(2 / 3)
    assert row["lift"] == 0.0
    assert row["test"] == "fisher"
    assert row["p_value"] == pytest.approx(1.0)
    assert row["revenue_per_recipient_treatment"] == pytest.approx(25 / 3)
    assert row["revenue_per_recipient_control"] == pytest.approx(10 / 3)
    assert row["revenue_diff"] == pytest.approx(5.0)
    welch = sps.ttest_ind([20.0, 5.0, 0.0], [7.0, 0.0, 3.0], equal_var=False).confidence_interval()
    assert row["revenue_diff_ci_low"] == pytest.approx(welch.low)
    assert row["revenue_diff_ci_high"] == pytest.approx(welch.high)
    assert row["incremental_revenue"] == pytest.approx(15.0)
    assert row["incremental_customers"] == 0.0
    assert row["note"].startswith("a group has fewer than 30")


def test_outcome_choice_and_window():
    events, campaigns = tiny()
    kw = dict(as_of=AS_OF, min_group_size=1)
    visit = wb.campaign_effect(events, only_a(campaigns), outcome="visit", **kw).table
    assert visit["returned_treatment"].to_list() == [0]
    assert visit["returned_control"].to_list() == [1]
    anything = wb.campaign_effect(events, only_a(campaigns), outcome="any", **kw).table
    assert anything["returned_control"].to_list() == [3]
    # Revenue still comes from purchases only.
    assert anything["revenue_per_recipient_control"].to_list() == pytest.approx([10 / 3])
    short = wb.campaign_effect(events, only_a(campaigns), window="3d", **kw).table
    assert (short["returned_treatment"].item(), short["returned_control"].item()) == (0, 2)
    hours = wb.campaign_effect(events, only_a(campaigns), window="721h", **kw).table
    assert hours["returned_treatment"].item() == 3  # 30 days + 1 hour reaches customer 3


def test_no_control_group_warns_and_returns_nulls():
    events, campaigns = tiny()
    with pytest.warns(wb.WorkbenchWarning, match=r"no control group for \['B'\]"):
        res = wb.campaign_effect(events, campaigns, as_of=AS_OF, min_group_size=1)
    b = res.table.filter(pl.col("campaign_id") == "B").row(0, named=True)
    assert (b["n_treatment"], b["n_control"]) == (2, 0)
    for col in ("lift", "lift_ci_low", "rel_lift", "p_value", "p_adjusted", "revenue_diff"):
        assert b[col] is None
    assert b["note"] == "no control group: lift not estimable"
    # BH runs over the estimable rows only: one p-value, unchanged.
    a = res.table.filter(pl.col("campaign_id") == "A").row(0, named=True)
    assert a["p_adjusted"] == a["p_value"]


def test_open_window_warns():
    events, campaigns = tiny()
    with pytest.warns(wb.WorkbenchWarning, match="has not fully elapsed"):
        t = wb.campaign_effect(
            events, only_a(campaigns), as_of="2024-01-20", min_group_size=1
        ).table
    assert t["returned_treatment"].item() == 1  # customer 2's purchase on Jan 31 is after as_of


def simulate(rng, specs, *, start=datetime(2025, 1, 1, tzinfo=UTC)):
    """specs: (campaign_id, n_treatment, n_control, p_treatment, p_control) -> events, campaigns."""
    camp = np.concatenate([[cid] * (nt + nc) for cid, nt, nc, _, _ in specs])
    group = np.concatenate([["treatment"] * nt + ["control"] * nc for _, nt, nc, _, _ in specs])
    prob = np.concatenate([[pt] * nt + [pc] * nc for _, nt, nc, pt, pc in specs])
    n = camp.size
    back = rng.random(n) < prob
    delay = rng.uniform(0.1, 29.5, n)
    amount = rng.gamma(2.0, 20.0, n)
    campaigns = pl.DataFrame(
        {
            "customer_id": pl.int_range(n, eager=True).cast(pl.String),
            "campaign_id": camp,
            "group": group,
        }
    ).with_columns(pl.lit(start).alias("sent_ts"))
    offset = pl.Series((delay * 86_400e6).astype("timedelta64[us]"))
    events = campaigns.select(
        "customer_id",
        (pl.col("sent_ts") + offset).alias("ts"),
        pl.Series("amount", amount),
        pl.lit("purchase").alias("event"),
    ).filter(pl.Series(back))
    return events, campaigns


def test_statistics_match_statsmodels():
    rng = np.random.default_rng(7)
    specs = [("K1", 400, 380, 0.25, 0.18), ("K2", 120, 150, 0.1, 0.12), ("K3", 40, 35, 0.1, 0.05)]
    events, campaigns = simulate(rng, specs)
    res = wb.campaign_effect(events, campaigns, as_of="2025-03-01", level=0.9)
    t = res.table
    pvals = []
    for row in t.iter_rows(named=True):
        x1, n1, x2, n2 = (
            row[k] for k in ("returned_treatment", "n_treatment", "returned_control", "n_control")
        )
        lo, hi = confint_proportions_2indep(x1, n1, x2, n2, method="newcomb", alpha=0.1)
        assert (row["lift_ci_low"], row["lift_ci_high"]) == pytest.approx((lo, hi), rel=1e-9)
        if x1 and x2:
            rlo, rhi = confint_proportions_2indep(
                x1, n1, x2, n2, compare="ratio", method="log", alpha=0.1
            )
            assert row["rel_lift_ci_low"] == pytest.approx(rlo - 1, rel=1e-9)
            assert row["rel_lift_ci_high"] == pytest.approx(rhi - 1, rel=1e-9)
        else:  # a zero count leaves the log risk ratio undefined
            assert row["rel_lift"] is None and row["rel_lift_ci_low"] is None
        if row["test"] == "z":
            assert row["p_value"] == pytest.approx(
                proportions_ztest([x1, x2], [n1, n2])[1], rel=1e-9
            )
        else:
            table = [[x1, n1 - x1], [x2, n2 - x2]]
            assert row["p_value"] == pytest.approx(sps.fisher_exact(table).pvalue, rel=1e-9)
        pvals.append(row["p_value"])
    assert t["test"].to_list() == ["z", "z", "fisher"]  # K3 has an expected count below 5
    assert t["p_adjusted"].to_list() == pytest.approx(multipletests(pvals, method="fdr_bh")[1])
    # Welch interval from per-customer revenue, checked against scipy.
    rev = (
        campaigns.join(events, on="customer_id", how="left")
        .group_by("customer_id", "campaign_id", "group")
        .agg(pl.col("amount").fill_null(0).sum())
    )
    for row in t.iter_rows(named=True):
        part = rev.filter(pl.col("campaign_id") == row["campaign_id"])
        a = part.filter(pl.col("group") == "treatment")["amount"].to_numpy()
        b = part.filter(pl.col("group") == "control")["amount"].to_numpy()
        ci = sps.ttest_ind(a, b, equal_var=False).confidence_interval(0.9)
        assert row["revenue_diff"] == pytest.approx(a.mean() - b.mean())
        assert (row["revenue_diff_ci_low"], row["revenue_diff_ci_high"]) == pytest.approx(
            (ci.low, ci.high)
        )
        assert row["incremental_revenue"] == pytest.approx((a.mean() - b.mean()) * len(a))
    assert res.params["level"] == 0.9


def test_wald_interval_and_forced_tests():
    rng = np.random.default_rng(3)
    events, campaigns = simulate(rng, [("K", 300, 300, 0.3, 0.2)])
    t = wb.campaign_effect(events, campaigns, ci="wald", test="fisher", as_of="2025-03-01").table
    row = t.row(0, named=True)
    lo, hi = confint_proportions_2indep(
        row["returned_treatment"], 300, row["returned_control"], 300, method="wald"
    )
    assert (row["lift_ci_low"], row["lift_ci_high"]) == pytest.approx((lo, hi))
    assert row["test"] == "fisher"


def test_simulated_lift_recovered_within_ci():
    # 200 independent campaigns with a true lift of +5 points (relative +50%).
    rng = np.random.default_rng(11)
    specs = [(f"L{i:03d}", 1000, 1000, 0.15, 0.10) for i in range(200)]
    events, campaigns = simulate(rng, specs)
    t = wb.campaign_effect(events, campaigns, as_of="2025-03-01").table
    assert t["lift"].mean() == pytest.approx(0.05, abs=0.003)
    covered = ((t["lift_ci_low"] <= 0.05) & (t["lift_ci_high"] >= 0.05)).mean()
    rel_covered = ((t["rel_lift_ci_low"] <= 0.5) & (t["rel_lift_ci_high"] >= 0.5)).mean()
    inc_covered = (
        (t["incremental_customers_ci_low"] <= 50) & (t["incremental_customers_ci_high"] >= 50)
    ).mean()
    assert 0.92 <= covered <= 0.98
    assert 0.92 <= rel_covered <= 0.98
    assert inc_covered == covered
    assert (t["p_adjusted"] < 0.05).mean() > 0.9  # power at n = 1000 per group is ~0.94


def test_null_simulation_false_positive_rate_is_about_alpha():
    rng = np.random.default_rng(2024)
    specs = [(f"N{i:03d}", 300, 300, 0.2, 0.2) for i in range(300)]
    events, campaigns = simulate(rng, specs)
    t = wb.campaign_effect(events, campaigns, as_of="2025-03-01").table
    rejected = (t["p_value"] < 0.05).mean()
    covered = ((t["lift_ci_low"] <= 0) & (t["lift_ci_high"] >= 0)).mean()
    assert 0.02 <= rejected <= 0.09
    assert 0.92 <= covered <= 0.98
    assert (t["p_adjusted"] < 0.05).sum() <= 2  # BH keeps false discoveries rare


def test_by_offer_and_segments_frame_and_heterogeneity_oracle():
    rng = np.random.default_rng(5)
    events, campaigns = simulate(rng, [("H", 600, 600, 0.2, 0.1)])
    ids = campaigns["customer_id"].to_list()
    segs = pl.DataFrame(
        {"customer_id": ids, "tier": ["gold" if i % 3 == 0 else "basic" for i in range(len(ids))]}
    )
    # Make the campaign work only for gold customers: drop treated basic returners' purchases.
    treated_basic = campaigns.join(segs, on="customer_id").filter(
        (pl.col("group") == "treatment") & (pl.col("tier") == "basic")
    )["customer_id"]
    drop = events.filter(pl.col("customer_id").is_in(treated_basic.implode())).head(40)[
        "customer_id"
    ]
    events = events.filter(~pl.col("customer_id").is_in(drop.implode()))
    res = wb.campaign_effect(events, campaigns, by="tier", segments=segs, as_of="2025-03-01")
    assert res.table["tier"].to_list() == ["basic", "gold"]
    assert res.table["n_treatment"].sum() == 600
    h = res.heterogeneity.row(0, named=True)
    assert (h["campaign_id"], h["by"], h["n_segments"], h["df"]) == ("H", "tier", 2, 1)
    # Oracle: individual-level logistic regressions with and without the interaction.
    ind = (
        campaigns.join(segs, on="customer_id")
        .join(
            events.select("customer_id").unique().with_columns(pl.lit(1).alias("y")),
            on="customer_id",
            how="left",
        )
        .with_columns(
            pl.col("y").fill_null(0),
            (pl.col("group") == "treatment").cast(pl.Float64).alias("t"),
            (pl.col("tier") == "gold").cast(pl.Float64).alias("g"),
        )
    )
    y = ind["y"].to_numpy()
    t, g = ind["t"].to_numpy(), ind["g"].to_numpy()
    full = sm.GLM(
        y, np.column_stack([np.ones_like(t), t, g, t * g]), family=sm.families.Binomial()
    ).fit()
    red = sm.GLM(y, np.column_stack([np.ones_like(t), t, g]), family=sm.families.Binomial()).fit()
    lr = 2 * (full.llf - red.llf)
    assert h["statistic"] == pytest.approx(lr, rel=1e-6)
    assert h["p_value"] == pytest.approx(sps.chi2.sf(lr, 1), rel=1e-5)


def test_by_campaign_column_keeps_rows_and_segments_ambiguity():
    events, campaigns = tiny()
    res = wb.campaign_effect(events, only_a(campaigns), by="offer", as_of=AS_OF, min_group_size=1)
    assert res.table.select("offer", "n_treatment", "n_control").rows() == [
        ("x", 2, 1),
        ("y", 1, 2),
    ]
    segs = pl.DataFrame({"customer_id": [1, 2], "offer": ["p", "q"]})
    with pytest.raises(wb.BadParameterError, match="both campaigns and segments"):
        wb.campaign_effect(events, campaigns, by="offer", segments=segs)
    with pytest.raises(
        wb.MissingColumnError, match=r"by='tier' is not a column.*Available: \['offer'\]"
    ):
        wb.campaign_effect(events, campaigns, by="tier")


@pytest.mark.parametrize("kind", ["eager", "lazy", "pandas"])
def test_input_kinds_and_schema_mapping_agree(kind):
    events, campaigns = tiny()
    kw = dict(as_of=AS_OF, min_group_size=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", wb.WorkbenchWarning)
        base = wb.campaign_effect(events, campaigns, **kw).table
        conv = {
            "eager": lambda f: f,
            "lazy": lambda f: f.lazy(),
            "pandas": lambda f: f.to_pandas(),
        }[kind]
        renamed_ev = events.rename(
            {"customer_id": "user", "ts": "when", "amount": "rev", "event": "what"}
        )
        renamed_cp = campaigns.rename({"campaign_id": "camp", "group": "arm", "sent_ts": "at"})
        out = wb.campaign_effect(
            conv(renamed_ev),
            conv(renamed_cp),
            schema=wb.EventSchema(customer_id="user", ts="when", amount="rev", event="what"),
            campaign_schema=wb.CampaignSchema(campaign_id="camp", group="arm", sent_ts="at"),
            **kw,
        ).table
    assert_frame_equal(out, base, check_exact=False, rel_tol=1e-12)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), min_size=1, max_size=4),
    st.integers(0, 10_000),
)
def test_properties_interval_order_and_row_order(counts, seed):
    rng = np.random.default_rng(seed)
    specs = [
        (f"P{i}", nt + 1, nc + 1, rng.random(), rng.random()) for i, (nt, nc) in enumerate(counts)
    ]
    events, campaigns = simulate(rng, specs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", wb.WorkbenchWarning)
        t = wb.campaign_effect(events, campaigns, as_of="2025-03-01").table
        shuffled = wb.campaign_effect(
            events.sample(fraction=1.0, shuffle=True, seed=seed),
            campaigns.sample(fraction=1.0, shuffle=True, seed=seed),
            as_of="2025-03-01",
        ).table
    assert_frame_equal(t, shuffled, check_exact=False, rel_tol=1e-9)
    for row in t.iter_rows(named=True):
        assert -1 <= row["lift_ci_low"] <= row["lift"] <= row["lift_ci_high"] <= 1
        assert 0 <= row["p_value"] <= row["p_adjusted"] <= 1
        if row["rel_lift_ci_low"] is not None:
            assert row["rel_lift_ci_low"] <= row["rel_lift"] <= row["rel_lift_ci_high"]


def test_bad_input():
    events, campaigns = tiny()
    with pytest.raises(wb.MissingColumnError, match="campaigns has no column 'group'"):
        wb.campaign_effect(events, campaigns.drop("group"))
    with pytest.raises(wb.MissingColumnError, match="events has no column 'ts'"):
        wb.campaign_effect(events.drop("ts"), campaigns)
    bad = campaigns.with_columns(pl.col("group").replace({"control": "holdout"}))
    with pytest.raises(
        wb.BadDataError, match=r"values \['holdout'\]; only 'treatment' and 'control'"
    ):
        wb.campaign_effect(events, bad)
    both = pl.concat([campaigns, campaigns.head(1).with_columns(pl.lit("control").alias("group"))])
    with pytest.raises(wb.BadDataError, match="both treatment and control of the same campaign"):
        wb.campaign_effect(events, both)
    for window in ("30", "1mo", "thirty days", "-3d", "0d"):
        with pytest.raises(wb.BadParameterError, match="window="):
            wb.campaign_effect(events, campaigns, window=window)
    with pytest.raises(wb.BadParameterError, match="outcome='purchse'.*Did you mean 'purchase'"):
        wb.campaign_effect(events, campaigns, outcome="purchse")
    with pytest.raises(wb.BadParameterError, match="ci='score'"):
        wb.campaign_effect(events, campaigns, ci="score")
    with pytest.raises(wb.BadParameterError, match="level=95"):
        wb.campaign_effect(events, campaigns, level=95)
    with pytest.raises(wb.BadParameterError, match="key of the campaigns table"):
        wb.campaign_effect(events, campaigns, by="group")


def test_plot_forest_structure():
    rng = np.random.default_rng(1)
    events, campaigns = simulate(rng, [("K1", 200, 200, 0.3, 0.2), ("K2", 200, 200, 0.2, 0.2)])
    res = wb.campaign_effect(events, campaigns, as_of="2025-03-01")
    fig = res.plot()
    assert len(fig.data) == 1 and fig.data[0].type == "scatter"
    assert list(fig.data[0].y) == ["K1", "K2"]
    assert fig.layout.xaxis.title.text == "Lift in return rate (treatment - control)"
    assert fig.layout.yaxis.title.text == "Campaign"
    assert len(fig.layout.shapes) == 1  # the no-effect line
    assert "p = " in fig.data[0].hovertext[0]
    rel = res.plot(scale="relative")
    assert rel.layout.xaxis.title.text.startswith("Relative lift")
    with pytest.raises(wb.BadParameterError, match="scale="):
        res.plot(scale="log")
    assert "Campaign effect" in res._repr_html_()


# -- sample data with known truth --


@pytest.fixture(scope="module")
def sample():
    return wb.datasets.load_sample()


def test_sample_campaign_lift_covers_truth(sample):
    truth = sample.truth["campaigns"]
    res = wb.campaign_effect(sample.events, sample.campaigns, window="30d", as_of=sample.as_of)
    assert sorted(res.table["campaign_id"].to_list()) == sorted(truth)
    for row in res.table.iter_rows(named=True):
        t = truth[row["campaign_id"]]
        assert row["n_treatment"] == t["n_treatment"]
        assert row["n_control"] == t["n_control"]
        # Same definition as the generator: the realised rates are reproduced exactly ...
        assert row["rate_treatment"] == pytest.approx(t["realised_treatment_rate"], abs=1e-12)
        assert row["lift"] == pytest.approx(t["realised_abs_lift"], abs=1e-12)
        # ... and the interval covers the generating effect.
        assert row["lift_ci_low"] <= t["abs_lift"] <= row["lift_ci_high"]


def test_sample_lift_by_offer_runs_with_heterogeneity(sample):
    res = wb.campaign_effect(sample.events, sample.campaigns, by="offer", as_of=sample.as_of)
    h = res.heterogeneity
    assert h.height == len(sample.truth["campaigns"])
    multi = h.filter(pl.col("n_segments") >= 2)
    assert multi.height >= 1 and multi["p_value"].is_between(0, 1).all()


# -- planning --


def test_winback_test_plan_sample_size_matches_statsmodels():
    plan = wb.winback_test_plan(baseline_rate=0.1, mde=0.02)
    row = plan.row(0, named=True)
    n = NormalIndPower().solve_power(
        effect_size=proportion_effectsize(0.12, 0.1), alpha=0.05, power=0.8, ratio=1
    )
    assert row["n_treatment"] == int(np.ceil(n)) == 3835
    assert row["n_control"] == 3835 and row["n_total"] == 7670
    assert row["mde_relative"] == pytest.approx(0.2)
    uneven = wb.winback_test_plan(baseline_rate=0.1, mde=[0.02, 0.05], ratio=0.25, power=0.9)
    assert uneven.height == 2
    assert uneven["n_control"].to_list() == [
        int(
            np.ceil(
                np.ceil(
                    NormalIndPower().solve_power(
                        effect_size=proportion_effectsize(0.1 + m, 0.1),
                        alpha=0.05,
                        power=0.9,
                        ratio=0.25,
                    )
                )
                * 0.25
            )
        )
        for m in (0.02, 0.05)
    ]


def test_winback_test_plan_mde_round_trip():
    row = wb.winback_test_plan(baseline_rate=0.1, n_per_group=3835).row(0, named=True)
    assert row["mde"] == pytest.approx(0.02, abs=2e-4)
    assert row["target_rate"] == pytest.approx(0.12, abs=2e-4)
    with pytest.raises(wb.BadParameterError, match="exactly one of mde="):
        wb.winback_test_plan(baseline_rate=0.1)
    with pytest.raises(wb.BadParameterError, match="exactly one of mde="):
        wb.winback_test_plan(baseline_rate=0.1, mde=0.02, n_per_group=100)
    with pytest.raises(wb.BadParameterError, match="baseline_rate=1.5"):
        wb.winback_test_plan(baseline_rate=1.5, mde=0.02)
    with pytest.raises(wb.BadParameterError, match="mde=0.95"):
        wb.winback_test_plan(baseline_rate=0.1, mde=0.95)


def test_relative_lift_is_minus_one_when_no_treated_customer_returns():
    """rel_lift = rate_treatment / rate_control - 1 is -1 when treatment has no returns and
    control has some; only its log-risk-ratio interval is undefined."""
    cp = pl.DataFrame(
        {
            "customer_id": [1, 2, 3, 4],
            "campaign_id": ["A"] * 4,
            "sent_ts": [datetime(2024, 1, 1)] * 4,
            "group": ["treatment", "treatment", "control", "control"],
        }
    )
    ev = pl.DataFrame(
        {"customer_id": [3], "ts": [datetime(2024, 1, 2)], "event": ["purchase"], "amount": [10.0]}
    )
    with pytest.warns(wb.WorkbenchWarning, match="smaller than 30"):
        got = wb.campaign_effect(ev, cp, window="30d", as_of="2024-03-01")
    row = got.table.row(0, named=True)
    assert (row["rate_treatment"], row["rate_control"], row["lift"]) == (0.0, 0.5, -0.5)
    assert row["rel_lift"] == -1.0
    assert row["rel_lift_ci_low"] is None and row["rel_lift_ci_high"] is None
    swapped = cp.with_columns(
        pl.when(pl.col("group") == "control")
        .then(pl.lit("treatment"))
        .otherwise(pl.lit("control"))
        .alias("group")
    )
    with pytest.warns(wb.WorkbenchWarning, match="smaller than 30"):
        other = wb.campaign_effect(ev, swapped, window="30d", as_of="2024-03-01")
    other = other.table.row(0, named=True)
    assert other["rel_lift"] is None  # control rate 0: no ratio
