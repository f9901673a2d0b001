"""PostgreSQL for real: a throw-away server, push-down parity with DuckDB and Parquet, bad sources.

The server is started once per test session (initdb into a temporary directory, 127.0.0.1 on a
free port) and stopped in the fixture's finalizer. Without the server binaries the tests skip
with the reason, except under CI, where they must run.
"""

from __future__ import annotations

import importlib
import sys

import duckdb
import polars as pl
import pytest
from pg_server import copy_frame, start_for_tests
from polars.testing import assert_frame_equal

import workbench as wb
from workbench.errors import BadDataError, DataSourceError, MissingColumnError

pytestmark = pytest.mark.postgres

EVENT_TYPES = {
    "customer_id": "text",
    "ts": "timestamptz",
    "event": "text",
    "amount": "double precision",
    "category": "text",
    "discount": "boolean",
}


@pytest.fixture(scope="session")
def pg(request):
    return start_for_tests(request)


@pytest.fixture(scope="session")
def sample():
    """Sample events with amounts on a quarter grid, so every sum is exact in any order."""
    s = wb.datasets.load_sample(seed=7, n_customers=600)
    events = s.events.with_columns((pl.col("amount") * 4).round(0) / 4)
    return events, s.as_of


@pytest.fixture(scope="session")
def sources(pg, sample, tmp_path_factory):
    """The same events in PostgreSQL, a DuckDB file and a Parquet file."""
    events, _ = sample
    with pg.connect() as conn:
        copy_frame(conn, "events", events, EVENT_TYPES)
        conn.execute(
            "CREATE TABLE events_naive AS SELECT customer_id, "
            "(ts AT TIME ZONE 'UTC') AS ts, event, amount::numeric(12, 2) AS amount, "
            "category FROM events"
        )
        conn.execute("CREATE TABLE events_text AS SELECT customer_id, ts::text AS ts FROM events")
        conn.execute(
            "CREATE TABLE renamed AS SELECT customer_id AS user_id, ts AS at, event, "
            "amount AS revenue FROM events"
        )
    base = tmp_path_factory.mktemp("parity")
    parquet = base / "events.parquet"
    events.write_parquet(parquet)
    duck = base / "events.duckdb"
    con = duckdb.connect(str(duck))
    con.execute(f"CREATE TABLE events AS SELECT * FROM read_parquet('{parquet}')")
    con.close()
    return {"postgres": pg.uri, "duckdb": f"duckdb:///{duck}", "parquet": parquet}


def _load(sources, which: str, **kw) -> pl.LazyFrame:
    if which == "parquet":
        return wb.load_events(sources["parquet"], **kw)
    if which == "parquet-reduced":
        return wb.load_events(sources["parquet"], reduce="day", **kw)
    return wb.load_events(sources[which], table="events", **kw)


def _key(df: pl.DataFrame) -> pl.DataFrame:
    return df.sort(["customer_id", "ts", "event", "category"], nulls_last=True)


def test_server_fixture_is_real(pg):
    with pg.connect() as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        host = conn.execute("SELECT inet_server_addr()::text").fetchone()[0]
    assert int(version.split(".")[0]) >= 12
    assert host.startswith("127.0.0.1")


def test_push_down_returns_the_activity_table(sources, sample):
    events, _ = sample
    got = _key(_load(sources, "postgres").collect())
    expected = _key(wb.activity_table(events.drop("discount")))
    assert_frame_equal(got, expected)
    assert got["n_events"].sum() == events.height
    assert got.height < events.height


