"""Purchase cycles and churn tables: hand-checked tiny logs for every mode, censoring at the edge,
episodes, the unbiased censoring rule (simulation) and the sample data's known lifetimes."""

import math
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import workbench as wb
from workbench.stats import wilson_ci


def events(rows, *, with_time=False):
    """rows: (customer, 'YYYY-MM-DD', event) -> canonical events frame."""
    ts = [
        datetime.fromisoformat(d).replace(tzinfo=UTC)
        + (timedelta(hours=15) if with_time else timedelta())
        for _, d, _ in rows
    ]
    return pl.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "ts": ts,
            "event": [r[2] for r in rows],
        }
    )


def periods(rows):
    """rows: (customer, start, end) ISO strings -> subscriptions frame."""
    return pl.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "period_start": [datetime.fromisoformat(r[1]).replace(tzinfo=UTC) for r in rows],
            "period_end": [datetime.fromisoformat(r[2]).replace(tzinfo=UTC) for r in rows],
        }
    )


def row(table, cid, episode=None):
    t = table.filter(pl.col("customer_id") == cid)
    if episode is not None:
        t = t.filter(pl.col("episode") == episode)
    assert t.height == 1
    return t.row(0, named=True)


# -- purchase cycles ---------------------------------------------------------------------------

CYCLE_LOG = events(
    [
        ("a", "2025-01-01", "purchase"),
        ("a", "2025-01-11", "purchase"),
        ("a", "2025-01-11", "purchase"),  # same day: counts once
        ("a", "2025-01-31", "purchase"),
        ("b", "2025-01-01", "purchase"),
        ("b", "2025-01-05", "purchase"),
        ("c", "2025-01-20", "purchase"),
        ("c", "2025-01-25", "visit"),  # not a purchase
        ("d", "2025-03-01", "purchase"),  # after as_of
    ]
)


def test_purchase_cycles_hand_checked():
    out = wb.purchase_cycles(CYCLE_LOG, as_of="2025-02-10")
    assert out["customer_id"].to_list() == ["a", "b", "c"]
    a, b, c = (row(out, x) for x in "abc")
    assert (a["n_purchases"], b["n_purchases"], c["n_purchases"]) == (3, 2, 1)
    assert a["first_purchase"] == date(2025, 1, 1) and a["last_purchase"] == date(2025, 1, 31)
    assert a["mean_gap_days"] == 15.0 and b["mean_gap_days"] == 4.0 and c["mean_gap_days"] is None
    # weights w = g / (g + 3): a 2/5, b 1/4, c 0
    assert a["own_weight"] == pytest.approx(0.4) and b["own_weight"] == pytest.approx(0.25)
    centre = (0.4 * math.log(15) + 0.25 * math.log(4)) / 0.65
    assert c["typical_gap_days"] == pytest.approx(math.exp(centre), rel=1e-12)
    assert a["typical_gap_days"] == pytest.approx(
        math.exp(0.4 * math.log(15) + 0.6 * centre), rel=1e-12
    )
    assert b["typical_gap_days"] == pytest.approx(
        math.exp(0.25 * math.log(4) + 0.75 * centre), rel=1e-12
    )
    assert math.exp(centre) == pytest.approx(9.022149, abs=1e-6)
    assert a["days_since_last"] == 10 and c["days_since_last"] == 21
    assert a["expected_next"] == date(2025, 1, 31) + timedelta(days=11)  # 11.06 -> 11
    assert c["overdue_ratio"] == pytest.approx(21 / math.exp(centre))


def test_purchase_cycles_prior_strength_zero_uses_own_gaps():
    out = wb.purchase_cycles(CYCLE_LOG, as_of="2025-02-10", prior_strength=0)
    assert row(out, "a")["typical_gap_days"] == pytest.approx(15.0)
    assert row(out, "b")["typical_gap_days"] == pytest.approx(4.0)
    # one-day buyers get the population centre: mean of log gaps weighted 1 each
    assert row(out, "c")["typical_gap_days"] == pytest.approx(math.sqrt(15 * 4))


def test_purchase_cycles_default_as_of_is_last_event_and_lazy_equals_eager():
    eager = wb.purchase_cycles(CYCLE_LOG)
    lazy = wb.purchase_cycles(CYCLE_LOG.lazy())
    assert eager.equals(lazy)
    assert row(eager, "d")["days_since_last"] == 0  # as_of = 2025-03-01, d's only purchase


