"""Periods, rolling windows, durations and the analysis date, shared by the cohort analyses.

Calendar periods are UTC dates: a day starts at 00:00 UTC, a week on Monday, a month on the 1st,
a quarter on 1 January, 1 April, 1 July or 1 October. Each period has an integer index (days
since 1970-01-01, weeks since the week of 1970-01-01, year * 12 + month - 1, year * 4 +
quarter - 1), so "periods since the cohort" is a subtraction.

Rolling windows are measured from each customer's own start: window k covers
[start + k * L, start + (k + 1) * L) with L = 1 day, 7 days, 30 days (month) or 90 days
(quarter). Day 1 is therefore 24 to 48 hours after the start.

The analysis date `as_of` is inclusive at one-second resolution: data are observed up to and
including the second `as_of` (an event at 23:59:59.5 is observed by as_of 23:59:59), so a period
[a, b) has fully elapsed when b <= that second's end. A date (no time) means the end of that day.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl

from .errors import BadParameterError, bad_choice

PERIODS = ("day", "week", "month", "quarter")
WINDOWS = ("calendar", "rolling")
US_PER_DAY = 86_400_000_000
ROLLING_DAYS = {"day": 1, "week": 7, "month": 30, "quarter": 90}
_EPOCH = date(1970, 1, 1)
_SLACK = timedelta(seconds=1)

PERIOD_DEFINITION = (
    "Calendar periods are UTC calendar days, Monday-based weeks, months and quarters. Rolling "
    "windows start at each customer's own start event (the first one of the cohort): window "
    "k covers start + k*L to start + (k+1)*L with L = 1, 7, 30 or 90 days, so day 1 is 24-48 "
    "hours after the start. "
    "A period is complete once it has fully elapsed by the analysis date."
)


def check_period(caller: str, period: str, param: str = "period") -> str:
    if period not in PERIODS:
        raise bad_choice(caller, param, period, PERIODS)
    return period


def check_window(caller: str, window: str) -> str:
    if window not in WINDOWS:
        raise bad_choice(caller, "window", window, WINDOWS)
    return window


def rolling_us(period: str) -> int:
    """Length of a rolling window in microseconds."""
    return ROLLING_DAYS[period] * US_PER_DAY


# -- calendar period indexes -------------------------------------------------------------------


def index_expr(ts: pl.Expr, period: str) -> pl.Expr:
    """Integer index of the calendar period containing each timestamp (UTC, microseconds)."""
    if period in ("day", "week"):
        days = ts.dt.epoch("d").cast(pl.Int64)
        return days if period == "day" else (days + 3) // 7
    year = ts.dt.year().cast(pl.Int64)
    month = ts.dt.month().cast(pl.Int64)
    if period == "month":
        return year * 12 + month - 1
    return year * 4 + (month - 1) // 3


def start_date_expr(index: pl.Expr, period: str) -> pl.Expr:
    """Date on which the calendar period with this index starts."""
    if period == "day":
        return index.cast(pl.Int32).cast(pl.Date)
    if period == "week":
        return (index * 7 - 3).cast(pl.Int32).cast(pl.Date)
    months = index if period == "month" else index * 3
    return pl.date(months // 12, months % 12 + 1, 1)


def day_lookup(first_day: int, last_day: int, period: str) -> pl.Series:
    """Period index of every day index in first_day..last_day (a small lookup table)."""
    days = np.arange(first_day, last_day + 1, dtype="int64").astype("datetime64[D]")
    months = days.astype("datetime64[M]").astype("int64") + 1970 * 12
    return pl.Series(months if period == "month" else months // 3, dtype=pl.Int64)


def index_of(moment: datetime, period: str) -> int:
    """Index of the calendar period containing a (UTC) datetime."""
    days = (moment.date() - _EPOCH).days
    if period == "day":
        return days
    if period == "week":
        return (days + 3) // 7
    if period == "month":
        return moment.year * 12 + moment.month - 1
    return moment.year * 4 + (moment.month - 1) // 3


def start_of(index: int, period: str) -> datetime:
    """UTC start instant of the calendar period with this index."""
    if period == "day":
        d = _EPOCH + timedelta(days=index)
    elif period == "week":
        d = _EPOCH + timedelta(days=index * 7 - 3)
    else:
        months = index if period == "month" else index * 3
        d = date(months // 12, months % 12 + 1, 1)
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def last_complete_index(as_of: datetime, period: str) -> int:
    """Index of the latest calendar period that has fully elapsed by `as_of` (inclusive)."""
    return index_of(observed_until(as_of), period) - 1


# -- the analysis date --------------------------------------------------------------------------


def to_utc(value, *, caller: str, param: str = "as_of") -> datetime:
    """A datetime, date or ISO string as an aware UTC datetime; a bare date means its last instant."""
    if isinstance(value, str):
        text = value.strip()
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                value = date.fromisoformat(text)
            else:
                value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise BadParameterError(
                f"{caller}: {param}={value!r} is not an ISO 8601 date or datetime. "
                f"Fix: pass e.g. {param}='2025-12-31' or a datetime."
            ) from None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC) + timedelta(
            days=1, microseconds=-1
        )
    try:  # numpy / pandas timestamps
        import pandas as pd

        return to_utc(pd.Timestamp(value).to_pydatetime(), caller=caller, param=param)
    except (TypeError, ValueError):
        raise BadParameterError(
            f"{caller}: {param}={value!r} is not a date or datetime. "
            f"Fix: pass a datetime, a date or an ISO string like '2025-12-31'."
        ) from None


def observed_until(as_of: datetime) -> datetime:
    """Exclusive end of the observed time: the end of as_of's second (as_of is inclusive at
    one-second resolution)."""
    return as_of.replace(microsecond=0) + _SLACK


def observed(col: pl.Expr, as_of: datetime) -> pl.Expr:
    """Whether timestamps lie in the observed time: up to and including as_of's second."""
    return col < pl.lit(observed_until(as_of)).cast(pl.Datetime("us", "UTC"))


def resolve_as_of(lf: pl.LazyFrame, as_of, *, caller: str, column: str) -> datetime:
    """`as_of` as UTC, or the latest timestamp in `column` when it is None (a one-column scan)."""
    if as_of is not None:
        return to_utc(as_of, caller=caller)
    latest = lf.select(pl.col(column).max()).collect().item()
    if latest is None:
        from .errors import BadDataError

        raise BadDataError(
            f"{caller}: the table has no rows with a {column!r} value, so there is no analysis "
            f"date. Fix: pass a non-empty table, or as_of=."
        )
    return to_utc(latest, caller=caller)


# -- durations ----------------------------------------------------------------------------------

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value, *, caller: str, param: str) -> timedelta:
    """'90d', '12h', '2w', '30m', '45s' (or a timedelta) as a timedelta; must not be negative."""
    if isinstance(value, timedelta):
        out = value
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", str(value))
        if not match:
            raise BadParameterError(
                f"{caller}: {param}={value!r} is not a duration. Use a number with a unit: "
                f"'90d', '12h', '2w' (units s, m, h, d, w). Fix: pass e.g. {param}='90d'."
            )
        out = timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    if out < timedelta(0):
        raise BadParameterError(f"{caller}: {param}={value!r} must not be negative.")
    return out


def duration_us(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
