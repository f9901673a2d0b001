from datetime import UTC, datetime, timedelta

import plotly.graph_objects as go
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import workbench as wb

AS_OF = datetime(2025, 3, 31, tzinfo=UTC)


def _ev(rows):
    return pl.DataFrame(rows, schema=["customer_id", "ts", "amount"], orient="row")


def _rfm_log():
    # a..e: recency 1/10/20/30/40 days, 5/4/3/2/1 purchases, total 500/400/300/200/100.
    rows = []
    for i, cid in enumerate("abcde"):
        n = 5 - i
        last = AS_OF - timedelta(days=[1, 10, 20, 30, 40][i])
        for j in range(n):
            rows.append((cid, last - timedelta(days=50 * j), 100.0))
    return _ev(rows)


@pytest.mark.parametrize("lazy", [False, True])
def test_rfm_scores_hand_checked(lazy):
    ev = _rfm_log()
    out = wb.rfm_scores(ev.lazy() if lazy else ev, as_of=AS_OF)
    assert out["customer_id"].to_list() == list("abcde")
    assert out["recency_days"].to_list() == [1.0, 10.0, 20.0, 30.0, 40.0]
    assert out["frequency"].to_list() == [5, 4, 3, 2, 1]
    assert out["monetary"].to_list() == [500.0, 400.0, 300.0, 200.0, 100.0]
    assert out["r_score"].to_list() == [5, 4, 3, 2, 1]
    assert out["f_score"].to_list() == [5, 4, 3, 2, 1]
    assert out["m_score"].to_list() == [5, 4, 3, 2, 1]
    assert out["rfm_score"].to_list() == ["555", "444", "333", "222", "111"]
    assert out["segment"].to_list() == [
        "Champions",
        "Loyal",
        "Need attention",
        "Hibernating",
        "Lost",
    ]


def test_rfm_scores_ties_share_the_lower_score_and_mean_monetary():
    rows = [
        ("a", AS_OF - timedelta(days=5), 10.0),
        ("b", AS_OF - timedelta(days=5), 30.0),
        ("b", AS_OF - timedelta(days=40), 10.0),
        ("c", AS_OF - timedelta(days=60), 4.0),
        ("d", AS_OF - timedelta(days=2), 8.0),
        ("d", AS_OF - timedelta(days=9), 8.0),
    ]
    out = wb.rfm_scores(_ev(rows), as_of=AS_OF, monetary="mean").sort("customer_id")
    # Frequencies 1, 2, 1, 2: min ranks 1, 3, 1, 3 of n=4 -> 1 + floor(5 * (rank-1) / 4).
    assert out["f_score"].to_list() == [1, 3, 1, 3]
    # Recency (negated) 5, 5, 60, 2 days -> ranks 2, 2, 1, 4 -> scores 2, 2, 1, 4.
    assert out["r_score"].to_list() == [2, 2, 1, 4]
    assert out["monetary"].to_list() == [10.0, 20.0, 4.0, 8.0]
    assert out["segment"].to_list() == ["Hibernating", "At risk", "Lost", "Potential loyalists"]


def test_rfm_pre_aggregated_counts_n_events():
    ev = _ev([("a", AS_OF - timedelta(days=1), 30.0), ("b", AS_OF - timedelta(days=1), 5.0)])
    ev = ev.with_columns(pl.Series("n_events", [3, 1]))
    out = wb.rfm_scores(ev, as_of=AS_OF)
    assert out["frequency"].to_list() == [3, 1]


def test_rfm_rule_table_covers_every_cell_once_in_order():
    rules = wb.RFM_SEGMENT_RULES
    assert {"Champions", "Loyal", "At risk", "Can't lose them", "Hibernating", "Lost"} <= set(
        rules["segment"]
    )
    cells = {}
    for row in rules.iter_rows(named=True):
        for r in range(row["r_min"], row["r_max"] + 1):
            for f in range(row["f_min"], row["f_max"] + 1):
                cells.setdefault((r, f), row["segment"])
    assert len(cells) == 25
    assert cells[(1, 5)] == "Can't lose them" and cells[(1, 1)] == "Lost"
    assert cells[(2, 3)] == "At risk" and cells[(5, 5)] == "Champions"


def test_rfm_custom_rules_and_errors():
    ev = _rfm_log()
    rules = pl.DataFrame(
        {"segment": ["all"], "r_min": [1], "r_max": [5], "f_min": [1], "f_max": [5]}
    )
    assert set(wb.rfm_scores(ev, as_of=AS_OF, rules=rules)["segment"]) == {"all"}
    with pytest.raises(wb.BadParameterError, match="without a segment"):
        wb.rfm_scores(ev, as_of=AS_OF, rules=rules.with_columns(pl.lit(4).alias("r_max")))
    with pytest.raises(wb.BadParameterError, match="monetary='median'"):
        wb.rfm_scores(ev, monetary="median")
    with pytest.raises(wb.MissingColumnError, match="amount"):
        wb.rfm_scores(ev.drop("amount"))
    with pytest.raises(wb.MissingColumnError, match="Did you mean 'timestamp'"):
        wb.rfm_scores(ev.rename({"ts": "timestamp"}))


