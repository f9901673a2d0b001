"""Reading files, frames and databases into the canonical, validated shape."""

from __future__ import annotations

import glob as _glob
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from .errors import (
    BadDataError,
    BadParameterError,
    DataSourceError,
    WorkbenchError,
    WorkbenchWarning,
    bad_choice,
    examples,
)
from .schema import (
    AMOUNT,
    N_EVENTS,
    CampaignSchema,
    CustomerSchema,
    EventSchema,
    FeedbackSchema,
    SubscriptionSchema,
    _RoleSchema,
    _to_lazy,
    coerce_types,
    rename_to_canonical,
)

_RAW = "__wb_raw_"


@dataclass(frozen=True)
class LoadReport:
    """What a loader saw: rows read, rows rejected and why, date range, duplicates."""

    table: str
    source: str
    rows_read: int
    rows_kept: int
    rejected: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    min_ts: datetime | None = None
    max_ts: datetime | None = None
    as_of: datetime | None = None

    def to_frame(self) -> pl.DataFrame:
        rows = [("rows read", str(self.rows_read)), ("rows kept", str(self.rows_kept))]
        rows += [(f"rejected: {k}", str(v)) for k, v in self.rejected.items()]
        rows += [
            ("exact duplicate rows", str(self.duplicates)),
            ("first timestamp", str(self.min_ts)),
            ("last timestamp", str(self.max_ts)),
        ]
        return pl.DataFrame(rows, schema=["item", "value"], orient="row")


def describe_source(source) -> str:
    """A printable name for a source that never shows credentials."""
    if isinstance(source, str | Path):
        text = str(source)
        if "://" in text:
            from .warehouse import redact_uri

            return redact_uri(text)
        return text
    return f"<{type(source).__name__}>"


def scan_source(
    source, *, caller: str, table: str, csv_options: dict | None = None
) -> pl.LazyFrame:
    """Open a path, directory, glob or frame lazily; never reads more than it must."""
    if not isinstance(source, str | Path):
        return _to_lazy(source, caller, table)
    text = str(source)
    if "://" in text:
        raise DataSourceError(
            f"{caller}: {describe_source(text)} is a database URI. Fix: use "
            f"wb.load_events(uri, table=...) or query=... for databases."
        )
    path = Path(text)
    try:
        if any(ch in text for ch in "*?["):
            if not _glob.glob(text, recursive=True):
                raise DataSourceError(
                    f"{caller}: no file matches {text!r}. Fix: check the pattern."
                )
            lf = pl.scan_parquet(text, hive_partitioning=True)
        elif path.is_dir():
            files = sorted(path.rglob("*.parquet"))
            if not files:
                raise DataSourceError(
                    f"{caller}: directory {text!r} holds no .parquet files. Fix: point at a "
                    f"Parquet dataset directory or a CSV/Parquet file."
                )
            lf = pl.scan_parquet(path, hive_partitioning=True)
        elif not path.exists():
            raise DataSourceError(
                f"{caller}: file {text!r} does not exist. Fix: check the path "
                f"(working directory is {Path.cwd()})."
            )
        elif path.suffix.lower() in (".csv", ".txt", ".tsv", ".gz"):
            opts = {"infer_schema_length": 10000, "try_parse_dates": False}
            if path.suffix.lower() == ".tsv":
                opts["separator"] = "\t"
            opts.update(csv_options or {})
            lf = pl.scan_csv(path, **opts)
        elif path.suffix.lower() in (".parquet", ".pq"):
            lf = pl.scan_parquet(path)
        else:
            raise DataSourceError(
                f"{caller}: cannot tell the format of {text!r} (suffix {path.suffix!r}). "
                f"Fix: use a .csv or .parquet file, or a directory of Parquet files."
            )
        lf.collect_schema()
    except DataSourceError:
        raise
    except Exception as exc:  # polars raises several kinds for unreadable files
        raise DataSourceError(
            f"{caller}: cannot read {text!r}: it looks corrupt or is not the format its name "
            f"says ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}). Fix: re-export the file."
        ) from None
    return lf


