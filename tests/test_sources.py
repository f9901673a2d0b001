"""Loaders: every bad-input class, schema mapping, time zones, file formats."""

from datetime import UTC, datetime

import pandas as pd
import polars as pl
import pytest

import workbench as wb
from workbench.schema import canonical


def _raw():
    return pl.DataFrame(
        {
            "user": ["a", "b", "a"],
            "when": ["2024-01-01T10:00:00", "2024-01-02", "2024-02-03 11:00:00"],
            "rev": [1.5, 2.0, 3.0],
            "cat": ["x", "y", "x"],
        }
    )


MAPPED = wb.EventSchema(customer_id="user", ts="when", amount="rev", category="cat")


def test_load_events_canonical_shape():
    out = wb.load_events(_raw(), schema=MAPPED).collect()
    assert out.columns == ["customer_id", "ts", "amount", "category", "event"]
    assert out.schema["ts"] == pl.Datetime("us", "UTC")
    assert out.schema["amount"] == pl.Float64
    assert out["event"].to_list() == ["purchase"] * 3
    assert out["ts"][0] == datetime(2024, 1, 1, 10, tzinfo=UTC)


def test_input_is_not_modified():
    raw = _raw()
    before = raw.clone()
    wb.load_events(raw, schema=MAPPED).collect()
    assert raw.equals(before)


def test_pandas_input_and_lazy_input_agree():
    raw = _raw()
    a = wb.load_events(raw.to_pandas(), schema=MAPPED).collect()
    b = wb.load_events(raw.lazy(), schema=MAPPED).collect()
    assert a.equals(b)


def test_missing_column_suggests_closest():
    with pytest.raises(wb.MissingColumnError, match=r"no column 'ts'.*Did you mean 'when'\?"):
        wb.load_events(_raw(), schema=wb.EventSchema(customer_id="user"))
    with pytest.raises(wb.MissingColumnError, match=r"Available: \['user', 'when', 'rev', 'cat'\]"):
        wb.load_events(_raw(), schema=wb.EventSchema(customer_id="usr", ts="when"))


def test_mapped_optional_column_must_exist():
    with pytest.raises(wb.MissingColumnError, match="'revenue' mapped to 'amount'"):
        wb.load_events(
            _raw(), schema=wb.EventSchema(customer_id="user", ts="when", amount="revenue")
        )


def test_unparseable_timestamps_named_with_examples():
    raw = _raw().with_columns(pl.Series("when", ["2024-01-01", "yesterday", "2024-13-45"]))
    with pytest.raises(wb.BadDataError, match=r"'when' has 2 of 3 rows.*timestamp.*'yesterday'"):
        wb.load_events(raw, schema=MAPPED)


def test_custom_timestamp_format():
    raw = _raw().with_columns(
        pl.Series("when", ["01/02/2024 10:00", "02/02/2024 11:30", "03/02/2024 00:00"])
    )
    out = wb.load_events(raw, schema=MAPPED, ts_format="%d/%m/%Y %H:%M").collect()
    assert out["ts"][1] == datetime(2024, 2, 2, 11, 30, tzinfo=UTC)


@pytest.mark.parametrize("column", ["user", "when"])
def test_nulls_in_key_columns_raise_then_drop_with_count(column):
    raw = _raw().with_columns(
        pl.when(pl.int_range(3) == 1).then(None).otherwise(pl.col(column)).alias(column)
    )
    with pytest.raises(wb.BadDataError, match=rf"'{column}' has 1 of 3 rows with null values"):
        wb.load_events(raw, schema=MAPPED)
    with pytest.warns(wb.WorkbenchWarning, match="dropped 1 invalid rows of 3"):
        out = wb.load_events(raw, schema=MAPPED, on_invalid="drop").collect()
    assert out.height == 2


