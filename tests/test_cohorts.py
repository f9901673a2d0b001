"""Retention matrix: hand-checked tiny logs with literal expected cells, options and errors."""

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import polars as pl
import pytest

import workbench as wb
from workbench.errors import BadParameterError, MissingColumnError


def d(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def log(rows, **extra) -> pl.DataFrame:
    """rows: (customer, ts[, event])."""
    data = {
        "customer_id": [r[0] for r in rows],
        "ts": [d(r[1]) for r in rows],
        "event": [r[2] if len(r) > 2 else "purchase" for r in rows],
    }
    data.update(extra)
    return pl.DataFrame(data)


def cells(m: pl.DataFrame, *cols) -> list[tuple]:
    cols = cols or ("period", "base", "retained", "complete")
    return [(str(r["cohort"]), *[r[c] for c in cols]) for r in m.iter_rows(named=True)]


# A: Jan, Feb, Apr; B: Jan, Mar; C: Feb; D: Feb, Mar. Analysis date mid-April.
ABCD = log(
    [
        ("A", "2024-01-05"),
        ("A", "2024-02-10"),
        ("A", "2024-04-01"),
        ("B", "2024-01-20"),
        ("B", "2024-03-03"),
        ("C", "2024-02-02"),
        ("D", "2024-02-05"),
        ("D", "2024-03-30"),
    ]
)
AS_OF = "2024-04-15T12:00:00"


@pytest.mark.parametrize("lazy", [False, True])
def test_on_literal(lazy):
    m = wb.retention_matrix(ABCD.lazy() if lazy else ABCD, as_of=AS_OF)
    assert m.columns == [
        "cohort",
        "period",
        "cohort_size",
        "base",
        "retained",
        "retention",
        "ci_low",
        "ci_high",
        "complete",
        "small",
    ]
    assert m["cohort"].dtype == pl.Date
    assert cells(m) == [
        ("2024-01-01", 0, 2, 2, True),
        ("2024-01-01", 1, 2, 1, True),
        ("2024-01-01", 2, 2, 1, True),
        ("2024-01-01", 3, 2, 1, False),
        ("2024-02-01", 0, 2, 2, True),
        ("2024-02-01", 1, 2, 1, True),
        ("2024-02-01", 2, 2, 0, False),
    ]
    assert m["retention"].to_list() == [1.0, 0.5, 0.5, 0.5, 1.0, 0.5, 0.0]
    assert m["small"].all()  # cohorts of 2 < min_cohort_size=30


def test_on_or_after_literal():
    m = wb.retention_matrix(ABCD, as_of=AS_OF, mode="on_or_after")
    assert [r[3] for r in cells(m)] == [2, 2, 2, 1, 2, 1, 0]


def test_previous_reference_literal():
    # share of those active in k-1 who are active in k
    m = wb.retention_matrix(ABCD, as_of=AS_OF, reference="previous")
    assert cells(m, "period", "base", "retained") == [
        ("2024-01-01", 0, 2, 2),
        ("2024-01-01", 1, 2, 1),
        ("2024-01-01", 2, 1, 0),
        ("2024-01-01", 3, 1, 0),
        ("2024-02-01", 0, 2, 2),
        ("2024-02-01", 1, 2, 1),
        ("2024-02-01", 2, 1, 0),
    ]
    ooa = wb.retention_matrix(ABCD, as_of=AS_OF, mode="on_or_after", reference="previous")
    assert [(r[2], r[3]) for r in cells(ooa, "period", "base", "retained")] == [
        (2, 2),
        (2, 2),
        (2, 2),
        (2, 1),
        (2, 2),
        (2, 1),
        (1, 0),
    ]


def test_brackets_literal():
    m = wb.retention_matrix(ABCD, as_of=AS_OF, brackets=[[1], [2, 3]])
    assert "bracket" in m.columns and "period_end" in m.columns
    assert cells(m, "bracket", "period", "period_end", "retained", "complete") == [
        ("2024-01-01", "1", 1, 1, 1, True),
        ("2024-01-01", "2-3", 2, 3, 2, False),
        ("2024-02-01", "1", 1, 1, 1, True),
        ("2024-02-01", "2-3", 2, 3, 0, False),
    ]


def test_min_events_and_weight_column_agree():
    rows = [
        ("X", "2024-01-03"),
        ("X", "2024-01-10"),
        ("X", "2024-02-01"),
        ("X", "2024-03-01"),
        ("X", "2024-03-02"),
        ("Y", "2024-01-05"),
        ("Y", "2024-02-02"),
        ("Y", "2024-02-03"),
    ]
    m = wb.retention_matrix(log(rows), min_events=2, as_of=date(2024, 3, 31))
    assert cells(m) == [
        ("2024-01-01", 0, 2, 1, True),
        ("2024-01-01", 1, 2, 1, True),
        ("2024-01-01", 2, 2, 1, True),
    ]
    # the same log pre-aggregated per customer-day with an n_events weight
    agg = log(
        [
            ("X", "2024-01-03"),
            ("X", "2024-02-01"),
            ("X", "2024-03-01"),
            ("Y", "2024-01-05"),
            ("Y", "2024-02-02"),
        ],
        n_events=[2, 1, 2, 1, 2],
    )
    assert wb.retention_matrix(agg, min_events=2, as_of=date(2024, 3, 31)).equals(m)
    # without min_events, rows of a pre-aggregated table count once per customer-period
    assert wb.retention_matrix(agg, as_of=date(2024, 3, 31)).equals(
        wb.retention_matrix(log(rows), as_of=date(2024, 3, 31))
    )


def test_recurring_cohorts_literal():
    rows = [
        ("A", "2024-01-05"),
        ("A", "2024-02-10"),
        ("A", "2024-04-01"),
        ("B", "2024-01-20"),
        ("B", "2024-03-03"),
    ]
    m = wb.retention_matrix(log(rows), cohorting="recurring", as_of=AS_OF)
    assert cells(m, "period", "cohort_size", "retained") == [
        ("2024-01-01", 0, 2, 2),
        ("2024-01-01", 1, 2, 1),
        ("2024-01-01", 2, 2, 1),
        ("2024-01-01", 3, 2, 1),
        ("2024-02-01", 0, 1, 1),
        ("2024-02-01", 1, 1, 0),
        ("2024-02-01", 2, 1, 1),
        ("2024-03-01", 0, 1, 1),
        ("2024-03-01", 1, 1, 0),
        ("2024-04-01", 0, 1, 1),
    ]


def test_signup_to_purchase_literal():
    ev = log(
        [
            ("A", "2024-01-10", "signup"),
            ("A", "2024-01-20"),
            ("A", "2024-03-05"),
            ("B", "2024-01-25", "signup"),
            ("B", "2024-02-02"),
            ("C", "2024-01-03"),  # purchases without a signup: in no cohort
            ("D", "2024-02-01", "signup"),
        ]
    )
    kw = dict(start_event="signup", return_event="purchase", as_of=date(2024, 3, 31))
    m = wb.retention_matrix(ev, **kw)
    assert cells(m, "period", "cohort_size", "retained") == [
        ("2024-01-01", 0, 2, 1),
        ("2024-01-01", 1, 2, 1),
        ("2024-01-01", 2, 2, 1),
        ("2024-02-01", 0, 1, 0),
        ("2024-02-01", 1, 1, 0),
    ]
    ooa = wb.retention_matrix(ev, mode="on_or_after", **kw)
    assert ooa["retained"].to_list() == [2, 2, 1, 0, 0]
    # a list of return events works too
    both = wb.retention_matrix(
        ev, start_event="signup", return_event=["purchase", "signup"], as_of=date(2024, 3, 31)
    )
    assert both.filter(pl.col("period") == 0)["retention"].to_list() == [1.0, 1.0]


def test_rolling_days_literal():
    ev = log(
        [
            ("A", "2024-01-01T10:00"),
            ("A", "2024-01-02T09:59"),
            ("A", "2024-01-02T10:00"),
            ("A", "2024-01-04T12:00"),
            ("B", "2024-01-01T23:00"),
            ("B", "2024-01-03T22:59"),
            ("C", "2024-01-03T08:00"),
        ]
    )
    as_of = "2024-01-05T09:59:59"
    m = wb.retention_matrix(ev, period="day", window="rolling", cohort_period="month", as_of=as_of)
    # day k = [start + k*24h, start + (k+1)*24h); base = customers whose day k has elapsed
    assert cells(m, "period", "cohort_size", "base", "retained", "complete") == [
        ("2024-01-01", 0, 3, 3, 3, True),
        ("2024-01-01", 1, 3, 3, 2, True),
        ("2024-01-01", 2, 3, 2, 0, False),
        ("2024-01-01", 3, 3, 1, 1, False),
    ]
    cal = wb.retention_matrix(ev, period="day", as_of=as_of)
    assert cells(cal, "period", "retained", "complete") == [
        ("2024-01-01", 0, 2, True),
        ("2024-01-01", 1, 1, True),
        ("2024-01-01", 2, 1, True),
        ("2024-01-01", 3, 1, True),
        ("2024-01-01", 4, 0, False),
        ("2024-01-03", 0, 1, True),
        ("2024-01-03", 1, 0, True),
        ("2024-01-03", 2, 0, False),
    ]


@pytest.mark.parametrize(
    ("as_of", "complete"),
    [
        ("2024-02-29T23:59:59", True),  # inclusive to the second: February has elapsed
        ("2024-02-29T23:59:58", False),
        (date(2024, 2, 29), True),  # a date means the end of that day
        (None, False),  # default: the latest event, 2024-02-10
    ],
)
def test_maturity_at_the_edge(as_of, complete):
    ev = log([("A", "2024-01-10"), ("A", "2024-02-10")])
    m = wb.retention_matrix(ev, as_of=as_of)
    assert m.filter(pl.col("period") == 1)["complete"].item() is complete


def test_events_after_as_of_are_ignored_and_triangle_is_dense():
    ev = log([("A", "2024-01-10"), ("A", "2024-05-10"), ("B", "2024-03-01")])
    m = wb.retention_matrix(ev, as_of="2024-04-30")
    assert cells(m, "period", "retained") == [
        ("2024-01-01", 0, 1),
        ("2024-01-01", 1, 0),
        ("2024-01-01", 2, 0),
        ("2024-01-01", 3, 0),
        ("2024-03-01", 0, 1),
        ("2024-03-01", 1, 0),
    ]


def test_week_and_quarter_boundaries():
    ev = log([("A", "2024-01-07T23:00"), ("A", "2024-01-08T01:00")])  # Sunday, then Monday
    w = wb.retention_matrix(ev, period="week")
    assert cells(w, "period", "retained") == [("2024-01-01", 0, 1), ("2024-01-01", 1, 1)]
    q = wb.retention_matrix(log([("A", "2024-03-31T23:59"), ("A", "2024-04-01")]), period="quarter")
    assert cells(q, "period", "retained") == [("2024-01-01", 0, 1), ("2024-01-01", 1, 1)]


def test_max_period_limits_the_triangle():
    m = wb.retention_matrix(ABCD, as_of=AS_OF, max_period=1)
    assert m["period"].max() == 1
    assert m.height == 4


def test_wilson_interval_and_level():
    m = wb.retention_matrix(ABCD, as_of=AS_OF, level=0.9)
    row = m.filter((pl.col("cohort") == date(2024, 1, 1)) & (pl.col("period") == 1)).row(
        0, named=True
    )
    from workbench.stats import wilson_ci

    lo, hi = wilson_ci(1, 2, 0.9)
    assert row["ci_low"] == pytest.approx(lo) and row["ci_high"] == pytest.approx(hi)
    assert row["ci_low"] < 0.5 < row["ci_high"]


def test_min_cohort_size_flag():
    m = wb.retention_matrix(ABCD, as_of=AS_OF, min_cohort_size=2)
    assert not m["small"].any()


# -- by-groups ----------------------------------------------------------------------------------


def test_by_customer_attribute_and_top_n():
    customers = pl.DataFrame(
        {"customer_id": ["A", "B", "C", "D"], "channel": ["ads", "ads", "seo", "mail"]}
    )
    m = wb.retention_matrix(ABCD, as_of=AS_OF, by="channel", customers=customers)
    assert m.columns[0] == "channel"
    sizes = m.filter(pl.col("period") == 0).select("channel", "cohort", "cohort_size").rows()
    assert sorted(sizes) == [
        ("ads", date(2024, 1, 1), 2),
        ("mail", date(2024, 2, 1), 1),
        ("seo", date(2024, 2, 1), 1),
    ]
    top = wb.retention_matrix(ABCD, as_of=AS_OF, by="channel", customers=customers, top_n=1)
    assert sorted(top["channel"].unique().to_list()) == ["ads", "other"]
    # groups partition the customers: counts add up to the ungrouped matrix
    total = top.group_by("cohort", "period").agg(pl.col("retained").sum()).sort("cohort", "period")
    plain = wb.retention_matrix(ABCD, as_of=AS_OF).select("cohort", "period", "retained")
    assert total.equals(plain)


def test_by_event_column_takes_the_value_at_the_start_event():
    ev = log(
        [("A", "2024-01-05", "signup"), ("A", "2024-02-01"), ("B", "2024-01-06", "signup")],
        device=["ios", "web", None],
    )
    m = wb.retention_matrix(ev, by="device", start_event="signup", as_of=date(2024, 2, 29))
    assert m.select("device", "period", "retained").rows() == [
        ("(missing)", 0, 1),
        ("(missing)", 1, 0),
        ("ios", 0, 1),
        ("ios", 1, 1),
    ]


# -- cohort_customers -------------------------------------------------------------------------


def test_cohort_customers_literal():
    kw = dict(as_of=AS_OF)
    assert wb.cohort_customers(ABCD, cohort="2024-01-01", period=1, **kw)[
        "customer_id"
    ].to_list() == ["A"]
    assert wb.cohort_customers(ABCD, cohort="2024-01-15", period=1, status="lost", **kw)[
        "customer_id"
    ].to_list() == ["B"]
    base = wb.cohort_customers(ABCD, cohort=date(2024, 2, 1), period=1, status="base", **kw)
    assert base.select("customer_id", "retained").rows() == [("C", False), ("D", True)]
    assert base.columns == ["cohort", "period", "customer_id", "start", "retained"]


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"mode": "on_or_after"},
        {"reference": "previous"},
        {"mode": "on_or_after", "reference": "previous"},
        {"brackets": [[1], [2, 3]]},
        {"period": "day", "window": "rolling", "cohort_period": "month", "max_period": 40},
        {"cohorting": "recurring", "start_event": "purchase"},
        {"min_events": 2},
        {"by": "channel"},
    ],
)
def test_cohort_customers_agree_with_every_cell(sample_small, options):
    events, customers, as_of = sample_small
    opts = dict(options, as_of=as_of)
    if "by" in opts:
        opts["customers"] = customers
    m = wb.retention_matrix(events, **opts)
    checked = 0
    for row in (
        m.filter(pl.col("base") > 0).sample(n=min(12, m.height), seed=1).iter_rows(named=True)
    ):
        group = {"group": row["channel"]} if "by" in opts else {}
        cell_opts = {("unit" if k == "period" else k): v for k, v in opts.items()}
        who = wb.cohort_customers(
            events, cohort=row["cohort"], period=row["period"], status="base", **group, **cell_opts
        )
        assert who.height == row["base"]
        assert who["retained"].sum() == row["retained"]
        checked += 1
    assert checked > 5


