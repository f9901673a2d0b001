"""Time helpers of the sample generator: float days since START <-> UTC timestamps, month steps."""

from __future__ import annotations

import numpy as np
import polars as pl

from .sample_params import START

_EPOCH_US = int(START.timestamp()) * 1_000_000
_DAY_US = 86_400_000_000


def to_us(t: np.ndarray) -> np.ndarray:
    """Days since START -> microseconds since the Unix epoch (int64)."""
    return _EPOCH_US + np.round(np.asarray(t, dtype=np.float64) * _DAY_US).astype(np.int64)


def ts_series(name: str, t: np.ndarray) -> pl.Series:
    """A Datetime("us", "UTC") series from days since START."""
    return pl.Series(name, to_us(t), dtype=pl.Int64).cast(pl.Datetime("us", "UTC"))


def add_months(t: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Shift times by k calendar months, same day of month clipped to the month's end.

    Matches polars ``dt.offset_by(f"{k}mo")``: 2024-01-31 10:00 + 1 month = 2024-02-29 10:00.
    """
    us = to_us(t).astype("datetime64[us]")
    days = us.astype("datetime64[D]")
    month = us.astype("datetime64[M]")
    day_of_month = days - month.astype("datetime64[D]")
    time_of_day = us - days.astype("datetime64[us]")
    target = month + np.asarray(k, dtype=np.int64).astype("timedelta64[M]")
    month_len = (target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")
    clipped = np.minimum(day_of_month, month_len - np.timedelta64(1, "D"))
    out = (target.astype("datetime64[D]") + clipped).astype("datetime64[us]") + time_of_day
    return (out.astype(np.int64) - _EPOCH_US) / _DAY_US


def months_started(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Number of monthly periods beginning at start + k months (k >= 0) that start at or before end."""
    n = np.floor((end - start) / 30.4375).astype(np.int64) + 1
    n = np.maximum(n, 1)
    for _ in range(3):
        over = (n > 1) & (add_months(start, n - 1) > end)
        n[over] -= 1
    for _ in range(3):
        more = add_months(start, n) <= end
        n[more] += 1
    return n
