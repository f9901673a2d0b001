"""The "on or after" span kernel (one streaming pass into id-indexed arrays) against the general
engine, on the edges where a shortcut could go wrong: the latest event's final second, days
before 1970, missing values, negative, unsorted, sparse and wide ids, as_of cuts."""

import os
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from _kernels import pass_and_general
from hypothesis import given, settings
from hypothesis import strategies as st

import workbench as wb
from workbench import cohorts_bits, cohorts_fast


def _events(n_customers=300, seed=3, first_id=1, step=1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    counts = rng.geometric(0.25, n_customers)
    owner = np.repeat(np.arange(n_customers), counts)
    start = rng.integers(0, 300 * 86400, n_customers)
    secs = start[owner] + rng.exponential(80 * 86400, owner.size).astype(np.int64)
    ts = np.datetime64("2024-02-10T00:00:00", "s") + secs.astype("timedelta64[s]")
    return pl.DataFrame(
        {
            "customer_id": pl.Series(owner * step + first_id, dtype=pl.Int64),
            "ts": pl.Series(ts.astype("datetime64[us]")).dt.replace_time_zone("UTC"),
            "event": rng.choice(["visit", "purchase"], owner.size),
        }
    )


def _both(monkeypatch, events, **kw):
    """(span kernel result, general engine result, whether the span kernel produced it)."""
    return pass_and_general(
        monkeypatch,
        events,
        module=cohorts_fast,
        pass_name="first_last_days",
        gate="span_applies",
        mode="on_or_after",
        **kw,
    )


OPTIONS = [
    {},
    {"period": "day"},
    {"period": "week"},
    {"period": "quarter"},
    {"reference": "previous"},
    {"as_of": "2024-09-15"},
    {"as_of": datetime(2024, 7, 1, tzinfo=UTC), "period": "week"},
    {"start_event": "purchase", "return_event": "purchase"},
    {"level": 0.9, "min_cohort_size": 40},
]


@pytest.mark.parametrize("kw", OPTIONS, ids=[str(sorted(k)) for k in OPTIONS])
def test_span_kernel_equals_the_general_engine(monkeypatch, kw):
    span, general, used = _both(monkeypatch, _events(), **kw)
    assert used
    assert span.equals(general)
    assert span.height > 10 and span["retained"].sum() > 0


@pytest.mark.parametrize("second", [58, 59])
@pytest.mark.parametrize("period", ["day", "week", "month"])
def test_latest_event_in_the_final_second_of_a_period(monkeypatch, second, period):
    # The month's last day is complete only if the latest event is within its final second
    # (as_of + 1 s reaches the next day); the kernel keeps that bit for the latest day.
    ev = _events().filter(pl.col("ts") < datetime(2024, 12, 1, tzinfo=UTC))
    last = datetime(2024, 12, 31, 23, 59, second, 500000, tzinfo=UTC)  # a Tuesday
    ev = pl.concat([ev, pl.DataFrame({"customer_id": [7], "ts": [last], "event": ["visit"]})])
    span, general, used = _both(monkeypatch, ev, period=period)
    assert used and span.equals(general)
    newest = span.filter(pl.col("cohort") == span["cohort"].max())
    if period == "month":  # November's cohort: December is complete only once fully elapsed
        assert newest["cohort"][0] == datetime(2024, 11, 1).date()
        assert newest["complete"].to_list() == [True, second == 59]


def test_days_before_1970_and_missing_values(monkeypatch):
    ev = _events().with_columns(pl.col("ts") - timedelta(days=365 * 60))
    span, general, used = _both(monkeypatch, ev, period="week")
    assert used and span.equals(general)
    holes = pl.DataFrame(
        {"customer_id": [None, 5, 999], "ts": [ev["ts"][0], None, None], "event": ["visit"] * 3},
        schema=ev.schema,
    )
    span, general, used = _both(monkeypatch, pl.concat([ev, holes]).lazy())
    assert used and span.equals(general)
    assert span["cohort"].null_count() == 0  # customer 999 (no timestamp) is in no cohort
    assert span.equals(wb.retention_matrix(ev, mode="on_or_after"))


@pytest.mark.parametrize(
    ("first_id", "step", "dtype"),
    [(-50_000, 7, pl.Int64), (0, 1, pl.UInt32), (10**6, 3, pl.Int32), (1, 1, pl.Int16)],
)
def test_id_layouts(monkeypatch, first_id, step, dtype):
    ev = _events(first_id=first_id, step=step).with_columns(pl.col("customer_id").cast(dtype))
    span, general, used = _both(monkeypatch, ev.reverse())  # ids arrive high to low
    assert used and span.equals(general)


def test_wide_or_sparse_ids_fall_back(monkeypatch):
    base = wb.retention_matrix(_events(), mode="on_or_after")
    wide = _events().with_columns(pl.col("customer_id") + 2**40)  # not 32-bit
    span, general, used = _both(monkeypatch, wide)
    assert not used and span.equals(general) and span.equals(base)
    monkeypatch.setattr(cohorts_fast, "_MAX_SLOTS", 1 << 10)
    sparse = _events(step=1000)  # 300 customers spread over 300,000 ids
    span, general, used = _both(monkeypatch, sparse)
    assert not used and span.equals(general) and span.equals(base)
    strings = _events().with_columns(pl.col("customer_id").cast(pl.String))
    span, general, used = _both(monkeypatch, strings)
    assert not used and span.equals(base)


def test_parquet_in_small_batches(monkeypatch, tmp_path):
    path = tmp_path / "events.parquet"
    _events(n_customers=2000).write_parquet(path, row_group_size=700)
    monkeypatch.setattr(cohorts_fast, "_CHUNK", 500)
    span, general, used = _both(monkeypatch, pl.scan_parquet(path))
    assert used and span.equals(general)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-(2**20), 2**20), st.integers(0, 3000)), min_size=1),
    st.integers(1, 6),
)
def test_growing_arrays_keep_every_value(ranges, size_exp):
    """Whatever order id ranges arrive in, the arrays cover them and keep earlier minima."""
    lo, first, last, seen = None, None, None, {}
    for start, width in ranges:
        b_lo, b_hi = start, start + width
        if lo is None or b_lo < lo or b_hi >= lo + len(first):
            lo, first, last = cohorts_fast._grow(lo, first, last, b_lo, b_hi)
        for i in (b_lo, b_hi):
            first[i - lo] = min(first[i - lo], size_exp)
            last[i - lo] = max(last[i - lo], size_exp)
            seen[i] = size_exp
    assert lo <= min(seen) and max(seen) < lo + len(first)
    for i in seen:
        assert first[i - lo] == seen[i] and last[i - lo] == seen[i]
    assert int((last != np.iinfo(np.int32).min).sum()) == len(seen)