def test_purchase_cycles_pre_aggregated_events_give_same_answer():
    raw = CYCLE_LOG.filter(pl.col("event") == "purchase")
    reduced = (
        raw.group_by("customer_id", pl.col("ts").dt.truncate("1d"), "event")
        .len()
        .rename({"len": "n_events"})
    )
    assert wb.purchase_cycles(raw, as_of="2025-02-10").equals(
        wb.purchase_cycles(reduced, as_of="2025-02-10")
    )


def test_purchase_cycles_schema_mapping():
    renamed = CYCLE_LOG.rename({"customer_id": "user", "ts": "when"})
    out = wb.purchase_cycles(
        renamed, as_of="2025-02-10", schema=wb.EventSchema(customer_id="user", ts="when")
    )
    assert out.equals(wb.purchase_cycles(CYCLE_LOG, as_of="2025-02-10"))


def test_purchase_cycles_errors():
    with pytest.raises(wb.BadParameterError, match="prior_strength=-1"):
        wb.purchase_cycles(CYCLE_LOG, prior_strength=-1)
    with pytest.raises(wb.BadParameterError, match="event=3"):
        wb.purchase_cycles(CYCLE_LOG, event=3)
    with pytest.raises(wb.BadParameterError, match="as_of='yesterday'"):
        wb.purchase_cycles(CYCLE_LOG, as_of="yesterday")
    with pytest.raises(wb.MissingColumnError, match="no column 'ts'"):
        wb.purchase_cycles(CYCLE_LOG.drop("ts"))


# -- inactivity churn --------------------------------------------------------------------------

INACTIVE_LOG = events(
    [
        ("a", "2025-01-01", "purchase"),
        ("a", "2025-01-11", "visit"),
        ("a", "2025-06-01", "purchase"),  # 141 days after Jan 11: a new episode
        ("b", "2025-01-01", "purchase"),
        ("b", "2025-01-05", "purchase"),
        ("e1", "2025-09-02", "visit"),  # 90 days before as_of: censored (edge)
        ("e2", "2025-09-01", "visit"),  # 91 days before as_of: churned
        ("f", "2025-11-20", "visit"),
    ],
    with_time=True,
)
AS_OF = "2025-12-01"


def test_inactivity_customer_rows_hand_checked():
    out = wb.churn_table(INACTIVE_LOG, inactivity="90d", as_of=AS_OF)
    a = row(out, "a")
    assert a["start"] == date(2025, 1, 1) and a["last_active"] == date(2025, 6, 1)
    assert a["churned"] and a["churn_date"] == date(2025, 6, 2)
    assert a["duration_days"] == 152 and a["n_episodes"] == 2
    b = row(out, "b")
    assert b["churned"] and b["churn_date"] == date(2025, 1, 6) and b["duration_days"] == 5
    # edge: as_of - last_active == 90 is not more than the threshold -> censored
    e1 = row(out, "e1")
    assert not e1["churned"] and e1["churn_date"] is None and e1["days_since_last"] == 90
    assert e1["duration_days"] == 0  # as_of - 90 - start = 0
    e2 = row(out, "e2")
    assert e2["churned"] and e2["days_since_last"] == 91 and e2["duration_days"] == 1
    f = row(out, "f")
    assert not f["churned"] and f["duration_days"] == 0  # clipped at 0
    assert out["threshold_days"].unique().to_list() == [90]


def test_inactivity_censored_duration_is_as_of_minus_threshold_minus_start():
    log = events([("x", "2025-01-01", "visit"), ("x", "2025-11-30", "visit")])
    x = row(wb.churn_table(log, inactivity="30d", as_of=AS_OF), "x")
    assert not x["churned"]
    assert x["duration_days"] == (date(2025, 12, 1) - date(2025, 1, 1)).days - 30


def test_inactivity_episodes_count_reactivation():
    out = wb.churn_table(INACTIVE_LOG, inactivity="90d", as_of=AS_OF, episodes=True)
    a1, a2 = row(out, "a", 1), row(out, "a", 2)
    assert (a1["start"], a1["last_active"], a1["churn_date"]) == (
        date(2025, 1, 1),
        date(2025, 1, 11),
        date(2025, 1, 12),
    )
    assert a1["duration_days"] == 11 and a1["churned"] and a1["reactivated"]
    assert a2["start"] == date(2025, 6, 1) and a2["duration_days"] == 1 and not a2["reactivated"]
    assert out.filter(pl.col("reactivated")).height == 1