def test_non_numeric_amount():
    raw = _raw().with_columns(pl.Series("rev", ["1.5", "two", "3"]))
    with pytest.raises(wb.BadDataError, match=r"'rev' has 1 of 3 rows.*number.*'two'"):
        wb.load_events(raw, schema=MAPPED)
    with pytest.warns(wb.WorkbenchWarning):
        out = wb.load_events(raw, schema=MAPPED, on_invalid="drop").collect()
    assert out["amount"].to_list() == [1.5, 3.0]


def test_boolean_amount_is_a_dtype_error():
    raw = _raw().with_columns(pl.Series("rev", [True, False, True]))
    with pytest.raises(wb.BadDataError, match=r"'amount' has dtype Boolean, expected a number"):
        wb.load_events(raw, schema=MAPPED)


def test_empty_input():
    with pytest.raises(wb.BadDataError, match="empty"):
        wb.load_events(_raw().head(0), schema=MAPPED)


def test_missing_file(tmp_path):
    with pytest.raises(wb.DataSourceError, match=r"nope\.csv' does not exist"):
        wb.load_events(tmp_path / "nope.csv")


def test_corrupt_parquet(tmp_path):
    path = tmp_path / "events.parquet"
    path.write_bytes(b"PAR1 this is not parquet at all")
    with pytest.raises(wb.DataSourceError, match=r"events\.parquet.*corrupt"):
        wb.load_events(path)


def test_unknown_suffix(tmp_path):
    path = tmp_path / "events.xlsx"
    path.write_bytes(b"x")
    with pytest.raises(wb.DataSourceError, match="cannot tell the format"):
        wb.load_events(path)


def test_exact_duplicates_warn_drop_raise():
    raw = pl.concat([_raw(), _raw().head(1)])
    with pytest.warns(wb.WorkbenchWarning, match="1 exact duplicate rows"):
        assert wb.load_events(raw, schema=MAPPED).collect().height == 4
    assert wb.load_events(raw, schema=MAPPED, on_duplicates="drop").collect().height == 3
    with pytest.raises(wb.BadDataError, match="1 exact duplicate rows"):
        wb.load_events(raw, schema=MAPPED, on_duplicates="raise")
    assert wb.load_events(raw, schema=MAPPED, on_duplicates="keep").collect().height == 4


def test_timestamps_after_analysis_date():
    with pytest.raises(wb.BadDataError, match=r"'when' has 1 of 3 rows with timestamps after"):
        wb.load_events(_raw(), schema=MAPPED, as_of="2024-01-31")
    future = _raw().with_columns(pl.Series("when", ["2024-01-01", "2024-01-02", "2999-01-01"]))
    with pytest.raises(wb.BadDataError, match="after the analysis date"):
        wb.load_events(future, schema=MAPPED)


def test_bad_option_values():
    with pytest.raises(wb.BadParameterError, match="on_invalid='ignore'.*Choose one of"):
        wb.load_events(_raw(), schema=MAPPED, on_invalid="ignore")


def test_time_zones():
    naive = pl.DataFrame({"customer_id": [1], "ts": [datetime(2024, 6, 1, 12, 0)]})
    out = wb.load_events(naive, tz="Europe/Berlin").collect()
    assert out["ts"][0] == datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
    aware = naive.with_columns(pl.col("ts").dt.replace_time_zone("America/New_York"))
    assert wb.load_events(aware).collect()["ts"][0] == datetime(2024, 6, 1, 16, 0, tzinfo=UTC)
    text = pl.DataFrame(
        {"customer_id": [1, 2], "ts": ["2024-06-01T12:00:00+02:00", "2024-06-01 12:00"]}
    )
    got = wb.load_events(text, tz="Europe/Berlin").collect()["ts"].to_list()
    assert got == [datetime(2024, 6, 1, 10, 0, tzinfo=UTC)] * 2