def test_rfm_schema_mapping_and_pandas_input_give_the_same_answer():
    ev = _rfm_log()
    renamed = ev.rename({"customer_id": "user", "ts": "when", "amount": "revenue"})
    out = wb.rfm_scores(
        renamed, as_of=AS_OF, schema=wb.EventSchema(customer_id="user", ts="when", amount="revenue")
    )
    assert out.equals(wb.rfm_scores(ev, as_of=AS_OF))
    assert wb.rfm_scores(ev.to_pandas(), as_of=AS_OF).equals(wb.rfm_scores(ev, as_of=AS_OF))


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 9), st.integers(0, 300), st.floats(1, 500)),
        min_size=1,
        max_size=40,
    ),
    st.randoms(),
)
def test_rfm_scores_are_1_to_5_and_ignore_row_order(rows, rnd):
    ev = _ev([(f"c{c}", AS_OF - timedelta(days=d), a) for c, d, a in rows])
    out = wb.rfm_scores(ev, as_of=AS_OF)
    for col in ("r_score", "f_score", "m_score"):
        assert out[col].min() >= 1 and out[col].max() <= 5
    assert out["segment"].null_count() == 0
    shuffled = ev.sample(fraction=1.0, shuffle=True, seed=rnd.randint(0, 10_000))
    assert_frame_equal(wb.rfm_scores(shuffled, as_of=AS_OF), out, check_exact=False)


def test_rfm_segment_counts_and_figure():
    scores = wb.rfm_scores(_rfm_log(), as_of=AS_OF)
    counts = wb.rfm_segment_counts(scores)
    assert counts["segment"].to_list() == [
        "Lost",
        "Champions",
        "Loyal",
        "Need attention",
        "Hibernating",
    ]
    assert counts["customers"].sum() == 5
    from workbench.plots.leaving import rfm_segments_figure

    fig = rfm_segments_figure(scores)
    assert isinstance(fig.data[0], go.Bar) and fig.layout.yaxis.title.text == "Customers"


# ----------------------------------------------------------------------------- ABC x XYZ
def _abc_log():
    d = lambda y, m, day: datetime(y, m, day, tzinfo=UTC)  # noqa: E731
    rows = [
        # x: one purchase in each of the three 30-day periods -> CV 0 -> X; revenue 50.
        ("x", d(2025, 1, 15), 20.0),
        ("x", d(2025, 2, 15), 15.0),
        ("x", d(2025, 3, 15), 15.0),
        # y: counts (latest first) 1, 0, 2 -> mean 1, sd sqrt(2/3) = 0.816 -> Y; revenue 30.
        ("y", d(2025, 1, 10), 10.0),
        ("y", d(2025, 1, 20), 10.0),
        ("y", d(2025, 3, 10), 10.0),
        # z: counts 0, 0, 3 -> mean 1, sd sqrt(2) = 1.414 -> Z; revenue 15.
        ("z", d(2025, 1, 5), 5.0),
        ("z", d(2025, 1, 6), 5.0),
        ("z", d(2025, 1, 7), 5.0),
        # w: first purchase in the latest period -> 1 period < min_periods -> no XYZ; revenue 5.
        ("w", d(2025, 3, 25), 5.0),
        # v: only before the window -> not classified.
        ("v", d(2024, 6, 1), 999.0),
    ]
    return _ev(rows)


def test_abc_xyz_hand_checked():
    res = wb.abc_xyz(_abc_log(), as_of=AS_OF, period="30d", n_periods=3, min_periods=2)
    t = res.table
    assert t["customer_id"].to_list() == ["x", "y", "z", "w"]
    assert t["revenue"].to_list() == [50.0, 30.0, 15.0, 5.0]
    assert t["abc"].to_list() == ["A", "A", "B", "C"]
    assert t["periods"].to_list() == [3, 3, 3, 1]
    assert t["cv"][0] == pytest.approx(0.0)
    assert t["cv"][1] == pytest.approx((2 / 3) ** 0.5)
    assert t["cv"][2] == pytest.approx(2**0.5)
    assert t["cv"][3] is None
    assert t["xyz"].to_list() == ["X", "Y", "Z", None]
    assert t["predictable"].to_list() == [True, False, False, False]
    assert res.predictable["customer_id"].to_list() == ["x"]
    m = res.matrix
    assert m.height == 9 and m["customers"].sum() == 3
    assert m.filter(abc="A", xyz="Y")["revenue"].item() == 30.0
    assert res.params["unclassified_xyz"] == 1


def test_abc_xyz_thresholds_are_configurable():
    res = wb.abc_xyz(
        _abc_log(),
        as_of=AS_OF,
        period="30d",
        n_periods=3,
        min_periods=2,
        abc=(0.5, 0.3, 0.2),
        xyz=(0.9, 1.5),
    )
    assert res.table["abc"].to_list() == ["A", "B", "C", "C"]
    assert res.table["xyz"].to_list() == ["X", "X", "Y", None]  # 1.414 <= 1.5


def test_abc_xyz_bad_parameters():
    ev = _abc_log()
    with pytest.raises(wb.BadParameterError, match="summing to 1"):
        wb.abc_xyz(ev, abc=(0.8, 0.1, 0.05))
    with pytest.raises(wb.BadParameterError, match="increasing"):
        wb.abc_xyz(ev, xyz=(1.0, 0.5))
    with pytest.raises(wb.BadParameterError, match="not a duration"):
        wb.abc_xyz(ev, period="month")
    with pytest.raises(wb.BadParameterError, match="n_periods"):
        wb.abc_xyz(ev, n_periods=1)
    with pytest.raises(wb.BadDataError, match="no positive revenue"):
        wb.abc_xyz(ev, as_of=datetime(2020, 1, 1, tzinfo=UTC))


def test_abc_xyz_figure_and_html():
    res = wb.abc_xyz(_abc_log(), as_of=AS_OF, period="30d", n_periods=3, min_periods=2)
    fig = res.plot()
    assert isinstance(fig.data[0], go.Heatmap)
    assert fig.layout.xaxis.title.text.startswith("XYZ")
    assert "ABC x XYZ" in res._repr_html_()