@pytest.fixture(scope="module")
def sample_small():
    s = wb.datasets.load_sample(seed=3, n_customers=600)
    return s.events, s.customers, s.as_of


# -- retention curve ----------------------------------------------------------------------------


def test_retention_curve_weights_by_cohort_size_and_skips_incomplete():
    m = pl.DataFrame(
        {
            "cohort": [date(2024, 1, 1)] * 2 + [date(2024, 2, 1)] * 2,
            "period": [0, 1, 0, 1],
            "cohort_size": [10, 10, 30, 30],
            "base": [10, 10, 30, 30],
            "retained": [10, 5, 30, 3],
            "retention": [1.0, 0.5, 1.0, 0.1],
            "ci_low": [0.0] * 4,
            "ci_high": [1.0] * 4,
            "complete": [True, True, True, False],
            "small": [True] * 4,
        }
    )
    c = wb.retention_curve(m)
    assert c.select("period", "cohorts", "base", "retained", "retention").rows() == [
        (0, 2, 40, 40, 1.0),
        (1, 1, 10, 5, 0.5),
    ]
    both = wb.retention_curve(m.with_columns(pl.lit(True).alias("complete")))
    # weighted mean (5 + 3) / 40, not the plain mean of 0.5 and 0.1
    assert both.filter(pl.col("period") == 1)["retention"].item() == pytest.approx(8 / 40)


