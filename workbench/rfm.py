"""Recency-frequency summaries: one row per customer, the input of the customer-value models.

The table follows the customer-base-analysis literature (Fader, Hardie & Lee 2005) and gives
the same numbers as lifetimes' ``summary_data_from_transaction_data`` and
``calibration_and_holdout_data``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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

_ALIASES = {
    "h": "h", "H": "h", "hour": "h", "1h": "h",
    "D": "D", "d": "D", "day": "D", "1d": "D",
    "W": "W", "w": "W", "week": "W", "1w": "W",
}
# Period lengths in microseconds.
_US = {"h": 3_600_000_000, "D": 86_400_000_000, "W": 7 * 86_400_000_000}
# 1970-01-01 was a Thursday: shifting by 3 days makes weeks start on Monday, as pandas' "W" does.
_SHIFT = {"h": 0, "D": 0, "W": 3 * 86_400_000_000}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_IDX, _SUM, _ROWS, _KEY = "__wb_idx", "__wb_sum", "__wb_rows", "__wb_key"


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


def _us(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


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
        and ``frequency_holdout`` (purchase periods after it), ``monetary_value_holdout``
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

    Definitions: see ``RFM_DEFINITION``; the numbers equal lifetimes' with
    ``freq=collapse`` and ``freq_multiplier`` = time_unit / collapse. A pre-aggregated log (one
    row per customer and day with an ``n_events`` weight) gives the same table for daily or
    coarser ``collapse``; its holdout mean spend divides the amount by ``n_events``.
    """
    unit = _unit(time_unit, "time_unit")
    period = _unit(collapse, "collapse")
    lf = canonical(events, schema=schema, caller="rfm_summary")
    names = lf.collect_schema().names()
    has_amount = AMOUNT in names
    weight = N_EVENTS if N_EVENTS in names else None
    if event is not None:
        lf = lf.filter(pl.col(EVENT) == event)
    lf = lf.select([CUSTOMER_ID, TS] + [c for c in (AMOUNT, N_EVENTS) if c in names])
    obs = None if observation_end is None else _moment(observation_end, "observation_end")
    cal = None if calibration_end is None else _moment(calibration_end, "calibration_end")
    if cal is not None and obs is not None and obs <= cal:
        raise BadParameterError(
            f"rfm_summary: observation_end={observation_end!r} is not after "
            f"calibration_end={calibration_end!r}, so the holdout is empty. Fix: pass an "
            f"observation_end later than the calibration end, or leave it out."
        )

    # One cheap pass for the time span (and the id range, which lets an integer id and the
    # period index share one integer group key: much faster than grouping by two columns).
    ts_us = pl.col(TS).dt.epoch("us")
    id_is_int = lf.collect_schema()[CUSTOMER_ID].is_integer()
    stats_exprs = [ts_us.min().alias("t0"), ts_us.max().alias("t1"), pl.len().alias("n")]
    if id_is_int:
        stats_exprs += [pl.col(CUSTOMER_ID).min().alias("c0"), pl.col(CUSTOMER_ID).max().alias("c1")]
    stats = lf.select(stats_exprs).collect().row(0, named=True)
    unit_us, size, shift = _US[unit], _US[period], _SHIFT[period]

    def index(us):  # period index of a moment in microseconds (expression or int)
        return (us + shift) // size

    def in_units(periods: pl.Expr) -> pl.Expr:  # a number of periods, in time units
        return (periods * size) / unit_us

    if stats["n"] == 0:
        return _empty(lf, has_amount, cal is not None)
    layout = _Layout(stats, id_is_int, index)
    lf = lf.with_columns(index(ts_us).alias(_IDX))

    last_us = _us(obs) if obs is not None else stats["t1"]
    if cal is None:
        end_idx = index(last_us)
        out = _calibration(lf.filter(pl.col(_IDX) <= end_idx), end_idx, layout, in_units, has_amount)
    else:
        cal_us = _us(cal)
        cal_lf = lf.filter(ts_us <= cal_us)
        out = _calibration(cal_lf, index(cal_us), layout, in_units, has_amount)
        holdout = lf.filter((ts_us > cal_us) & (ts_us <= last_us))
        out = out.join(_holdout(holdout, layout, has_amount, weight), on=CUSTOMER_ID, how="left")
        fill = [pl.col("frequency_holdout").fill_null(0)]
        if has_amount:
            fill.append(pl.col("monetary_value_holdout").fill_null(0.0).fill_nan(0.0))
        duration = in_units(pl.lit(index(last_us) - index(cal_us))).alias("duration_holdout")
        out = out.with_columns(fill).with_columns(duration)
    return out.sort(CUSTOMER_ID).collect()