def test_inactivity_gap_exactly_threshold_plus_one_days_apart_stays_one_episode():
    # days 0 and 91: 90 inactive days between them, not more than 90 -> one spell
    log = events([("x", "2025-01-01", "visit"), ("x", "2025-04-02", "visit")])
    out = wb.churn_table(log, inactivity="90d", as_of="2025-04-02", episodes=True)
    assert out.height == 1
    log2 = events([("x", "2025-01-01", "visit"), ("x", "2025-04-03", "visit")])
    out2 = wb.churn_table(log2, inactivity="90d", as_of="2025-04-03", episodes=True)
    assert out2.height == 2 and out2["churned"].to_list() == [True, False]


def test_inactivity_event_filter_and_future_events_ignored():
    log = events(
        [
            ("x", "2025-01-01", "purchase"),
            ("x", "2025-11-01", "visit"),
            ("x", "2026-01-05", "purchase"),  # after as_of
        ]
    )
    any_event = row(wb.churn_table(log, inactivity="90d", as_of=AS_OF), "x")
    assert not any_event["churned"] and any_event["last_active"] == date(2025, 11, 1)
    buys = row(wb.churn_table(log, inactivity="90d", as_of=AS_OF, event="purchase"), "x")
    assert buys["churned"] and buys["last_active"] == date(2025, 1, 1)


# -- subscriptions -----------------------------------------------------------------------------

SUBS = periods(
    [
        ("a", "2025-01-01", "2025-02-01"),
        ("a", "2025-02-01", "2025-03-01"),
        ("a", "2025-04-01", "2025-05-01"),  # 31 uncovered days after Mar 1 > 30 grace
        ("b", "2025-01-01T10:00", "2025-01-31T23:59:59"),  # calendar days: Jan 1 -> Jan 31
        ("c", "2025-04-01", "2025-05-15"),  # end + 30 = Jun 14 = as_of: churned
        ("d", "2025-04-01", "2025-05-16"),  # end + 30 = Jun 15 > as_of: censored
        ("e", "2025-05-01", "2025-07-01"),  # paid beyond as_of
    ]
)


def test_subscriptions_hand_checked_with_grace_edge():
    out = wb.churn_table(None, subscriptions=SUBS, as_of="2025-06-14", grace="30d", episodes=True)
    a1, a2 = row(out, "a", 1), row(out, "a", 2)
    assert a1["churned"] and a1["churn_date"] == date(2025, 3, 1) and a1["duration_days"] == 59
    assert a1["last_active"] == date(2025, 2, 28) and a1["reactivated"]
    assert a2["churned"] and a2["churn_date"] == date(2025, 5, 1) and a2["duration_days"] == 30
    b = row(out, "b", 1)
    assert b["churn_date"] == date(2025, 1, 31) and b["duration_days"] == 30
    c = row(out, "c", 1)
    assert c["churned"] and c["churn_date"] == date(2025, 5, 15)
    d = row(out, "d", 1)
    assert (
        not d["churned"] and d["duration_days"] == (date(2025, 6, 14) - date(2025, 4, 1)).days - 30
    )
    e = row(out, "e", 1)
    assert not e["churned"] and e["days_since_last"] < 0  # covered past as_of


def test_subscriptions_default_grace_is_45_days_and_customer_rows():
    out = wb.churn_table(None, subscriptions=SUBS, as_of="2025-06-14")
    a = row(out, "a")
    # Mar 1 -> Apr 1 is within 45 days: one spell; May 1 + 45 = Jun 15 > as_of: censored
    assert a["n_episodes"] == 1 and not a["churned"] and a["threshold_days"] == 45
    assert a["duration_days"] == (date(2025, 6, 14) - date(2025, 1, 1)).days - 45


def test_subscriptions_periods_starting_after_as_of_are_ignored():
    subs = periods([("x", "2025-01-01", "2025-02-01"), ("x", "2025-08-01", "2025-09-01")])
    x = row(wb.churn_table(None, subscriptions=subs, as_of="2025-06-01"), "x")
    assert x["churned"] and x["churn_date"] == date(2025, 2, 1) and x["n_episodes"] == 1


