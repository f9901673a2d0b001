"""Sort-based kernels for the common calendar case, on integer customer ids.

(customer, period) is packed into one Int64 key, the keys are sorted once, and everything else
follows from runs in that sorted column: distinct pairs are rows that differ from the previous
one, a customer's first period is the first key of its run, the last period the last key. No
hash joins or wide group-bys over the raw events are needed.
"""

from __future__ import annotations

import polars as pl

from .cohorts_spec import C, CohortSpec, K, L, N, P
from .periods import index_of
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
    from datetime import UTC, datetime, timedelta

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