def test_day_aggregates_equal_across_sources(sources):
    frames = {
        w: _key(_load(sources, w).collect()) for w in ["postgres", "duckdb", "parquet-reduced"]
    }
    assert_frame_equal(frames["postgres"], frames["duckdb"])
    assert_frame_equal(frames["postgres"], frames["parquet-reduced"])
    raw = _load(sources, "parquet").collect()
    per_day = (
        raw.group_by("customer_id", pl.col("ts").dt.date().alias("day"))
        .agg(pl.len().alias("n"), pl.col("amount").sum().alias("amount"))
        .sort("customer_id", "day")
    )
    from_pg = (
        frames["postgres"]
        .group_by("customer_id", pl.col("ts").dt.date().alias("day"))
        .agg(
            pl.col("n_events").sum().cast(pl.UInt32).alias("n"),
            pl.col("amount").sum().alias("amount"),
        )
        .sort("customer_id", "day")
    )
    assert_frame_equal(per_day, from_pg)


def test_raw_pull_equals_parquet(sources):
    pg_raw = wb.load_events(sources["postgres"], table="events", reduce=None).collect()
    local = _load(sources, "parquet").collect()
    assert_frame_equal(
        pg_raw.sort("customer_id", "ts", "event"), local.sort("customer_id", "ts", "event")
    )


def _find(name: str, module: str):
    """The public function, or the one in its module while it is not exported yet."""
    if hasattr(wb, name):
        return getattr(wb, name)
    try:
        return getattr(importlib.import_module(f"workbench.{module}"), name)
    except (ImportError, AttributeError):
        return None


def _analyses(as_of):
    out = {}
    rfm = _find("rfm_summary", "rfm")
    churn = _find("churn_table", "churn")
    retention = _find("retention_matrix", "cohorts")
    if rfm:
        out["rfm_summary"] = lambda ev: rfm(ev)
    if churn:
        out["churn_table inactivity"] = lambda ev: churn(ev, inactivity="90d", as_of=as_of)
    if retention:
        out["retention_matrix"] = lambda ev: retention(ev, period="month", as_of=as_of)
        # Occurrence counts (at least 2 purchases in the week) read n_events on reduced tables.
        out["retention_matrix weekly min_events"] = lambda ev: retention(
            ev, period="week", return_event="purchase", min_events=2, as_of=as_of
        )
    return out


@pytest.mark.parametrize(
    "name",
    [
        "rfm_summary",
        "churn_table inactivity",
        "retention_matrix",
        "retention_matrix weekly min_events",
    ],
)
def test_analyses_give_identical_numbers_from_every_source(sources, sample, name):
    _, as_of = sample
    analyses = _analyses(as_of)
    if name not in analyses:
        pytest.skip(f"wb.{name.split()[0]} is not part of the package yet")
    run = analyses[name]
    results = {}
    for which in ["postgres", "duckdb", "parquet", "parquet-reduced"]:
        res = run(_load(sources, which))
        results[which] = res.table if hasattr(res, "table") else res
    for which in ["duckdb", "parquet", "parquet-reduced"]:
        assert_frame_equal(results["postgres"], results[which], check_row_order=False)
    assert results["postgres"].height > 0
    if "retained" in results["postgres"].columns:  # the comparison is not of empty triangles
        assert results["postgres"]["retained"].sum() > 0


def test_query_and_schema_mapping(sources, pg, sample):
    events, _ = sample
    got = wb.load_events(
        pg.uri,
        query="SELECT * FROM renamed WHERE event = 'purchase'",
        schema=wb.EventSchema(customer_id="user_id", ts="at", amount="revenue"),
    )
    got = got.collect()
    assert got.columns == ["customer_id", "ts", "event", "amount", "n_events"]
    expected = wb.activity_table(
        events.filter(pl.col("event") == "purchase").select("customer_id", "ts", "event", "amount")
    )
    assert_frame_equal(got.sort("customer_id", "ts"), expected.sort("customer_id", "ts"))


def test_naive_timestamp_table_taken_as_utc(sources, pg):
    naive = _key(wb.load_events(pg.uri, table="events_naive").collect())
    aware = _key(_load(sources, "postgres").collect())
    assert_frame_equal(naive, aware)


