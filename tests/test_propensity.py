from datetime import UTC, datetime, timedelta

import numpy as np
import plotly.graph_objects as go
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import workbench as wb
from workbench.propensity import auc_score, calibration_table

CUT = datetime(2025, 9, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def sample():
    return wb.datasets.load_sample()


@pytest.fixture(scope="module")
def model(sample):
    return wb.churn_propensity(
        sample.events,
        cutoff=CUT,
        horizon="90d",
        customers=sample.customers,
        subscriptions=sample.subscriptions,
        annotations=sample.annotations,
        seed=1,
    )


def _perturb_after(events: pl.DataFrame, cut: datetime, seed: int) -> pl.DataFrame:
    """Shift, drop, re-price and add events at or after the cutoff; keep earlier ones."""
    rng = np.random.default_rng(seed)
    before = events.filter(pl.col("ts") < cut)
    after = events.filter(pl.col("ts") >= cut)
    keep = rng.random(after.height) < 0.5
    shift = pl.Series(rng.integers(0, 40, after.height)).cast(pl.Int64) * 86_400_000_000
    after = after.filter(pl.Series(keep)).with_columns(
        (pl.col("ts") + pl.duration(microseconds=shift.filter(pl.Series(keep)))).alias("ts"),
        (pl.col("amount") * 3).alias("amount"),
    )
    extra = before.sample(n=min(200, before.height), seed=seed).with_columns(
        pl.lit(cut + timedelta(days=5)).alias("ts")
    )
    return pl.concat([before, after, extra])


# ----------------------------------------------------------------------------- leakage
def test_features_use_only_data_before_the_cutoff(sample):
    ev = sample.events
    kw = {
        "cutoff": CUT,
        "customers": sample.customers,
        "subscriptions": sample.subscriptions,
        "annotations": sample.annotations,
    }
    base = wb.customer_features(ev, **kw)
    for seed in (1, 2):
        moved = _perturb_after(ev, CUT, seed)
        assert_frame_equal(wb.customer_features(moved, **kw), base)
    # ... while the labels, observed after the cutoff, do change.
    lab = wb.churn_labels(ev, cutoff=CUT, horizon="90d")
    lab2 = wb.churn_labels(_perturb_after(ev, CUT, 1), cutoff=CUT, horizon="90d")
    assert lab["customer_id"].equals(lab2["customer_id"])  # same population (known at cutoff)
    flips = (lab["churned"] != lab2["churned"]).sum()
    assert flips > 50
    # Removing everything after the cutoff churns the whole population.
    gone = wb.churn_labels(
        ev.filter(pl.col("ts") < CUT), cutoff=CUT, horizon="90d", as_of=CUT + timedelta(days=90)
    )
    assert gone["churned"].all()


def test_an_event_at_the_cutoff_is_a_label_not_a_feature():
    t = lambda d: CUT + timedelta(days=d)  # noqa: E731
    ev = pl.DataFrame(
        {
            "customer_id": ["a", "a", "b", "b"],
            "ts": [t(-10), t(0), t(-5), t(90)],
            "amount": [1.0, 2.0, 3.0, 4.0],
        }
    )
    f = wb.customer_features(ev, cutoff=CUT)
    assert f.filter(customer_id="a")["n_purchases"].item() == 1
    assert f.filter(customer_id="a")["total_spend"].item() == 1.0
    lab = wb.churn_labels(ev, cutoff=CUT, horizon="90d")
    # a returns at the cutoff itself; b's return at cutoff + 90 days is outside [cut, cut + 90d).
    assert lab["churned"].to_list() == [False, True]


@pytest.mark.slow
def test_propensity_model_does_not_change_when_the_future_changes(sample, model):
    moved = _perturb_after(sample.events, CUT + timedelta(days=90), 3)
    again = wb.churn_propensity(
        moved,
        cutoff=CUT,
        horizon="90d",
        customers=sample.customers,
        subscriptions=sample.subscriptions,
        annotations=sample.annotations,
        seed=1,
    )
    assert again.auc == pytest.approx(model.auc)
    assert_frame_equal(again.coefficients, model.coefficients)


# ----------------------------------------------------------------------------- hand checks
def test_auc_and_calibration_hand_checked():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.4, 0.35, 0.8])
    assert auc_score(y, p) == 0.75  # 3 of 4 (churned, retained) pairs ordered correctly
    assert auc_score(y, np.array([0.5, 0.5, 0.5, 0.5])) == 0.5
    assert np.isnan(auc_score(np.zeros(3), np.arange(3)))
    cal = calibration_table(np.array([0, 1, 0, 1]), np.array([0.1, 0.9, 0.2, 0.8]), bins=2)
    assert cal["customers"].to_list() == [2, 2]
    assert cal["mean_predicted"].to_list() == pytest.approx([0.15, 0.85])
    assert cal["observed_rate"].to_list() == [0.0, 1.0]


