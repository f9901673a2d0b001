"""Audit: foreseeable user mistakes raise a WorkbenchError naming the parameter or column,
never a raw polars / pandas / numpy traceback."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

import workbench as wb

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _events():
    rows = []
    for c in range(40):
        for j in range(4):
            ts = T0 + timedelta(days=9 * j + c % 5, hours=c % 24)
            rows.append(
                (
                    f"c{c}",
                    ts,
                    ["visit", "purchase", "add_to_cart", "purchase"][j],
                    10.0 + c,
                    "ab"[c % 2],
                )
            )
    return pl.DataFrame(
        rows, schema=["customer_id", "ts", "event", "amount", "category"], orient="row"
    )


EV = _events()
SUBS = pl.DataFrame(
    {"customer_id": ["a"], "period_start": [T0], "period_end": [T0 + timedelta(days=30)]}
)
CAMPS = pl.DataFrame(
    {
        "customer_id": [f"c{c}" for c in range(40)],
        "campaign_id": ["A"] * 40,
        "sent_ts": [T0] * 40,
        "group": ["treatment", "control"] * 20,
    }
)
CHURN = wb.churn_table(EV, inactivity="10d")


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", wb.WorkbenchWarning)
        return fn(*args, **kw)


CASES = [
    # -- churn_table / purchase_cycles --
    (
        "churn missing ts",
        lambda: wb.churn_table(EV.drop("ts"), inactivity="9d"),
        wb.MissingColumnError,
        "no column 'ts'",
    ),
    (
        "churn missing period_end",
        lambda: wb.churn_table(subscriptions=SUBS.drop("period_end")),
        wb.MissingColumnError,
        "period_end",
    ),
    (
        "churn inactivity list",
        lambda: wb.churn_table(EV, inactivity=[90]),
        wb.BadParameterError,
        r"inactivity=\[90\]",
    ),
    (
        "churn inactivity months",
        lambda: wb.churn_table(EV, inactivity="3 months"),
        wb.BadParameterError,
        "inactivity='3 months'",
    ),
    (
        "churn two modes",
        lambda: wb.churn_table(EV, inactivity="9d", cancel_event="cancel"),
        wb.BadParameterError,
        "exactly one churn mode",
    ),
    ("churn no mode", lambda: wb.churn_table(EV), wb.BadParameterError, "exactly one churn mode"),
    (
        "churn episodes str",
        lambda: wb.churn_table(EV, inactivity="9d", episodes="yes"),
        wb.BadParameterError,
        "episodes='yes'",
    ),
    (
        "churn own_cycle str",
        lambda: wb.churn_table(EV, own_cycle="2"),
        wb.BadParameterError,
        "own_cycle='2'",
    ),
    (
        "churn prior_strength str",
        lambda: wb.churn_table(EV, own_cycle=2, prior_strength="3"),
        wb.BadParameterError,
        "prior_strength='3'",
    ),
    (
        "churn cancel_event int",
        lambda: wb.churn_table(EV, cancel_event=1),
        wb.BadParameterError,
        "cancel_event=1",
    ),
    (
        "churn grace negative",
        lambda: wb.churn_table(subscriptions=SUBS, grace=-1),
        wb.BadParameterError,
        "grace=-1",
    ),
    (
        "churn as_of int",
        lambda: wb.churn_table(EV, inactivity="9d", as_of=12345),
        wb.BadParameterError,
        "as_of=12345",
    ),
    (
        "churn event int",
        lambda: wb.churn_table(EV, inactivity="9d", event=5),
        wb.BadParameterError,
        "event=5",
    ),
    (
        "churn events not a frame",
        lambda: wb.churn_table({"a": 1}, inactivity="9d"),
        wb.WorkbenchError,
        "must be a polars DataFrame",
    ),
    (
        "churn ts wrong dtype",
        lambda: wb.churn_table(EV.with_columns(pl.lit(True).alias("ts")), inactivity="9d"),
        wb.BadDataError,
        "'ts'",
    ),
    (
        "cycles missing customer_id",
        lambda: wb.purchase_cycles(EV.drop("customer_id")),
        wb.MissingColumnError,
        "customer_id",
    ),
    (
        "cycles prior str",
        lambda: wb.purchase_cycles(EV, prior_strength="3"),
        wb.BadParameterError,
        "prior_strength='3'",
    ),
    (
        "cycles event empty",
        lambda: wb.purchase_cycles(EV, event=[]),
        wb.BadParameterError,
        r"event=\[\]",
    ),
    # -- churn_curves --
    (
        "curves missing duration",
        lambda: wb.churn_curves(CHURN.drop("duration_days")),
        wb.MissingColumnError,
        "duration_days",
    ),
    (
        "curves by unknown",
        lambda: wb.churn_curves(CHURN, by="channel"),
        wb.MissingColumnError,
        "channel",
    ),
    (
        "curves horizons str",
        lambda: wb.churn_curves(CHURN, horizons="30"),
        wb.BadParameterError,
        "horizons='30'",
    ),
    ("curves level", lambda: wb.churn_curves(CHURN, level=95), wb.BadParameterError, "level"),
    (
        "curves rmst negative",
        lambda: wb.churn_curves(CHURN, rmst_horizon=-1),
        wb.BadParameterError,
        "rmst_horizon=-1",
    ),
    ("curves not a frame", lambda: wb.churn_curves([1, 2]), wb.BadParameterError, "table"),
    (
        "curves duration str",
        lambda: wb.churn_curves(CHURN.with_columns(pl.col("duration_days").cast(pl.String))),
        wb.BadDataError,
        "duration_days",
    ),
    (
        "curves weights missing",
        lambda: wb.churn_curves(CHURN, weights="w"),
        wb.MissingColumnError,
        "'w'",
    ),
    (
        "curves min_group_size str",
        lambda: wb.churn_curves(CHURN, min_group_size="30"),
        wb.BadParameterError,
        "min_group_size",
    ),
    # -- campaign_effect --
    (
        "campaign missing group",
        lambda: wb.campaign_effect(EV, CAMPS.drop("group")),
        wb.MissingColumnError,
        "group",
    ),
    (
        "campaign missing ts",
        lambda: wb.campaign_effect(EV.drop("ts"), CAMPS),
        wb.MissingColumnError,
        "'ts'",
    ),
    (
        "campaign window month",
        lambda: wb.campaign_effect(EV, CAMPS, window="1 month"),
        wb.BadParameterError,
        "window='1 month'",
    ),
    (
        "campaign window int",
        lambda: wb.campaign_effect(EV, CAMPS, window=30),
        wb.BadParameterError,
        "window=30",
    ),
    (
        "campaign outcome unknown",
        lambda: wb.campaign_effect(EV, CAMPS, outcome="bogus"),
        wb.BadParameterError,
        "outcome='bogus'",
    ),
    (
        "campaign ci",
        lambda: wb.campaign_effect(EV, CAMPS, ci="exact"),
        wb.BadParameterError,
        "ci='exact'",
    ),
    (
        "campaign test",
        lambda: wb.campaign_effect(EV, CAMPS, test="t"),
        wb.BadParameterError,
        "test='t'",
    ),
    (
        "campaign level",
        lambda: wb.campaign_effect(EV, CAMPS, level=95),
        wb.BadParameterError,
        "level=95",
    ),
    (
        "campaign by unknown",
        lambda: wb.campaign_effect(EV, CAMPS, by="tier"),
        wb.MissingColumnError,
        "tier",
    ),
    (
        "campaign group values",
        lambda: wb.campaign_effect(EV, CAMPS.with_columns(pl.lit("holdout").alias("group"))),
        wb.BadDataError,
        "holdout",
    ),
    (
        "campaign revenue_event int",
        lambda: wb.campaign_effect(EV, CAMPS, revenue_event=3),
        wb.BadParameterError,
        "revenue_event=3",
    ),
    (
        "campaign as_of bad",
        lambda: wb.campaign_effect(EV, CAMPS, as_of="soon"),
        wb.BadParameterError,
        "as_of='soon'",
    ),
    # -- funnel --
    ("funnel steps str", lambda: wb.funnel(EV, "visit"), wb.BadParameterError, "steps='visit'"),
    (
        "funnel order",
        lambda: wb.funnel(EV, ["visit", "purchase"], order="loose"),
        wb.BadParameterError,
        "order='loose'",
    ),
    (
        "funnel window_from",
        lambda: wb.funnel(EV, ["visit", "purchase"], window_from="last"),
        wb.BadParameterError,
        "window_from='last'",
    ),
    (
        "funnel window",
        lambda: wb.funnel(EV, ["visit", "purchase"], window="soon"),
        wb.BadParameterError,
        "window='soon'",
    ),
    (
        "funnel by unknown",
        lambda: wb.funnel(EV, ["visit", "purchase"], by="country"),
        wb.MissingColumnError,
        "country",
    ),
    (
        "funnel missing ts",
        lambda: wb.funnel(EV.drop("ts"), ["visit", "purchase"]),
        wb.MissingColumnError,
        "'ts'",
    ),
    (
        "funnel missing event column",
        lambda: wb.funnel(EV.drop("event"), ["visit", "purchase"]),
        wb.MissingColumnError,
        "no column 'event'",
    ),
    (
        "funnel missing mapped event column",
        lambda: wb.funnel(EV.lazy(), ["visit", "purchase"], schema=wb.EventSchema(event="action")),
        wb.MissingColumnError,
        "no column 'action'",
    ),
    # -- activation_effect --
    (
        "activation outcome",
        lambda: wb.activation_effect(EV, outcome="d30x"),
        wb.BadParameterError,
        "outcome='d30x'",
    ),
    (
        "activation within",
        lambda: wb.activation_effect(EV, within="1 month"),
        wb.BadParameterError,
        "within='1 month'",
    ),
    (
        "activation within after outcome",
        lambda: wb.activation_effect(EV, within="8d", outcome="week1"),
        wb.BadParameterError,
        "within='8d'",
    ),
    (
        "activation start_event",
        lambda: wb.activation_effect(EV, start_event="signup"),
        wb.BadParameterError,
        "start_event='signup'",
    ),
    (
        "activation actions",
        lambda: wb.activation_effect(EV, actions=["tour"]),
        wb.BadParameterError,
        "actions='tour'",
    ),
    (
        "activation test",
        lambda: wb.activation_effect(EV, test="t"),
        wb.BadParameterError,
        "test='t'",
    ),
    (
        "activation alpha",
        lambda: wb.activation_effect(EV, alpha=5),
        wb.BadParameterError,
        "alpha=5",
    ),
    (
        "activation missing customer_id",
        lambda: wb.activation_effect(EV.drop("customer_id")),
        wb.MissingColumnError,
        "customer_id",
    ),
    (
        "activation return_event int",
        lambda: wb.activation_effect(EV, return_event=3),
        wb.BadParameterError,
        "return_event=3",
    ),
    # -- overdue / drop-outs / RFM / ABC-XYZ --
    (
        "overdue missing amount",
        lambda: wb.overdue_customers(EV.drop("amount"), model=None),
        wb.MissingColumnError,
        "amount",
    ),
    (
        "overdue k str",
        lambda: wb.overdue_customers(EV, k="2", model=None),
        wb.BadParameterError,
        "k='2'",
    ),
    (
        "overdue model",
        lambda: wb.overdue_customers(EV, model="pareto"),
        wb.BadParameterError,
        "model='pareto'",
    ),
    (
        "overdue spend",
        lambda: wb.overdue_customers(EV, spend="median", model=None),
        wb.BadParameterError,
        "spend='median'",
    ),
    (
        "overdue horizon",
        lambda: wb.overdue_customers(EV, horizon="3 months", model=None),
        wb.BadParameterError,
        "horizon='3 months'",
    ),
    (
        "overdue min_purchases",
        lambda: wb.overdue_customers(EV, min_purchases=0, model=None),
        wb.BadParameterError,
        "min_purchases=0",
    ),
    (
        "overdue prior_strength",
        lambda: wb.overdue_customers(EV, prior_strength=-1, model=None),
        wb.BadParameterError,
        "prior_strength=-1",
    ),
    (
        "overdue max_days_since",
        lambda: wb.overdue_customers(EV, max_days_since="x", model=None),
        wb.BadParameterError,
        "max_days_since='x'",
    ),
    (
        "dropouts missing category",
        lambda: wb.category_dropouts(EV.drop("category")),
        wb.MissingColumnError,
        "category",
    ),
    ("dropouts m", lambda: wb.category_dropouts(EV, m=1), wb.BadParameterError, "m=1"),
    ("dropouts k", lambda: wb.category_dropouts(EV, k=-1), wb.BadParameterError, "k=-1"),
    (
        "dropouts min_share",
        lambda: wb.category_dropouts(EV, min_share=2),
        wb.BadParameterError,
        "min_share=2",
    ),
    (
        "dropouts min_window",
        lambda: wb.category_dropouts(EV, min_window="x"),
        wb.BadParameterError,
        "min_window='x'",
    ),
    (
        "dropouts reference",
        lambda: wb.category_dropouts(EV, reference="y"),
        wb.BadParameterError,
        "reference='y'",
    ),
    (
        "dropouts exclude str",
        lambda: wb.category_dropouts(EV, exclude_categories=5),
        wb.BadParameterError,
        "exclude_categories=5",
    ),
    (
        "rfm missing amount",
        lambda: wb.rfm_scores(EV.drop("amount")),
        wb.MissingColumnError,
        "amount",
    ),
    (
        "rfm monetary",
        lambda: wb.rfm_scores(EV, monetary="median"),
        wb.BadParameterError,
        "monetary='median'",
    ),
    ("rfm rules", lambda: wb.rfm_scores(EV, rules="default"), wb.BadParameterError, "rules"),
    (
        "rfm rules gaps",
        lambda: wb.rfm_scores(EV, rules=wb.RFM_SEGMENT_RULES.head(2)),
        wb.BadParameterError,
        "without a segment",
    ),
    ("rfm as_of", lambda: wb.rfm_scores(EV, as_of="later"), wb.BadParameterError, "as_of='later'"),
    ("abc abc", lambda: wb.abc_xyz(EV, abc=(0.5, 0.5)), wb.BadParameterError, "abc="),
    ("abc xyz", lambda: wb.abc_xyz(EV, xyz=(1.0, 0.5)), wb.BadParameterError, "xyz="),
    (
        "abc period",
        lambda: wb.abc_xyz(EV, period="monthly"),
        wb.BadParameterError,
        "period='monthly'",
    ),
    ("abc n_periods", lambda: wb.abc_xyz(EV, n_periods=1), wb.BadParameterError, "n_periods=1"),
    (
        "abc min_periods",
        lambda: wb.abc_xyz(EV, min_periods=1),
        wb.BadParameterError,
        "min_periods=1",
    ),
    ("abc missing amount", lambda: wb.abc_xyz(EV.drop("amount")), wb.MissingColumnError, "amount"),
]


@pytest.mark.parametrize(
    ("fn", "error", "match"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_raises_a_workbench_error_naming_it(fn, error, match):
    with pytest.raises(error, match=match):
        _quiet(fn)
