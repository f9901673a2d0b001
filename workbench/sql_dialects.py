"""SQL dialect templates: every difference between warehouses lives in this one table.

The activity reduction (events -> one row per customer x event x category x period) is the same
query everywhere; only these pieces differ between engines:

* identifier quoting (``"x"`` in PostgreSQL, DuckDB, Snowflake and ClickHouse; backticks in
  BigQuery and Spark SQL);
* turning the timestamp column into a common intermediate, depending on its type
  (``timestamptz`` = an instant; ``timestamp`` = a naive wall-clock time, taken in `tz`, UTC by
  default; ``date``);
* truncating that intermediate to the start of a UTC day, ISO week (Monday) or month;
* turning the result back into an instant (the output column ``ts``);
* casting amounts to a double and counts to a 64-bit integer.

Per dialect:

* **postgres** -- ``ts AT TIME ZONE 'UTC'`` turns a timestamptz into the naive UTC wall clock,
  ``date_trunc`` truncates it (weeks start on Monday) and ``AT TIME ZONE 'UTC'`` turns it back
  into a timestamptz, so the session's TimeZone setting never matters.
* **duckdb** -- the same with ``timezone('UTC', x)`` (the built-in ICU extension).
* **bigquery** -- TIMESTAMP is already an instant: ``TIMESTAMP_TRUNC(ts, DAY|ISOWEEK|MONTH,
  'UTC')``; DATETIME and DATE columns become instants with ``TIMESTAMP(x, tz)``. ``ISOWEEK``
  (Monday), not ``WEEK`` (Sunday). Table names with a project go in one backtick pair or as
  ``project.dataset.table``.
* **snowflake** -- ``CONVERT_TIMEZONE('UTC', ts)::TIMESTAMP_NTZ`` for TIMESTAMP_TZ/LTZ, the
  three-argument ``CONVERT_TIMEZONE(tz, 'UTC', ts)`` for TIMESTAMP_NTZ; ``DATE_TRUNC`` (weeks
  start on Monday with the default ``WEEK_START = 0``). The output ``ts`` is a TIMESTAMP_NTZ
  holding UTC (the workbench reads naive times as UTC). Input column names that are plain
  identifiers are left unquoted so that Snowflake's upper-case folding applies; the output
  aliases are quoted so the result comes back in lower case.
* **clickhouse** -- DateTime/DateTime64 values are instants: ``toStartOfDay(ts, 'UTC')``,
  ``toMonday``/``toStartOfMonth`` (which return a Date, wrapped back into ``toDateTime(.., 'UTC')``);
  ``ts_type="timestamp"`` with a `tz` re-reads the UTC wall clock in that zone. Counts are
  ``toInt64(count())``; ``sum`` of an all-NULL group returns NULL only for Nullable columns.
* **spark** -- TIMESTAMP is an instant rendered in the session zone, so the wall clock is
  shifted to UTC with ``to_utc_timestamp(ts, current_timezone())``, truncated with
  ``date_trunc`` (``WEEK`` = Monday) and shifted back with ``from_utc_timestamp`` (Spark 3.1+).
  TIMESTAMP_NTZ/DATE columns are read in `tz` via ``to_utc_timestamp(CAST(x AS TIMESTAMP), tz)``.

PostgreSQL and DuckDB are executed by the test suite; the other four are produced as text and
checked for their dialect-specific pieces, not run against a live warehouse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GRAINS = ("day", "week", "month")
TS_TYPES = ("timestamptz", "timestamp", "date")

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")


@dataclass(frozen=True)
class Dialect:
    """Templates of one SQL engine. `{x}` is the expression, `{tz}` a time-zone name.

    `aware`, `naive` and `date` turn the source column (by its type) into the intermediate that
    `trunc` truncates; `out` turns the truncated intermediate into the output column.
    """

    name: str
    quote: str
    aware: str
    naive: str
    date: str
    trunc: dict[str, str]
    out: str
    to_float: str
    count: str
    sum_int: str
    quote_plain_inputs: bool = True

    def ident(self, name: str) -> str:
        """Quote an identifier (output aliases are always quoted)."""
        close = self.quote
        return f"{self.quote}{name.replace(close, close + close)}{close}"

    def column(self, name: str) -> str:
        """Reference a source column; plain names stay bare where the engine folds case."""
        if not self.quote_plain_inputs and _PLAIN.match(name):
            return name
        return self.ident(name)

    def period(self, column: str, *, ts_type: str, grain: str, tz: str) -> str:
        """Per-row expression: the truncated intermediate (group on this, then apply `output`)."""
        template = {"timestamptz": self.aware, "timestamp": self.naive, "date": self.date}[ts_type]
        return self.trunc[grain].format(x=template.format(x=column, tz=_literal(tz)))

    def output(self, grouped: str) -> str:
        """The period start as the engine's instant type, applied once per group."""
        return self.out.format(x=grouped)


def _literal(text: str) -> str:
    return text.replace("'", "''")