# -- cancel events -----------------------------------------------------------------------------


def test_cancel_event_hand_checked_with_reactivation():
    log = events(
        [
            ("a", "2025-01-01", "signup"),
            ("a", "2025-02-01", "visit"),
            ("a", "2025-03-01", "cancel"),
            ("a", "2025-03-05", "cancel"),  # a second cancel without activity: ignored
            ("a", "2025-05-01", "visit"),  # comes back: episode 2, still active
            ("b", "2025-01-10", "signup"),
            ("b", "2025-01-10", "cancel"),  # cancels on the signup day
            ("c", "2025-02-01", "signup"),
        ]
    )
    out = wb.churn_table(log, cancel_event="cancel", as_of=AS_OF, episodes=True)
    a1, a2 = row(out, "a", 1), row(out, "a", 2)
    assert a1["churned"] and a1["churn_date"] == date(2025, 3, 1) and a1["duration_days"] == 59
    assert a1["reactivated"]
    assert not a2["churned"] and a2["start"] == date(2025, 5, 1)
    assert a2["duration_days"] == (date(2025, 12, 1) - date(2025, 5, 1)).days
    b = row(out, "b", 1)
    assert b["churned"] and b["duration_days"] == 0
    c = row(out, "c", 1)
    assert not c["churned"] and c["duration_days"] == (date(2025, 12, 1) - date(2025, 2, 1)).days
    assert out["threshold_days"].unique().to_list() == [0]
    whole = wb.churn_table(log, cancel_event="cancel", as_of=AS_OF)
    assert not row(whole, "a")["churned"] and row(whole, "a")["n_episodes"] == 2


# -- own purchase rhythm -----------------------------------------------------------------------


def test_own_cycle_uses_k_times_the_shrunk_typical_gap():
    out = wb.churn_table(CYCLE_LOG, own_cycle=2, as_of="2025-02-10")
    cyc = wb.purchase_cycles(CYCLE_LOG, as_of="2025-02-10")
    for cid in "abc":
        r, c = row(out, cid), row(cyc, cid)
        assert r["threshold_days"] == math.floor(2 * c["typical_gap_days"])
        assert r["churned"] == (c["overdue_ratio"] > 2)
    # b: typical 7.36 days -> threshold 14; 36 days since the last purchase
    assert row(out, "b")["threshold_days"] == 14 and row(out, "b")["churned"]
    assert not row(out, "a")["churned"]


def test_own_cycle_needs_a_rhythm():
    log = events([("x", "2025-01-01", "purchase"), ("y", "2025-01-03", "purchase")])
    with pytest.raises(wb.BadDataError, match="no customer has purchases on two different days"):
        wb.churn_table(log, own_cycle=2)


# -- parameters, customers, invariants ---------------------------------------------------------


def test_modes_are_mutually_exclusive():
    with pytest.raises(wb.BadParameterError, match="exactly one churn mode, got none"):
        wb.churn_table(INACTIVE_LOG)
    with pytest.raises(wb.BadParameterError, match="got inactivity and own_cycle"):
        wb.churn_table(INACTIVE_LOG, inactivity="90d", own_cycle=2)
    with pytest.raises(wb.BadParameterError, match="inactivity='90 days please'"):
        wb.churn_table(INACTIVE_LOG, inactivity="90 days please")
    with pytest.raises(wb.BadParameterError, match="own_cycle=-1"):
        wb.churn_table(INACTIVE_LOG, own_cycle=-1)
    with pytest.raises(wb.BadParameterError, match="needs the events table"):
        wb.churn_table(None, inactivity="90d")
    with pytest.raises(wb.BadParameterError, match="grace='soon'"):
        wb.churn_table(None, subscriptions=SUBS, grace="soon")
    with pytest.raises(wb.MissingColumnError, match="period_end"):
        wb.churn_table(None, subscriptions=SUBS.drop("period_end"))


