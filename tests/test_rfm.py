"""rfm_summary: hand-checked cases, the CDNOW facts of the papers, lifetimes as the oracle."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import workbench as wb
from workbench.errors import BadParameterError, MissingColumnError
from workbench.schema import EventSchema


def _ts(day: int, hour: int = 0) -> datetime:
    return datetime(2024, 1, day, hour, tzinfo=UTC)


@pytest.fixture
def tiny() -> pl.DataFrame:
    # A buys on Jan 1 (twice), Jan 3 and Jan 8; B only on Jan 5 (and visits on Jan 2).
    return pl.DataFrame(
        {
            "customer_id": ["A", "A", "A", "A", "B", "B"],
            "ts": [_ts(1, 10), _ts(1, 15), _ts(3), _ts(8), _ts(5), _ts(2)],
            "event": ["purchase"] * 5 + ["visit"],
            "amount": [10.0, 5.0, 20.0, 30.0, 7.0, 0.0],
        }
    )


def test_tiny_summary_by_hand(tiny):
    out = wb.rfm_summary(tiny)
    assert out.columns == ["customer_id", "frequency", "recency", "T", "monetary_value"]
    assert out.to_dicts() == [
        {"customer_id": "A", "frequency": 2, "recency": 7.0, "T": 7.0, "monetary_value": 25.0},
        {"customer_id": "B", "frequency": 0, "recency": 0.0, "T": 3.0, "monetary_value": 0.0},
    ]
    weeks = wb.rfm_summary(tiny, time_unit="W")
    assert weeks["recency"].to_list() == [1.0, 0.0]
    assert weeks["T"].to_list() == [1.0, 3 / 7]


def test_tiny_calibration_by_hand(tiny):
    out = wb.rfm_summary(tiny, calibration_end="2024-01-04")
    # B's first purchase is in the holdout, so B is not in the table.
    assert out.to_dicts() == [
        {
            "customer_id": "A",
            "frequency": 1,
            "recency": 2.0,
            "T": 3.0,
            "monetary_value": 20.0,
            "frequency_holdout": 1,
            "monetary_value_holdout": 30.0,
            "duration_holdout": 4.0,
        }
    ]


def test_event_filter_and_observation_end(tiny):
    everything = wb.rfm_summary(tiny, event=None)
    assert everything.filter(pl.col("customer_id") == "B")["frequency"].item() == 1
    cut = wb.rfm_summary(tiny, observation_end="2024-01-03 12:00")
    assert cut.to_dicts()[0] == {
        "customer_id": "A",
        "frequency": 1,
        "recency": 2.0,
        "T": 2.0,
        "monetary_value": 20.0,
    }
    assert cut.height == 1


def test_hourly_collapse(tiny):
    out = wb.rfm_summary(tiny, collapse="h", time_unit="D")
    a = out.row(0, named=True)
    # Jan 1 10:00 and 15:00 are different hours: 3 repeat periods, first at 10:00.
    assert a["frequency"] == 3
    assert a["recency"] == pytest.approx(7 - 10 / 24)
    assert a["monetary_value"] == pytest.approx((5 + 20 + 30) / 3)


def test_without_amount_column(tiny):
    out = wb.rfm_summary(tiny.drop("amount"), calibration_end="2024-01-04")
    assert out.columns == [
        "customer_id",
        "frequency",
        "recency",
        "T",
        "frequency_holdout",
        "duration_holdout",
    ]


def test_inputs_lazy_pandas_and_schema_agree(tiny):
    eager = wb.rfm_summary(tiny, calibration_end="2024-01-04")
    assert wb.rfm_summary(tiny.lazy(), calibration_end="2024-01-04").equals(eager)
    assert wb.rfm_summary(tiny.to_pandas(), calibration_end="2024-01-04").equals(eager)
    renamed = tiny.rename({"customer_id": "user", "ts": "when", "amount": "revenue"})
    schema = EventSchema(customer_id="user", ts="when", amount="revenue")
    assert wb.rfm_summary(renamed, schema=schema, calibration_end="2024-01-04").equals(eager)


def test_empty_after_filter(tiny):
    out = wb.rfm_summary(tiny, event="refund", calibration_end="2024-01-04")
    assert out.height == 0
    assert out.columns[-1] == "duration_holdout"


def test_errors(tiny):
    with pytest.raises(BadParameterError, match="time_unit='month'"):
        wb.rfm_summary(tiny, time_unit="month")
    with pytest.raises(BadParameterError, match="collapse='Q'"):
        wb.rfm_summary(tiny, collapse="Q")
    with pytest.raises(BadParameterError, match="holdout is empty"):
        wb.rfm_summary(tiny, calibration_end="2024-01-04", observation_end="2024-01-02")
    with pytest.raises(BadParameterError, match="calibration_end='soon'"):
        wb.rfm_summary(tiny, calibration_end="soon")
    with pytest.raises(MissingColumnError, match="'ts'"):
        wb.rfm_summary(tiny.drop("ts"))


# -- the CDNOW facts of the papers --------------------------------------------------------------


def _facts(rfm: pl.DataFrame) -> dict:
    return rfm.select(
        x=pl.col("frequency").sum(),
        zeros=(pl.col("frequency") == 0).sum(),
        holdout=pl.col("frequency_holdout").sum(),
        t_min=pl.col("T").min(),
        t_max=pl.col("T").max(),
        n=pl.len(),
        duration=pl.col("duration_holdout").first(),
    ).row(0, named=True)


def test_cdnow_sample_rfm_matches_the_papers():
    events = wb.datasets.load_cdnow(sample=True)
    facts = _facts(wb.rfm_summary(events, time_unit="W", calibration_end="1997-09-30"))
    assert facts["x"] == 2457
    assert facts["zeros"] == 1411
    assert facts["holdout"] == 1882
    assert facts["n"] == 2357
    assert round(facts["t_min"], 2) == 27.00
    assert round(facts["t_max"], 2) == 38.86
    assert facts["duration"] == 39.0
    # Collapsing by (Monday-based) week instead loses same-week repeat purchases.
    weekly = wb.rfm_summary(events, time_unit="W", collapse="W", calibration_end="1997-09-30")
    assert weekly["frequency"].sum() == 2216


def test_cdnow_master_rfm_matches_the_papers():
    events = wb.datasets.load_cdnow(sample=False)
    facts = _facts(wb.rfm_summary(events, time_unit="W", calibration_end="1997-09-30"))
    assert (facts["x"], facts["zeros"], facts["holdout"]) == (24337, 14119, 19684)
    assert facts["n"] == 23570


# -- lifetimes as the oracle ---------------------------------------------------------------------


def _events(seed: int, n: int = 3000, customers: int = 300) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2023-03-01T00:00:00", "s")
    secs = rng.integers(0, 400 * 86400, size=n)
    amount = np.round(rng.gamma(2.0, 15.0, size=n), 2)
    return pl.DataFrame(
        {
            "customer_id": rng.integers(0, customers, size=n),
            "ts": (start + secs.astype("timedelta64[s]")).astype("datetime64[us]"),
            "amount": amount,
        }
    )


# (collapse, time_unit) -> lifetimes (freq, freq_multiplier)
_LIFETIMES_EQUIVALENT = {
    ("D", "D"): ("D", 1),
    ("D", "W"): ("D", 7),
    ("W", "W"): ("W", 1),
    ("h", "D"): ("h", 24),
    ("h", "h"): ("h", 1),
}


def _lifetimes(fn, *args, **kwargs) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifetimes uses deprecated pandas idioms
        return fn(*args, **kwargs)


def _assert_same(ours: pl.DataFrame, theirs: pd.DataFrame, suffix: str) -> None:
    theirs = theirs.sort_index()
    assert ours["customer_id"].to_list() == theirs.index.tolist()
    assert np.array_equal(ours["frequency"].to_numpy(), theirs["frequency" + suffix].to_numpy())
    for col in ("recency", "T"):
        assert np.array_equal(ours[col].to_numpy(), theirs[col + suffix].to_numpy()), col
    np.testing.assert_allclose(
        ours["monetary_value"].to_numpy(),
        theirs["monetary_value" + suffix].to_numpy(),
        rtol=1e-10,
        atol=1e-9,
    )


@pytest.mark.parametrize("collapse, unit", list(_LIFETIMES_EQUIVALENT))
def test_summary_equals_lifetimes(collapse, unit):
    from lifetimes.utils import summary_data_from_transaction_data

    events = _events(1)
    freq, mult = _LIFETIMES_EQUIVALENT[(collapse, unit)]
    for end in (None, "2023-12-15 13:30"):
        ours = wb.rfm_summary(events, collapse=collapse, time_unit=unit, observation_end=end)
        theirs = _lifetimes(
            summary_data_from_transaction_data,
            events.to_pandas(),
            "customer_id",
            "ts",
            monetary_value_col="amount",
            observation_period_end=end,
            freq=freq,
            freq_multiplier=mult,
        )
        _assert_same(ours, theirs, "")


@pytest.mark.parametrize("collapse, unit", list(_LIFETIMES_EQUIVALENT))
def test_calibration_holdout_equals_lifetimes(collapse, unit):
    from lifetimes.utils import calibration_and_holdout_data

    events = _events(2)
    freq, mult = _LIFETIMES_EQUIVALENT[(collapse, unit)]
    for end in (None, "2024-02-20 08:00"):
        ours = wb.rfm_summary(
            events,
            collapse=collapse,
            time_unit=unit,
            calibration_end="2023-10-01 12:00",
            observation_end=end,
        )
        theirs = _lifetimes(
            calibration_and_holdout_data,
            events.to_pandas(),
            "customer_id",
            "ts",
            "2023-10-01 12:00",
            observation_period_end=end,
            freq=freq,
            freq_multiplier=mult,
            monetary_value_col="amount",
        ).sort_index()
        _assert_same(ours, theirs, "_cal")
        assert np.array_equal(
            ours["frequency_holdout"].to_numpy(), theirs["frequency_holdout"].to_numpy()
        )
        assert np.array_equal(
            ours["duration_holdout"].to_numpy(), theirs["duration_holdout"].to_numpy()
        )
        np.testing.assert_allclose(
            ours["monetary_value_holdout"].to_numpy(),
            theirs["monetary_value_holdout"].to_numpy(),
            rtol=1e-10,
        )


def test_string_and_sparse_integer_ids_give_the_same_table():
    events = _events(3)
    base = wb.rfm_summary(events, calibration_end="2023-10-01")
    as_text = wb.rfm_summary(
        events.with_columns(pl.format("c{}", pl.col("customer_id").cast(pl.String).str.zfill(4))),
        calibration_end="2023-10-01",
    )
    assert as_text.drop("customer_id").equals(base.drop("customer_id"))
    sparse = wb.rfm_summary(
        events.with_columns(pl.col("customer_id") * 10**12 - 5), calibration_end="2023-10-01"
    )
    assert sparse.drop("customer_id").equals(base.drop("customer_id"))
    assert sparse["customer_id"].to_list() == [c * 10**12 - 5 for c in base["customer_id"]]


def test_pre_aggregated_daily_log_gives_the_same_table():
    events = _events(4).with_columns(pl.col("amount").cast(pl.Float64))
    daily = events.group_by("customer_id", pl.col("ts").dt.truncate("1d")).agg(
        pl.col("amount").sum(), pl.len().cast(pl.Int64).alias("n_events")
    )
    # The calibration end is the last moment of a day: a reduced row stands for its whole day.
    end_of_day = "2023-09-30 23:59:59.999999"
    for kwargs in ({}, {"calibration_end": end_of_day}, {"collapse": "W", "time_unit": "W"}):
        raw = wb.rfm_summary(events, **kwargs)
        reduced = wb.rfm_summary(daily, **kwargs)
        spend = [c for c in raw.columns if c.startswith("monetary")]
        assert raw.drop(spend).equals(reduced.drop(spend))
        for col in spend:  # sums in another order: equal to rounding
            np.testing.assert_allclose(raw[col], reduced[col], rtol=1e-12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 60 * 24 * 40), st.floats(0, 100)),
        min_size=1,
        max_size=40,
    ),
    st.sampled_from(["D", "W", "h"]),
)
def test_invariants(rows, collapse):
    events = pl.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "ts": [datetime(2024, 1, 1, tzinfo=UTC).timestamp() + 60 * r[1] for r in rows],
            "amount": [r[2] for r in rows],
        }
    ).with_columns(pl.from_epoch("ts", time_unit="s").dt.replace_time_zone("UTC"))
    out = wb.rfm_summary(events, collapse=collapse)
    assert (out["recency"] >= 0).all() and (out["recency"] <= out["T"]).all()
    assert (out.filter(pl.col("frequency") == 0)["recency"] == 0).all()
    assert out.height == events["customer_id"].n_unique()
    shuffled = wb.rfm_summary(events.sample(fraction=1.0, shuffle=True, seed=1), collapse=collapse)
    assert shuffled.drop("monetary_value").equals(out.drop("monetary_value"))
    np.testing.assert_allclose(shuffled["monetary_value"], out["monetary_value"], rtol=1e-9)


def test_everyone_starts_in_the_holdout(tiny):
    out = wb.rfm_summary(tiny, calibration_end="2023-12-31")
    assert out.height == 0 and "frequency_holdout" in out.columns


def test_null_rows_of_a_lazy_log_are_left_out(tiny):
    with_nulls = pl.concat(
        [
            tiny,
            pl.DataFrame(
                {"customer_id": [None], "ts": [_ts(9)], "event": ["purchase"], "amount": [1.0]},
                schema=tiny.schema,
            ),
        ]
    )
    assert wb.rfm_summary(with_nulls.lazy()).equals(wb.rfm_summary(tiny))