def test_logit_recovers_a_known_effect():
    """Customers with more support contacts churn more, by construction."""
    rng = np.random.default_rng(11)
    rows = []
    for i in range(600):
        cid = f"c{i:03d}"
        contacts = int(rng.integers(0, 4))
        t0 = CUT - timedelta(days=float(rng.uniform(20, 150)))
        rows.append((cid, t0, "purchase", 20.0))
        rows += [
            (cid, t0 + timedelta(days=1 + j), "support_contact", None) for j in range(contacts)
        ]
        if rng.random() > 1 / (1 + np.exp(-(-1.5 + 1.0 * contacts))):  # stays: buys again
            rows.append((cid, CUT + timedelta(days=float(rng.uniform(1, 80))), "purchase", 20.0))
    rows.append(("z", CUT + timedelta(days=120), "visit", None))
    ev = pl.DataFrame(rows, schema=["customer_id", "ts", "event", "amount"], orient="row")
    # n_events and the recent counts carry the contacts too: leave them out.
    m = wb.churn_propensity(
        ev,
        cutoff=CUT,
        horizon="90d",
        seed=0,
        exclude=("n_events", "events_recent", "support_contacts_recent"),
    )
    coef = m.coefficients.filter(term="support_contacts").row(0, named=True)
    assert coef["p_value"] < 0.001 and coef["coef"] > 0
    assert m.auc > 0.65
    assert m.params["fit"] == "logit"


# ----------------------------------------------------------------------------- sample data
def test_propensity_on_the_sample(sample, model):
    assert model.auc > 0.6
    assert model.params["n_holdout"] == pytest.approx(
        0.3 * (model.params["n_train"] + model.params["n_holdout"]), abs=1
    )
    cal = model.calibration
    assert cal.height == 10 and cal["customers"].sum() == model.params["n_holdout"]
    # Calibrated: observed rate tracks the predicted one across deciles.
    assert np.corrcoef(cal["mean_predicted"], cal["observed_rate"])[0, 1] > 0.9
    assert model.coefficients["term"][0] == "intercept"
    assert {"ci_low", "ci_high", "p_value", "ratio"} <= set(model.coefficients.columns)
    # Seeded split: the same seed gives the same model, another seed another split.
    preds = model.predictions
    assert preds["holdout"].sum() == model.params["n_holdout"]
    fig = model.plot()
    assert isinstance(fig.data[1], go.Scatter) and fig.layout.xaxis.title.text
    assert "AUC" in model._repr_html_()


def test_score_active_customers_at_as_of(sample, model):
    as_of = datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)
    kw = {
        "customers": sample.customers,
        "subscriptions": sample.subscriptions,
        "annotations": sample.annotations,
    }
    scores = model.score(sample.events, as_of=as_of, **kw)
    assert scores["churn_probability"].is_between(0, 1).all()
    assert set(scores["risk_decile"].unique()) == set(range(1, 11))
    assert (scores["churn_probability"].diff().drop_nulls() <= 0).all()
    feats = wb.customer_features(sample.events, cutoff=as_of)
    active = feats.filter(pl.col("days_since_last_activity") <= 180)
    assert scores.height == active.height
    # Scoring sees only data before as_of.
    earlier = datetime(2025, 11, 1, tzinfo=UTC)
    s1 = model.score(sample.events, as_of=earlier, **kw)
    s2 = model.score(_perturb_after(sample.events, earlier, 5), as_of=earlier, **kw)
    assert_frame_equal(s1, s2)


@pytest.mark.slow
def test_cox_variant_on_the_sample(sample):
    m = wb.churn_propensity(
        sample.events, cutoff=CUT, horizon="90d", model="cox", customers=sample.customers, seed=1
    )
    assert m.auc > 0.6
    assert m.coefficients["ratio_kind"][0] == "hazard_ratio"
    assert m.calibration["mean_predicted"].is_between(0, 1).all()


def test_propensity_bad_input(sample):
    ev = sample.events
    with pytest.raises(wb.BadParameterError, match="model='forest'"):
        wb.churn_propensity(ev, cutoff=CUT, model="forest")
    with pytest.raises(wb.BadParameterError, match="churn cannot be observed"):
        wb.churn_propensity(ev, cutoff="2025-12-01", horizon="90d")
    with pytest.raises(wb.BadParameterError, match="holdout=0.99"):
        wb.churn_propensity(ev, cutoff=CUT, holdout=0.99)
    with pytest.raises(wb.BadParameterError, match="horizon='3 months'"):
        wb.churn_propensity(ev, cutoff=CUT, horizon="3 months")
    with pytest.raises(wb.BadDataError, match="too few"):
        wb.churn_propensity(ev.head(30), cutoff=ev["ts"].sort()[20], horizon="1d")
    with pytest.raises(wb.BadParameterError, match="cutoff='soon'"):
        wb.customer_features(ev, cutoff="soon")


