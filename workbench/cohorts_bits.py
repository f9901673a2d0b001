"""Retention "on" for first-time calendar cohorts from one streaming pass over the events.

Each customer gets one flag byte per period, in an array of period rows (row j: period base + j)
by integer customer id columns, filled chunk by chunk by plain assignment (a repeated
(customer, period) just sets its flag again): no sort, no distinct pairs, no prior scan for the
data ranges. A customer's cohort is their first flagged period; every flag is one retained
(cohort, k) count, and a flag whose previous period is flagged too is one "active in k and in
k - 1" count (reference="previous"). Spans up to 64 periods; longer ones use `cohorts_fast`.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from .cohorts_fast import id_room, id_time_chunks, integer_ids, with_ranges
from .cohorts_groups import customer_codes, entry_groups
from .cohorts_spec import C, CohortSpec, K
from .periods import US_PER_DAY, day_lookup

_MAX_PERIODS = 64
_BLOCK = 1 << 16  # customers per counting block
_MAX_CELLS = 1 << 24  # groups x periods x periods counted densely
_LUT_ROOM = 400  # days of lookup table beyond the days seen


def flags_apply(spec: CohortSpec) -> bool:
    """First-time calendar "on" cohorts by week, month or quarter, one event set, no brackets
    (a split by customer attributes is fine; `flag_counts` declines event columns and spans
    over 64 periods, which the sort kernel of `cohorts_fast` takes)."""
    return (
        spec.mode == "on"
        and not spec.rolling
        and spec.period != "day"
        and spec.cohorting == "first_time"
        and spec.start_events == spec.return_events
        and spec.min_events == 1
        and spec.brackets is None
    )


class _Flags:
    """Activity flags: row j = period base + j, column i = customer id lo + i. Period-major, so
    adding periods or ids copies whole contiguous rows."""

    def __init__(self):
        self.lo = self.base = None
        self.array = np.zeros((0, 0), np.uint8)

    def fit(self, b_lo: int, b_hi: int, p_lo: int, p_hi: int) -> bool:
        """Make room for ids b_lo..b_hi and periods p_lo..p_hi; False when too wide."""
        periods, slots = self.array.shape
        started = self.lo is not None
        ids_ok = started and self.lo <= b_lo and b_hi < self.lo + slots
        base = p_lo if not started else min(self.base, p_lo)
        need = p_hi - base + 1
        if ids_ok and base == self.base and need <= periods:
            return True
        room = (
            (self.lo, slots) if ids_ok else id_room(self.lo, slots if started else None, b_lo, b_hi)
        )
        if room is None:
            return False
        lo, n_slots = room
        shift = self.base - base if started else 0
        n_periods = max(need, periods + shift)
        if n_periods > _MAX_PERIODS:
            return False
        if n_periods > periods + shift:  # more periods: double (time moves on)
            n_periods = max(n_periods, min(2 * periods, _MAX_PERIODS))
        array = np.zeros((n_periods, n_slots), np.uint8)
        if started:
            at = self.lo - lo
            array[shift : shift + periods, at : at + slots] = self.array
        self.lo, self.base, self.array = lo, base, array
        return True


class _Periods:
    """Day -> calendar period index, with a lookup table for months and quarters."""

    def __init__(self, period: str):
        self.period = period
        self.lo, self.lut = None, None

    def of(self, days: np.ndarray, d_lo: int, d_hi: int) -> np.ndarray:
        if self.period == "week":
            return (days + 3) // 7
        if self.lo is None or d_lo < self.lo or d_hi >= self.lo + len(self.lut):
            lo, hi = d_lo - _LUT_ROOM, d_hi + _LUT_ROOM
            if self.lo is not None:
                lo, hi = min(self.lo, lo), max(self.lo + len(self.lut) - 1, hi)
            self.lo, self.lut = lo, day_lookup(lo, hi, self.period).to_numpy().astype(np.int32)
        return self.lut[days - self.lo]


def period_flags(events: pl.LazyFrame, period: str):
    """(flags, first day, latest timestamp in microseconds) from one pass, or None (no events,
    ids unfit for dense arrays, or more than 64 periods)."""
    chunks = id_time_chunks(events)
    if chunks is None:
        return None
    flags, periods = _Flags(), _Periods(period)
    first_day = latest = None
    try:
        for ids, us in chunks:
            days = (us // US_PER_DAY).astype(np.int32)
            d_lo, d_hi = int(days.min()), int(days.max())
            top = int(us.max())
            latest = top if latest is None else max(latest, top)
            first_day = d_lo if first_day is None else min(first_day, d_lo)
            p = periods.of(days, d_lo, d_hi)
            p_lo, p_hi = int(p[days.argmin()]), int(p[days.argmax()])  # periods follow days
            if not flags.fit(int(ids.min()), int(ids.max()), p_lo, p_hi):
                return None
            slots = flags.array.shape[1]
            cell = (p - flags.base).astype(np.int64) * slots + (ids - flags.lo)
            flags.array.reshape(-1)[cell] = 1  # a repeat sets the same flag again
    except pl.exceptions.InvalidOperationError:  # ids beyond 32 bits
        return None
    if first_day is None:
        return None
    return flags, first_day, latest


def flag_counts(inp, spec: CohortSpec):
    """(inputs with their ranges, (sizes, counts)) like `cohorts_fast.fast_counts` ("on"), with
    by-groups from customer attributes, or None when the pass does not apply."""
    from .cohorts_engine import _only

    if inp.event_by or not integer_ids(inp.events):
        return None
    pre = customer_codes(inp.customers, spec.by) if spec.by else None  # before the pass's peak
    got = period_flags(_only(inp.events, spec.start_events), spec.period)
    if got is None:
        return None
    flags, first_day, latest = got
    inp = with_ranges(inp, spec, first_day, latest)
    array = flags.array
    span = int(np.flatnonzero(array.any(axis=1)).max()) + 1
    flagged = array[:span].view(bool)
    codes, labels = _group_codes(pre, spec, flagged, flags.lo)
    n_groups = len(labels) if spec.by else 1
    if n_groups * span * span > _MAX_CELLS:
        return None
    total = np.zeros(n_groups * span * span, np.int64)
    both = np.zeros_like(total)
    cohort = np.full(flagged.shape[1], -1, np.int64)  # first flagged period of each customer
    for j in range(span):
        who = np.flatnonzero(flagged[j])
        c = cohort[who]
        first = c < 0
        c[first] = j
        cohort[who[first]] = j
        cell = ((codes[who] if spec.by else 0) * span + c) * span + (j - c)
        total += np.bincount(cell, minlength=total.size)
        if j:
            both += np.bincount(cell[flagged[j - 1, who]], minlength=total.size)
    cells = np.flatnonzero(total)
    g, rest = np.divmod(cells, span * span)
    c, k = np.divmod(rest, span)
    counts = pl.DataFrame(
        {
            C: c.astype(np.int64) + flags.base,
            K: k.astype(np.int64),
            "_wb_ret_total": total[cells].astype(np.uint32),
            "_wb_ret_prev": both[cells].astype(np.uint32),
        }
    )
    if spec.by:
        counts = pl.concat([labels.select(pl.all().gather(g)), counts], how="horizontal")
    counts = counts.lazy()
    sizes = counts.filter(pl.col(K) == 0).select(
        *spec.by, C, pl.col("_wb_ret_total").alias("cohort_size")
    )
    return inp, (sizes, counts)


def _group_codes(pre, spec: CohortSpec, flagged: np.ndarray, lo: int):
    """Per customer slot an integer group code (-1: no activity), and the codes' labels."""
    if not spec.by:
        return None, None
    slots = np.flatnonzero(flagged.any(axis=0))
    group, labels = entry_groups(pre, spec.by, spec.top_n, slots + lo)
    codes = np.full(flagged.shape[1], -1, np.int64)
    codes[slots] = group
    return codes, labels
