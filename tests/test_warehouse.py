"""Push-down SQL, DuckDB sources, local streaming reduction and credential redaction."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import workbench as wb
from workbench.errors import (
    BadDataError,
    BadParameterError,
    DataSourceError,
    MissingColumnError,
    WorkbenchWarning,
)
from workbench.sql_dialects import DIALECTS, table_reference
from workbench.warehouse import reduce_events

KEYS = ["customer_id", "ts", "event", "category"]


def _dt(*a) -> datetime:
    return datetime(*a, tzinfo=UTC)


TINY = pl.DataFrame(
    {
        "customer_id": ["a", "a", "a", "b", "b", "c"],
        "ts": [
            _dt(2024, 1, 1, 23, 30),
            _dt(2024, 1, 1, 1),
            _dt(2024, 1, 2),
            _dt(2024, 1, 3, 12),
            _dt(2024, 1, 3, 13),
            _dt(2024, 2, 1, 0, 0, 1),
        ],
        "event": ["purchase", "purchase", "visit", "purchase", "purchase", "visit"],
        "amount": [1.0, 2.5, None, 4.0, 4.0, None],
        "category": ["x", "x", None, "y", "y", None],
    }
)

TINY_DAY = pl.DataFrame(
    {
        "customer_id": ["a", "a", "b", "c"],
        "ts": [_dt(2024, 1, 1), _dt(2024, 1, 2), _dt(2024, 1, 3), _dt(2024, 2, 1)],
        "event": ["purchase", "visit", "purchase", "visit"],
        "category": ["x", None, "y", None],
        "amount": [3.5, None, 8.0, None],
        "n_events": [2, 1, 2, 1],
    },
    schema_overrides={"ts": pl.Datetime("us", "UTC")},
)


def _sorted(df: pl.DataFrame) -> pl.DataFrame:
    cols = [c for c in ["customer_id", "ts", "event", "category"] if c in df.columns]
    return df.select(
        TINY_DAY.columns if set(TINY_DAY.columns) == set(df.columns) else df.columns
    ).sort(cols, nulls_last=True)


@pytest.fixture
def duck_file(tmp_path):
    path = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(path))
    con.register("tiny", TINY.to_arrow())
    con.execute("CREATE TABLE events AS SELECT * FROM tiny")
    con.execute(
        "CREATE TABLE renamed AS SELECT customer_id AS user_id, ts AS happened_at, "
        "event, amount AS revenue FROM tiny"
    )
    con.execute(
        "CREATE TABLE naive AS SELECT customer_id, CAST(timezone('UTC', ts) AS TIMESTAMP)"
        " AS ts, event, amount FROM tiny"
    )
    con.execute(
        "CREATE TABLE dated AS SELECT customer_id, CAST(timezone('UTC', ts) AS DATE) AS ts,"
        " event FROM tiny"
    )
    con.execute("CREATE TABLE texty AS SELECT customer_id, CAST(ts AS VARCHAR) AS ts FROM tiny")
    con.execute(
        "CREATE TABLE customers AS SELECT * FROM (VALUES ('a', TIMESTAMPTZ "
        "'2023-12-31 10:00:00+00', 'paid'), ('b', TIMESTAMPTZ '2024-01-02 00:00:00+00', "
        "'organic')) AS t(customer_id, signup_ts, channel)"
    )
    con.close()
    return path


# -- redaction ----------------------------------------------------------------------------------


def test_redact_uri_spec_example():
    assert (
        wb.redact_uri("postgresql://user:secret@host:5432/db?password=x")
        == "postgresql://user:***@host:5432/db?password=***"
    )


@pytest.mark.parametrize(
    "text, secret",
    [
        ("postgresql://u:p%40ss@h/db", "p%40ss"),
        ("postgres://analyst:hunter2@db.internal/shop?sslmode=require", "hunter2"),
        ("could not read postgresql://a:topsecret@h:1/x: refused", "topsecret"),
        ("host=db user=u password=s3cr3t dbname=x", "s3cr3t"),
        ("snowflake://u:pw123@acct/db?token=abc.def&warehouse=w", "abc.def"),
        ("bigquery://project?access_token=ya29.zzz", "ya29.zzz"),
    ],
)
def test_redact_uri_hides_passwords_and_tokens(text, secret):
    out = wb.redact_uri(text)
    assert secret not in out
    assert "***" in out


def test_redact_uri_leaves_plain_text_and_users():
    assert wb.redact_uri("postgresql://reader@h:5432/db") == "postgresql://reader@h:5432/db"
    assert wb.redact_uri("data/events.parquet") == "data/events.parquet"


# -- SQL text -----------------------------------------------------------------------------------


def test_activity_sql_postgres_shape():
    sql = wb.activity_sql("analytics.events")
    assert "FROM analytics.events" in sql
    # Truncate per row to the naive UTC day; turn it back into a timestamptz once per group.
    assert "date_trunc('day', (\"ts\" AT TIME ZONE 'UTC')) AS wb_ts" in sql
    assert "(wb_ts AT TIME ZONE 'UTC') AS \"ts\"" in sql
    assert 'SUM(wb_amount) AS "amount"' in sql
    assert 'COUNT(*) AS "n_events"' in sql
    assert sql.rstrip().endswith("GROUP BY wb_customer_id, wb_ts, wb_event, wb_category")


@pytest.mark.parametrize(
    "dialect, week, cast, quote",
    [
        ("postgres", "date_trunc('week'", 'CAST("amount" AS double precision)', '"customer_id"'),
        (
            "duckdb",
            "date_trunc('week', timezone('UTC'",
            'CAST("amount" AS DOUBLE)',
            '"customer_id"',
        ),
        (
            "bigquery",
            "TIMESTAMP_TRUNC(`ts`, ISOWEEK, 'UTC')",
            "CAST(`amount` AS FLOAT64)",
            "`customer_id`",
        ),
        (
            "snowflake",
            "DATE_TRUNC('WEEK', CAST(CONVERT_TIMEZONE('UTC', ts) AS TIMESTAMP_NTZ))",
            "CAST(amount AS DOUBLE)",
            "customer_id AS wb_customer_id",
        ),
        (
            "clickhouse",
            "toDateTime(toMonday(\"ts\", 'UTC'), 'UTC')",
            'toFloat64("amount")',
            '"customer_id"',
        ),
        (
            "spark",
            "date_trunc('WEEK', to_utc_timestamp(`ts`, current_timezone())) AS wb_ts",
            "CAST(`amount` AS DOUBLE)",
            "`customer_id`",
        ),
    ],
)
def test_activity_sql_dialect_pieces(dialect, week, cast, quote):
    sql = wb.activity_sql("events", grain="week", dialect=dialect)
    assert week in sql
    assert cast in sql
    assert quote in sql
    # Output names are always quoted, so they come back in lower case everywhere.
    q = DIALECTS[dialect].quote
    for name in ["customer_id", "ts", "event", "category", "amount", "n_events"]:
        assert f"AS {q}{name}{q}" in sql


def test_spark_shifts_back_to_an_instant():
    sql = wb.activity_sql("events", dialect="spark")
    assert "from_utc_timestamp(wb_ts, current_timezone()) AS `ts`" in sql


def test_activity_sql_naive_and_date_columns_take_tz():
    pg = wb.activity_sql("e", ts_type="timestamp", tz="Europe/Berlin")
    assert "((\"ts\" AT TIME ZONE 'Europe/Berlin') AT TIME ZONE 'UTC')" in pg
    bq = wb.activity_sql("e", ts_type="date", dialect="bigquery", grain="month")
    assert "TIMESTAMP_TRUNC(TIMESTAMP(`ts`, 'UTC'), MONTH, 'UTC')" in bq
    sf = wb.activity_sql("e", ts_type="timestamp", dialect="snowflake", tz="America/New_York")
    assert "CONVERT_TIMEZONE('America/New_York', 'UTC', CAST(ts AS TIMESTAMP_NTZ))" in sf


def test_activity_sql_schema_columns_and_weights():
    sql = wb.activity_sql(
        "SELECT * FROM raw_events;",
        schema=wb.EventSchema(customer_id="user", ts="at"),
        columns=["user", "at", "n_events"],
        dialect="duckdb",
    )
    assert "(SELECT * FROM raw_events) AS wb_source" in sql
    assert '"user" AS wb_customer_id' in sql
    for role in ["event", "amount", "category"]:
        assert not re.search(rf"\bwb_{role}\b", sql)
    assert 'CAST(SUM(wb_n_events) AS BIGINT) AS "n_events"' in sql


def test_table_reference_quoting():
    pg = DIALECTS["postgres"]
    assert table_reference("analytics.events", pg) == "analytics.events"
    assert table_reference('"Mixed Case".events', pg) == '"Mixed Case".events'
    assert table_reference("my table", pg) == '"my table"'
    assert table_reference("my-project.ds.t", DIALECTS["bigquery"]) == "`my-project`.ds.t"
    assert table_reference("read_parquet('x/*.parquet')", pg) == "read_parquet('x/*.parquet')"


def test_activity_sql_errors():
    with pytest.raises(BadParameterError, match=r"activity_sql: grain='quarter'.*'day'"):
        wb.activity_sql("events", grain="quarter")
    with pytest.raises(BadParameterError, match=r"dialect='mysql'.*Choose one of"):
        wb.activity_sql("events", dialect="mysql")
    with pytest.raises(BadParameterError, match=r"ts_type='datetime'"):
        wb.activity_sql("events", ts_type="datetime")
    with pytest.raises(BadParameterError, match=r"tz='Europe/Paris'.*ts_type='timestamp'"):
        wb.activity_sql("events", tz="Europe/Paris")
    with pytest.raises(MissingColumnError, match=r"no column 'ts'.*Did you mean 'Ts'"):
        wb.activity_sql("events", columns=["customer_id", "Ts"])
    with pytest.raises(BadParameterError, match="table name or a query"):
        wb.activity_sql("  ")


# -- the SQL runs on DuckDB and matches the local reduction --------------------------------------


def test_duckdb_sql_over_parquet_matches_hand_result(tmp_path):
    path = tmp_path / "events.parquet"
    TINY.write_parquet(path)
    sql = wb.activity_sql(f"read_parquet('{path}')", dialect="duckdb")
    got = duckdb.sql(sql).pl().with_columns(pl.col("ts").dt.convert_time_zone("UTC"))
    assert_frame_equal(_sorted(got), TINY_DAY)


@pytest.mark.parametrize("grain", ["day", "week", "month"])
def test_local_reduction_matches_duckdb_sql(tmp_path, grain):
    path = tmp_path / "events.parquet"
    TINY.write_parquet(path)
    sql = wb.activity_sql(f"read_parquet('{path}')", dialect="duckdb", grain=grain)
    via_sql = duckdb.sql(sql).pl().with_columns(pl.col("ts").dt.convert_time_zone("UTC"))
    local = wb.activity_table(pl.scan_parquet(path), grain=grain)
    assert_frame_equal(_sorted(local), _sorted(via_sql))


def test_week_and_month_starts():
    wk = wb.activity_table(TINY, grain="week")
    assert set(wk["ts"].to_list()) == {_dt(2024, 1, 1), _dt(2024, 1, 29)}  # Mondays
    mo = wb.activity_table(TINY, grain="month")
    assert sorted(set(mo["ts"].to_list())) == [_dt(2024, 1, 1), _dt(2024, 2, 1)]
    assert mo.filter(pl.col("customer_id") == "a")["n_events"].sum() == 3


ev_rows = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),
        st.integers(0, 60 * 24 * 40),  # minutes from 2024-01-01
        st.sampled_from(["purchase", "visit"]),
        st.one_of(st.none(), st.integers(-5, 50).map(float)),
        st.sampled_from(["x", "y", None]),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=ev_rows, grain=st.sampled_from(["day", "week", "month"]))
def test_property_sql_and_polars_reductions_agree(rows, grain):
    df = (
        pl.DataFrame(
            [(c, m, e, a, k) for c, m, e, a, k in rows],
            schema={
                "customer_id": pl.String,
                "minute": pl.Int64,
                "event": pl.String,
                "amount": pl.Float64,
                "category": pl.String,
            },
            orient="row",
        )
        .with_columns(ts=(pl.lit(_dt(2024, 1, 1)) + pl.duration(minutes=pl.col("minute"))))
        .drop("minute")
    )
    con = duckdb.connect()
    con.register("ev", df.to_arrow())
    via_sql = con.sql(wb.activity_sql("ev", dialect="duckdb", grain=grain)).pl()
    via_sql = via_sql.with_columns(pl.col("ts").dt.convert_time_zone("UTC"))
    local = wb.activity_table(df, grain=grain)
    assert_frame_equal(_sorted(local), _sorted(via_sql))
    assert local["n_events"].sum() == df.height
    assert local["amount"].fill_null(0).sum() == df["amount"].fill_null(0).sum()


# -- DuckDB sources through the loaders -----------------------------------------------------------


def test_load_events_duckdb_reduces_to_days(duck_file):
    got = wb.load_events(f"duckdb:///{duck_file}", table="events").collect()
    assert got.schema["n_events"] == pl.Int64
    assert got.schema["ts"] == pl.Datetime("us", "UTC")
    assert_frame_equal(_sorted(got), TINY_DAY)


def test_load_events_duckdb_raw_rows(duck_file):
    got = wb.load_events(f"duckdb:///{duck_file}", table="events", reduce=None).collect()
    assert_frame_equal(got.sort("customer_id", "ts"), TINY.sort("customer_id", "ts"))


def test_duckdb_relative_uri(duck_file, monkeypatch):
    monkeypatch.chdir(duck_file.parent)
    got = wb.load_events("duckdb:///wh.duckdb", table="events").collect()
    assert got["n_events"].sum() == 6


def test_local_sources_reduce_on_request(tmp_path):
    TINY.write_parquet(tmp_path / "e.parquet")
    raw = wb.load_events(tmp_path / "e.parquet").collect()
    assert "n_events" not in raw.columns and raw.height == 6
    red = wb.load_events(str(tmp_path / "e.parquet"), reduce="day").collect()
    assert_frame_equal(_sorted(red), TINY_DAY)
    with pytest.raises(BadParameterError, match=r"reduce='hour'"):
        wb.load_events(tmp_path / "e.parquet", reduce="hour")


def test_schema_mapping_through_the_database(duck_file):
    got = wb.load_events(
        f"duckdb:///{duck_file}",
        table="renamed",
        schema=wb.EventSchema(customer_id="user_id", ts="happened_at", amount="revenue"),
    ).collect()
    assert got.columns == ["customer_id", "ts", "event", "amount", "n_events"]
    assert got.filter(pl.col("customer_id") == "b")["amount"].to_list() == [8.0]


def test_naive_and_date_columns(duck_file):
    uri = f"duckdb:///{duck_file}"
    naive = wb.load_events(uri, table="naive").collect()
    aware = wb.load_events(uri, table="events").collect().drop("category")
    assert_frame_equal(_sorted(naive), _sorted(aware))
    dated = wb.load_events(uri, table="dated").collect()
    assert dated["ts"].to_list() == dated["ts"].dt.truncate("1d").to_list()
    assert dated["n_events"].sum() == 6
    # Naive times read in New York: 2024-01-01 01:00 local is still 2024-01-01 06:00 UTC, and
    # 2024-01-01 23:30 local is 2024-01-02 04:30 UTC.
    ny = wb.load_events(uri, table="naive", tz="America/New_York").collect()
    local = wb.load_events(
        TINY.with_columns(pl.col("ts").dt.replace_time_zone(None)),
        tz="America/New_York",
        reduce="day",
    ).collect()
    assert_frame_equal(_sorted(ny), _sorted(local.drop("category")))
    a = ny.filter(pl.col("customer_id") == "a", pl.col("event") == "purchase").sort("ts")
    assert a["ts"].to_list() == [_dt(2024, 1, 1), _dt(2024, 1, 2)]


def test_text_timestamps_cannot_be_reduced_in_the_database(duck_file):
    uri = f"duckdb:///{duck_file}"
    with pytest.raises(BadDataError, match=r"'ts' has database type 'varchar'.*reduce=None"):
        wb.load_events(uri, table="texty")
    raw = wb.load_events(uri, table="texty", reduce=None).collect()
    assert raw.schema["ts"] == pl.Datetime("us", "UTC") and raw.height == 6


def test_side_tables_from_duckdb(duck_file):
    cust = wb.load_customers(f"duckdb:///{duck_file}", table="customers").collect()
    assert cust.sort("customer_id")["channel"].to_list() == ["paid", "organic"]


def test_env_uri(duck_file, monkeypatch):
    monkeypatch.setenv("WORKBENCH_DB_URI", f"duckdb:///{duck_file}")
    got = wb.load_events("env://", table="events").collect()
    assert got["n_events"].sum() == 6
    monkeypatch.setenv("MY_DB", f"duckdb:///{duck_file}")
    assert wb.check_events("env://MY_DB", table="events").rows_read == 6
    monkeypatch.delenv("WORKBENCH_DB_URI")
    with pytest.raises(DataSourceError, match=r"'WORKBENCH_DB_URI' is not set"):
        wb.load_events("env://", table="events")


def test_nulls_counted_in_events_after_reduction(tmp_path):
    path = tmp_path / "n.duckdb"
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE e AS SELECT * FROM (VALUES "
        "('a', TIMESTAMPTZ '2024-01-01 10:00:00+00', 1.0), "
        "(NULL, TIMESTAMPTZ '2024-01-01 11:00:00+00', 2.0), "
        "(NULL, TIMESTAMPTZ '2024-01-01 12:00:00+00', 3.0), "
        "(NULL, TIMESTAMPTZ '2024-01-05 12:00:00+00', 4.0), "
        "('b', NULL, 5.0)) AS t(customer_id, ts, amount)"
    )
    con.close()
    uri = f"duckdb:///{path}"
    report = wb.check_events(uri, table="e")
    # Five events in four reduced rows; the three null-customer events count as three.
    assert report.rows_read == 5
    assert report.rejected == {"null customer_id": 3, "null ts": 1}
    assert report.rows_kept == 1
    with pytest.raises(BadDataError, match=r"'customer_id' has 3 of 5 rows with null values"):
        wb.load_events(uri, table="e")
    with pytest.warns(WorkbenchWarning, match="dropped 4 invalid rows of 5"):
        kept = wb.load_events(uri, table="e", on_invalid="drop").collect()
    assert kept.select("customer_id", "amount", "n_events").rows() == [("a", 1.0, 1)]


def test_duckdb_bad_sources(duck_file, tmp_path):
    uri = f"duckdb:///{duck_file}"
    with pytest.raises(
        DataSourceError,
        match=r"table 'evnts' does not exist.*Did you mean "
        r"'events'",
    ):
        wb.load_events(uri, table="evnts")
    with pytest.raises(DataSourceError, match=r"DuckDB file .*nothere.duckdb' does not exist"):
        wb.load_events(f"duckdb:///{tmp_path}/nothere.duckdb", table="events")
    with pytest.raises(MissingColumnError, match=r"events has no column 'ts' \(timestamp\)"):
        wb.load_events(uri, query="SELECT customer_id, event FROM events")
    with pytest.raises(DataSourceError, match=r"the query failed in DuckDB file"):
        wb.load_events(uri, query="SELECT nope FROM events")
    with pytest.raises(BadParameterError, match="exactly one of table= or query="):
        wb.load_events(uri, table="events", query="SELECT 1")
    with pytest.raises(BadParameterError, match="exactly one of table= or query= .*neither"):
        wb.load_events(uri)
    with pytest.raises(BadParameterError, match="not a table name"):
        wb.load_events(uri, table="SELECT * FROM events")


def test_unsupported_scheme_never_shows_the_password():
    with pytest.raises(DataSourceError, match=r"scheme 'mysql' is not supported") as err:
        wb.load_events("mysql://u:supersecret@db/shop", table="events")
    assert "supersecret" not in str(err.value)
    assert "mysql://u:***@db/shop" in str(err.value)


# -- larger-than-memory, locally -----------------------------------------------------------------


def test_hive_partitioned_dataset_streams_to_the_same_table(tmp_path):
    sample = wb.datasets.load_sample(seed=3, n_customers=300).events
    ds = tmp_path / "events"
    sample.with_columns(month=pl.col("ts").dt.strftime("%Y-%m")).write_parquet(
        ds, partition_by="month"
    )
    streamed = wb.activity_table(pl.scan_parquet(ds, hive_partitioning=True).drop("month"))
    eager = wb.activity_table(sample, streaming=False)
    assert_frame_equal(_sorted(streamed), _sorted(eager))
    loaded = wb.load_events(ds, reduce="day", on_duplicates="keep").collect()
    assert_frame_equal(_sorted(loaded), _sorted(eager))
    assert eager["n_events"].sum() == sample.height


def test_reduce_events_sums_existing_weights():
    once = reduce_events(pl.LazyFrame(TINY), "day")
    twice = reduce_events(once, "month").collect()
    direct = wb.activity_table(TINY, grain="month")
    assert_frame_equal(_sorted(twice), _sorted(direct))


def test_day_reduction_keeps_day_level_answers():
    # Distinct active customer-days and purchase counts survive the reduction.
    raw = wb.load_events(TINY).collect()
    red = wb.load_events(TINY, reduce="day").collect()
    days = raw.select("customer_id", pl.col("ts").dt.date()).unique().height
    assert red.select("customer_id", pl.col("ts").dt.date()).unique().height == days == 4
    assert (
        red.filter(pl.col("event") == "purchase")["n_events"].sum()
        == raw.filter(pl.col("event") == "purchase").height
        == 4
    )
    assert red["ts"].dt.date().to_list() == [d.date() for d in red["ts"].to_list()]
    assert date(2024, 2, 1) in red["ts"].dt.date().to_list()


def test_definition_strings_are_plain():
    from workbench.warehouse import ACTIVITY_DEFINITION

    assert re.search(r"one row per customer, event, category and UTC day", ACTIVITY_DEFINITION)


def test_read_database_checks_columns_before_reducing(duck_file):
    from workbench.warehouse import read_database

    uri = f"duckdb:///{duck_file}"
    with pytest.raises(MissingColumnError, match=r"no column 'ts' \(timestamp\)"):
        read_database(uri, query="SELECT customer_id FROM events", reduce="day")
    with pytest.raises(BadParameterError, match="reduce= applies to event tables only"):
        read_database(uri, table="customers", schema=wb.CustomerSchema(), reduce="day")
    with pytest.raises(BadParameterError, match=r"reduce='hourly'"):
        read_database(uri, table="events", reduce="hourly")
