"""Recency-frequency summaries: one row per customer, the input of the customer-value models.

The table follows the customer-base-analysis literature (Fader, Hardie & Lee 2005) and gives
the same numbers as lifetimes' ``summary_data_from_transaction_data`` and
``calibration_and_holdout_data``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
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
    "h": "h",
    "H": "h",
    "hour": "h",
    "1h": "h",
    "D": "D",
    "d": "D",
    "day": "D",
    "1d": "D",
    "W": "W",
    "w": "W",
    "week": "W",
    "1w": "W",
}
# Period lengths in microseconds.
_US = {"h": 3_600_000_000, "D": 86_400_000_000, "W": 7 * 86_400_000_000}
# 1970-01-01 was a Thursday: shifting by 3 days makes weeks start on Monday, as pandas' "W" does.
_SHIFT = {"h": 0, "D": 0, "W": 3 * 86_400_000_000}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_IDX, _CAL = "__wb_idx", "__wb_cal"


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
        Last moment observed; later events are ignored. Default: the last of the events kept
        (the purchases, with ``event="purchase"``), as lifetimes does with a transactions table.
        Without a calibration end, it is floored to its period before computing ``T``.
    calibration_end:
        Splits the log: the summary columns describe events up to and including this moment,
        and ``frequency_holdout`` (purchase periods after it), ``monetary_value_holdout``
        (mean amount per holdout purchase event) and ``duration_holdout`` (length of the holdout
        from the calibration end's period to the observation end's period) are added. Customers
        whose first purchase falls in the holdout are not in the table. A bare date means its
        midnight, as in lifetimes; with timestamped events, pass the day's last moment (e.g.
        "1997-09-30 23:59:59.999999") to keep that whole day in the calibration period.
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
    obs = None if observation_end is None else _moment(observation_end, "observation_end")
    cal = None if calibration_end is None else _moment(calibration_end, "calibration_end")
    if cal is not None and obs is not None and obs <= cal:
        raise BadParameterError(
            f"rfm_summary: observation_end={observation_end!r} is not after "
            f"calibration_end={calibration_end!r}, so the holdout is empty. Fix: pass an "
            f"observation_end later than the calibration end, or leave it out."
        )
    size, shift, unit_us = _US[period], _SHIFT[period], _US[unit]

    def index(us):  # period index of a moment given in microseconds since 1970 (UTC)
        return (us + shift) // size

    def units(periods):  # a number of periods in time units: exact integer product, one division
        return (np.asarray(periods, dtype=np.int64) * size) / unit_us

    # The only collect: customer, period index, amount (and weight) of the purchases kept.
    lf = lf.filter(pl.col(TS).is_not_null() & pl.col(CUSTOMER_ID).is_not_null())
    if event is not None:
        lf = lf.filter(pl.col(EVENT) == event)
    ts_us = pl.col(TS).dt.epoch("us")
    cols = [pl.col(CUSTOMER_ID), index(ts_us).alias(_IDX)]
    if has_amount:
        cols.append(pl.col(AMOUNT))
    if weight:
        cols.append(pl.col(weight))
    if cal is not None:
        cols.append((ts_us <= _us(cal)).alias(_CAL))
    if obs is not None:
        # Without a calibration end, the observation end is floored to its period (as lifetimes).
        lf = lf.filter(ts_us <= _us(obs) if cal is not None else index(ts_us) <= index(_us(obs)))
    frame = lf.select(cols).collect()
    if frame.height == 0 or (cal is not None and not frame[_CAL].any()):
        return _empty(frame, has_amount, cal is not None)
    ids, code = _codes(frame[CUSTOMER_ID])
    idx = frame[_IDX].to_numpy()
    amount = frame[AMOUNT].fill_null(0.0).to_numpy() if has_amount else None
    # The last period observed: the observation end's, else the last event's.
    end_idx = int(idx.max()) if obs is None else index(_us(obs))

    if cal is None:
        table = _calibration(code, idx, amount, end_idx, units)
    else:
        in_cal = frame[_CAL].to_numpy()
        out = ~in_cal
        table = _calibration(
            code[in_cal],
            idx[in_cal],
            None if amount is None else amount[in_cal],
            index(_us(cal)),
            units,
        )
        rows = None
        if has_amount:  # purchase events with an amount, for the holdout mean
            counted = frame[AMOUNT].is_not_null()
            rows = frame[weight].fill_null(0) * counted if weight else counted.cast(pl.Int64)
            rows = rows.cast(pl.Float64).to_numpy()[out]
        table.update(
            _holdout(
                table["code"], code[out], idx[out], None if amount is None else amount[out], rows
            )
        )
        table["duration_holdout"] = np.full(len(table["code"]), units(end_idx - index(_us(cal))))
    return _frame(table, ids, has_amount, cal is not None)


def _codes(ids: pl.Series) -> tuple[pl.Series, np.ndarray]:
    """The ids by code, and each row's integer code; codes are in the ids' sort order."""
    if ids.dtype.is_integer():
        values = ids.to_numpy()
        low, high = int(values.min()), int(values.max())
        if high - low < max(8 * len(values), 1 << 20):
            return pl.Series(CUSTOMER_ID, np.arange(low, high + 1)), values - low
        uniq, code = np.unique(values, return_inverse=True)
        return pl.Series(CUSTOMER_ID, uniq), code
    ranks = ids.rank("dense").cast(pl.Int64).to_numpy() - 1
    uniq = np.empty(int(ranks.max()) + 1, dtype=np.int64)
    uniq[ranks] = np.arange(len(ranks))
    return ids.gather(uniq), ranks


def _distinct(code: np.ndarray, idx: np.ndarray):
    """The distinct (customer code, period index) pairs, sorted by code then period."""
    low = int(idx.min())
    bits = max(int(idx.max()) - low + 1, 1).bit_length()
    if int(code.max()).bit_length() + bits > 62:  # pragma: no cover - ids beyond 2^40 codes
        raise BadParameterError("rfm_summary: too many customers or periods to index.")
    # (code << bits) + (idx - low), built in place: fewer large temporaries.
    keys = np.left_shift(code, bits, dtype=np.int64)
    keys += idx
    keys -= low
    keys.sort()
    first = np.empty(len(keys), dtype=bool)
    first[0] = True
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    keys = keys[first]
    return keys >> bits, (keys & ((1 << bits) - 1)) + low


def _calibration(code, idx, amount, end_idx: int, units) -> dict:
    """frequency / recency / T / monetary_value per customer code, from the calibration rows."""
    pair_code, pair_idx = _distinct(code, idx)
    starts = np.flatnonzero(np.concatenate(([True], pair_code[1:] != pair_code[:-1])))
    ends = np.concatenate((starts[1:], [len(pair_code)])) - 1
    customers = pair_code[starts]
    first, last = pair_idx[starts], pair_idx[ends]
    n = ends - starts + 1
    table = {
        "code": customers,
        "frequency": n - 1,
        "recency": units(last - first),
        "T": units(end_idx - first),
    }
    if amount is not None:
        pos = _positions(customers, code)
        total = np.bincount(pos, weights=amount, minlength=len(customers))
        in_first = idx == first[pos]
        first_sum = np.bincount(pos[in_first], weights=amount[in_first], minlength=len(customers))
        with np.errstate(invalid="ignore", divide="ignore"):
            table["monetary_value"] = np.where(n > 1, (total - first_sum) / (n - 1), 0.0)
    return table


def _holdout(customers, code, idx, amount, rows) -> dict:
    """frequency_holdout (purchase periods) and monetary_value_holdout (mean per purchase)."""
    k = len(customers)
    out = {"frequency_holdout": np.zeros(k, dtype=np.int64)}
    if amount is not None:
        out["monetary_value_holdout"] = np.zeros(k)
    if len(code) == 0:
        return out
    pair_code, _ = _distinct(code, idx)
    pos = _positions(customers, pair_code)
    out["frequency_holdout"] = np.bincount(pos[pos >= 0], minlength=k).astype(np.int64)
    if amount is not None:
        pos = _positions(customers, code)
        known = pos >= 0
        spend = np.bincount(pos[known], weights=amount[known], minlength=k)
        count = np.bincount(pos[known], weights=rows[known], minlength=k)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["monetary_value_holdout"] = np.where(count > 0, spend / count, 0.0)
    return out


def _positions(customers: np.ndarray, code: np.ndarray) -> np.ndarray:
    """Row position in `customers` (distinct codes) of each code; -1 where absent."""
    lookup = np.full(int(max(customers.max(initial=0), code.max(initial=0))) + 1, -1, np.int64)
    lookup[customers] = np.arange(len(customers))
    return lookup[code]


def _frame(table: dict, ids: pl.Series, has_amount: bool, holdout: bool) -> pl.DataFrame:
    columns = [
        ids.gather(table["code"]).alias(CUSTOMER_ID),
        pl.Series("frequency", table["frequency"], dtype=pl.Int64),
        pl.Series("recency", table["recency"], dtype=pl.Float64),
        pl.Series("T", table["T"], dtype=pl.Float64),
    ]
    names = ["monetary_value"] if has_amount else []
    if holdout:
        names += ["frequency_holdout"] + (["monetary_value_holdout"] if has_amount else [])
        names.append("duration_holdout")
    for name in names:
        dtype = pl.Int64 if name == "frequency_holdout" else pl.Float64
        columns.append(pl.Series(name, table[name], dtype=dtype))
    return pl.DataFrame(columns)  # codes follow the ids' order: sorted by customer_id


def _empty(frame: pl.DataFrame, has_amount, holdout) -> pl.DataFrame:
    schema = {
        CUSTOMER_ID: frame.schema[CUSTOMER_ID],
        "frequency": pl.Int64,
        "recency": pl.Float64,
        "T": pl.Float64,
    }
    if has_amount:
        schema["monetary_value"] = pl.Float64
    if holdout:
        schema["frequency_holdout"] = pl.Int64
        if has_amount:
            schema["monetary_value_holdout"] = pl.Float64
        schema["duration_holdout"] = pl.Float64
    return pl.DataFrame(schema=schema)