class _Layout:
    """How to group by (customer, period): one Int64 key when the ranges allow, else two columns."""

    def __init__(self, stats, id_is_int, index) -> None:
        self.i0 = index(stats["t0"])
        span = index(stats["t1"]) - self.i0 + 1
        self.bits = max(int(span).bit_length(), 1)
        self.c0 = stats.get("c0")
        ids = (stats["c1"] - stats["c0"] + 1) if id_is_int else None
        self.composite = ids is not None and ids.bit_length() + self.bits <= 62

    def per_period(self, lf: pl.LazyFrame, aggs) -> pl.LazyFrame:
        """One row per (customer, period index) with `aggs`, sorted by customer then period."""
        if not self.composite:
            return lf.group_by(CUSTOMER_ID, _IDX).agg(aggs).sort(CUSTOMER_ID, _IDX)
        key = ((pl.col(CUSTOMER_ID) - self.c0) * (1 << self.bits) + (pl.col(_IDX) - self.i0))
        return (
            lf.group_by(key.alias(_KEY))
            .agg(aggs)
            .sort(_KEY)
            .with_columns(
                (pl.col(_KEY) // (1 << self.bits) + self.c0).alias(CUSTOMER_ID).set_sorted(),
                (pl.col(_KEY) % (1 << self.bits) + self.i0).alias(_IDX),
            )
            .drop(_KEY)
        )


def _calibration(lf, end_idx: int, layout: _Layout, in_units, has_amount) -> pl.LazyFrame:
    """frequency / recency / T / monetary_value from the events up to period `end_idx`."""
    per = layout.per_period(lf, [pl.col(AMOUNT).sum().alias(_SUM) if has_amount else pl.len()])
    aggs = [pl.col(_IDX).first().alias("first"), pl.col(_IDX).last().alias("last"), pl.len().alias("n")]
    if has_amount:  # rows are in period order: the first one is the first purchase period
        aggs += [pl.col(_SUM).sum().alias("total"), pl.col(_SUM).first().alias("first_sum")]
    cols = [
        pl.col(CUSTOMER_ID),
        (pl.col("n") - 1).cast(pl.Int64).alias("frequency"),
        in_units(pl.col("last") - pl.col("first")).alias("recency"),
        in_units(end_idx - pl.col("first")).alias("T"),
    ]
    if has_amount:
        mean = (pl.col("total") - pl.col("first_sum")) / (pl.col("n") - 1)
        cols.append(pl.when(pl.col("n") > 1).then(mean).otherwise(0.0).alias("monetary_value"))
    return per.group_by(CUSTOMER_ID).agg(aggs).select(cols)


def _holdout(lf, layout: _Layout, has_amount, weight) -> pl.LazyFrame:
    """frequency_holdout (purchase periods) and monetary_value_holdout (mean per purchase event)."""
    aggs = []
    if has_amount:
        counted = pl.col(AMOUNT).is_not_null()
        rows = pl.col(weight).filter(counted).sum() if weight else counted.sum()
        aggs = [pl.col(AMOUNT).sum().alias(_SUM), rows.cast(pl.Float64).alias(_ROWS)]
    per = layout.per_period(lf, aggs or [pl.len()])
    out = [pl.len().cast(pl.Int64).alias("frequency_holdout")]
    if has_amount:
        out.append((pl.col(_SUM).sum() / pl.col(_ROWS).sum()).alias("monetary_value_holdout"))
    return per.group_by(CUSTOMER_ID).agg(out)


def _empty(lf, has_amount, holdout) -> pl.DataFrame:
    schema = {CUSTOMER_ID: lf.collect_schema()[CUSTOMER_ID], "frequency": pl.Int64,
              "recency": pl.Float64, "T": pl.Float64}
    if has_amount:
        schema["monetary_value"] = pl.Float64
    if holdout:
        schema["frequency_holdout"] = pl.Int64
        if has_amount:
            schema["monetary_value_holdout"] = pl.Float64
        schema["duration_holdout"] = pl.Float64
    return pl.DataFrame(schema=schema)