def test_customers_join_and_its_errors():
    customers = pl.DataFrame({"customer_id": ["a", "b"], "channel": ["organic", "social"]})
    out = wb.churn_table(INACTIVE_LOG, inactivity="90d", as_of=AS_OF, customers=customers)
    assert row(out, "b")["channel"] == "social" and row(out, "f")["channel"] is None
    with pytest.raises(wb.BadDataError, match="cannot be matched"):
        wb.churn_table(
            INACTIVE_LOG, inactivity="90d", customers=pl.DataFrame({"customer_id": [1, 2]})
        )
    with pytest.raises(wb.BadDataError, match="more than one row"):
        wb.churn_table(
            INACTIVE_LOG, inactivity="90d", customers=pl.DataFrame({"customer_id": ["a", "a"]})
        )


def _random_log(draw_rows):
    base = date(2025, 1, 1)
    return events([(f"c{c}", (base + timedelta(days=d)).isoformat(), e) for c, d, e in draw_rows])


LOG_ROWS = st.lists(
    st.tuples(
        st.integers(0, 5), st.integers(0, 300), st.sampled_from(["purchase", "visit", "cancel"])
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=LOG_ROWS, threshold=st.integers(1, 60), seed=st.integers(0, 2**16))
def test_invariants_and_row_order(rows, threshold, seed):
    log = _random_log(rows)
    as_of = "2025-10-28"
    kw = {"inactivity": f"{threshold}d", "as_of": as_of}
    out = wb.churn_table(log, **kw)
    shuffled = log.sample(fraction=1.0, shuffle=True, seed=seed)
    assert out.equals(wb.churn_table(shuffled.lazy(), **kw))
    assert (out["duration_days"] >= 0).all()
    churned = out.filter(pl.col("churned"))
    assert (
        (churned["churn_date"] - churned["start"]).dt.total_days().equals(churned["duration_days"])
    )
    assert (churned["days_since_last"] > threshold).all()
    assert (out.filter(~pl.col("churned"))["days_since_last"] <= threshold).all()
    eps = wb.churn_table(log, episodes=True, **kw)
    assert eps.group_by("customer_id").len().sort("customer_id")["len"].to_list() == (
        out["n_episodes"].to_list()
    )
    assert eps.filter(pl.col("reactivated")).height == int((out["n_episodes"] - 1).sum())


def test_censoring_rule_is_administrative_so_km_is_unbiased():
    """Daily-active customers with known lifetimes L: the churn table must equal the textbook
    administratively censored data (event iff L <= as_of - threshold - start), and its KM curve
    must match the true survival."""
    rng = np.random.default_rng(5)
    n, t_thr, d_asof = 4000, 30, 699
    start = rng.integers(0, 700, n)
    life = np.ceil(rng.exponential(120, n)).astype(np.int64)
    cid = np.repeat(np.arange(n), life)
    day = np.repeat(start, life) + (np.arange(life.sum()) - np.repeat(np.cumsum(life) - life, life))
    keep = day <= d_asof
    base = datetime(2024, 1, 1, tzinfo=UTC)
    log = pl.DataFrame({"customer_id": cid[keep], "day": day[keep]}).select(
        "customer_id", (pl.lit(base) + pl.duration(days=pl.col("day"))).alias("ts")
    )
    out = wb.churn_table(log, inactivity=f"{t_thr}d", as_of=base + timedelta(days=d_asof))
    c = d_asof - t_thr - start
    ideal = pl.DataFrame(
        {
            "customer_id": np.arange(n),
            "d": np.where(life <= c, life, np.maximum(c, 0)),
            "e": life <= c,
        }
    )
    m = out.join(ideal, on="customer_id")
    assert m.height == n
    assert m["duration_days"].equals(m["d"].alias("duration_days"))
    assert m["churned"].equals(m["e"].alias("churned"))
    km = wb.churn_curves(out, horizons=(30, 90)).at_horizons
    for h, s in zip(km["horizon_days"], km["survival"], strict=True):
        assert s == pytest.approx(math.exp(-h / 120), abs=0.03)


def test_sample_contractual_churn_matches_known_lifetimes():
    s = wb.datasets.load_sample()
    out = wb.churn_table(s.events, subscriptions=s.subscriptions, as_of=s.as_of, episodes=True)
    truth = s.truth["lifetimes"].rename({"spell": "episode"})
    m = out.join(truth, on=["customer_id", "episode"], how="inner", suffix="_true")
    assert m.height == truth.height == out.height
    as_of = s.as_of.date()
    paid_end = pl.col("paid_until").dt.date()
    seen = paid_end + pl.duration(days=45) <= pl.lit(as_of)
    m = m.with_columns(paid_end.alias("paid_end"), seen.alias("seen"))
    # churned exactly when the end of the last paid period + 45 days has passed
    assert m["churned"].equals(m["seen"].alias("churned"))
    churned = m.filter(pl.col("churned"))
    assert churned["churn_date"].equals(churned["paid_end"].alias("churn_date"))
    assert churned["churned_true"].all()  # a visible churn is a real one
    assert churned.height > 500


def test_subscription_last_active_of_empty_paid_periods():
    """Empty paid periods (end <= start) keep a spell going: last_active is the day before the
    spell's end, or its start day when every period of the spell is empty."""
    dt = datetime
    subs = pl.DataFrame(
        {
            "customer_id": [1, 1, 2, 2],
            "period_start": [dt(2024, 1, 1), dt(2024, 1, 10), dt(2024, 1, 1), dt(2024, 2, 20)],
            "period_end": [dt(2024, 1, 1), dt(2024, 1, 10), dt(2024, 2, 1), dt(2024, 2, 20)],
        }
    )
    got = wb.churn_table(subscriptions=subs, as_of="2024-06-01", episodes=True)
    rows = got.select("customer_id", "last_active", "churn_date", "days_since_last").rows()
    assert rows == [
        (1, date(2024, 1, 1), date(2024, 1, 10), 152),
        (2, date(2024, 2, 19), date(2024, 2, 20), 103),
    ]


@pytest.fixture(scope="module")
def cdnow():
    return wb.datasets.load_cdnow()


@pytest.mark.parametrize(("cut", "churned"), [(0.3, 2668), (0.5, 4133)])
def test_p_alive_churn_is_p_alive_below_the_cut_on_the_analysis_day(cdnow, cut, churned):
    """CDNOW: churned on the analysis day exactly when the BG/NBD P(alive) of value_at_stake
    (same purchase days, same fit) is below the cut-off; thresholds are the crossing days."""
    from workbench.models import BetaGeoNBD

    table = wb.churn_table(cdnow, p_alive_below=cut)
    p = wb.value_at_stake(cdnow, spend="mean").select(
        "customer_id", "p_alive", "frequency", "recency", "T"
    )
    both = table.join(p, on="customer_id")
    assert both.height == table.height == 23_570
    assert (both["churned"] == (both["p_alive"] < cut)).all()
    one_day = both.filter(pl.col("frequency") == 0)  # BG/NBD: certainly alive, never churned
    assert one_day.height > 10_000 and not one_day["churned"].any()
    assert one_day["threshold_days"].null_count() == one_day.height
    as_of = date(1998, 6, 30)
    assert (one_day["duration_days"] == (as_of - one_day["start"]).dt.total_days()).all()
    rfm = wb.rfm_summary(cdnow, time_unit="D", collapse="D")
    model = BetaGeoNBD().fit(rfm)
    rep = both.filter(pl.col("frequency") > 0)
    x, tx, lag = (
        rep[c].to_numpy().astype(float) for c in ("frequency", "recency", "threshold_days")
    )
    at_lag = model.conditional_probability_alive(x, tx, tx + lag)
    after = model.conditional_probability_alive(x, tx, tx + lag + 1)
    assert ((at_lag >= cut) | (lag == 0)).all() and (after < cut).all()
    assert table["churned"].sum() == churned


def test_p_alive_churn_with_mbgnbd_lets_one_time_buyers_churn(cdnow):
    table = wb.churn_table(cdnow, p_alive_below=0.5, p_alive_model="mbgnbd", episodes=True)
    assert table["threshold_days"].null_count() == 0
    first = table.filter(pl.col("episode") == 1)
    assert first["churned"].mean() > 0.6  # most CDNOW customers buy once and leave
    again = table.filter(pl.col("reactivated"))  # a gap longer than the threshold, then back
    assert again.height > 0
    assert (again["churn_date"] - again["last_active"]).dt.total_days().eq(1).all()


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"p_alive_below": 1.5}, "strictly between 0 and 1"),
        ({"p_alive_below": 0.3, "p_alive_model": "pareto"}, "p_alive_model"),
        ({"p_alive_below": 0.3, "inactivity": "90d"}, "exactly one churn mode"),
    ],
)
def test_p_alive_churn_bad_options(cdnow, kw, match):
    with pytest.raises(wb.WorkbenchError, match=match):
        wb.churn_table(cdnow.head(500), **kw)