def _customers(n=300, seed=4):
    rng = np.random.default_rng(seed)
    ids = np.arange(1, n + 1)
    keep = rng.random(n) < 0.9  # some customers have no attributes: "(missing)"
    return pl.DataFrame(
        {
            "customer_id": pl.Series(ids[keep], dtype=pl.Int64),
            "channel": rng.choice(["ads", "seo", "social", "referral", "tv"], n)[keep],
            "plan": rng.choice(["basic", "pro"], n)[keep],
        }
    )


@pytest.mark.parametrize(
    "kw",
    [
        {"by": "channel"},
        {"by": "channel", "top_n": 2},
        {"by": ["channel", "plan"], "reference": "previous", "period": "quarter"},
        {"by": "plan", "as_of": "2024-10-31", "max_period": 3},
    ],
    ids=["channel", "top_n", "two_columns", "as_of"],
)
def test_split_by_customer_attributes(monkeypatch, kw):
    span, general, used = _both(monkeypatch, _events(), customers=_customers(), **kw)
    assert used and span.equals(general)
    by = [kw["by"]] if isinstance(kw["by"], str) else kw["by"]
    assert span.columns[: len(by)] == by
    labels = set(span[by[0]].unique())
    if kw.get("top_n"):  # the two most common channels, the rest (missing ones too) as "other"
        assert "other" in labels and len(labels) == 3
    else:
        assert "(missing)" in labels


def test_split_by_an_event_column_uses_the_general_engine(monkeypatch):
    ev = _events()
    span, general, used = _both(monkeypatch, ev, by="event")
    assert not used and span.equals(general)


def test_prefetch_cap_is_temporary_and_respects_the_user(monkeypatch):
    key = "POLARS_ROW_GROUP_PREFETCH_SIZE"
    monkeypatch.delenv(key, raising=False)
    seen = []
    real = cohorts_fast._chunks

    def spy(lf):
        seen.append(os.environ.get(key))
        yield from real(lf)

    monkeypatch.setattr(cohorts_fast, "_chunks", spy)
    wb.retention_matrix(_events(), mode="on_or_after")
    wide = _events().with_columns(pl.col("customer_id") + 2**40)  # gives up mid-pass
    wb.retention_matrix(wide, mode="on_or_after")
    assert seen == ["2", "2"] and key not in os.environ
    monkeypatch.setenv(key, "6")
    wb.retention_matrix(_events(), mode="on_or_after")
    assert seen[-1] == "6" and os.environ[key] == "6"


def _streaming_pass(mode: str) -> dict:
    """The pass_and_general arguments of the streaming pass behind a mode."""
    if mode == "on_or_after":
        found = {"module": cohorts_fast, "pass_name": "first_last_days", "gate": "span_applies"}
    else:
        found = {"module": cohorts_bits, "pass_name": "period_flags", "gate": "flags_apply"}
    return {**found, "mode": mode}