def test_retention_curve_by_group(sample_small):
    events, customers, as_of = sample_small
    m = wb.retention_matrix(events, by="channel", customers=customers, as_of=as_of)
    c = wb.retention_curve(m)
    assert c.columns[:2] == ["channel", "period"]
    assert (c.filter(pl.col("period") == 0)["retention"] == 1.0).all()
    assert ((c["ci_low"] <= c["retention"]) & (c["retention"] <= c["ci_high"])).all()


# -- inputs -------------------------------------------------------------------------------------


def test_schema_mapping_gives_identical_results():
    ev = log(
        [
            ("A", "2024-01-10", "signup"),
            ("A", "2024-02-20"),
            ("B", "2024-01-11", "signup"),
            ("B", "2024-03-01"),
            ("C", "2024-02-02", "signup"),
        ],
        amount=[None, 5.0, None, 7.5, None],
    )
    renamed = ev.rename({"customer_id": "user", "ts": "when", "event": "action", "amount": "value"})
    schema = wb.EventSchema(customer_id="user", ts="when", event="action", amount="value")
    kw = dict(start_event="signup", return_event="purchase", as_of="2024-03-31")
    assert wb.retention_matrix(renamed, schema=schema, **kw).equals(wb.retention_matrix(ev, **kw))
    assert wb.cohort_customers(renamed, schema=schema, cohort="2024-01-01", period=1, **kw).equals(
        wb.cohort_customers(ev, cohort="2024-01-01", period=1, **kw)
    )
    assert wb.value_retention(renamed, schema=schema, start_event="signup").equals(
        wb.value_retention(ev, start_event="signup")
    )
    assert wb.lifecycle(renamed, schema=schema).table.equals(wb.lifecycle(ev).table)


