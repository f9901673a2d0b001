"""By-groups from customer attributes as integer codes, for the streaming passes.

The same labels as `cohorts_engine.group_labels` gives the general engine's entries (values as
text, missing ones "(missing)", beyond the top_n most common "other"), computed from integer
codes of the customers table's few distinct values instead of a join of string columns.

The customers table is coded first (`customer_codes`, before a pass, while memory is low), then
the pass's customers are looked up (`entry_groups`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from .cohorts_spec import MISSING, OTHER
from .schema import CUSTOMER_ID

_DENSE_SLOTS = 1 << 24  # id ranges up to this: a lookup array by id, else a sorted search


@dataclass(frozen=True)
class CustomerCodes:
    """Per by column a code of every customers row into that column's sorted distinct values
    (plus MISSING), looked up by customer id."""

    lo: int | None  # dense: codes[i] is the customer lo + i (-1: no row); sorted: None
    ids: np.ndarray | None  # sorted customer ids (sorted lookup only)
    codes: list[np.ndarray]
    names: list[list[str]]

    def rows_of(self, ids: np.ndarray) -> np.ndarray:
        """Per id its position in `codes` (-1: no customers row)."""
        if self.lo is not None:
            at = ids.astype(np.int64) - self.lo
            span = len(self.codes[0]) if self.codes else 0
            inside = (at >= 0) & (at < span)
            return np.where(inside, at, -1)
        pos = np.searchsorted(self.ids, ids)
        pos = np.minimum(pos, len(self.ids) - 1) if len(self.ids) else np.zeros_like(pos)
        hit = (self.ids[pos] == ids) if len(self.ids) else np.zeros(len(ids), bool)
        return np.where(hit, pos, -1)


def customer_codes(customers: pl.LazyFrame, by) -> CustomerCodes:
    """Code the customers table's by columns (nulls are MISSING; the first row of an id wins)."""
    table = customers.select(CUSTOMER_ID, *by).drop_nulls(CUSTOMER_ID).collect()
    ids = table[CUSTOMER_ID].cast(pl.Int64).to_numpy()
    lo, hi = (int(ids.min()), int(ids.max())) if len(ids) else (0, -1)
    dense = hi - lo + 1 <= _DENSE_SLOTS
    keep = _first_rows(ids, lo, hi, dense)
    if keep is not None:
        table, ids = table[keep], ids[keep]
    codes, names = [], []
    for b in by:
        row_code, col_names = _row_codes(table[b])
        small = (
            np.int8 if len(col_names) < 127 else np.int16 if len(col_names) < 32767 else np.int32
        )
        if dense:
            code = np.full(hi - lo + 1, -1, small)
            code[ids - lo] = row_code
        else:
            code = row_code.astype(small)
        codes.append(code)
        names.append(col_names)
    if dense:
        return CustomerCodes(lo, None, codes, names)
    return CustomerCodes(None, ids, codes, names)


def _first_rows(ids: np.ndarray, lo: int, hi: int, dense: bool) -> np.ndarray | None:
    """Rows to keep so each id has its first row only (in id order for the sorted lookup), or
    None when every row stays as it is."""
    n = len(ids)
    if dense:
        if n == 0 or np.bincount(ids - lo).max() <= 1:
            return None
        first = np.full(hi - lo + 1, n, np.int64)
        np.minimum.at(first, ids - lo, np.arange(n))
        return np.flatnonzero(first[ids - lo] == np.arange(n))
    order = np.argsort(ids, kind="stable")
    run = np.ones(n, bool)
    run[1:] = ids[order[1:]] != ids[order[:-1]]
    return order[run]


def _row_codes(values: pl.Series) -> tuple[np.ndarray, list[str]]:
    """Per row a code into the column's sorted distinct text values, MISSING last if absent."""
    text = values.cast(pl.String)
    distinct = text.unique().drop_nulls().sort()
    names = distinct.to_list()
    if MISSING not in names:  # null values and entries without a customers row
        names.append(MISSING)
    row_code = distinct.search_sorted(text.fill_null("")).to_numpy().astype(np.int32)
    row_code[text.is_null().to_numpy()] = names.index(MISSING)
    return row_code, names


def entry_groups(pre: CustomerCodes, by, top_n: int | None, ids: np.ndarray):
    """(group code of each customer in `ids`, labels: one row of by columns per code).

    ids : the customers that are cohort entries (unique integers).
    """
    rows = pre.rows_of(ids)
    hit = rows >= 0
    group = np.zeros(len(ids), np.int64)
    columns = []
    for row_code, names in zip(pre.codes, pre.names, strict=True):
        code = np.full(len(ids), names.index(MISSING), np.int64)
        code[hit] = row_code[rows[hit]]
        code[code < 0] = names.index(MISSING)  # dense slots without a customers row
        code, names = _top(code, names, top_n)
        group = group * len(names) + code
        columns.append(names)
    counts = np.bincount(group)
    present = np.flatnonzero(counts)
    compact = np.zeros(len(counts), np.int64)
    compact[present] = np.arange(len(present))
    labels = {}
    for b, names in zip(reversed(by), reversed(columns), strict=True):
        present, digit = np.divmod(present, len(names))
        labels[b] = pl.Series(b, names, dtype=pl.String).gather(digit)
    return compact[group], pl.DataFrame([labels[b] for b in by])


def _top(code: np.ndarray, names: list[str], top_n: int | None):
    """Codes and labels after keeping the top_n most common values among the entries."""
    if top_n is None:
        return code, names
    counts = np.bincount(code, minlength=len(names))
    seen = [i for i in range(len(names)) if counts[i]]
    keep = set(sorted(seen, key=lambda i: (-counts[i], names[i]))[:top_n])
    final = [names[i] if i in keep else OTHER for i in range(len(names))]
    labels = sorted({final[i] for i in seen})
    recode = np.array([labels.index(f) if f in labels else 0 for f in final], np.int64)
    return recode[code], labels
