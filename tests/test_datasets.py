"""Sample generator (known truth) and vendored real data (CDNOW, donations)."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import workbench as wb
from workbench.datasets.sample import _generate

UTC_US = pl.Datetime("us", "UTC")
AS_OF = datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)


@pytest.fixture(scope="module")
def sd():
    return wb.datasets.load_sample()


# -- API, determinism, shapes ---------------------------------------------------------------------


def test_default_sample_generates(sd):
    assert isinstance(sd, wb.datasets.SampleData)
    assert sd.customers.height == 6000
    assert sd.as_of == AS_OF
    assert sd.events.height > 50_000
    with pytest.raises(dataclasses.FrozenInstanceError):
        sd.events = pl.DataFrame()


def test_same_seed_same_tables_and_different_seed_differs():
    a = wb.datasets.load_sample(seed=3, n_customers=800)
    fresh = _generate.__wrapped__(3, 800)  # bypasses the cache
    for name in ("events", "customers", "subscriptions", "campaigns", "feedback", "annotations"):
        assert getattr(a, name).equals(getattr(fresh, name)), name
    b = wb.datasets.load_sample(seed=4, n_customers=800)
    assert not a.events.equals(b.events)
    assert not a.customers.equals(b.customers)


def test_callers_cannot_corrupt_the_cache():
    a = wb.datasets.load_sample(seed=5, n_customers=300)
    a.events.drop_in_place("amount")
    a.truth["hazard_ratios"]["plan[pro]"] = 99.0
    b = wb.datasets.load_sample(seed=5, n_customers=300)
    assert "amount" in b.events.columns
    assert b.truth["hazard_ratios"]["plan[pro]"] == 0.7


@pytest.mark.parametrize(
    "kwargs", [{"seed": -1}, {"seed": "a"}, {"n_customers": 10}, {"n_customers": 1.5}]
)
def test_bad_parameters(kwargs):
    with pytest.raises(wb.BadParameterError, match="load_sample"):
        wb.datasets.load_sample(**kwargs)


def test_canonical_schemas(sd):
    assert sd.events.schema == pl.Schema(
        {
            "customer_id": pl.String,
            "ts": UTC_US,
            "event": pl.String,
            "amount": pl.Float64,
            "category": pl.String,
            "discount": pl.Boolean,
        }
    )
    assert sd.customers.schema == pl.Schema(
        {
            "customer_id": pl.String,
            "signup_ts": UTC_US,
            "channel": pl.String,
            "country": pl.String,
            "plan": pl.String,
            "early_support_contacts": pl.Int64,
        }
    )
    assert sd.subscriptions.schema == pl.Schema(
        {
            "customer_id": pl.String,
            "period_start": UTC_US,
            "period_end": UTC_US,
            "amount": pl.Float64,
            "plan": pl.String,
        }
    )
    assert sd.campaigns.schema == pl.Schema(
        {
            "customer_id": pl.String,
            "campaign_id": pl.String,
            "sent_ts": UTC_US,
            "group": pl.String,
            "offer": pl.String,
            "channel": pl.String,
        }
    )
    assert sd.feedback.schema == pl.Schema(
        {"customer_id": pl.String, "ts": UTC_US, "reason": pl.String}
    )
    assert sd.annotations.schema == pl.Schema(
        {
            "start": pl.Date,
            "end": pl.Date,
            "label": pl.String,
            "kind": pl.String,
            "segment_column": pl.String,
            "segment_value": pl.String,
        }
    )
    # The loaders accept every table as it is.
    assert wb.check_events(sd.events).rows_kept == sd.events.height
    for loader, table in [
        (wb.load_customers, sd.customers),
        (wb.load_subscriptions, sd.subscriptions),
        (wb.load_campaigns, sd.campaigns),
        (wb.load_feedback, sd.feedback),
    ]:
        assert loader(table).collect().height == table.height


def test_value_domains(sd):
    c = sd.customers
    assert c["customer_id"].str.contains(r"^C\d{6}$").all()
    assert c["customer_id"].is_unique().all()
    assert set(c["channel"]) == {"organic", "paid_search", "social", "referral"}
    assert set(c["country"]) == {"US", "UK", "DE", "FR"}
    assert set(c["plan"]) == {"none", "basic", "pro"}
    assert 0.56 < (c["plan"] == "none").mean() < 0.64
    ev = sd.events
    assert set(ev["event"]) == {
        "signup",
        "visit",
        "add_to_cart",
        "purchase",
        "support_contact",
        "cancel",
        "onboarding_complete",
    }
    purchases = ev.filter(pl.col("event") == "purchase")
    assert purchases["amount"].null_count() == 0 and (purchases["amount"] > 0).all()
    assert purchases["discount"].null_count() == 0
    assert set(purchases["category"]) == {
        "books",
        "music",
        "electronics",
        "home",
        "garden",
        "subscription",
    }
    others = ev.filter(pl.col("event") != "purchase")
    assert others["amount"].null_count() == others.height
    assert others["discount"].null_count() == others.height
    # Acquisition spreads over all 24 months and grows.
    months = c.group_by(pl.col("signup_ts").dt.truncate("1mo")).len().sort("signup_ts")
    assert months.height == 24
    assert months["len"][-6:].sum() > 1.3 * months["len"][:6].sum()


def test_nothing_after_as_of_and_all_ids_known(sd):
    assert sd.events["ts"].max() <= AS_OF
    assert sd.events["ts"].min() >= datetime(2024, 1, 1, tzinfo=UTC)
    assert sd.customers["signup_ts"].max() <= AS_OF
    assert sd.subscriptions["period_start"].max() <= AS_OF
    assert sd.campaigns["sent_ts"].max() <= AS_OF
    assert sd.feedback["ts"].max() <= AS_OF
    known = set(sd.customers["customer_id"])
    for table in (sd.events, sd.subscriptions, sd.campaigns, sd.feedback):
        assert set(table["customer_id"]) <= known
    signup = sd.events.filter(pl.col("event") == "signup")
    assert signup.height == sd.customers.height
    joined = signup.join(sd.customers, on="customer_id")
    assert (joined["ts"] == joined["signup_ts"]).all()


# -- subscriptions --------------------------------------------------------------------------------


def test_subscription_periods_do_not_overlap_and_gaps_exceed_45_days(sd):
    s = sd.subscriptions.sort("customer_id", "period_start").with_columns(
        pl.col("period_end").shift(1).over("customer_id").alias("prev_end")
    )
    gaps = s.filter(pl.col("prev_end").is_not_null()).select(
        (pl.col("period_start") - pl.col("prev_end")).alias("gap")
    )["gap"]
    assert (gaps >= timedelta(0)).all()
    restarts = gaps.filter(gaps > timedelta(0))
    assert restarts.len() > 50
    assert (restarts > timedelta(days=45)).all()
    assert (s["period_end"] > s["period_start"]).all()
    assert set(s["plan"]) == {"basic", "pro"}


def test_subscription_payments_are_purchase_events_and_tariff_applies(sd):
    pay = sd.events.filter(pl.col("category") == "subscription")
    assert pay.height == sd.subscriptions.height
    j = sd.subscriptions.join(
        pay, left_on=["customer_id", "period_start"], right_on=["customer_id", "ts"]
    )
    assert j.height == sd.subscriptions.height
    assert (j["amount"] == j["amount_right"]).all()
    basic = sd.subscriptions.filter(pl.col("plan") == "basic")
    change = datetime(2025, 3, 1, tzinfo=UTC)
    assert set(basic.filter(pl.col("period_start") < change)["amount"]) == {9.99}
    assert set(basic.filter(pl.col("period_start") >= change)["amount"]) == {12.99}
    assert set(sd.subscriptions.filter(pl.col("plan") == "pro")["amount"]) == {19.99}


def test_reactivated_and_cancel(sd):
    truth = sd.truth
    lt = truth["lifetimes"]
    again = set(lt.filter(pl.col("spell") > 1)["customer_id"])
    assert again and again <= set(truth["reactivated_customers"])
    churned = lt.filter(pl.col("churned"))
    cancels = sd.events.filter(pl.col("event") == "cancel")
    assert 0.4 < cancels.height / churned.height < 0.6
    assert set(cancels["customer_id"]) <= set(churned["customer_id"])


def _cox(frame: pl.DataFrame, customers: pl.DataFrame, duration: str, event: str):
    from lifelines import CoxPHFitter

    d = frame.join(customers, on="customer_id").select(
        pl.col(duration).alias("T"),
        pl.col(event).cast(pl.Int64).alias("E"),
        (pl.col("channel") == "paid_search").cast(pl.Float64).alias("channel[paid_search]"),
        (pl.col("channel") == "social").cast(pl.Float64).alias("channel[social]"),
        (pl.col("plan") == "pro").cast(pl.Float64).alias("plan[pro]"),
        pl.col("early_support_contacts").cast(pl.Float64),
    )
    return CoxPHFitter().fit(d.to_pandas(), "T", "E").summary


def _assert_recovered(summary, truth):
    for name, hr in truth["hazard_ratios"].items():
        lo = summary.loc[name, "exp(coef) lower 95%"]
        hi = summary.loc[name, "exp(coef) upper 95%"]
        assert lo <= hr <= hi, (name, lo, hi)
        assert hi / lo < 1.6  # precise enough to mean something


def test_cox_recovers_hazard_ratios_from_latent_lifetimes(sd):
    first = sd.truth["lifetimes"].filter(pl.col("spell") == 1).with_columns(pl.lit(True).alias("E"))
    _assert_recovered(_cox(first, sd.customers, "lifetime_days", "E"), sd.truth)


def test_cox_recovers_hazard_ratios_from_subscription_churn(sd):
    # Churn at the end of the last paid period; still paying at as_of -> censored.
    spans = sd.subscriptions.group_by("customer_id").agg(
        pl.col("period_start").min().alias("start"), pl.col("period_end").max().alias("end")
    )
    spans = spans.with_columns(
        (
            (pl.min_horizontal("end", pl.lit(AS_OF)) - pl.col("start")).dt.total_seconds() / 86400
        ).alias("T"),
        (pl.col("end") <= AS_OF).alias("E"),
    )
    assert 500 < spans["E"].sum() < spans.height
    _assert_recovered(_cox(spans, sd.customers, "T", "E"), sd.truth)


# -- engagement, funnel, activation ---------------------------------------------------------------


def test_early_support_contacts_match_events(sd):
    early = (
        sd.events.filter(pl.col("event") == "support_contact")
        .join(sd.customers, on="customer_id")
        .filter(pl.col("ts") < pl.col("signup_ts") + pl.duration(days=14))
        .group_by("customer_id")
        .len()
    )
    c = sd.customers.join(early, on="customer_id", how="left").with_columns(
        pl.col("len").fill_null(0)
    )
    c = c.filter(pl.col("signup_ts") < datetime(2025, 12, 15, tzinfo=UTC))
    assert (c["len"] == c["early_support_contacts"]).all()


def test_outage_spike_in_support_contacts(sd):
    daily = (
        sd.events.filter(pl.col("event") == "support_contact")
        .group_by(pl.col("ts").dt.date().alias("day"))
        .len()
    )
    spike = daily.filter(
        pl.col("day").is_between(datetime(2025, 6, 10).date(), datetime(2025, 6, 12).date())
    )
    before = daily.filter(
        pl.col("day").is_between(datetime(2025, 5, 1).date(), datetime(2025, 5, 31).date())
    )
    assert spike["len"].mean() > 10 * before["len"].mean()


def test_funnel_realised_rates_match_events(sd):
    f = sd.truth["funnel"]
    ev = sd.events
    w = timedelta(days=f["window_days"])
    first_visit = (
        ev.filter(pl.col("event") == "visit")
        .group_by("customer_id")
        .agg(pl.col("ts").min().alias("v"))
    )
    first_visit = first_visit.filter(pl.col("v") + w <= AS_OF)
    carts = ev.filter(pl.col("event") == "add_to_cart").select(
        "customer_id", pl.col("ts").alias("c")
    )
    first_cart = (
        first_visit.join(carts, on="customer_id")
        .filter(pl.col("c") > pl.col("v"), pl.col("c") <= pl.col("v") + w)
        .group_by("customer_id")
        .agg(pl.col("c").min())
    )
    buys = ev.filter(pl.col("event") == "purchase").select("customer_id", pl.col("ts").alias("p"))
    cart_base = first_cart.filter(pl.col("c") + w <= AS_OF)
    bought = (
        cart_base.join(buys, on="customer_id")
        .filter(pl.col("p") > pl.col("c"), pl.col("p") <= pl.col("c") + w)
        .select("customer_id")
        .unique()
    )
    r = f["realised"]
    assert first_visit.height == r["visitors"]
    assert first_cart.height == r["added_to_cart"]
    assert cart_base.height == r["cart_customers"]
    assert bought.height == r["purchased"]
    assert abs(r["visit_to_add_to_cart"] - f["visit_to_add_to_cart"]) < 0.03
    assert abs(r["add_to_cart_to_purchase"] - f["add_to_cart_to_purchase"]) < 0.03


def test_onboarding_within_window(sd):
    ob = sd.events.filter(pl.col("event") == "onboarding_complete").join(
        sd.customers, on="customer_id"
    )
    assert ob["customer_id"].is_unique().all()
    assert ((ob["ts"] > ob["signup_ts"]) & (ob["ts"] < ob["signup_ts"] + timedelta(days=7))).all()
    assert 0.45 < ob.height / sd.customers.height < 0.55
    lt = sd.truth["lifetimes"].filter(pl.col("start") < datetime(2025, 12, 1, tzinfo=UTC))
    on = set(lt.filter(pl.col("onboarded"))["customer_id"])
    assert on <= set(ob["customer_id"])


# -- buyers ---------------------------------------------------------------------------------------


def test_category_dropouts(sd):
    drops = sd.truth["category_dropouts"]
    assert drops.height >= 20
    assert drops["customer_id"].to_list() == sd.truth["category_dropout_customers"]
    p = sd.events.filter(pl.col("event") == "purchase").join(
        drops, on="customer_id", suffix="_dropped"
    )
    same = pl.col("category") == pl.col("category_dropped")
    after = pl.col("ts") >= pl.col("dropout_ts")
    per = p.group_by("customer_id").agg(
        (same & after).sum().alias("same_after"),
        (same & ~after).sum().alias("same_before"),
        (~same & after).sum().alias("other_after"),
    )
    assert (per["same_after"] == 0).all()
    assert (per["same_before"] >= 2).all()
    assert (per["other_after"] >= 1).all()


def test_buyer_spend_and_purchases(sd):
    goods = sd.events.filter(
        (pl.col("event") == "purchase") & (pl.col("category") != "subscription")
    )
    gg = sd.truth["gamma_gamma"]
    assert abs(goods["amount"].mean() - gg["mean_spend"]) < 0.15 * gg["mean_spend"]
    buyers = sd.customers.filter(pl.col("plan") == "none")
    per = goods.join(buyers, on="customer_id").group_by("customer_id").len()
    assert per.height > 0.8 * buyers.height
    assert per["len"].max() >= 10
    assert 0.08 < goods["discount"].mean() < 0.2


# -- campaigns and feedback -----------------------------------------------------------------------


def test_campaign_groups_balanced_and_rates_realised_in_events(sd):
    camp = sd.campaigns
    purchases = sd.events.filter(pl.col("event") == "purchase").select("customer_id", "ts")
    for cid, t in sd.truth["campaigns"].items():
        c = camp.filter(pl.col("campaign_id") == cid)
        n = c.group_by("group").len().sort("group")
        assert n["group"].to_list() == ["control", "treatment"]
        assert abs(n["len"][0] - n["len"][1]) <= 1
        assert c["customer_id"].is_unique().all()
        window = timedelta(days=t["window_days"])
        ret = (
            c.join(purchases, on="customer_id")
            .filter(pl.col("ts") > pl.col("sent_ts"), pl.col("ts") <= pl.col("sent_ts") + window)
            .select("customer_id")
            .unique()
        )
        rates = (
            c.with_columns(pl.col("customer_id").is_in(ret["customer_id"].implode()).alias("back"))
            .group_by("group")
            .agg(pl.col("back").mean())
        )
        got = dict(rates.iter_rows())
        assert got["control"] == pytest.approx(t["realised_control_rate"])
        assert got["treatment"] == pytest.approx(t["realised_treatment_rate"])
        # Lapsed: no purchase in the lapsed_days before the send.
        recent = c.join(purchases, on="customer_id").filter(
            pl.col("ts") <= pl.col("sent_ts"),
            pl.col("ts") > pl.col("sent_ts") - timedelta(days=t["lapsed_days"]),
        )
        assert recent.height == 0


def test_main_campaign_is_big_enough_to_measure_the_lift(sd):
    t = sd.truth["campaigns"]["WB-2025-06"]
    assert t["n_control"] >= 600 and t["n_treatment"] >= 600
    p0, p1 = t["realised_control_rate"], t["realised_treatment_rate"]
    se = math.sqrt(p0 * (1 - p0) / t["n_control"] + p1 * (1 - p1) / t["n_treatment"])
    lo, hi = p1 - p0 - 1.96 * se, p1 - p0 + 1.96 * se
    assert lo <= t["abs_lift"] <= hi
    assert hi - lo < 0.75 * t["abs_lift"]
    assert t["treatment_rate"] == pytest.approx(t["control_rate"] + t["abs_lift"])


def test_feedback_reasons_depend_on_segment(sd):
    fb = sd.feedback.join(sd.customers, on="customer_id")
    assert set(fb["reason"]) == {"price", "competitor", "not_using", "support", "other"}
    churned = sd.truth["lifetimes"].filter(pl.col("churned")).height
    assert 0.3 < sd.feedback.height / churned < 0.5
    heavy = fb.filter(pl.col("early_support_contacts") >= 2)["reason"]
    light = fb.filter(pl.col("early_support_contacts") == 0)["reason"]
    assert (heavy == "support").mean() > (light == "support").mean() + 0.15


def test_annotations_and_truth_keys(sd):
    ann = sd.annotations
    assert ann.height == 3
    labels = {a["label"] for a in sd.truth["annotations"].values()}
    assert set(ann["label"]) == labels
    de = ann.filter(pl.col("segment_column") == "country")
    assert de["segment_value"].to_list() == ["DE"]
    for key in (
        "hazard_ratios",
        "baseline_monthly_hazard",
        "bgnbd",
        "gamma_gamma",
        "campaigns",
        "funnel",
        "activation",
        "annotations",
        "category_dropout_customers",
        "reactivated_customers",
        "channel_quality",
        "lifetimes",
        "feedback",
    ):
        assert key in sd.truth
    assert sd.truth["hazard_ratios"] == {
        "channel[paid_search]": 1.6,
        "channel[social]": 1.3,
        "plan[pro]": 0.7,
        "early_support_contacts": 1.25,
    }
    assert 0.03 <= sd.truth["baseline_monthly_hazard"] <= 0.08


# -- real data ------------------------------------------------------------------------------------

CDNOW_SCHEMA = {
    "customer_id": pl.Int64,
    "ts": UTC_US,
    "event": pl.String,
    "amount": pl.Float64,
    "quantity": pl.Int64,
}


def test_cdnow_master_facts():
    m = wb.datasets.load_cdnow()
    assert dict(m.schema) == CDNOW_SCHEMA
    assert m.height == 69_659
    assert m["customer_id"].n_unique() == 23_570
    assert m.select(pl.struct("customer_id", pl.col("ts").dt.date()).n_unique()).item() == 67_591
    assert (m["amount"] == 0).sum() == 80
    assert m["ts"].min() == datetime(1997, 1, 1, tzinfo=UTC)
    assert m["ts"].max() == datetime(1998, 6, 30, tzinfo=UTC)
    assert set(m["event"]) == {"purchase"}
    assert (m["ts"].dt.hour() == 0).all()


def test_cdnow_sample_facts_and_ids_match_master():
    s = wb.datasets.load_cdnow(sample=True)
    assert dict(s.schema) == {**CDNOW_SCHEMA, "sample_id": pl.Int64}
    assert s.height == 6_919
    assert s["customer_id"].n_unique() == 2_357
    assert s["sample_id"].n_unique() == 2_357
    assert s.select(pl.struct("customer_id", "ts").n_unique()).item() == 6_696
    assert round(s["amount"].sum(), 2) == 244_091.94
    m = wb.datasets.load_cdnow()
    assert s.join(m, on=["customer_id", "ts", "amount", "quantity"], how="anti").height == 0


@pytest.mark.parametrize(
    ("sample", "sum_x", "zeros", "holdout"),
    [(True, 2_457, 1_411, 1_882), (False, 24_337, 14_119, 19_684)],
)
def test_cdnow_rfm_reproduces_the_papers(sample, sum_x, zeros, holdout):
    days = (
        wb.datasets.load_cdnow(sample=sample)
        .group_by("customer_id", pl.col("ts").dt.date().alias("day"))
        .agg(pl.col("amount").sum())
    )
    cal_end = datetime(1997, 9, 30).date()
    first = days.group_by("customer_id").agg(pl.col("day").min().alias("first"))
    d = days.join(first, on="customer_id")
    cal = d.filter(pl.col("day") <= cal_end).group_by("customer_id").agg((pl.len() - 1).alias("x"))
    assert cal["x"].sum() == sum_x
    assert (cal["x"] == 0).sum() == zeros
    assert d.filter(pl.col("day") > cal_end).height == holdout


def test_cdnow_bad_parameter():
    with pytest.raises(wb.BadParameterError, match="load_cdnow: sample='yes'"):
        wb.datasets.load_cdnow(sample="yes")


def test_donations():
    d = wb.datasets.load_donations()
    assert d.columns == ["frequency", "recency", "periods", "weights"]
    assert all(dt == pl.Int64 for dt in d.dtypes)
    assert d.height == 22
    assert d["weights"].sum() == 11_104
    assert (d["periods"] == 6).all()
    assert (d["recency"] >= d["frequency"].clip(upper_bound=6) * 0).all()
    assert ((d["frequency"] == 0) == (d["recency"] == 0)).all()
    assert np.all(d["frequency"].to_numpy() <= d["recency"].to_numpy())


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(100, 400))
def test_invariants_hold_for_any_seed(seed, n):
    s = _generate.__wrapped__(seed, n)
    assert s.customers.height == n
    assert s.events["ts"].max() <= AS_OF
    assert set(s.events["customer_id"]) <= set(s.customers["customer_id"])
    sub = s.subscriptions.sort("customer_id", "period_start")
    prev_end = sub["period_end"].shift(1)
    same = sub["customer_id"] == sub["customer_id"].shift(1)
    assert (sub["period_start"].filter(same) >= prev_end.filter(same)).all()
    purchases = s.events.filter(pl.col("event") == "purchase")
    assert (purchases["amount"] > 0).all()
    for c in s.campaigns.partition_by("campaign_id"):
        n_t = (c["group"] == "treatment").sum()
        assert abs(c.height - 2 * n_t) <= 1
