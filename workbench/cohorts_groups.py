"""By-groups from customer attributes as integer codes, for the streaming passes.

The same labels as `cohorts_engine.group_labels` gives the general engine's entries (values as
text, missing ones "(missing)", beyond the top_n most common "other"), computed from integer
codes of the customers table's few distinct values instead of a join of string columns.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from .cohorts_spec import MISSING, OTHER
from .schema import CUSTOMER_ID


def customer_groups(customers: pl.LazyFrame, by, top_n: int | None, ids: np.ndarray):
    """(group code of each customer in `ids`, labels: one row of by columns per code).

    ids : the customers that are cohort entries: unique integers from a dense range (the
        passes' id-indexed slots), so a lookup array maps an id to its entry.
    """
    table = customers.select(CUSTOMER_ID, *by).collect()
    lo = int(ids.min())
    entry = np.full(int(ids.max()) - lo + 1, -1, np.int32)
    entry[ids - lo] = np.arange(len(ids), dtype=np.int32)
    known = table[CUSTOMER_ID].cast(pl.Int64).to_numpy() - lo
    inside = np.flatnonzero((known >= 0) & (known < len(entry)))
    at = np.full(len(known), -1, np.int32)
    at[inside] = entry[known[inside]]
    del entry, known, inside
    hit = at >= 0
    group = np.zeros(len(ids), np.int64)
    columns = []
    for b in by:
        code, names = _column_codes(table[b], at, hit, len(ids), top_n)
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


def _column_codes(values: pl.Series, at: np.ndarray, hit: np.ndarray, n: int, top_n):
    """Per entry a code into `names` (the column's final labels) for one by column."""
    text = values.cast(pl.String)
    distinct = text.unique().drop_nulls().sort()
    names = distinct.to_list()
    if MISSING not in names:  # null values and entries without a customers row
        names.append(MISSING)
    row_code = distinct.search_sorted(text.fill_null("")).to_numpy().astype(np.int64)
    row_code[text.is_null().to_numpy()] = names.index(MISSING)
    code = np.full(n, names.index(MISSING), np.int64)
    code[at[hit]] = row_code[hit]
    if top_n is None:
        return code, names
    counts = np.bincount(code, minlength=len(names))
    seen = [i for i in range(len(names)) if counts[i]]
    keep = set(sorted(seen, key=lambda i: (-counts[i], names[i]))[:top_n])
    final = [names[i] if i in keep else OTHER for i in range(len(names))]
    labels = sorted({final[i] for i in seen})
    recode = np.array([labels.index(f) if f in labels else 0 for f in final], np.int64)
    return recode[code], labels