def test_features_hand_checked_with_side_tables():
    t = lambda y, m, d: datetime(y, m, d, tzinfo=UTC)  # noqa: E731
    ev = pl.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b", "b", "c"],
            "ts": [
                t(2025, 1, 1),
                t(2025, 3, 1),
                t(2025, 5, 1),
                t(2025, 2, 1),
                t(2025, 4, 1),
                t(2025, 6, 15),
            ],
            "event": ["purchase", "support_contact", "purchase", "purchase", "purchase", "visit"],
            "category": ["x", None, "y", "x", "x", None],
            "amount": [10.0, None, 20.0, 5.0, 1.0, None],
            "discount": [True, None, False, False, False, None],
        }
    )
    cust = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "signup_ts": [t(2024, 12, 1), t(2025, 2, 1), t(2025, 6, 1)],
            "channel": ["organic", "paid", "social"],
        }
    )
    subs = pl.DataFrame(
        {
            "customer_id": ["a", "a"],
            "period_start": [t(2025, 4, 1), t(2025, 5, 1)],
            "period_end": [t(2025, 5, 1), t(2025, 6, 1)],
            "plan": ["basic", "pro"],
        }
    )
    ann = pl.DataFrame(
        {
            "start": [t(2025, 1, 15).date(), t(2025, 1, 20).date()],
            "label": ["Basic plan price up", "Service outage"],
            "kind": ["pricing", "incident"],
            "segment_column": ["channel", None],
            "segment_value": ["organic", None],
        }
    )
    f = wb.customer_features(
        ev, cutoff=t(2025, 5, 20), customers=cust, subscriptions=subs, annotations=ann
    )
    assert f["customer_id"].to_list() == ["a", "b"]  # c has no event before the cutoff
    a = f.row(0, named=True)
    assert a["tenure_days"] == 170.0  # from the signup on 2024-12-01
    assert a["days_since_last_purchase"] == 19.0
    assert (a["n_events"], a["n_purchases"]) == (3, 2)
    assert (a["purchases_recent"], a["purchases_previous"], a["purchase_trend"]) == (1, 1, 0)
    assert (a["total_spend"], a["mean_order_value"], a["spend_recent"]) == (30.0, 15.0, 20.0)
    assert a["discount_share"] == 0.5
    assert (a["support_contacts"], a["support_contacts_recent"]) == (1, 1)
    assert (a["category_share__x"], a["category_share__y"]) == (0.5, 0.5)
    assert a["tariff_changes_exposed"] == 1  # the pricing change hit organic customers only
    assert (a["subscribed_at_cutoff"], a["paid_periods"], a["subscription_plan"]) == (
        True,
        2,
        "pro",
    )
    assert a["channel"] == "organic"
    b = f.row(1, named=True)
    assert (b["tariff_changes_exposed"], b["subscribed_at_cutoff"], b["paid_periods"]) == (
        0,
        False,
        0,
    )
    # Renamed columns through the schema give the same table; so does a pandas frame.
    renamed = ev.rename({"customer_id": "user", "ts": "when"})
    g = wb.customer_features(
        renamed, cutoff=t(2025, 5, 20), schema=wb.EventSchema(customer_id="user", ts="when")
    )
    assert_frame_equal(g, wb.customer_features(ev, cutoff=t(2025, 5, 20)))
    assert_frame_equal(
        wb.customer_features(ev.to_pandas(), cutoff=t(2025, 5, 20)),
        wb.customer_features(ev, cutoff=t(2025, 5, 20)),
    )
    # Pre-aggregated rows count n_events.
    agg = ev.with_columns(pl.Series("n_events", [2, 1, 1, 1, 1, 1]))
    assert wb.customer_features(agg, cutoff=t(2025, 5, 20))["n_purchases"].to_list() == [3, 2]
    with pytest.raises(wb.MissingColumnError, match="annotations has no column"):
        wb.customer_features(ev, cutoff=t(2025, 5, 20), annotations=ann.drop("start"))


def test_score_needs_the_training_side_tables(sample, model):
    with pytest.raises(wb.BadParameterError, match="same side tables"):
        model.score(sample.events)


def test_winback_with_the_propensity_model(sample, model):
    t = wb.winback_targets(
        sample.events,
        customers=sample.customers,
        subscriptions=sample.subscriptions,
        annotations=sample.annotations,
        campaigns=sample.campaigns,
        propensity=model,
    )
    risky = t.filter(pl.col("reasons").list.contains("high_risk"))
    assert risky.height > 0 and (risky["risk"] >= 0.7).all()
    assert set(t.filter(offer="loyalty_points")["reasons"].explode()) >= {"high_risk"}