def test_integer_ids_and_date_column():
    raw = pl.DataFrame({"customer_id": [3, 4], "ts": [datetime(2024, 1, 1).date()] * 2})
    out = wb.load_events(raw).collect()
    assert out.schema["customer_id"] == pl.Int64
    assert out["ts"][0] == datetime(2024, 1, 1, tzinfo=UTC)


def test_float_ids_rejected():
    raw = pl.DataFrame({"customer_id": [3.0, 4.0], "ts": ["2024-01-01", "2024-01-02"]})
    with pytest.raises(
        wb.BadDataError, match="'customer_id' has dtype Float64, expected string or integer"
    ):
        wb.load_events(raw)


def test_csv_parquet_directory_and_glob_agree(tmp_path):
    raw = _raw()
    raw.write_csv(tmp_path / "e.csv")
    raw.write_parquet(tmp_path / "e.parquet")
    (tmp_path / "ds" / "month=1").mkdir(parents=True)
    (tmp_path / "ds" / "month=2").mkdir(parents=True)
    raw.head(2).write_parquet(tmp_path / "ds" / "month=1" / "part.parquet")
    raw.tail(1).write_parquet(tmp_path / "ds" / "month=2" / "part.parquet")
    frames = [
        wb.load_events(tmp_path / "e.csv", schema=MAPPED),
        wb.load_events(str(tmp_path / "e.parquet"), schema=MAPPED),
        wb.load_events(tmp_path / "ds", schema=MAPPED).drop("month"),
        wb.load_events(str(tmp_path / "ds" / "*" / "*.parquet"), schema=MAPPED).drop("month"),
    ]
    first = frames[0].collect().sort("ts")
    for lf in frames[1:]:
        assert lf.collect().sort("ts").equals(first)


def test_empty_directory(tmp_path):
    with pytest.raises(wb.DataSourceError, match="holds no .parquet files"):
        wb.load_events(tmp_path)


def test_check_events_counts_without_raising():
    raw = pl.concat([_raw(), _raw().head(1)]).with_columns(pl.Series("rev", ["1", "x", "3", "1"]))
    report = wb.check_events(raw, schema=MAPPED, as_of="2024-12-31")
    assert report.rows_read == 4
    assert report.rejected == {"unparseable amount": 1}
    assert report.duplicates == 1
    assert report.min_ts == datetime(2024, 1, 1, 10, tzinfo=UTC)
    assert report.to_frame().height >= 5


def test_side_tables():
    subs = pd.DataFrame(
        {
            "cust": ["a"],
            "start": ["2024-01-01"],
            "end": ["2024-02-01"],
            "amount": [9.0],
            "plan": ["basic"],
        }
    )
    out = wb.load_subscriptions(
        subs,
        schema=wb.SubscriptionSchema(customer_id="cust", period_start="start", period_end="end"),
    ).collect()
    assert out.columns[:3] == ["customer_id", "period_start", "period_end"]
    camp = pl.DataFrame({"customer_id": ["a"], "campaign_id": ["c1"], "sent_ts": ["2024-01-01"]})
    with pytest.raises(wb.MissingColumnError, match=r"campaigns has no column 'group'"):
        wb.load_campaigns(camp)


def test_canonical_light_path_checks_nulls_and_required_columns():
    raw = _raw().with_columns(pl.lit(None, dtype=pl.String).alias("user"))
    with pytest.raises(wb.BadDataError, match="'user' has 3 null values"):
        canonical(raw, schema=MAPPED, caller="retention_matrix")
    with pytest.raises(
        wb.MissingColumnError, match=r"retention_matrix: events has no column 'amount'"
    ):
        canonical(
            _raw().drop("rev"),
            schema=wb.EventSchema(customer_id="user", ts="when"),
            caller="retention_matrix",
            require=("amount",),
        )


def test_schema_clash_is_reported():
    raw = _raw().with_columns(pl.lit("x").alias("ts"))
    with pytest.raises(wb.WorkbenchError, match="already has a column 'ts'"):
        wb.load_events(raw, schema=MAPPED)