def test_p_alive_churn_needs_enough_customers():
    ev = pl.DataFrame(
        {
            "customer_id": [1, 1, 2],
            "ts": [datetime(2024, 1, 1), datetime(2024, 2, 1), datetime(2024, 1, 5)],
            "event": ["purchase"] * 3,
        }
    )
    with pytest.raises(wb.BadDataError, match="too few to fit"):
        wb.churn_table(ev, p_alive_below=0.3)


def test_compare_churn_definitions_on_cdnow(cdnow):
    got = wb.compare_churn_definitions(cdnow)
    assert got.select("definition", "customers", "churned", "never_churn").rows() == [
        ("inactivity", 23_570, 20_253, 0),
        ("own_cycle", 23_570, 18_583, 0),
        ("p_alive_below", 23_570, 2_668, 12_054),
    ]
    for row in got.iter_rows(named=True):  # each row is its churn_table, summarised
        table = wb.churn_table(cdnow, **{row["definition"]: DEFAULTS[row["definition"]]})
        assert row["churned"] == table["churned"].sum()
        assert row["censored"] == table.height - row["churned"]
        assert row["median_threshold_days"] == table["threshold_days"].median()
        lo, hi = wilson_ci(row["churned"], row["customers"])
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((lo, hi))
        assert row["ci_low"] < row["churn_share"] < row["ci_high"]
    purchases = wb.compare_churn_definitions(
        cdnow, definitions={"inactivity": "180d"}, event="purchase"
    )
    assert purchases.select("setting", "churned").row(0) == ("180d", 18_196)


