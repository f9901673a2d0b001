"""Sort-based kernels for the common calendar case, on integer customer ids.

(customer, period) is packed into one Int64 key, the keys are sorted once, and everything else
follows from runs in that sorted column: distinct pairs are rows that differ from the previous
one, a customer's first period is the first key of its run, the last period the last key. No
hash joins or wide group-bys over the raw events are needed.

"On or after" needs even less: each customer's first and last day, gathered in one streaming
pass into arrays indexed by customer id (no sort, no prior scan for the ranges).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from .cohorts_spec import C, CohortSpec, K, L, N, P
from .periods import US_PER_DAY, index_of
from .schema import CUSTOMER_ID, TS

KEY = "_wb_key"
CUST = "_wb_cust"
M = "_wb_m"


def packing(inp, spec: CohortSpec) -> tuple[int, int] | None:
    """(first period index, bits for the period offset), or None when keys cannot be packed."""
    if inp.id_range is None or spec.rolling:
        return None
    p0 = index_of_day(inp.first_day, spec.period)
    span = index_of(inp.as_of, spec.period) - p0 + 1
    bits = max(1, int(span).bit_length())
    lo, hi = inp.id_range
    if hi - lo + 1 >= 2 ** (62 - bits):
        return None
    return p0, bits


def index_of_day(day: int, period: str) -> int:
    return index_of(datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day), period)


def _sorted_keys(events: pl.LazyFrame, inp, spec: CohortSpec, pack) -> pl.LazyFrame:
    """One sorted packed key per event: (customer - min id) * 2**bits + period offset.

    The key is UInt32 when it fits (half the memory and a faster sort), else Int64.
    """
    p0, bits = pack
    lo, hi = inp.id_range
    narrow = (hi - lo + 1) << bits <= 2**32
    offset = inp.index(pl.col(TS), spec.period) - p0
    key = (pl.col(CUSTOMER_ID) - lo) * (1 << bits) + offset
    return events.select(key.cast(pl.UInt32 if narrow else pl.Int64).alias(KEY)).sort(KEY)


def _split(lf: pl.LazyFrame, bits: int) -> pl.LazyFrame:
    """Customer and period offset columns from the packed key."""
    return lf.with_columns(
        (pl.col(KEY) // (1 << bits)).cast(pl.Int64).alias(CUST),
        (pl.col(KEY) % (1 << bits)).cast(pl.Int64).alias(M),
    )


def distinct_pairs(events: pl.LazyFrame, inp, spec: CohortSpec) -> pl.LazyFrame:
    """Distinct (customer_id, P) pairs of the events, P the calendar period index."""
    pack = packing(inp, spec)
    if pack is None:
        return events.select(CUSTOMER_ID, inp.index(pl.col(TS), spec.period).alias(P)).unique()
    p0, bits = pack
    srt = _split(_sorted_keys(events, inp, spec, pack).filter(_changed(KEY)), bits)
    return srt.select(
        (pl.col(CUST) + inp.id_range[0]).alias(CUSTOMER_ID), (pl.col(M) + p0).alias(P)
    )


def _changed(col: str, shift: int = 1) -> pl.Expr:
    return (pl.col(col) != pl.col(col).shift(shift)).fill_null(True)


def applies(inp, spec: CohortSpec) -> bool:
    """The kernels cover first-time calendar cohorts with one event set, no split, no brackets."""
    return (
        not spec.rolling
        and spec.cohorting == "first_time"
        and spec.start_events == spec.return_events
        and spec.min_events == 1
        and not spec.by
        and spec.brackets is None
        and packing(inp, spec) is not None
    )


def fast_counts(inp, spec: CohortSpec):
    """(sizes: C, cohort_size), (counts: C, K, ret_total, ret_prev, base_prev) or per-customer
    (C, L) rows for on_or_after."""
    from .cohorts_engine import _only

    pack = packing(inp, spec)
    p0, bits = pack
    srt = _sorted_keys(_only(inp.events, spec.start_events), inp, spec, pack)
    if spec.mode == "on":  # distinct (customer, period) pairs
        srt = _split(srt.filter(_changed(KEY)), bits)
    else:  # only each customer's first and last event matter
        cust = pl.col(KEY) // (1 << bits)
        edge = (cust != cust.shift(1)).fill_null(True) | (cust != cust.shift(-1)).fill_null(True)
        srt = _split(srt.filter(edge), bits)
    new = _changed(CUST)
    first = pl.when(new).then(pl.col(M)).forward_fill()
    if spec.mode == "on":
        rows = srt.with_columns(
            (first + p0).alias(C),
            (pl.col(M) - first).alias(K),
            (~new & (pl.col(M).shift(1) == pl.col(M) - 1)).alias("_wb_both"),
        )
        counts = (
            rows.group_by(C, K)
            .agg(pl.len().alias("_wb_ret_total"), pl.col("_wb_both").sum().alias("_wb_ret_prev"))
            .cache()
        )
        sizes = counts.filter(pl.col(K) == 0).select(
            C, pl.col("_wb_ret_total").alias("cohort_size")
        )
        return sizes, counts
    last = _changed(CUST, -1)
    rows = srt.with_columns((first + p0).alias(C), (pl.col(M) - first).alias(L)).filter(last)
    hist = rows.group_by(C, L).agg(pl.len().alias(N)).cache()
    sizes = hist.group_by(C).agg(pl.col(N).sum().alias("cohort_size"))
    return sizes, hist


# -- "on or after": each customer's first and last day in one streaming pass ----------------------

_CHUNK = 1_000_000
_MIN_SLOTS = 1 << 16
_MAX_SLOTS = 1 << 24  # ids spread wider than this: the sort kernel instead
_SMALL_INTS = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32)
_I32 = np.iinfo(np.int32)


def span_applies(spec: CohortSpec) -> bool:
    """First-time calendar "on or after" cohorts, one event set, no brackets (a split by
    customer attributes is fine; `span_counts` declines a split by event columns)."""
    return (
        spec.mode == "on_or_after"
        and not spec.rolling
        and spec.cohorting == "first_time"
        and spec.start_events == spec.return_events
        and spec.min_events == 1
        and spec.brackets is None
    )


def first_last_days(events: pl.LazyFrame):
    """(customer ids, first days, last days) arrays and the latest timestamp (microseconds), or
    None when there are no events or the ids are not dense 32-bit integers.

    "On or after" needs nothing else: the cohort is the period of the first day, and the customer
    counts in every period up to that of the last day. Events stream through in chunks (Int32
    ids, Int64 microseconds) into two arrays indexed by customer id, so memory is the chunks in
    flight plus 8 bytes per id.
    """
    chunks = id_time_chunks(events)
    if chunks is None:
        return None
    lo, first, last, latest = None, None, None, None
    try:
        for ids, us in chunks:
            b_lo, b_hi = int(ids.min()), int(ids.max())
            if lo is None or b_lo < lo or b_hi >= lo + len(first):
                grown = _grow(lo, first, last, b_lo, b_hi)
                if grown is None:
                    return None
                lo, first, last = grown
            top = int(us.max())
            latest = top if latest is None else max(latest, top)
            days = (us // US_PER_DAY).astype(np.int32)
            slot = ids - lo if lo else ids
            np.minimum.at(first, slot, days)
            np.maximum.at(last, slot, days)
    except pl.exceptions.InvalidOperationError:  # ids beyond 32 bits
        return None
    if lo is None:
        return None
    seen = np.flatnonzero(last != _I32.min)
    return seen + lo, first[seen], last[seen], latest


def integer_ids(events: pl.LazyFrame) -> bool:
    """Whether customer ids are integers the passes can index by (others: the sort kernel)."""
    return events.collect_schema()[CUSTOMER_ID] in _SMALL_INTS


def id_time_chunks(events: pl.LazyFrame):
    """Per streamed chunk, numpy arrays of Int32 customer ids and Int64 UTC microseconds,
    without copying; None unless ids are integers. Ids beyond 32 bits raise polars'
    InvalidOperationError while iterating."""
    if not integer_ids(events):
        return None
    lf = events.select(pl.col(CUSTOMER_ID).cast(pl.Int32), pl.col(TS).to_physical())  # strict
    return _arrays(lf)


def with_ranges(inp, spec: CohortSpec, first_day: int, latest: int):
    """The inputs with what a streaming pass found: as_of (the given one, else the latest
    event's timestamp, in microseconds) and the first day (at most as_of's).

    A pass over the start events only finds their latest timestamp: the default as_of is the
    latest event of any name, which then takes one more scan of the timestamps."""
    as_of = inp.as_of
    if as_of is None and spec.start_events is not None:
        top = inp.events.select(pl.col(TS).max()).collect().item()
        as_of = top.astimezone(UTC) if top.tzinfo else top.replace(tzinfo=UTC)
    elif as_of is None:
        as_of = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=latest)
    return replace(inp, as_of=as_of, first_day=min(first_day, index_of(as_of, "day")))


_PREFETCH = "POLARS_ROW_GROUP_PREFETCH_SIZE"


@contextmanager
def _bounded_prefetch(row_groups: int = 2):
    """Row groups decoded ahead of a Python consumer wait in memory: polars' Parquet reader
    prefetches many by default (all ten of a 10M-event file); two at a time keep the pass at
    full speed with far less memory. A value the user has set is left alone."""
    if _PREFETCH in os.environ:
        yield
        return
    os.environ[_PREFETCH] = str(row_groups)
    try:
        yield
    finally:
        os.environ.pop(_PREFETCH, None)


def _arrays(lf: pl.LazyFrame):
    """(ids, timestamps) numpy arrays per streamed chunk, without copying."""
    with _bounded_prefetch():
        yield from _chunks(lf)


def _chunks(lf: pl.LazyFrame):
    for batch in lf.collect_batches(chunk_size=_CHUNK, maintain_order=False):
        if batch[TS].null_count() or batch[CUSTOMER_ID].null_count():  # rare: in no cohort
            batch = batch.drop_nulls()
        ids, us = batch[CUSTOMER_ID], batch[TS]
        if [len(c) for c in ids.get_chunks()] != [len(c) for c in us.get_chunks()]:
            ids, us = ids.rechunk(), us.rechunk()
        for a, b in zip(ids.get_chunks(), us.get_chunks(), strict=True):
            if len(a):
                yield a.to_numpy(), b.to_numpy()


def id_room(lo, size, b_lo, b_hi):
    """(new first id, slots) covering the current slots and b_lo..b_hi with room to spare, or
    None beyond _MAX_SLOTS. Room goes where ids were out of range (upwards doubles: ids usually
    grow with signup time); non-negative ids start at slot 0."""
    old_hi = None if lo is None else lo + size - 1
    new_lo = b_lo if lo is None else min(lo, b_lo)
    new_hi = b_hi if lo is None else max(old_hi, b_hi)
    need = new_hi - new_lo + 1
    if need > _MAX_SLOTS:
        return None
    lo_room, hi_room = new_lo, new_hi
    if lo is None or b_lo < lo:
        lo_room = max(new_lo - need // 4, 0) if new_lo >= 0 else new_lo - need // 4
    if lo is None or b_hi > old_hi:
        hi_room = new_hi + max(need // 4, 0 if lo is None else size)
    hi_room = max(hi_room, lo_room + _MIN_SLOTS - 1)
    if hi_room - lo_room < _MAX_SLOTS:
        new_lo, new_hi = lo_room, hi_room
    return new_lo, new_hi - new_lo + 1


def _grow(lo, first, last, b_lo, b_hi):
    """Id-indexed first/last arrays widened to cover b_lo..b_hi (see `id_room`), or None."""
    room = id_room(lo, None if first is None else len(first), b_lo, b_hi)
    if room is None:
        return None
    new_lo, size = room
    new_first = np.full(size, _I32.max, np.int32)
    new_last = np.full(size, _I32.min, np.int32)
    if lo is not None:
        at = lo - new_lo
        new_first[at : at + len(first)] = first
        new_last[at : at + len(last)] = last
    return new_lo, new_first, new_last


def span_counts(inp, spec: CohortSpec):
    """(inputs with their ranges, (sizes, histogram of (by..., C, L))) from the span pass, or
    None when it does not apply (a split by event columns, ids unfit for dense arrays)."""
    from .cohorts_engine import _only
    from .cohorts_groups import customer_codes, entry_groups

    if inp.event_by or not integer_ids(inp.events):
        return None
    pre = customer_codes(inp.customers, spec.by) if spec.by else None  # before the pass's peak
    got = first_last_days(_only(inp.events, spec.start_events))
    if got is None:
        return None
    ids, first, last, latest = got
    inp = with_ranges(inp, spec, int(first.min()), latest)
    days = pl.DataFrame({"_wb_f": first, "_wb_l": last})
    group = []
    if spec.by:  # customer attributes, labelled as for the general engine's entries
        codes, labels = entry_groups(pre, spec.by, spec.top_n, ids)
        days = days.with_columns(pl.Series("_wb_g", codes))
        group = ["_wb_g"]

    def index(col: str) -> pl.Expr:
        return inp.index(pl.col(col).cast(pl.Int64) * US_PER_DAY, spec.period)

    span = (index("_wb_l") - index("_wb_f")).alias(L)
    hist = days.lazy().select(*group, index("_wb_f").alias(C), span).group_by(*group, C, L)
    hist = hist.agg(pl.len().alias(N))
    if spec.by:
        hist = hist.join(labels.with_row_index("_wb_g").lazy(), on="_wb_g").drop("_wb_g")
    hist = hist.cache()
    sizes = hist.group_by(*spec.by, C).agg(pl.col(N).sum().alias("cohort_size"))
    return inp, (sizes, hist)