def _validate(
    lf: pl.LazyFrame,
    schema: _RoleSchema,
    *,
    caller: str,
    source_name: str,
    tz: str | None,
    ts_format: str | None,
    on_invalid: str,
    on_duplicates: str,
    as_of: datetime | None,
) -> tuple[pl.LazyFrame, LoadReport]:
    if on_invalid not in ("raise", "drop"):
        raise bad_choice(caller, "on_invalid", on_invalid, ["raise", "drop"])
    if on_duplicates not in ("warn", "drop", "raise", "keep"):
        raise bad_choice(caller, "on_duplicates", on_duplicates, ["warn", "drop", "raise", "keep"])
    cls = type(schema)
    table = cls.TABLE
    lf = rename_to_canonical(lf, schema, caller)
    present = lf.collect_schema().names()
    roles = [r for r in cls.ROLES if r.name in present]
    raw = lf.with_columns([pl.col(r.name).alias(_RAW + r.name) for r in roles])
    coerced = coerce_types(raw, schema, caller, tz=tz, ts_format=ts_format)
    as_of_utc = _as_utc(as_of) if as_of is not None else datetime.now(UTC)

    checks: dict[str, tuple[str, str, pl.Expr]] = {}
    for r in roles:
        src = pl.col(_RAW + r.name)
        if r.required:
            checks[f"null {r.name}"] = (r.name, "null", src.is_null())
        if r.kind in ("datetime", "float"):
            checks[f"unparseable {r.name}"] = (
                r.name,
                "unparseable",
                src.is_not_null() & pl.col(r.name).is_null(),
            )
        if r.kind == "datetime":
            checks[f"{r.name} after {as_of_utc:%Y-%m-%d %H:%M}"] = (
                r.name,
                "after",
                pl.col(r.name) > pl.lit(as_of_utc),
            )
    ts_role = next((r.name for r in roles if r.kind == "datetime" and r.required), None)
    # Reduced sources (one row per customer x event x day with a weight) count in events.
    weight = pl.col(N_EVENTS) if N_EVENTS in present else None

    def _count(e: pl.Expr) -> pl.Expr:
        return e.sum() if weight is None else pl.when(e).then(weight).otherwise(0).sum()

    stats_exprs = [(pl.len() if weight is None else weight.sum()).alias("__n")]
    stats_exprs += [_count(e).alias(k) for k, (_, _, e) in checks.items()]
    if ts_role:
        stats_exprs += [pl.col(ts_role).min().alias("__min"), pl.col(ts_role).max().alias("__max")]
    try:
        stats = coerced.select(stats_exprs).collect(engine="streaming").row(0, named=True)
    except WorkbenchError:
        raise
    except Exception as exc:
        raise DataSourceError(
            f"{caller}: reading {source_name} failed ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200]}). Fix: check that the file is complete and that "
            f"each column holds one type."
        ) from None
    n = stats["__n"]
    if n == 0:
        raise BadDataError(
            f"{caller}: {table} from {source_name} is empty (0 rows). Fix: check "
            f"the source, filter or query."
        )
    bad = {k: int(stats[k]) for k in checks if stats[k]}
    if bad and on_invalid == "raise":
        key, count = next(iter(bad.items()))
        col, kind, expr = checks[key]
        shown = coerced.filter(expr).select(pl.col(_RAW + col)).head(3).collect().to_series()
        what = {
            "null": "null values",
            "unparseable": "values that cannot be parsed as "
            + ("a timestamp" if cls.role(col).kind == "datetime" else "a number"),
            "after": f"timestamps after the analysis date {as_of_utc:%Y-%m-%d %H:%M} UTC",
        }[kind]
        fix = {
            "null": "drop or fill those rows, or pass on_invalid='drop' to drop and count them",
            "unparseable": "correct the values, give ts_format= (e.g. '%d/%m/%Y %H:%M') for "
            "timestamps, or pass on_invalid='drop'",
            "after": "pass a later as_of=, correct the time zone (tz=), or pass on_invalid='drop'",
        }[kind]
        raise BadDataError(
            f"{caller}: {table} column {schema.source_name(col)!r} has {count} of {n} rows with "
            f"{what} (e.g. {examples(shown.to_list())}). Fix: {fix}."
        )
    out = coerced
    if bad:
        keep = ~pl.any_horizontal([checks[k][2] for k in bad]).fill_null(False)
        out = out.filter(keep)
        warnings.warn(
            f"{caller}: dropped {sum(bad.values())} invalid rows of {n} from {table} "
            f"({', '.join(f'{k}: {v}' for k, v in bad.items())}).",
            WorkbenchWarning,
            stacklevel=3,
        )
    out = out.drop([_RAW + r.name for r in roles])
    dupes = 0
    if on_duplicates != "keep":
        dupes = int(out.select(pl.len() - pl.struct(pl.all()).n_unique()).collect().item())
        if dupes and on_duplicates == "raise":
            raise BadDataError(
                f"{caller}: {table} has {dupes} exact duplicate rows. Fix: pass "
                f"on_duplicates='drop' to drop them, or 'keep' if repeated rows are real."
            )
        if dupes and on_duplicates == "drop":
            out = out.unique(maintain_order=True)
        elif dupes:
            warnings.warn(
                f"{caller}: {table} has {dupes} exact duplicate rows (kept). Pass "
                f"on_duplicates='drop' to drop them or 'keep' to silence this.",
                WorkbenchWarning,
                stacklevel=3,
            )
    dropped = sum(bad.values()) if bad else 0
    kept = n - dropped - (dupes if on_duplicates == "drop" else 0)
    report = LoadReport(
        table=table,
        source=source_name,
        rows_read=n,
        rows_kept=kept,
        rejected=bad,
        duplicates=dupes,
        min_ts=stats.get("__min"),
        max_ts=stats.get("__max"),
        as_of=as_of_utc,
    )
    return out, report


def _as_utc(value) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):  # a date
        value = datetime(value.year, value.month, value.day)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _load(
    source,
    schema,
    *,
    caller,
    table_name=None,
    query=None,
    tz=None,
    ts_format=None,
    on_invalid="raise",
    on_duplicates="warn",
    as_of=None,
    csv_options=None,
    reduce=None,
):
    is_db = isinstance(source, str) and "://" in source
    if reduce == "auto":  # databases reduce to days in SQL; files and frames stay raw
        reduce = "day" if is_db else None
    if reduce not in (None, "day", "week", "month"):
        raise bad_choice(caller, "reduce", reduce, ["auto", "day", "week", "month", None])
    if is_db:
        from .warehouse import read_database

        lf = read_database(
            source,
            table=table_name,
            query=query,
            caller=caller,
            schema=schema,
            reduce=reduce,
            tz=tz,
        )
    else:
        if table_name is not None or query is not None:
            raise BadParameterError(
                f"{caller}: table= and query= apply to database URIs only, and "
                f"{describe_source(source)} is not one. Fix: drop them."
            )
        lf = scan_source(source, caller=caller, table=type(schema).TABLE, csv_options=csv_options)
    out, report = _validate(
        lf,
        schema,
        caller=caller,
        source_name=describe_source(source),
        tz=tz,
        ts_format=ts_format,
        on_invalid=on_invalid,
        on_duplicates=on_duplicates,
        as_of=as_of,
    )
    if reduce is not None and not is_db:
        from .warehouse import reduce_events

        out = reduce_events(out, reduce, caller=caller)
    return out, report


def load_events(
    source,
    *,
    schema: EventSchema | None = None,
    table: str | None = None,
    query: str | None = None,
    tz: str | None = None,
    ts_format: str | None = None,
    on_invalid: str = "raise",
    on_duplicates: str = "warn",
    as_of=None,
    csv_options: dict | None = None,
    reduce: str | None = "auto",
) -> pl.LazyFrame:
    """Read an event log into the canonical, validated shape.

    `source`: a CSV or Parquet path, a directory or glob of Parquet files (scanned lazily), a
    polars DataFrame/LazyFrame, a pandas DataFrame, or a database URI with `table=` or `query=`.
    Columns are mapped through `schema`; timestamps are parsed (ISO 8601, or `ts_format`), naive
    times are taken in `tz` (UTC by default) and everything is converted to UTC. Nulls in the
    key columns, unparseable timestamps or amounts, and timestamps after `as_of` (default: now)
    raise a `WorkbenchError`; `on_invalid="drop"` drops them and warns with the counts. Exact
    duplicate rows warn (`on_duplicates="drop"|"raise"|"keep"` to change that).

    `reduce` ("day", "week", "month" or None): return the activity table, one row per customer
    x event x category x UTC period with the summed amount and an `n_events` count (see
    `workbench.warehouse`). The default "auto" reduces database sources to days inside the
    database (only the compact table travels) and leaves files and frames raw.
    """
    lf, _ = _load(
        source,
        schema or EventSchema(),
        caller="load_events",
        table_name=table,
        query=query,
        tz=tz,
        ts_format=ts_format,
        on_invalid=on_invalid,
        on_duplicates=on_duplicates,
        as_of=as_of,
        csv_options=csv_options,
        reduce=reduce,
    )
    return lf


def check_events(
    source,
    *,
    schema: EventSchema | None = None,
    table: str | None = None,
    query: str | None = None,
    tz: str | None = None,
    ts_format: str | None = None,
    as_of=None,
    csv_options: dict | None = None,
    reduce: str | None = "auto",
) -> LoadReport:
    """Data-quality report of an event source: rows read, rejected and why, duplicates, dates.

    Never raises for bad rows; it counts them (the same checks `load_events` applies). Database
    sources are reduced in the database as in `load_events` (counts are then in events, and
    exact duplicates are folded into `n_events`); pass reduce=None to check the raw rows.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WorkbenchWarning)
        _, report = _load(
            source,
            schema or EventSchema(),
            caller="check_events",
            table_name=table,
            query=query,
            tz=tz,
            ts_format=ts_format,
            on_invalid="drop",
            on_duplicates="warn",
            as_of=as_of,
            csv_options=csv_options,
            reduce=reduce,
        )
    return report


def _side_loader(schema_cls, name):
    def loader(
        source,
        *,
        schema=None,
        tz=None,
        ts_format=None,
        on_invalid="raise",
        on_duplicates="warn",
        as_of=None,
        table=None,
        query=None,
    ) -> pl.LazyFrame:
        lf, _ = _load(
            source,
            schema or schema_cls(),
            caller=name,
            table_name=table,
            query=query,
            tz=tz,
            ts_format=ts_format,
            on_invalid=on_invalid,
            on_duplicates=on_duplicates,
            as_of=as_of,
        )
        return lf

    loader.__name__ = name
    loader.__doc__ = (
        f"Read the {schema_cls.TABLE} side table (path, frame or database URI) into its canonical "
        f"shape, validated like `load_events`; map columns with `schema={schema_cls.__name__}(...)`."
    )
    return loader


load_customers = _side_loader(CustomerSchema, "load_customers")
load_subscriptions = _side_loader(SubscriptionSchema, "load_subscriptions")
load_campaigns = _side_loader(CampaignSchema, "load_campaigns")
load_feedback = _side_loader(FeedbackSchema, "load_feedback")

__all__ = [
    "AMOUNT",
    "LoadReport",
    "check_events",
    "load_campaigns",
    "load_customers",
    "load_events",
    "load_feedback",
    "load_subscriptions",
]
