"""Per-customer purchase rhythm: how often each customer buys, and how overdue they are now.

The rhythm is measured on UTC calendar days: several purchases on one day count once, so a
table pre-aggregated to one row per customer and day gives the same answer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import polars as pl

from .errors import BadParameterError, WorkbenchError
from .schema import CUSTOMER_ID, EVENT, TS, EventSchema, canonical

CYCLES_DEFINITION = (
    "Purchase rhythm: a customer's mean gap is (last purchase day - first purchase day) / "
    "(purchase days - 1). Their typical gap shrinks the mean gap toward the population on the "
    "log scale: exp(w * log(mean gap) + (1 - w) * log(population gap)), with weight "
    "w = gaps / (gaps + prior strength), so customers with few purchases lean on the population. "
    "Overdue ratio = days since the last purchase / typical gap."
)

_DAYS = re.compile(r"^\s*(\d+)\s*(d|day|days|w|week|weeks)\s*$", re.IGNORECASE)


# -- small shared helpers (also used by churn.py) --------------------------------------------


def parse_days(value, caller: str, param: str, *, allow_zero: bool = False) -> int:
    """'90d', '12w', a whole number of days or a whole-day timedelta -> int days."""
    out = None
    if isinstance(value, timedelta):
        if value.total_seconds() % 86_400 == 0:
            out = int(value.total_seconds() // 86_400)
    elif isinstance(value, int) and not isinstance(value, bool):
        out = value
    elif isinstance(value, float) and value.is_integer():
        out = int(value)
    elif isinstance(value, str) and (m := _DAYS.match(value)):
        out = int(m.group(1)) * (7 if m.group(2).lower().startswith("w") else 1)
    if out is None:
        raise BadParameterError(
            f"{caller}: {param}={value!r} is not a whole number of days. "
            f"Fix: pass a string with a unit such as '90d' or '12w', or an integer number of days."
        )
    if out < 0 or (out == 0 and not allow_zero):
        raise BadParameterError(
            f"{caller}: {param}={value!r} must be a positive number of days. Fix: e.g. '90d'."
        )
    return out


def to_day(value, caller: str, param: str = "as_of") -> date:
    """A datetime, date or ISO string -> its UTC calendar day (naive datetimes are UTC)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise BadParameterError(
                f"{caller}: {param}={value!r} is not an ISO date or datetime. "
                f"Fix: pass e.g. '2025-12-31' or a datetime."
            ) from None
    if isinstance(value, datetime):
        return (value if value.tzinfo is None else value.astimezone(UTC)).date()
    if isinstance(value, date):
        return value
    raise BadParameterError(
        f"{caller}: {param}={value!r} is not a date. Fix: pass a datetime, a date or an ISO string."
    )


def last_day(lf: pl.LazyFrame, column: str, caller: str, table: str = "events") -> date:
    """The UTC day of the latest timestamp in `column`; error when the table is empty."""
    last = lf.select(pl.col(column).max()).collect().item()
    if last is None:
        raise WorkbenchError(
            f"{caller}: {table} is empty, so there is no analysis date. "
            f"Fix: pass a non-empty table or as_of=..."
        )
    return to_day(last, caller)


def event_filter(event, caller: str) -> pl.Expr | None:
    """Filter expression for one event name or a list of names; None keeps every event."""
    if event is None:
        return None
    if isinstance(event, str):
        return pl.col(EVENT) == event
    if isinstance(event, Sequence) and event and all(isinstance(e, str) for e in event):
        return pl.col(EVENT).is_in(list(event))
    raise BadParameterError(
        f"{caller}: event={event!r} must be an event name or a non-empty list of names. "
        f"Fix: e.g. event='purchase'."
    )


def day_expr(column: str = TS) -> pl.Expr:
    """UTC calendar day of a UTC timestamp column."""
    return pl.col(column).dt.date()


# -- purchase cycles ---------------------------------------------------------------------------