def test_pandas_input_and_integer_ids():
    pdf = ABCD.to_pandas()
    assert wb.retention_matrix(pdf, as_of=AS_OF).equals(wb.retention_matrix(ABCD, as_of=AS_OF))
    ints = ABCD.with_columns(
        pl.col("customer_id").replace_strict(
            {"A": 10, "B": 2, "C": 7, "D": 5}, return_dtype=pl.Int64
        )
    )
    assert wb.retention_matrix(ints, as_of=AS_OF).equals(wb.retention_matrix(ABCD, as_of=AS_OF))
    assert isinstance(pdf, pd.DataFrame)


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"period": "fortnight"}, BadParameterError, r"period='fortnight'.*Choose one of"),
        ({"mode": "sometimes"}, BadParameterError, r"mode='sometimes'"),
        ({"window": "sliding"}, BadParameterError, r"window='sliding'"),
        ({"reference": "prior"}, BadParameterError, r"reference='prior'.*previous"),
        ({"cohorting": "first"}, BadParameterError, r"cohorting='first'"),
        ({"brackets": [[1]], "mode": "on_or_after"}, BadParameterError, "two different return"),
        ({"brackets": [[1]], "max_period": 3}, BadParameterError, "only one of them"),
        ({"brackets": [[2, 7], [5, 9]]}, BadParameterError, "overlap"),
        ({"brackets": [[3, 1]]}, BadParameterError, "overlap or are unsorted"),
        ({"cohort_period": "month", "period": "day"}, BadParameterError, "needs rolling windows"),
        ({"min_events": 0}, BadParameterError, "min_events=0"),
        ({"level": 1.5}, BadParameterError, "level=1.5"),
        ({"by": "nope"}, MissingColumnError, "by='nope'"),
        ({"by": "cohort"}, BadParameterError, "reserved"),
        ({"start_event": "sigup"}, BadParameterError, "Did you mean 'signup'"),
        ({"as_of": "yesterday"}, BadParameterError, "as_of='yesterday'"),
    ],
)
def test_bad_parameters(kwargs, error, match):
    ev = log([("A", "2024-01-10", "signup"), ("A", "2024-02-20")])
    with pytest.raises(error, match=match):
        wb.retention_matrix(ev, **kwargs)