def test_week_and_month_push_down(sources, pg, sample):
    events, _ = sample
    for grain in ["week", "month"]:
        got = wb.load_events(pg.uri, table="events", reduce=grain).collect()
        expected = wb.activity_table(events.drop("discount"), grain=grain)
        assert_frame_equal(_key(got), _key(expected))


def test_text_timestamps_need_raw_rows(sources, pg):
    with pytest.raises(BadDataError, match=r"'ts' has database type 'text'.*reduce=None"):
        wb.load_events(pg.uri, table="events_text")
    raw = wb.load_events(pg.uri, table="events_text", reduce=None).collect()
    assert raw.schema["ts"] == pl.Datetime("us", "UTC")


def test_psycopg_path_without_connectorx(sources, pg, monkeypatch):
    monkeypatch.setitem(sys.modules, "connectorx", None)
    got = _key(wb.load_events(pg.uri, table="events").collect())
    assert_frame_equal(got, _key(_load(sources, "duckdb").collect()))


def test_pgpassword_and_env_uri(sources, pg, monkeypatch):
    bare = pg.uri.replace(f":{pg.password}@", "@")
    assert pg.password not in bare
    monkeypatch.setenv("PGPASSWORD", pg.password)
    got = wb.load_events(bare, table="events").collect()
    assert got["n_events"].sum() > 0
    monkeypatch.delenv("PGPASSWORD")
    monkeypatch.setenv("WORKBENCH_DB_URI", pg.uri)
    report = wb.check_events("env://", table="events")
    assert report.rows_read == got["n_events"].sum()
    assert pg.password not in repr(report)


def test_report_source_hides_password(sources, pg):
    report = wb.check_events(pg.uri, table="events")
    assert pg.password not in report.source
    assert report.source == f"postgresql://wb:***@127.0.0.1:{pg.port}/wbtest"


def _no_secret(exc: pytest.ExceptionInfo, *secrets: str) -> str:
    text = str(exc.value)
    for s in secrets:
        assert s not in text
    return text


def test_unreachable_server(pg):
    from pg_server import _free_port

    port = _free_port()
    with pytest.raises(
        DataSourceError,
        match=rf"cannot reach the PostgreSQL server at "
        rf"127.0.0.1:{port} \(Connection refused\)",
    ) as e:
        wb.load_events(pg.uri_with(port=port), table="events")
    assert "wb:***@" in _no_secret(e, pg.password)


def test_wrong_credentials(pg):
    with pytest.raises(DataSourceError, match=r"rejected the credentials of user 'wb'") as e:
        wb.load_events(pg.uri_with(password="Wrong-Secret-42"), table="events")
    _no_secret(e, "Wrong-Secret-42", pg.password)
    with pytest.raises(DataSourceError, match=r"rejected the credentials of user 'nobody'"):
        wb.load_events(pg.uri_with(user="nobody"), table="events")


def test_missing_database(pg):
    with pytest.raises(DataSourceError, match=r"database 'nodb' does not exist") as e:
        wb.load_events(pg.uri_with(database="nodb"), table="events")
    _no_secret(e, pg.password)


def test_missing_table(sources, pg):
    with pytest.raises(
        DataSourceError,
        match=r"table 'evnts' does not exist in database 'wbtest'"
        r".*Did you mean 'events'",
    ) as e:
        wb.load_events(pg.uri, table="evnts")
    _no_secret(e, pg.password)


def test_query_with_wrong_columns(sources, pg):
    with pytest.raises(
        MissingColumnError,
        match=r"events has no column 'ts' \(timestamp\). "
        r"Available: \['customer_id', 'happened'\]",
    ) as e:
        wb.load_events(pg.uri, query="SELECT customer_id, ts AS happened FROM events")
    _no_secret(e, pg.password)
    with pytest.raises(DataSourceError, match=r"the query failed in database 'wbtest'.*nope") as e:
        wb.load_events(pg.uri, query="SELECT nope FROM events")
    _no_secret(e, pg.password)