def purchase_cycles(
    events,
    *,
    event: str | Sequence[str] = "purchase",
    as_of=None,
    prior_strength: float = 3.0,
    schema: EventSchema | None = None,
) -> pl.DataFrame:
    """Each customer's purchase rhythm and how overdue their next purchase is at `as_of`.

    One row per customer with at least one purchase day on or before `as_of`:

    - ``n_purchases``: distinct UTC days with a purchase (several purchases on a day count once);
    - ``first_purchase``, ``last_purchase``: first and last purchase day (dates);
    - ``mean_gap_days``: the customer's own mean inter-purchase interval,
      (last_purchase - first_purchase) / (n_purchases - 1); null for one-day buyers;
    - ``own_weight``: w = g / (g + prior_strength) with g = n_purchases - 1 gaps (0 for one-day
      buyers);
    - ``typical_gap_days``: the mean gap shrunk toward the population on the log scale,
      exp(w * log(mean_gap) + (1 - w) * m). The population centre m is the precision-weighted
      mean of log(mean_gap) over customers with at least one gap, with the same weights w (the
      inverse-variance weights of a normal-normal model whose within-customer variance is
      prior_strength times the between-customer variance). One-day buyers get exp(m); when
      no customer has two purchase days, m and every typical gap are null;
    - ``expected_next``: last_purchase + typical_gap_days, rounded to a whole day;
    - ``days_since_last``: as_of day - last_purchase, in whole days;
    - ``overdue_ratio``: days_since_last / typical_gap_days (above 1: later than usual).

    Parameters
    ----------
    event : purchase event name(s) whose days make the rhythm.
    as_of : analysis day (datetime, date or ISO string; its UTC day). Purchases after the end
        of that day are ignored. Default: the day of the latest event of any kind.
    prior_strength : how many gaps' worth of weight the population carries (>= 0; 0 uses each
        customer's own mean gap whenever they have one).
    """
    caller = "purchase_cycles"
    lf = canonical(events, schema=schema, caller=caller)
    if (
        not isinstance(prior_strength, int | float)
        or isinstance(prior_strength, bool)
        or not (math.isfinite(prior_strength) and prior_strength >= 0)
    ):
        raise BadParameterError(
            f"{caller}: prior_strength={prior_strength!r} must be a finite number >= 0. "
            f"Fix: e.g. prior_strength=3 (three gaps' worth of population weight)."
        )
    keep = event_filter(event, caller)
    as_of_day = to_day(as_of, caller) if as_of is not None else last_day(lf, TS, caller)
    days = purchase_days(lf, keep, as_of_day)
    return cycles_from_days(days, as_of_day, float(prior_strength)).collect()


def purchase_days(lf: pl.LazyFrame, keep: pl.Expr | None, as_of_day: date) -> pl.LazyFrame:
    """Distinct (customer_id, day) rows of the kept events up to the end of `as_of_day`."""
    out = lf.filter(keep) if keep is not None else lf
    return (
        out.select(CUSTOMER_ID, day_expr().alias("day"))
        .filter(pl.col("day") <= pl.lit(as_of_day))
        .unique()
    )


def cycles_from_days(days: pl.LazyFrame, as_of_day: date, prior_strength: float) -> pl.LazyFrame:
    """The purchase_cycles table from distinct (customer_id, day) rows, lazily."""
    per = days.group_by(CUSTOMER_ID).agg(
        pl.len().cast(pl.Int64).alias("n_purchases"),
        pl.col("day").min().alias("first_purchase"),
        pl.col("day").max().alias("last_purchase"),
    )
    gaps = pl.col("n_purchases") - 1
    span = (pl.col("last_purchase") - pl.col("first_purchase")).dt.total_days()
    mean_gap = pl.when(gaps > 0).then(span / gaps).otherwise(None)
    weight = pl.when(gaps > 0).then(gaps / (gaps + prior_strength)).otherwise(0.0)
    log_gap = pl.col("mean_gap_days").log()
    has_gap = pl.col("mean_gap_days").is_not_null()
    total = pl.col("own_weight").filter(has_gap).sum()
    centre = pl.when(total > 0).then(
        (pl.col("own_weight") * log_gap).filter(has_gap).sum() / total
    )  # null when nobody has two purchase days
    own = pl.when(has_gap).then(pl.col("own_weight") * log_gap).otherwise(0.0)
    typical = (own + (1.0 - pl.col("own_weight")) * centre).exp()
    since = (pl.lit(as_of_day) - pl.col("last_purchase")).dt.total_days()
    return (
        per.with_columns(
            mean_gap.cast(pl.Float64).alias("mean_gap_days"), weight.alias("own_weight")
        )
        .with_columns(typical.alias("typical_gap_days"))
        .with_columns(
            (
                pl.col("last_purchase")
                + pl.duration(days=pl.col("typical_gap_days").round(0).cast(pl.Int64))
            ).alias("expected_next"),
            since.cast(pl.Int64).alias("days_since_last"),
        )
        .with_columns(
            (pl.col("days_since_last") / pl.col("typical_gap_days")).alias("overdue_ratio")
        )
        .select(
            CUSTOMER_ID,
            "n_purchases",
            "first_purchase",
            "last_purchase",
            "mean_gap_days",
            "own_weight",
            "typical_gap_days",
            "expected_next",
            "days_since_last",
            "overdue_ratio",
        )
        .sort(CUSTOMER_ID)
    )