def test_missing_column_and_bad_cell_requests():
    ev = log([("A", "2024-01-10")]).rename({"ts": "timestamp"})
    with pytest.raises(MissingColumnError, match="Did you mean 'timestamp'"):
        wb.retention_matrix(ev)
    with pytest.raises(BadParameterError, match="unknown option 'modes'"):
        wb.cohort_customers(ABCD, cohort="2024-01-01", period=1, modes="on")
    with pytest.raises(BadParameterError, match="status='gone'"):
        wb.cohort_customers(ABCD, cohort="2024-01-01", period=1, status="gone")
    with pytest.raises(BadParameterError, match="not the first period of a bracket"):
        wb.cohort_customers(ABCD, cohort="2024-01-01", period=3, brackets=[[1], [2, 3]])
    with pytest.raises(BadParameterError, match="group= needs by="):
        wb.cohort_customers(ABCD, cohort="2024-01-01", period=1, group="ads")
    with pytest.raises(MissingColumnError, match="retention_curve"):
        wb.retention_curve(pl.DataFrame({"period": [0]}))


def test_reference_figures_are_context_values():
    ref = wb.reference_figures()
    assert ref.columns == ["segment", "day", "retention", "label"]
    assert ref.filter(pl.col("day") == 7)["retention"].item() == pytest.approx(0.38)
    assert ref.filter(pl.col("day") == 30)["retention"].item() == pytest.approx(0.37)
    assert ref.filter(pl.col("day") == 90)["retention"].item() == pytest.approx(0.23)


