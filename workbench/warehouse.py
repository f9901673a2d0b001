"""Databases and larger-than-memory event logs: push the heavy reduction down, move little data.

Every analysis starts from the *activity table*: one row per customer x event x category x period
with the period's start as ``ts`` (UTC), the summed ``amount`` and the number of events
``n_events``. On a warehouse that reduction is one GROUP BY, so the workbench sends it as SQL and
only the compact table travels:

    events = wb.load_events("postgresql://analyst@db:5432/shop", table="events")   # reduce="day"
    events = wb.load_events("duckdb:///warehouse.duckdb", query="SELECT ...", reduce=None)

Definitions (identical for every source):

* ``ts`` = start of the UTC day (``reduce="day"``), ISO week starting Monday (``"week"``) or
  calendar month (``"month"``) holding the event. Columns of type ``timestamptz`` are truncated
  in UTC; ``timestamp`` (without time zone) and ``date`` columns are taken as UTC, or in ``tz=``.
* ``amount`` = the sum of the events' amounts (NULL when every amount in the group is NULL).
* ``n_events`` = the number of events in the group (the sum of ``n_events`` when the source is
  already reduced).
* Other columns are dropped; rows with a NULL key (customer or timestamp) form their own group
  and are then reported or dropped by the loader's validation, counted in events.

At day grain every day-or-coarser analysis gives the same numbers as on the raw events. What a
reduced table cannot show: exact duplicate events (they are folded into ``n_events``) and the
time of day; ``reduce=None`` pulls the raw rows for those.

`activity_sql` returns the same SQL for PostgreSQL, DuckDB, BigQuery, Snowflake, ClickHouse and
Spark SQL (dialect notes in `workbench.sql_dialects`), for running in a warehouse directly.
`activity_table` does the reduction locally with polars' streaming engine, for Parquet datasets
larger than memory.

Connections: ``postgresql://user:password@host:port/db`` (read through connectorx when installed,
else psycopg; ``pip install "workbench[db]"``) and ``duckdb:///relative/file.duckdb`` or
``duckdb:////absolute/file.duckdb``. Credentials come from the URI, from libpq's environment
(``PGPASSWORD``, ``PGUSER``, ``~/.pgpass``) or, with the source ``"env://"``, from the whole URI in
the ``WORKBENCH_DB_URI`` environment variable (``"env://NAME"`` reads variable ``NAME``). They are
never shown: messages and reports render URIs through `redact_uri`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import polars as pl

from .errors import (
    BadDataError,
    BadParameterError,
    DataSourceError,
    bad_choice,
    closest,
)
from .schema import (
    AMOUNT,
    CATEGORY,
    CUSTOMER_ID,
    EVENT,
    N_EVENTS,
    TS,
    EventSchema,
    _RoleSchema,
    canonical,
    rename_to_canonical,
)
from .sql_dialects import DIALECTS, GRAINS, TS_TYPES, Dialect, is_query, table_reference

ENV_VAR = "WORKBENCH_DB_URI"
_SCHEMES = {
    "postgresql": "postgres",
    "postgres": "postgres",
    "postgresql+psycopg": "postgres",
    "postgresql+psycopg2": "postgres",
    "duckdb": "duckdb",
}
_EVERY = {"day": "1d", "week": "1w", "month": "1mo"}
_SECRET_KEYS = r"password|passwd|pwd|sslpassword|secret|token|access_token|api_key|apikey"

ACTIVITY_DEFINITION = (
    "Activity table: one row per customer, event, category and UTC day (or week/month) with the "
    "period start as ts, the summed amount and the number of events n_events."
)


# -- credentials ------------------------------------------------------------------------------


def redact_uri(text: str) -> str:
    """Replace every password or token in `text` (URIs, DSNs, messages) with ``***``.

    >>> redact_uri("postgresql://user:secret@host:5432/db?password=x")
    'postgresql://user:***@host:5432/db?password=***'
    """
    text = str(text)

    def userinfo(m: re.Match) -> str:
        auth = m.group("auth")
        if "@" not in auth:
            return m.group(0)
        info, host = auth.rsplit("@", 1)
        if ":" in info:
            info = info.split(":", 1)[0] + ":***"
        return f"{m.group('scheme')}{info}@{host}"

    text = re.sub(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<auth>[^/?#\s'\"]*)", userinfo, text)
    return re.sub(rf"(?i)\b({_SECRET_KEYS})(\s*=\s*)('[^']*'|[^&\s#;'\"]+)", r"\1\2***", text)


def _resolve_env(uri: str, caller: str) -> str:
    if not uri.startswith("env://"):
        return uri
    name = uri[len("env://") :] or ENV_VAR
    value = os.environ.get(name)
    if not value:
        raise DataSourceError(
            f"{caller}: the environment variable {name!r} is not set. Fix: export {name}="
            f"'postgresql://user:password@host:5432/db' (or a duckdb:/// URI) before starting "
            f"Python, or pass the URI itself."
        )
    return value


def _scrub(text: str, secrets: tuple[str, ...] = ()) -> str:
    text = redact_uri(text)
    for s in secrets:
        if s and len(s) >= 3:
            text = text.replace(s, "***")
    return text


# -- SQL ----------------------------------------------------------------------------------------


def activity_sql(
    source: str,
    *,
    schema: EventSchema | None = None,
    grain: str = "day",
    dialect: str = "postgres",
    ts_type: str = "timestamptz",
    tz: str | None = None,
    columns: list[str] | None = None,
) -> str:
    """SQL that reduces an event table to the activity table, for the given warehouse dialect.

    `source` is a table name (``"analytics.events"``), a table function
    (``"read_parquet('events/*.parquet')"`` in DuckDB) or a query (``"SELECT ... FROM ..."``).
    `schema` maps the source's column names onto the roles; `columns` lists the source's
    columns when some optional role (event, amount, category) is absent (default: all present;
    a column ``n_events`` marks an already reduced source, whose counts are summed).
    `ts_type` is the type of the timestamp column: ``"timestamptz"`` (an instant),
    ``"timestamp"`` (no time zone; taken in `tz`, UTC by default) or ``"date"``.
    Output columns: customer_id, ts (UTC start of the day / ISO week / month), event, category,
    amount (sum), n_events (count); see the module documentation for exact definitions.
    """
    return _activity_sql(
        source,
        schema=schema,
        grain=grain,
        dialect=dialect,
        ts_type=ts_type,
        tz=tz,
        columns=columns,
        caller="activity_sql",
    )


def _activity_sql(
    source, *, schema, grain, dialect, ts_type, tz, columns, caller, source_names=False, ref=None
) -> str:
    if grain not in GRAINS:
        raise bad_choice(caller, "grain", grain, list(GRAINS))
    if dialect not in DIALECTS:
        raise bad_choice(caller, "dialect", dialect, list(DIALECTS))
    if ts_type not in TS_TYPES:
        raise bad_choice(caller, "ts_type", ts_type, list(TS_TYPES))
    if ts_type == "timestamptz" and tz is not None:
        raise BadParameterError(
            f"{caller}: tz={tz!r} applies to timestamps without a time zone, and "
            f"ts_type='timestamptz' columns already carry one. Fix: drop tz= or pass "
            f"ts_type='timestamp'."
        )
    if not isinstance(source, str) or not source.strip():
        raise BadParameterError(
            f"{caller}: source must be a table name or a query, got {source!r}. Fix: pass e.g. "
            f"'analytics.events' or 'SELECT * FROM events'."
        )
    schema = schema if schema is not None else EventSchema()
    if not isinstance(schema, EventSchema):
        raise BadParameterError(
            f"{caller}: schema must be an EventSchema, got {type(schema).__name__}. Fix: pass "
            f"schema=EventSchema(customer_id=..., ts=...)."
        )
    names = (
        list(columns)
        if columns is not None
        else [schema.source_name(r.name) for r in EventSchema.ROLES]
    )
    # Same check and message as the loaders (raises MissingColumnError).
    rename_to_canonical(pl.LazyFrame(schema={n: pl.Null for n in names}), schema, caller)
    d: Dialect = DIALECTS[dialect]
    src = {role: schema.source_name(role) for role in (CUSTOMER_ID, TS, EVENT, AMOUNT, CATEGORY)}
    keys = [
        (CUSTOMER_ID, d.column(src[CUSTOMER_ID])),
        (TS, d.period(d.column(src[TS]), ts_type=ts_type, grain=grain, tz=tz or "UTC")),
    ]
    keys += [(role, d.column(src[role])) for role in (EVENT, CATEGORY) if src[role] in names]
    values = []
    if src[AMOUNT] in names:
        values.append((AMOUNT, d.to_float.format(x=d.column(src[AMOUNT]))))
    weighted = N_EVENTS in names and N_EVENTS not in src.values()
    if weighted:
        values.append((N_EVENTS, d.column(N_EVENTS)))

    def out(role: str) -> str:
        return d.ident(src.get(role, role) if source_names else role)

    inner = ",\n        ".join(f"{expr} AS wb_{role}" for role, expr in keys + values)
    outer = [
        f"{d.output(f'wb_{role}') if role == TS else f'wb_{role}'} AS {out(role)}"
        for role, _ in keys
    ]
    if src[AMOUNT] in names:
        outer.append(f"SUM(wb_{AMOUNT}) AS {out(AMOUNT)}")
    count = d.sum_int.format(x=f"wb_{N_EVENTS}") if weighted else d.count
    outer.append(f"{count} AS {d.ident(N_EVENTS)}")
    group = ", ".join(f"wb_{role}" for role, _ in keys)
    return (
        "SELECT\n    "
        + ",\n    ".join(outer)
        + "\nFROM (\n    SELECT\n        "
        + inner
        + f"\n    FROM {ref or table_reference(source, d)}\n) AS wb_events\nGROUP BY {group}"
    )


# -- local reduction ----------------------------------------------------------------------------


def reduce_events(
    lf: pl.LazyFrame, grain: str = "day", *, caller: str = "reduce_events"
) -> pl.LazyFrame:
    """Lazy activity table of a canonical event frame (same definitions as `activity_sql`)."""
    if grain not in GRAINS:
        raise bad_choice(caller, "grain", grain, list(GRAINS))
    names = lf.collect_schema().names()
    keys = [pl.col(CUSTOMER_ID), pl.col(TS).dt.truncate(_EVERY[grain]).alias(TS), pl.col(EVENT)]
    if CATEGORY in names:
        keys.append(pl.col(CATEGORY))
    aggs = []
    if AMOUNT in names:
        aggs += [pl.col(AMOUNT).sum().alias(AMOUNT), pl.col(AMOUNT).count().alias("__wb_n_amount")]
    if N_EVENTS in names:
        aggs.append(pl.col(N_EVENTS).sum().cast(pl.Int64).alias(N_EVENTS))
    else:
        aggs.append(pl.len().cast(pl.Int64).alias(N_EVENTS))
    out = lf.group_by(keys).agg(aggs)
    if AMOUNT in names:
        out = out.with_columns(
            pl.when(pl.col("__wb_n_amount") > 0).then(pl.col(AMOUNT)).alias(AMOUNT)
        ).drop("__wb_n_amount")
    return out


def activity_table(
    events, *, grain: str = "day", schema: EventSchema | None = None, streaming: bool = True
) -> pl.DataFrame:
    """The activity table of an event frame, computed locally (polars' streaming engine).

    One row per customer x event x category x UTC day (or ISO week / month): ``ts`` = period
    start, ``amount`` = sum (null when all amounts are null), ``n_events`` = number of events.
    Pass a LazyFrame (``pl.scan_parquet(...)`` or ``wb.load_events(dir)``) to process data
    larger than memory.
    """
    lf = canonical(events, schema=schema, caller="activity_table")
    out = reduce_events(lf, grain, caller="activity_table")
    return out.collect(engine="streaming" if streaming else "auto")


# -- connections --------------------------------------------------------------------------------


def read_database(
    uri: str,
    *,
    table: str | None = None,
    query: str | None = None,
    caller: str = "read_database",
    schema: _RoleSchema | None = None,
    reduce: str | None = None,
    tz: str | None = None,
) -> pl.LazyFrame:
    """Read a table or query from PostgreSQL or DuckDB; with `reduce`, the activity table.

    Columns come back under the source's names (the loaders validate and rename them). With
    `reduce` ("day", "week", "month"; events only) the reduction runs in the database.
    """
    if (table is None) == (query is None):
        raise BadParameterError(
            f"{caller}: give exactly one of table= or query= for a database source (got "
            f"{'both' if table is not None else 'neither'}). Fix: e.g. table='events' or "
            f"query='SELECT * FROM events WHERE ...'."
        )
    if query is not None and (not isinstance(query, str) or not query.strip()):
        raise BadParameterError(f"{caller}: query={query!r} is not SQL text. Fix: pass a string.")
    if table is not None and (not isinstance(table, str) or is_query(table)):
        raise BadParameterError(
            f"{caller}: table={table!r} is not a table name. Fix: pass SQL as query=..."
        )
    if reduce is not None:
        if reduce not in GRAINS:
            raise bad_choice(caller, "reduce", reduce, [*GRAINS, None])
        if schema is not None and not isinstance(schema, EventSchema):
            raise BadParameterError(
                f"{caller}: reduce= applies to event tables only. Fix: drop reduce=."
            )
    if reduce is not None and schema is None:
        schema = EventSchema()
    uri = _resolve_env(str(uri), caller)
    backend = _open(uri, caller)
    try:
        if table is not None:
            ref = table_reference(table, backend.dialect)
        else:
            ref = f"({query.strip().rstrip(';').strip()}) AS wb_source"
        cols = backend.describe(ref, table=table)
        names = [c for c, _ in cols]
        if schema is not None:
            rename_to_canonical(pl.LazyFrame(schema={n: pl.Null for n in names}), schema, caller)
        if reduce is None:
            sql = f"SELECT * FROM {ref}"
        else:
            ts_col = schema.source_name(TS)
            kind = dict(cols)[ts_col]
            if kind not in TS_TYPES:
                raise BadDataError(
                    f"{caller}: events column {ts_col!r} has database type {kind!r}, and the "
                    f"reduction in the database needs a timestamp or date. Fix: cast it in "
                    f"query= (e.g. SELECT ..., CAST({ts_col} AS timestamptz) AS {ts_col} ...), or "
                    f"pass reduce=None to read raw rows and parse them locally."
                )
            sql = _activity_sql(
                table if table is not None else query,
                schema=schema,
                grain=reduce,
                dialect=backend.dialect.name,
                ts_type=kind,
                tz=None if kind == "timestamptz" else tz,
                columns=names,
                caller=caller,
                source_names=True,
                ref=ref,
            )
        frame = backend.fetch(sql)
    finally:
        backend.close()
    return frame.lazy()


def _open(uri: str, caller: str):
    scheme = uri.split("://", 1)[0].lower()
    kind = _SCHEMES.get(scheme)
    if kind is None:
        raise DataSourceError(
            f"{caller}: cannot read {redact_uri(uri)}: the scheme {scheme!r} is not supported. "
            f"Supported: postgresql://, duckdb:///. Fix: for other warehouses run "
            f"wb.activity_sql(..., dialect='bigquery'|'snowflake'|'clickhouse'|'spark') there and "
            f"load the exported result."
        )
    return _Postgres(uri, caller) if kind == "postgres" else _DuckDB(uri, caller)


def _missing_table(caller, table, where, available) -> DataSourceError:
    hint = closest(table.split(".")[-1].strip('"`'), [a.split(".")[-1] for a in available])
    did = f" Did you mean {hint!r}?" if hint else ""
    shown = available[:20]
    return DataSourceError(
        f"{caller}: table {table!r} does not exist in {where}.{did} Available tables: {shown}"
        f"{' ...' if len(available) > 20 else ''}. Fix: check the name (schema.table)."
    )


class _Postgres:
    dialect = DIALECTS["postgres"]

    def __init__(self, uri: str, caller: str):
        try:
            import psycopg
        except ImportError:
            raise DataSourceError(
                f"{caller}: reading PostgreSQL needs the psycopg driver. Fix: "
                f"pip install 'workbench[db]'."
            ) from None
        self.psycopg, self.caller, self.uri = psycopg, caller, uri
        parts = urlsplit(uri)
        self.secrets = tuple(
            s for s in (unquote(parts.password or ""), os.environ.get("PGPASSWORD", "")) if s
        )
        self.where = (
            f"database {unquote(parts.path.lstrip('/')) or '(default)'!r} at "
            f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
        )
        kwargs = {} if "connect_timeout" in uri else {"connect_timeout": 10}
        libpq_uri = uri.replace(parts.scheme + "://", "postgresql://", 1)
        try:
            self.conn = psycopg.connect(libpq_uri, autocommit=True, **kwargs)
        except psycopg.Error as exc:
            raise self._connect_error(exc, parts) from None
        self.secrets += (self.conn.info.password or "",)
        self.conn.execute("SET TIME ZONE 'UTC'")  # timestamptz values arrive as UTC

    def _connect_error(self, exc, parts) -> DataSourceError:
        msg = _scrub(str(exc), self.secrets)
        low = msg.lower()
        user = unquote(parts.username or "") or os.environ.get("PGUSER", "") or "(default)"
        if (
            "password authentication failed" in low
            or "no password supplied" in low
            or "authentication failed" in low
        ):
            return DataSourceError(
                f"{self.caller}: the server at {parts.hostname}:{parts.port or 5432} rejected "
                f"the credentials of user {user!r} (authentication failed). Fix: check the user "
                f"and password in the URI, PGPASSWORD or {ENV_VAR}."
            )
        m = re.search(r'database "([^"]+)" does not exist', msg)
        if m:
            return DataSourceError(
                f"{self.caller}: database {m.group(1)!r} does not exist on the server at "
                f"{parts.hostname}:{parts.port or 5432}. Fix: check the database name in the URI."
            )
        reason = next(
            (
                r
                for r in (
                    "Connection refused",
                    "timeout expired",
                    "could not translate host name",
                    "No route to host",
                    "Network is unreachable",
                    "No such file or directory",
                )
                if r.lower() in low
            ),
            msg.strip().splitlines()[-1][:200],
        )
        return DataSourceError(
            f"{self.caller}: cannot reach the PostgreSQL server at "
            f"{parts.hostname or 'localhost'}:{parts.port or 5432} ({reason}). Fix: check the "
            f"host and port in {redact_uri(self.uri)}, that the server is running and that it "
            f"accepts connections from this machine."
        )

    def describe(self, ref: str, *, table: str | None) -> list[tuple[str, str]]:
        from psycopg.postgres import types

        errors = self.psycopg.errors
        try:
            with self.conn.cursor() as cur:
                cur.execute(f"SELECT * FROM {ref} LIMIT 0")
                desc = cur.description or []
        except errors.UndefinedTable as exc:
            if table is not None:
                rows = self.conn.execute(
                    "SELECT table_schema || '.' || table_name FROM information_schema.tables "
                    "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
                ).fetchall()
                raise _missing_table(
                    self.caller, table, self.where, [r[0].removeprefix("public.") for r in rows]
                ) from None
            raise self._query_error(exc) from None
        except self.psycopg.Error as exc:
            raise self._query_error(exc) from None
        out = []
        for col in desc:
            info = types.get(col.type_code)
            name = info.name if info else "other"
            out.append(
                (
                    col.name,
                    {"timestamptz": "timestamptz", "timestamp": "timestamp", "date": "date"}.get(
                        name, name
                    ),
                )
            )
        return out

    def _query_error(self, exc) -> DataSourceError:
        first = _scrub(str(exc), self.secrets).strip().splitlines()[0][:300]
        return DataSourceError(
            f"{self.caller}: the query failed in {self.where}: {first}. Fix: correct the table "
            f"name or query (try it in psql first)."
        )

    def fetch(self, sql: str) -> pl.DataFrame:
        try:
            import connectorx as cx
        except ImportError:
            cx = None
        host = self.conn.info.host or ""
        if cx is not None and not host.startswith("/"):
            try:
                return cx.read_sql(self._cx_uri(), sql, return_type="polars")
            except Exception:  # a type connectorx cannot convert: psycopg reads everything
                pass
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql)
                rows = cur.fetchall()
                names = [c.name for c in cur.description]
        except self.psycopg.Error as exc:
            raise self._query_error(exc) from None
        return pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None)

    def _cx_uri(self) -> str:
        """The connection's resolved parameters (URI, environment, .pgpass) as one URI."""
        info = self.conn.info
        parts = urlsplit(self.uri)
        auth = quote(info.user, safe="")
        if info.password:
            auth += ":" + quote(info.password, safe="")
        netloc = f"{auth}@{info.host}:{info.port}"
        return urlunsplit(("postgresql", netloc, "/" + quote(info.dbname), parts.query, ""))

    def close(self) -> None:
        self.conn.close()


class _DuckDB:
    dialect = DIALECTS["duckdb"]

    def __init__(self, uri: str, caller: str):
        import duckdb

        self.duckdb, self.caller = duckdb, caller
        rest = uri.split("://", 1)[1].split("?", 1)[0]
        # SQLAlchemy style: duckdb:///relative.duckdb, duckdb:////absolute.duckdb; a path that
        # only exists as absolute (duckdb:///tmp/x.duckdb) is accepted too.
        rel = rest[1:] if rest.startswith("/") else rest
        path = Path(rel) if Path(rel).exists() or not Path("/" + rel).exists() else Path("/" + rel)
        if not rel or rel == ":memory:":
            raise DataSourceError(
                f"{caller}: {uri!r} names no DuckDB file. Fix: duckdb:///path/to/file.duckdb."
            )
        if not path.exists():
            raise DataSourceError(
                f"{caller}: the DuckDB file {str(path)!r} does not exist (working directory "
                f"{Path.cwd()}). Fix: duckdb:///relative/path.duckdb or "
                f"duckdb:////absolute/path.duckdb."
            )
        self.where = f"DuckDB file {str(path)!r}"
        try:
            self.conn = duckdb.connect(str(path), read_only=True)
            self.conn.execute("SET TimeZone = 'UTC'")
        except duckdb.Error as exc:
            raise DataSourceError(
                f"{caller}: cannot open {self.where}: {str(exc).splitlines()[0][:200]}. Fix: "
                f"check that it is a DuckDB database and not locked by a writer."
            ) from None

    def describe(self, ref: str, *, table: str | None) -> list[tuple[str, str]]:
        try:
            rel = self.conn.sql(f"SELECT * FROM {ref} LIMIT 0")
            cols = list(zip(rel.columns, [str(t) for t in rel.types], strict=True))
        except self.duckdb.CatalogException as exc:
            if table is not None and "Table" in str(exc):
                rows = self.conn.execute(
                    "SELECT CASE WHEN table_schema = 'main' THEN table_name ELSE "
                    "table_schema || '.' || table_name END FROM information_schema.tables "
                    "ORDER BY 1"
                ).fetchall()
                raise _missing_table(self.caller, table, self.where, [r[0] for r in rows]) from None
            raise self._query_error(exc) from None
        except self.duckdb.Error as exc:
            raise self._query_error(exc) from None
        kinds = {"TIMESTAMP WITH TIME ZONE": "timestamptz", "DATE": "date"}
        return [
            (n, kinds.get(t, "timestamp" if t.startswith("TIMESTAMP") else t.lower()))
            for n, t in cols
        ]

    def _query_error(self, exc) -> DataSourceError:
        first = str(exc).strip().splitlines()[0][:300]
        return DataSourceError(
            f"{self.caller}: the query failed in {self.where}: {first}. Fix: correct the table "
            f"name or query."
        )

    def fetch(self, sql: str) -> pl.DataFrame:
        try:
            return self.conn.sql(sql).pl()
        except self.duckdb.Error as exc:
            raise self._query_error(exc) from None

    def close(self) -> None:
        self.conn.close()


__all__ = [
    "ACTIVITY_DEFINITION",
    "activity_sql",
    "activity_table",
    "read_database",
    "redact_uri",
    "reduce_events",
]
