"""Recency-frequency summaries: one row per customer, the input of the customer-value models.

The table follows the customer-base-analysis literature (Fader, Hardie & Lee 2005) and gives
the same numbers as lifetimes' ``summary_data_from_transaction_data`` and
``calibration_and_holdout_data``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from .errors import BadParameterError, bad_choice
from .schema import AMOUNT, CUSTOMER_ID, EVENT, N_EVENTS, TS, EventSchema, canonical
from .sources import _as_utc

RFM_DEFINITION = (
    "Purchases are first collapsed to one per customer per period (a day by default; amounts "
    "of the same period are added). frequency = number of repeat purchase periods (all but the "
    "first); recency = time from the first to the last purchase period; T = time from the first "
    "purchase period to the end of observation; monetary_value = mean amount of the repeat "
    "purchase periods (0 without repeats). With a calibration end, these are measured up to it "
    "and frequency_holdout counts purchase periods after it, up to the observation end."
)

# Period lengths, keyed by the canonical unit name.
_UNITS = {"h": timedelta(hours=1), "D": timedelta(days=1), "W": timedelta(weeks=1)}
_ALIASES = {
    "h": "h", "H": "h", "hour": "h", "1h": "h",
    "D": "D", "d": "D", "day": "D", "1d": "D",
    "W": "W", "w": "W", "week": "W", "1w": "W",
}
# polars truncation strings (weeks start on Monday, as pandas' "W" periods do).
_TRUNCATE = {"h": "1h", "D": "1d", "W": "1w"}
_PERIOD = "__wb_period"
_SUM = "__wb_sum"
_END = "__wb_end"


def _unit(value: str, param: str) -> str:
    unit = _ALIASES.get(value) if isinstance(value, str) else None
    if unit is None:
        raise bad_choice("rfm_summary", param, value, ["h", "D", "W"])
    return unit


def _moment(value, param: str) -> datetime:
    try:
        return _as_utc(value)
    except (TypeError, ValueError, AttributeError):
        raise BadParameterError(
            f"rfm_summary: {param}={value!r} is not a date or timestamp. Fix: pass a datetime, "
            f"a date or an ISO 8601 string such as '1997-09-30'."
        ) from None


def rfm_summary(
    events,
    *,
    time_unit: str = "D",
    collapse: str = "D",
    observation_end=None,
    calibration_end=None,
    event: str | None = "purchase",
    schema: EventSchema | None = None,
) -> pl.DataFrame:
    """One row per customer: repeat frequency, recency, age and mean repeat spend.

    Parameters
    ----------
    events:
        Event log (polars or pandas) with customer_id, ts and optionally amount and n_events.
    time_unit:
        Unit of ``recency``, ``T`` and ``duration_holdout``: "h", "D" (days) or "W" (weeks of
        7 days, fractional: 10 days are 1.4286 weeks, as in the papers).
    collapse:
        Period within which purchases count once: "h", "D" or "W" (Monday-based UTC weeks).
        Timestamps are floored to the start of their period.
    observation_end:
        Last moment observed; later events are ignored. Default: the last event.
        Without a calibration end, it is floored to its period before computing ``T``.
    calibration_end:
        Splits the log: the summary columns describe events up to and including this moment,
        and ``frequency_holdout`` (repeat purchase periods after it), ``monetary_value_holdout``
        (mean amount per holdout purchase event) and ``duration_holdout`` (length of the holdout
        from the calibration end's period to the observation end's period) are added. Customers
        whose first purchase falls in the holdout are not in the table.
    event:
        Event name counted as a purchase; None counts every event.

    Returns
    -------
    polars.DataFrame with ``customer_id``, ``frequency`` (Int64), ``recency``, ``T`` and, when
    the log has amounts, ``monetary_value``; plus the holdout columns with ``calibration_end``.
    Sorted by customer_id.

    Definitions: see ``RFM_DEFINITION``. A pre-aggregated log (one row per customer and day with
    an ``n_events`` weight) gives the same table for daily or coarser ``collapse``; its holdout
    mean spend divides the amount by ``n_events``.
    """
    unit = _unit(time_unit, "time_unit")
    period = _unit(collapse, "collapse")
    lf = canonical(events, schema=schema, caller="rfm_summary")
    names = lf.collect_schema().names()
    has_amount = AMOUNT in names
    has_weight = N_EVENTS in names
    if event is not None:
        lf = lf.filter(pl.col(EVENT) == event)
    keep = [CUSTOMER_ID, TS] + [c for c in (AMOUNT, N_EVENTS) if c in names]
    lf = lf.select(keep)

    unit_us = _UNITS[unit] / timedelta(microseconds=1)
    every = _TRUNCATE[period]

    def floor(expr: pl.Expr) -> pl.Expr:
        return expr.dt.truncate(every)

    def in_units(delta: pl.Expr) -> pl.Expr:
        return delta.dt.total_microseconds() / unit_us

    obs = None if observation_end is None else _moment(observation_end, "observation_end")
    if calibration_end is None:
        end = pl.col(TS).max() if obs is None else pl.lit(obs)
        end = floor(end)
        cal_lf = lf.filter(floor(pl.col(TS)) <= end)
    else:
        cal = _moment(calibration_end, "calibration_end")
        if obs is not None and obs <= cal:
            raise BadParameterError(
                f"rfm_summary: observation_end={observation_end!r} is not after "
                f"calibration_end={calibration_end!r}, so the holdout is empty. Fix: pass an "
                f"observation_end later than the calibration end, or leave it out."
            )
        end = floor(pl.lit(cal))
        cal_lf = lf.filter(pl.col(TS) <= cal)

    out = _calibration(cal_lf, end, floor, in_units, has_amount)
    if calibration_end is not None:
        obs_expr = pl.col(TS).max() if obs is None else pl.lit(obs)
        holdout = lf.filter(pl.col(TS) > cal)
        if obs is not None:
            holdout = holdout.filter(pl.col(TS) <= obs)
        aggs = [floor(pl.col(TS)).n_unique().cast(pl.Int64).alias("frequency_holdout")]
        if has_amount:
            mean = (
                pl.col(AMOUNT).sum() / pl.col(N_EVENTS).filter(pl.col(AMOUNT).is_not_null()).sum()
                if has_weight
                else pl.col(AMOUNT).mean()
            )
            aggs.append(mean.alias("monetary_value_holdout"))
        held = holdout.group_by(CUSTOMER_ID).agg(aggs)
        fill = [pl.col("frequency_holdout").fill_null(0)]
        if has_amount:
            fill.append(pl.col("monetary_value_holdout").fill_null(0.0).fill_nan(0.0))
        duration = lf.select(in_units(floor(obs_expr) - floor(pl.lit(cal))).alias("duration_holdout"))
        out = (
            out.join(held, on=CUSTOMER_ID, how="left")
            .with_columns(fill)
            .join(duration, how="cross")
        )
    return out.sort(CUSTOMER_ID).collect()


def _calibration(lf, end, floor, in_units, has_amount) -> pl.LazyFrame:
    """frequency / recency / T / monetary_value from the events up to `end` (a floored moment).

    `end` may be an aggregate over all events (their last timestamp), so it is computed as a
    one-row frame and joined beside the customers.
    """
    per_period = lf.group_by(CUSTOMER_ID, floor(pl.col(TS)).alias(_PERIOD)).agg(
        pl.col(AMOUNT).sum().alias(_SUM) if has_amount else pl.len().alias(_SUM)
    )
    first = pl.col(_PERIOD).min()
    aggs = [first.alias("first"), pl.col(_PERIOD).max().alias("last"), pl.len().alias("n")]
    if has_amount:
        aggs.append(pl.col(_SUM).filter(pl.col(_PERIOD) != first).mean().alias("monetary_value"))
    cols = [
        pl.col(CUSTOMER_ID),
        (pl.col("n") - 1).cast(pl.Int64).alias("frequency"),
        in_units(pl.col("last") - pl.col("first")).alias("recency"),
        in_units(pl.col(_END) - pl.col("first")).alias("T"),
    ]
    if has_amount:
        cols.append(pl.col("monetary_value").fill_null(0.0))
    return (
        per_period.group_by(CUSTOMER_ID)
        .agg(aggs)
        .join(lf.select(end.alias(_END)), how="cross")
        .select(cols)
    )