def _matrix(cells):
    """A complete retention matrix from (cohort month, period, base, retained) rows."""
    rows = [
        {
            "cohort": date(2024, m, 1),
            "period": k,
            "cohort_size": b,
            "base": b,
            "retained": r,
            "complete": True,
        }
        for m, k, b, r in cells
    ]
    return pl.DataFrame(rows).with_columns((pl.col("retained") / pl.col("base")).alias("retention"))


def test_retention_curve_between_cohort_interval_by_hand():
    m = _matrix([(1, 1, 100, 50), (2, 1, 100, 30), (3, 1, 200, 80)])
    c = wb.retention_curve(m, interval="cohorts").row(0, named=True)
    pooled = wb.retention_curve(m).row(0, named=True)  # the default: Wilson on pooled counts
    r = 160 / 400
    ss = (50 - r * 100) ** 2 + (30 - r * 100) ** 2 + (80 - r * 200) ** 2  # 100 + 100 + 0
    se = (3 / 2 * ss) ** 0.5 / 400
    half = 4.302652729749464 * se / (r * (1 - r))  # t(0.975, 2 df)
    logit = np.log(r / (1 - r))
    want = (1 / (1 + np.exp(-(logit - half))), 1 / (1 + np.exp(-(logit + half))))
    assert c["retention"] == pooled["retention"] == r
    assert (c["ci_low"], c["ci_high"]) == pytest.approx(want, rel=1e-9)
    assert c["ci_low"] < pooled["ci_low"] and c["ci_high"] > pooled["ci_high"]
    # cohorts that agree exactly keep the pooled Wilson interval; so does a single cohort
    same = _matrix([(1, 1, 100, 40), (2, 1, 100, 40)])
    assert wb.retention_curve(same, interval="cohorts").equals(wb.retention_curve(same))
    one = _matrix([(1, 1, 100, 40)])
    assert wb.retention_curve(one, interval="cohorts").equals(wb.retention_curve(one))
    with pytest.raises(wb.BadParameterError, match="interval='wald'"):
        wb.retention_curve(m, interval="wald")


def test_retention_curve_interval_covers_a_cohort_like_these():
    """Cohorts whose true rates vary (Beta around 0.4): the pooled Wilson band is far too narrow
    for the mean rate; the between-cohort band keeps close to its nominal 95% coverage."""
    rng = np.random.default_rng(12)
    hits = {"cohorts": 0, "pooled": 0}
    reps = 300
    for _ in range(reps):
        rates = rng.beta(0.4 * 30, 0.6 * 30, 12)  # sd of the true rates about 0.09
        sizes = rng.integers(300, 900, 12)
        cells = [
            (m + 1, 1, int(n), int(rng.binomial(n, p)))
            for m, (n, p) in enumerate(zip(sizes, rates, strict=True))
        ]
        m = _matrix(cells)
        for kind in hits:
            row = wb.retention_curve(m, interval=kind).row(0, named=True)
            hits[kind] += row["ci_low"] <= 0.4 <= row["ci_high"]
    assert hits["cohorts"] / reps >= 0.90
    assert hits["pooled"] / reps <= 0.45
