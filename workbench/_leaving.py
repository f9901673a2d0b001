"""Small shared pieces of the leaving-customers modules: dates, durations, weights, usual category."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import polars as pl

from .errors import BadParameterError
from .schema import AMOUNT, CATEGORY, CUSTOMER_ID, EVENT, N_EVENTS, TS

PURCHASE = "purchase"
DAY_US = 86_400_000_000  # microseconds per day

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(d|w|day|days|week|weeks)\s*$", re.IGNORECASE)


def parse_duration(value, caller: str, param: str) -> timedelta:
    """'90d', '12w', a number of days or a timedelta -> a positive timedelta."""
    if isinstance(value, timedelta):
        out = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        out = timedelta(days=float(value))
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        n = float(m.group(1))
        out = timedelta(days=n * (7 if m.group(2).lower().startswith("w") else 1))
    else:
        raise BadParameterError(
            f"{caller}: {param}={value!r} is not a duration. Use a string with a unit such as "
            f"'90d' or '12w', a number of days, or a datetime.timedelta."
        )
    if out <= timedelta(0):
        raise BadParameterError(f"{caller}: {param}={value!r} must be a positive duration.")
    return out


def days(td: timedelta) -> float:
    return td.total_seconds() / 86_400


def to_utc(value, caller: str, param: str) -> datetime:
    """A datetime, date or ISO string -> an aware UTC datetime (naive values are taken as UTC)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise BadParameterError(
                f"{caller}: {param}={value!r} is not an ISO date or datetime. "
                f"Fix: pass e.g. '2025-06-30' or a datetime."
            ) from None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise BadParameterError(
        f"{caller}: {param}={value!r} is not a date. Fix: pass a datetime, a date or an ISO string."
    )


def resolve_as_of(lf: pl.LazyFrame, as_of, caller: str) -> datetime:
    """The analysis date: `as_of` if given, else the last timestamp in the events.

    A bare date (a ``date`` or a 'YYYY-MM-DD' string) means the end of that UTC day, so the
    purchases made on it count (as in the churn table and the cohort analyses).
    """
    if as_of is not None:
        at = to_utc(as_of, caller, "as_of")
        bare = (isinstance(as_of, date) and not isinstance(as_of, datetime)) or (
            isinstance(as_of, str) and re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", as_of)
        )
        return at + timedelta(days=1, microseconds=-1) if bare else at
    last = lf.select(pl.col(TS).max()).collect().item()
    if last is None:
        raise BadParameterError(
            f"{caller}: the events table is empty, so there is no analysis date. "
            f"Fix: pass non-empty events (and as_of=...)."
        )
    return to_utc(last, caller, "as_of")


def weight(names) -> pl.Expr:
    """Occurrences a row stands for: n_events on pre-aggregated tables, else 1."""
    if N_EVENTS in names:
        return pl.col(N_EVENTS).cast(pl.Int64)
    return pl.col(TS).is_not_null().cast(pl.Int64)  # a column, so that .sum() counts rows


def purchases(lf: pl.LazyFrame, purchase_event: str = PURCHASE) -> pl.LazyFrame:
    return lf.filter(pl.col(EVENT) == purchase_event)


def check_choice(caller: str, param: str, value, choices) -> None:
    from .errors import bad_choice

    if value not in choices:
        raise bad_choice(caller, param, value, choices)


def check_fraction(caller: str, param: str, value, *, low=0.0, high=1.0, closed=False) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    ok = ok and (low <= value <= high if closed else low < value < high)
    if not ok:
        span = f"[{low}, {high}]" if closed else f"({low}, {high})"
        raise BadParameterError(f"{caller}: {param}={value!r} must be a number in {span}.")
    return float(value)


def usual_category(purchase_lf: pl.LazyFrame) -> pl.LazyFrame:
    """customer_id, category: the category with most purchases (ties: the most recent, then A-Z)."""
    names = purchase_lf.collect_schema().names()
    if CATEGORY not in names:
        return (
            purchase_lf.select(CUSTOMER_ID)
            .unique()
            .with_columns(pl.lit(None, dtype=pl.String).alias(CATEGORY))
        )
    return (
        purchase_lf.filter(pl.col(CATEGORY).is_not_null())
        .group_by(CUSTOMER_ID, CATEGORY)
        .agg(weight(names).sum().alias("__n"), pl.col(TS).max().alias("__last"))
        .sort([CUSTOMER_ID, "__n", "__last", CATEGORY], descending=[False, True, True, False])
        .group_by(CUSTOMER_ID, maintain_order=True)
        .first()
        .select(CUSTOMER_ID, CATEGORY)
    )


def amount_expr(names) -> pl.Expr:
    return pl.col(AMOUNT).fill_null(0.0) if AMOUNT in names else pl.lit(0.0)