@pytest.mark.parametrize("mode", ["on", "on_or_after"])
def test_labels_match_the_general_engine_on_awkward_values(monkeypatch, mode):
    """Ties for the top_n, values that read like the engine's own labels, customers without
    events, 32-bit ids: the streaming passes label groups exactly as the general engine."""
    ev = _events(n_customers=240).with_columns(pl.col("customer_id").cast(pl.Int32))
    ids = list(range(1, 241)) + [5000, 5001]  # two customers with no events
    values = ["a", "b", "c", "d", "other", "(missing)", None, "é", "B", "a "]
    cust = pl.DataFrame(
        {"customer_id": pl.Series(ids, dtype=pl.Int32), "seg": [values[i % 10] for i in ids]}
    ).filter(pl.col("customer_id") % 7 != 0)  # some entries have no customers row
    for top_n in (None, 3, 1):
        got, general, used = pass_and_general(
            monkeypatch,
            ev,
            **_streaming_pass(mode),
            by="seg",
            customers=cust,
            top_n=top_n,
        )
        assert used and got.equals(general), top_n
        # null and the text "(missing)" share a label, as do the text "other" and the rest
        labels = got["seg"].n_unique()
        assert labels == 9 if top_n is None else 2 <= labels <= top_n + 1


@pytest.mark.parametrize("mode", ["on", "on_or_after"])
def test_customers_with_ids_spread_far_apart_are_looked_up_by_search(monkeypatch, mode):
    """A customers table whose ids span more than a lookup array (forced small here, plus one
    customer with a 40-bit id and no events) gives the same groups as the general engine."""
    from workbench import cohorts_groups

    ev = _events()
    far = pl.DataFrame({"customer_id": [2**40], "channel": ["ads"], "plan": ["pro"]})
    cust = pl.concat([_customers(), far]).sample(fraction=1.0, shuffle=True, seed=2)
    dense = cohorts_groups._DENSE_SLOTS
    for table, slots, lookup in (
        (_customers(), dense, "array"),
        (cust, dense, "search"),
        (_customers(), 100, "search"),
    ):
        monkeypatch.setattr(cohorts_groups, "_DENSE_SLOTS", slots)
        codes = cohorts_groups.customer_codes(table.lazy(), ["channel"])
        assert (codes.lo is None) == (lookup == "search")
        got, general, used = pass_and_general(
            monkeypatch,
            ev,
            **_streaming_pass(mode),
            by=["channel", "plan"],
            customers=table,
            top_n=3,
        )
        assert used and got.equals(general), lookup
        assert got["channel"].n_unique() == 4  # three channels and "other"


@pytest.mark.parametrize("mode", ["on", "on_or_after"])
def test_text_ids_split_by_customer_attributes(mode):
    """Text ids skip the streaming passes, by-splits from a customers table included."""
    ev = pl.DataFrame(
        {
            "customer_id": ["a", "b", "a"],
            "ts": [datetime(2024, 1, 5), datetime(2024, 2, 5), datetime(2024, 2, 9)],
        }
    )
    cu = pl.DataFrame({"customer_id": ["a", "b"], "channel": ["x", "y"]})
    got = wb.retention_matrix(ev, mode=mode, by="channel", customers=cu)
    assert got.select("channel", "period", "cohort_size", "retained").rows() == [
        ("x", 0, 1, 1),
        ("x", 1, 1, 1),
        ("y", 0, 1, 1),
    ]


@pytest.mark.parametrize("mode", ["on", "on_or_after"])
def test_default_as_of_is_the_latest_event_of_any_name(monkeypatch, mode):
    """Passes over the start events only still end the triangle at the latest event of any
    name (here a view two months after the last purchase)."""
    ev = _events().with_columns(event=pl.lit("purchase"))
    later = ev.select(pl.col("ts").max()).item() + timedelta(days=61)
    ev = pl.concat(
        [ev, pl.DataFrame({"customer_id": [1], "ts": [later], "event": ["view"]}, schema=ev.schema)]
    )
    got, general, used = pass_and_general(
        monkeypatch,
        ev,
        **_streaming_pass(mode),
        start_event="purchase",
        return_event="purchase",
    )
    assert used and got.equals(general)
    first = got.filter(pl.col("cohort") == got["cohort"].min())
    assert first["period"].max() == first.filter(pl.col("complete"))["period"].max() + 1
    assert (
        wb.retention_matrix(
            ev, mode=mode, start_event="purchase", return_event="purchase", as_of=later
        )["cohort"].n_unique()
        == got["cohort"].n_unique()
    )


@pytest.mark.parametrize("mode", ["on", "on_or_after"])
@pytest.mark.parametrize("slots", [None, 100], ids=["array", "search"])
def test_duplicate_customer_rows_first_one_wins(monkeypatch, mode, slots):
    """A customers table with an id on several rows: its first row's attributes count, in the
    passes (lookup array or sorted search) as in the general engine."""
    from workbench import cohorts_groups

    if slots:
        monkeypatch.setattr(cohorts_groups, "_DENSE_SLOTS", slots)
    cust = _customers()
    again = cust.head(40).with_columns(channel=pl.lit("zz_duplicate"), plan=pl.lit("zz"))
    table = pl.concat([cust, again, again.with_columns(channel=pl.lit("yy"))])
    got, general, used = pass_and_general(
        monkeypatch, _events(), **_streaming_pass(mode), by=["channel", "plan"], customers=table
    )
    assert used and got.equals(general)
    assert not {"zz_duplicate", "yy"} & set(got["channel"])