DIALECTS: dict[str, Dialect] = {
    "postgres": Dialect(
        name="postgres",
        quote='"',
        aware="({x} AT TIME ZONE 'UTC')",
        naive="(({x} AT TIME ZONE '{tz}') AT TIME ZONE 'UTC')",
        date="((CAST({x} AS timestamp) AT TIME ZONE '{tz}') AT TIME ZONE 'UTC')",
        trunc={g: f"date_trunc('{g}', {{x}})" for g in GRAINS},
        out="({x} AT TIME ZONE 'UTC')",
        to_float="CAST({x} AS double precision)",
        count="COUNT(*)",
        sum_int="CAST(SUM({x}) AS bigint)",
    ),
    "duckdb": Dialect(
        name="duckdb",
        quote='"',
        aware="timezone('UTC', {x})",
        naive="timezone('UTC', timezone('{tz}', CAST({x} AS TIMESTAMP)))",
        date="timezone('UTC', timezone('{tz}', CAST({x} AS TIMESTAMP)))",
        trunc={g: f"date_trunc('{g}', {{x}})" for g in GRAINS},
        out="timezone('UTC', {x})",
        to_float="CAST({x} AS DOUBLE)",
        count="COUNT(*)",
        sum_int="CAST(SUM({x}) AS BIGINT)",
    ),
    "bigquery": Dialect(
        name="bigquery",
        quote="`",
        aware="{x}",
        naive="TIMESTAMP({x}, '{tz}')",
        date="TIMESTAMP({x}, '{tz}')",
        trunc={
            "day": "TIMESTAMP_TRUNC({x}, DAY, 'UTC')",
            "week": "TIMESTAMP_TRUNC({x}, ISOWEEK, 'UTC')",
            "month": "TIMESTAMP_TRUNC({x}, MONTH, 'UTC')",
        },
        out="{x}",
        to_float="CAST({x} AS FLOAT64)",
        count="COUNT(*)",
        sum_int="CAST(SUM({x}) AS INT64)",
    ),
    "snowflake": Dialect(
        name="snowflake",
        quote='"',
        aware="CAST(CONVERT_TIMEZONE('UTC', {x}) AS TIMESTAMP_NTZ)",
        naive="CONVERT_TIMEZONE('{tz}', 'UTC', CAST({x} AS TIMESTAMP_NTZ))",
        date="CONVERT_TIMEZONE('{tz}', 'UTC', CAST({x} AS TIMESTAMP_NTZ))",
        trunc={
            "day": "DATE_TRUNC('DAY', {x})",
            "week": "DATE_TRUNC('WEEK', {x})",
            "month": "DATE_TRUNC('MONTH', {x})",
        },
        out="{x}",
        to_float="CAST({x} AS DOUBLE)",
        count="CAST(COUNT(*) AS BIGINT)",
        sum_int="CAST(SUM({x}) AS BIGINT)",
        quote_plain_inputs=False,
    ),
    "clickhouse": Dialect(
        name="clickhouse",
        quote='"',
        aware="{x}",
        naive="toDateTime64(toString({x}, 'UTC'), 6, '{tz}')",
        date="toDateTime64(toString({x}), 6, '{tz}')",
        trunc={
            "day": "toStartOfDay({x}, 'UTC')",
            "week": "toDateTime(toMonday({x}, 'UTC'), 'UTC')",
            "month": "toDateTime(toStartOfMonth({x}, 'UTC'), 'UTC')",
        },
        out="{x}",
        to_float="toFloat64({x})",
        count="toInt64(count())",
        sum_int="toInt64(sum({x}))",
    ),
    "spark": Dialect(
        name="spark",
        quote="`",
        aware="to_utc_timestamp({x}, current_timezone())",
        naive="to_utc_timestamp(CAST({x} AS TIMESTAMP), '{tz}')",
        date="to_utc_timestamp(CAST({x} AS TIMESTAMP), '{tz}')",
        trunc={
            "day": "date_trunc('DAY', {x})",
            "week": "date_trunc('WEEK', {x})",
            "month": "date_trunc('MONTH', {x})",
        },
        out="from_utc_timestamp({x}, current_timezone())",
        to_float="CAST({x} AS DOUBLE)",
        count="CAST(COUNT(*) AS BIGINT)",
        sum_int="CAST(SUM({x}) AS BIGINT)",
    ),
}


def table_reference(source: str, dialect: Dialect) -> str:
    """FROM-clause text for a table name, a table function or a query.

    A query (starting with SELECT/WITH/VALUES or a parenthesis) becomes a derived table. A
    dotted name is split into parts; parts that are plain identifiers or already quoted stay as
    they are (so the engine's own case rules apply, as when typing SQL by hand), others are
    quoted. Text with a call such as ``read_parquet('x.parquet')`` is used verbatim.
    """
    text = source.strip().rstrip(";").strip()
    if is_query(text):
        return f"({text}) AS wb_source"
    if "(" in text:
        return text
    return ".".join(
        p
        if _PLAIN.match(p) or (len(p) > 1 and p[0] == p[-1] and p[0] in '"`')
        else dialect.ident(p)
        for p in _split_dotted(text)
    )


def is_query(text: str) -> bool:
    return bool(re.match(r"^\s*(\(|select\b|with\b|values\b|from\b)", text, flags=re.I))


def _split_dotted(name: str) -> list[str]:
    parts, cur, quote = [], "", None
    for ch in name:
        if quote:
            cur += ch
            if ch == quote:
                quote = None
        elif ch in '"`':
            quote = ch
            cur += ch
        elif ch == ".":
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts
