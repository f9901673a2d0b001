"""Column roles: canonical names, user mappings (`EventSchema` and friends) and light coercion.

Every table the workbench reads is renamed onto canonical column names at the boundary. Inside
the package, logic refers to the constants below (``CUSTOMER_ID``, ``TS``, ...), never to a
user's column names.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

import polars as pl

from .errors import BadDataError, MissingColumnError, WorkbenchError, closest

# Canonical event columns.
CUSTOMER_ID = "customer_id"
TS = "ts"
EVENT = "event"
AMOUNT = "amount"
CATEGORY = "category"
DEFAULT_EVENT = "purchase"
# Optional weight column of pre-aggregated events (one row standing for n_events occurrences).
N_EVENTS = "n_events"

# Canonical side-table columns.
SIGNUP_TS = "signup_ts"
PERIOD_START = "period_start"
PERIOD_END = "period_end"
PLAN = "plan"
CAMPAIGN_ID = "campaign_id"
SENT_TS = "sent_ts"
GROUP = "group"
OFFER = "offer"
CHANNEL = "channel"
COUNTRY = "country"
REASON = "reason"
TREATMENT = "treatment"
CONTROL = "control"

Kind = Literal["id", "datetime", "float", "string"]


@dataclass(frozen=True)
class Role:
    """One canonical column: its name, kind and whether a table must have it."""

    name: str
    kind: Kind
    required: bool
    label: str


class _RoleSchema:
    """Shared behaviour of the frozen schema dataclasses below."""

    TABLE = "table"
    ROLES: tuple[Role, ...] = ()

    def mapping(self) -> dict[str, str]:
        """{user column: canonical column} for every role whose names differ."""
        out = {}
        for f in fields(self):  # type: ignore[arg-type]
            src = getattr(self, f.name)
            if src is not None and src != f.name:
                out[src] = f.name
        return out

    def source_name(self, role: str) -> str:
        return getattr(self, role) or role

    @classmethod
    def role(cls, name: str) -> Role:
        return next(r for r in cls.ROLES if r.name == name)


@dataclass(frozen=True)
class EventSchema(_RoleSchema):
    """Maps a user's event-log column names onto the canonical roles.

    >>> EventSchema(customer_id="user", ts="timestamp", amount="revenue")

    Roles: ``customer_id`` (string or integer), ``ts`` (timestamp, stored as UTC), ``event``
    (optional; "purchase" when absent), ``amount`` (optional, Float64), ``category`` (optional).
    Any other column is kept as it is, as an attribute.
    """

    customer_id: str = CUSTOMER_ID
    ts: str = TS
    event: str = EVENT
    amount: str = AMOUNT
    category: str = CATEGORY

    TABLE = "events"
    ROLES = (
        Role(CUSTOMER_ID, "id", True, "customer identifier"),
        Role(TS, "datetime", True, "timestamp"),
        Role(EVENT, "string", False, "event name"),
        Role(AMOUNT, "float", False, "amount"),
        Role(CATEGORY, "string", False, "category"),
    )


@dataclass(frozen=True)
class CustomerSchema(_RoleSchema):
    """Customers side table: one row per customer with attributes (channel, country, plan...)."""

    customer_id: str = CUSTOMER_ID
    signup_ts: str = SIGNUP_TS

    TABLE = "customers"
    ROLES = (
        Role(CUSTOMER_ID, "id", True, "customer identifier"),
        Role(SIGNUP_TS, "datetime", False, "signup timestamp"),
    )


@dataclass(frozen=True)
class SubscriptionSchema(_RoleSchema):
    """Subscriptions side table: one row per paid period."""

    customer_id: str = CUSTOMER_ID
    period_start: str = PERIOD_START
    period_end: str = PERIOD_END
    amount: str = AMOUNT
    plan: str = PLAN

    TABLE = "subscriptions"
    ROLES = (
        Role(CUSTOMER_ID, "id", True, "customer identifier"),
        Role(PERIOD_START, "datetime", True, "paid period start"),
        Role(PERIOD_END, "datetime", True, "paid period end"),
        Role(AMOUNT, "float", False, "amount"),
        Role(PLAN, "string", False, "plan"),
    )


@dataclass(frozen=True)
class CampaignSchema(_RoleSchema):
    """Campaign sends: who got which campaign when, in which group."""

    customer_id: str = CUSTOMER_ID
    campaign_id: str = CAMPAIGN_ID
    sent_ts: str = SENT_TS
    group: str = GROUP
    offer: str = OFFER
    channel: str = CHANNEL

    TABLE = "campaigns"
    ROLES = (
        Role(CUSTOMER_ID, "id", True, "customer identifier"),
        Role(CAMPAIGN_ID, "string", True, "campaign identifier"),
        Role(SENT_TS, "datetime", True, "send timestamp"),
        Role(GROUP, "string", True, "group ('treatment' or 'control')"),
        Role(OFFER, "string", False, "offer"),
        Role(CHANNEL, "string", False, "channel"),
    )


@dataclass(frozen=True)
class FeedbackSchema(_RoleSchema):
    """Churn-reason survey answers and other feedback."""

    customer_id: str = CUSTOMER_ID
    ts: str = TS
    reason: str = REASON

    TABLE = "feedback"
    ROLES = (
        Role(CUSTOMER_ID, "id", True, "customer identifier"),
        Role(TS, "datetime", True, "timestamp"),
        Role(REASON, "string", True, "reason"),
    )


_SYNONYMS = {
    CUSTOMER_ID: ("user_id", "user", "customer", "client_id", "account_id", "member_id", "id"),
    TS: (
        "timestamp",
        "time",
        "datetime",
        "date",
        "event_time",
        "created_at",
        "occurred_at",
        "when",
    ),
    EVENT: ("event_name", "event_type", "action", "type", "name"),
    AMOUNT: ("revenue", "value", "price", "total", "sales", "spend", "amount_usd"),
    CATEGORY: ("product_category", "cat", "segment"),
    SIGNUP_TS: ("signup", "created_at", "signup_date", "registered_at"),
    PERIOD_START: ("start", "start_date", "starts_at"),
    PERIOD_END: ("end", "end_date", "ends_at"),
    SENT_TS: ("sent_at", "sent", "send_ts", "ts", "timestamp"),
    GROUP: ("variant", "arm", "treatment_group"),
}


def suggest_column(role: str, src: str, names: list[str]) -> str | None:
    """The user's column most likely meant for `role`: fuzzy name match, then known synonyms."""
    hint = closest(src, names)
    if hint:
        return hint
    lowered = {n.lower(): n for n in names}
    for synonym in _SYNONYMS.get(role, ()):
        if synonym in lowered:
            return lowered[synonym]
    return None


def _to_lazy(frame, caller: str, table: str) -> pl.LazyFrame:
    if isinstance(frame, pl.LazyFrame):
        return frame
    if isinstance(frame, pl.DataFrame):
        return frame.lazy()
    try:
        import pandas as pd

        if isinstance(frame, pd.DataFrame):
            return pl.from_pandas(frame).lazy()
    except ImportError:  # pragma: no cover
        pass
    raise WorkbenchError(
        f"{caller}: {table} must be a polars DataFrame/LazyFrame or a pandas DataFrame, "
        f"got {type(frame).__name__}. Fix: load it with wb.load_events(path) first."
    )


def rename_to_canonical(lf: pl.LazyFrame, schema: _RoleSchema, caller: str) -> pl.LazyFrame:
    """Check that every required role exists and rename the user's columns to canonical ones."""
    names = lf.collect_schema().names()
    cls = type(schema)
    for role in cls.ROLES:
        src = schema.source_name(role.name)
        if src in names:
            continue
        if role.required:
            hint = suggest_column(role.name, src, names)
            did = f" Did you mean {hint!r}?" if hint else ""
            fix = (
                f"pass schema={cls.__name__}({role.name}={hint!r})"
                if hint
                else f"add the column or map it with schema={cls.__name__}({role.name}='your_column')"
            )
            raise MissingColumnError(
                f"{caller}: {cls.TABLE} has no column {src!r} ({role.label}). "
                f"Available: {names}.{did} Fix: {fix}."
            )
        if src != role.name:
            raise MissingColumnError(
                f"{caller}: {cls.TABLE} has no column {src!r} mapped to {role.name!r}. "
                f"Available: {names}. Fix: correct the schema mapping."
            )
    mapping = {src: dst for src, dst in schema.mapping().items() if src in names}
    clashes = [dst for src, dst in mapping.items() if dst in names and dst not in mapping]
    if clashes:
        raise WorkbenchError(
            f"{caller}: {cls.TABLE} already has a column {clashes[0]!r}, and the schema maps "
            f"another column onto that name. Fix: rename or drop the existing {clashes[0]!r} first."
        )
    return lf.rename(mapping) if mapping else lf


def _dtype_error(caller, table, col, dtype, want, fix) -> BadDataError:
    return BadDataError(
        f"{caller}: {table} column {col!r} has dtype {dtype}, expected {want}. Fix: {fix}."
    )


def coerce_types(
    lf: pl.LazyFrame,
    schema: _RoleSchema,
    caller: str,
    *,
    tz: str | None = None,
    ts_format: str | None = None,
) -> pl.LazyFrame:
    """Cast canonical columns to their canonical dtypes, lazily (no data is read).

    Identifiers become String or Int64; timestamps become Datetime("us", "UTC") (naive ones are
    taken as `tz`, UTC by default; strings are parsed as ISO 8601 or `ts_format`); amounts
    become Float64; text roles become String. Unparseable values become null here and are
    reported by the caller's validation pass.
    """
    cls = type(schema)
    current = lf.collect_schema()
    exprs = []
    for role in cls.ROLES:
        col = role.name
        if col not in current:
            continue
        dtype = current[col]
        c = pl.col(col)
        if role.kind == "id":
            if dtype.is_integer():
                exprs.append(c.cast(pl.Int64))
            elif dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
                exprs.append(c.cast(pl.String))
            else:
                raise _dtype_error(
                    caller,
                    cls.TABLE,
                    col,
                    dtype,
                    "string or integer",
                    "cast the identifier column to string or integer before loading",
                )
        elif role.kind == "datetime":
            exprs.append(_datetime_expr(c, dtype, caller, cls.TABLE, col, tz, ts_format))
        elif role.kind == "float":
            if dtype.is_numeric():
                exprs.append(c.cast(pl.Float64))
            elif dtype == pl.String:
                exprs.append(c.str.strip_chars().cast(pl.Float64, strict=False))
            else:
                raise _dtype_error(
                    caller,
                    cls.TABLE,
                    col,
                    dtype,
                    "a number",
                    "cast the column to a numeric type",
                )
        else:
            if dtype != pl.String:
                exprs.append(c.cast(pl.String))
    if isinstance(schema, EventSchema) and EVENT not in current:
        exprs.append(pl.lit(DEFAULT_EVENT, dtype=pl.String).alias(EVENT))
    return lf.with_columns(exprs) if exprs else lf


def _datetime_expr(c, dtype, caller, table, col, tz, ts_format) -> pl.Expr:
    if dtype == pl.String:
        if ts_format:
            parsed = c.str.strptime(pl.Datetime("us"), ts_format, strict=False)
        else:
            parsed = c.str.to_datetime(time_unit="us", strict=False, time_zone="UTC")
            return parsed if not tz else _naive_iso(c, tz)
        return parsed.dt.replace_time_zone(tz or "UTC").dt.convert_time_zone("UTC")
    if dtype == pl.Date:
        return (
            c.cast(pl.Datetime("us")).dt.replace_time_zone(tz or "UTC").dt.convert_time_zone("UTC")
        )
    if isinstance(dtype, pl.Datetime):
        c = c.dt.cast_time_unit("us")
        if dtype.time_zone is None:
            return c.dt.replace_time_zone(tz or "UTC").dt.convert_time_zone("UTC")
        return c.dt.convert_time_zone("UTC")
    raise _dtype_error(
        caller,
        table,
        col,
        dtype,
        "a timestamp (Datetime, Date or ISO 8601 string)",
        "pass timestamps as datetimes or strings; give ts_format= for non-ISO strings",
    )


def _naive_iso(c: pl.Expr, tz: str) -> pl.Expr:
    # Strings without an offset are local times in `tz`; strings with one keep it.
    has_offset = c.str.contains(r"(Z|[+-]\d\d:?\d\d)$")
    aware = (
        pl.when(has_offset).then(c).str.to_datetime(time_unit="us", strict=False, time_zone="UTC")
    )
    naive = (
        pl.when(~has_offset)
        .then(c)
        .str.to_datetime(time_unit="us", strict=False)
        .dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
    )
    return pl.when(has_offset).then(aware).otherwise(naive)


def canonical(
    frame,
    *,
    schema: _RoleSchema | None = None,
    caller: str,
    require: tuple[str, ...] = (),
    default: type[_RoleSchema] = EventSchema,
) -> pl.LazyFrame:
    """Light path used by every analysis: frame -> canonical LazyFrame, schema-level checks only.

    Full data validation (nulls, unparseable values, duplicates, future dates) is done by the
    loaders (`wb.load_events` and friends); eager inputs also get a null check on key columns
    here, which costs nothing in polars.
    """
    schema = schema if schema is not None else default()
    lf = _to_lazy(frame, caller, type(schema).TABLE)
    lf = rename_to_canonical(lf, schema, caller)
    lf = coerce_types(lf, schema, caller)
    names = lf.collect_schema().names()
    for col in require:
        if col not in names:
            hint = suggest_column(col, schema.source_name(col), names)
            did = f" Did you mean {hint!r}?" if hint else ""
            raise MissingColumnError(
                f"{caller}: {type(schema).TABLE} has no column {schema.source_name(col)!r} "
                f"({col}), which this analysis needs. Available: {names}.{did} Fix: add it or "
                f"pass schema={type(schema).__name__}({col}='your_column')."
            )
    if isinstance(frame, pl.DataFrame):
        for role in type(schema).ROLES:
            src = schema.source_name(role.name)
            if role.required and src in frame.columns and frame[src].null_count():
                raise BadDataError(
                    f"{caller}: {type(schema).TABLE} column {src!r} has "
                    f"{frame[src].null_count()} null values. Fix: drop or fill them, or load "
                    f"with wb.load_events(..., on_invalid='drop')."
                )
    return lf