DEFAULTS = {"inactivity": "90d", "own_cycle": 2.0, "p_alive_below": 0.3}


@pytest.mark.parametrize("definitions", [{}, {"subscriptions": "x"}, {"inactivty": "90d"}])
def test_compare_churn_definitions_bad_definitions(cdnow, definitions):
    with pytest.raises(wb.BadParameterError, match="definitions|churn mode"):
        wb.compare_churn_definitions(cdnow.head(100), definitions=definitions)


def test_subscriptions_with_cancel_events():
    """A cancel in the last paid period makes the churn known at the period's end, without
    the 45-day grace; a renewal after the cancel undoes it; a period not yet ended is not."""
    dt = datetime
    subs = pl.DataFrame(
        {
            "customer_id": [1, 2, 2, 3, 4],
            "period_start": [
                dt(2024, 1, 1),
                dt(2024, 1, 1),
                dt(2024, 2, 1),
                dt(2024, 1, 1),
                dt(2024, 1, 1),
            ],
            "period_end": [
                dt(2024, 2, 1),
                dt(2024, 2, 1),
                dt(2024, 3, 1),
                dt(2024, 2, 20),
                dt(2024, 2, 1),
            ],
        }
    )
    ev = pl.DataFrame(
        {
            "customer_id": [1, 2, 3, 4],
            "ts": [dt(2024, 1, 15), dt(2024, 1, 15), dt(2024, 1, 20), dt(2024, 1, 20)],
            "event": ["cancel", "cancel", "cancel", "login"],
        }
    )
    got = wb.churn_table(ev, subscriptions=subs, cancel_event="cancel", as_of="2024-02-10")
    assert got.select("customer_id", "churned", "churn_date", "duration_days").rows() == [
        (1, True, date(2024, 2, 1), 31),
        (2, False, None, 0),  # renewed after the cancel: followed to as_of - grace
        (3, False, None, 0),  # cancelled, still paid until Feb 20
        (4, False, None, 0),
    ]
    plain = wb.churn_table(ev, subscriptions=subs, as_of="2024-02-10")
    assert not plain["churned"].any()
    later = wb.churn_table(ev, subscriptions=subs, cancel_event="cancel", as_of="2024-02-25")
    assert later.filter(pl.col("churned"))["customer_id"].to_list() == [1, 3]
    with pytest.raises(wb.BadParameterError, match="needs the events table"):
        wb.churn_table(subscriptions=subs, cancel_event="cancel")
    with pytest.raises(wb.BadDataError, match="same identifier type"):
        wb.churn_table(
            ev.with_columns(pl.col("customer_id").cast(pl.String)),
            subscriptions=subs,
            cancel_event="cancel",
        )
