"""Retention matrix invariants (hypothesis), a literal Python oracle, and DuckDB SQL as oracle."""

from datetime import UTC, datetime, timedelta

import duckdb
import numpy as np
import polars as pl
import pytest
from _cohort_oracle import engine_cells, oracle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import workbench as wb
from workbench import cohorts_bits, cohorts_fast

BASE = datetime(2024, 1, 1, tzinfo=UTC)
EVENTS = ("signup", "visit", "purchase")


@st.composite
def logs(draw, max_rows=30):
    n = draw(st.integers(1, max_rows))
    rows = []
    for _ in range(n):
        rows.append(
            (
                draw(st.integers(1, 6)),
                BASE + timedelta(seconds=draw(st.integers(0, 200 * 86400))),
                draw(st.sampled_from(EVENTS)),
                draw(st.integers(1, 3)),
            )
        )
    return rows


@st.composite
def options(draw):
    kw = {
        "period": draw(st.sampled_from(["day", "week", "month", "quarter"])),
        "mode": draw(st.sampled_from(["on", "on_or_after"])),
        "reference": draw(st.sampled_from(["total", "previous"])),
        "cohorting": draw(st.sampled_from(["first_time", "recurring"])),
        "min_events": draw(st.sampled_from([1, 1, 2])),
        "window": draw(st.sampled_from(["calendar", "rolling"])),
    }
    if kw["window"] == "rolling" and draw(st.booleans()):
        kw["cohort_period"] = draw(st.sampled_from(["week", "month"]))
    if draw(st.integers(0, 3)) == 0:
        kw["start_event"] = "signup"
    if draw(st.integers(0, 3)) == 0:
        kw["return_event"] = draw(st.sampled_from(["purchase", ["visit", "purchase"]]))
    if kw["mode"] == "on" and draw(st.integers(0, 3)) == 0:
        kw["brackets"] = [[1], [2, 3], [5, 8]]
    elif draw(st.integers(0, 3)) == 0:
        kw["max_period"] = draw(st.integers(0, 5))
    return kw


def frame(rows, weighted=False) -> pl.DataFrame:
    df = pl.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "ts": [r[1] for r in rows],
            "event": [r[2] for r in rows],
        }
    )
    return df.with_columns(n_events=pl.Series([r[3] for r in rows])) if weighted else df


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=logs(),
    kw=options(),
    weighted=st.booleans(),
    cut=st.one_of(st.none(), st.integers(0, 220 * 86400)),
)
def test_matches_the_literal_oracle(rows, kw, weighted, cut):
    as_of = None if cut is None else BASE + timedelta(seconds=cut)
    if as_of is not None and not any(r[1] <= as_of for r in rows):
        return
    orows = [(r[0], r[1], r[2], r[3] if weighted else 1) for r in rows]
    expected = oracle(orows, as_of=as_of, **kw)
    seen = {r[2] for r in rows if as_of is None or r[1] <= as_of}
    if "start_event" in kw and "signup" not in seen:
        with pytest.raises(wb.BadParameterError, match="start_event"):
            wb.retention_matrix(frame(rows, weighted), as_of=as_of, **kw)
        return
    got = wb.retention_matrix(frame(rows, weighted), as_of=as_of, **kw)
    assert engine_cells(got) == expected


@settings(max_examples=60, deadline=None)
@given(rows=logs(), kw=options(), seed=st.integers(0, 1000))
def test_invariants(rows, kw, seed):
    ev = frame(rows)
    if "start_event" in kw and "signup" not in ev["event"]:
        kw.pop("start_event")
    m = wb.retention_matrix(ev, **kw)
    r = m.drop_nulls("retention")
    assert ((r["retention"] >= 0) & (r["retention"] <= 1)).all()
    assert (
        (r["ci_low"] <= r["retention"] + 1e-12) & (r["retention"] <= r["ci_high"] + 1e-12)
    ).all()
    assert (m["retained"] <= m["base"]).all()
    # row order does not matter; lazy == eager
    shuffled = ev.sample(fraction=1.0, shuffle=True, seed=seed)
    assert wb.retention_matrix(shuffled, **kw).equals(m)
    assert wb.retention_matrix(ev.lazy(), **kw).equals(m)


@settings(max_examples=60, deadline=None)
@given(
    rows=logs(),
    period=st.sampled_from(["day", "week", "month", "quarter"]),
    window=st.sampled_from(["calendar", "rolling"]),
)
def test_period_zero_is_one_and_on_or_after_dominates(rows, period, window):
    ev = frame(rows)
    on = wb.retention_matrix(ev, period=period, window=window)
    ooa = wb.retention_matrix(ev, period=period, window=window, mode="on_or_after")
    zero = on.filter(pl.col("period") == 0).drop_nulls("retention")
    assert (zero["retention"] == 1.0).all()
    assert on.select("cohort", "period", "base").equals(ooa.select("cohort", "period", "base"))
    assert (ooa["retained"] >= on["retained"]).all()


def _generated(n_customers=400, seed=7, string_ids=False) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    counts = rng.geometric(0.2, n_customers)
    owner = np.repeat(np.arange(n_customers), counts)
    start = rng.integers(0, 400 * 86400, n_customers)
    offsets = (rng.exponential(90 * 86400, owner.size)).astype(np.int64)
    secs = start[owner] + offsets
    ts = (np.datetime64("2023-06-01T00:00:00", "s") + secs.astype("timedelta64[s]")).astype(
        "datetime64[us]"
    )
    ids = pl.Series(owner * 37 + 1000, dtype=pl.Int64)
    df = pl.DataFrame({"customer_id": ids, "ts": pl.Series(ts).dt.replace_time_zone("UTC")})
    return df.with_columns(pl.col("customer_id").cast(pl.String)) if string_ids else df


@pytest.mark.parametrize("mode", ["on", "on_or_after"])
@pytest.mark.parametrize("period", ["week", "month", "quarter"])
def test_duckdb_sql_oracle(mode, period):
    ev = _generated()
    as_of = ev["ts"].max()
    m = wb.retention_matrix(ev, period=period, mode=mode)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("events", ev.with_columns(pl.col("ts").dt.replace_time_zone(None)).to_arrow())
    if mode == "on":
        sql = f"""
        WITH a AS (SELECT DISTINCT customer_id, date_trunc('{period}', ts) AS p FROM events),
             f AS (SELECT customer_id, min(p) AS cohort FROM a GROUP BY 1)
        SELECT CAST(f.cohort AS DATE) AS cohort, date_diff('{period}', f.cohort, a.p) AS period,
               count(*) AS retained
        FROM a JOIN f USING (customer_id) GROUP BY 1, 2"""
    else:  # retained at k iff the last active period is at least cohort + k
        sql = f"""
        WITH a AS (SELECT customer_id, min(date_trunc('{period}', ts)) AS cohort,
                          max(date_trunc('{period}', ts)) AS last FROM events GROUP BY 1)
        SELECT CAST(cohort AS DATE) AS cohort, k.period, count(*) AS retained
        FROM a, range(0, 200) AS k(period)
        WHERE date_diff('{period}', cohort, last) >= k.period
        GROUP BY 1, 2"""
    want = (
        con.sql(sql)
        .pl()
        .with_columns(pl.col("period").cast(pl.Int64), pl.col("retained").cast(pl.Int64))
    )
    got = m.filter(pl.col("retained") > 0).select("cohort", "period", "retained")
    key = ["cohort", "period"]
    assert got.sort(key).equals(want.filter(pl.col("retained") > 0).sort(key).select(got.columns))
    assert as_of is not None


@pytest.mark.parametrize("reference", ["total", "previous"])
@pytest.mark.parametrize("mode", ["on", "on_or_after"])
def test_sort_kernels_equal_the_general_path(monkeypatch, mode, reference):
    # the streaming passes of cohorts_fast / cohorts_bits are compared in their own tests
    monkeypatch.setattr(cohorts_fast, "span_applies", lambda spec: False)
    monkeypatch.setattr(cohorts_bits, "flags_apply", lambda spec: False)
    ev = _generated(seed=11)
    fast = wb.retention_matrix(ev, mode=mode, reference=reference)
    text = wb.retention_matrix(_generated(seed=11, string_ids=True), mode=mode, reference=reference)
    monkeypatch.setattr(cohorts_fast, "applies", lambda inp, spec: False)
    general = wb.retention_matrix(ev, mode=mode, reference=reference)
    assert fast.equals(general)
    assert text.equals(general)


def test_large_customer_ids_fall_back_to_hashing():
    ev = _generated(n_customers=50).with_columns(pl.col("customer_id") * 10**15)
    m = wb.retention_matrix(ev)
    small = wb.retention_matrix(_generated(n_customers=50))
    assert m.equals(small)


def test_parquet_scan(tmp_path):
    ev = _generated(n_customers=200)
    path = tmp_path / "events.parquet"
    ev.write_parquet(path)
    lazy = wb.retention_matrix(pl.scan_parquet(path), mode="on_or_after")
    assert lazy.equals(wb.retention_matrix(ev, mode="on_or_after"))
    for engine in ("streaming", "in-memory"):
        assert wb.retention_matrix(pl.scan_parquet(path), engine=engine).equals(
            wb.retention_matrix(ev)
        )
    with pytest.raises(wb.BadParameterError, match="engine='gpu'"):
        wb.retention_matrix(ev, engine="gpu")


def _simulated_channels(seed=5, n=3000):
    """Monthly activity until a geometric dropout: P(active in month k) = p**k exactly.

    Channel "a" keeps p = 0.8; channel "b" has p = 0.8 for cohorts before 2024-07 and 0.6 from
    then on (a known quality drop).
    """
    rng = np.random.default_rng(seed)
    start = rng.integers(0, 12, n)  # cohort month 0..11 of 2024
    channel = np.where(rng.random(n) < 0.5, "a", "b")
    p = np.where((channel == "b") & (start >= 6), 0.6, 0.8)
    life = rng.geometric(1 - p) - 1  # months survived after the first
    rows_c, rows_m = [], []
    for i in range(n):
        for k in range(life[i] + 1):
            if start[i] + k < 18:
                rows_c.append(i)
                rows_m.append(start[i] + k)
    months = np.array(rows_m)
    day = rng.integers(0, 28, months.size)
    ts = [
        datetime(2024 + m // 12, m % 12 + 1, 1 + d, tzinfo=UTC)
        for m, d in zip(months, day, strict=True)
    ]
    events = pl.DataFrame({"customer_id": rows_c, "ts": ts})
    customers = pl.DataFrame({"customer_id": list(range(n)), "channel": channel.tolist()})
    return events, customers


def test_simulated_retention_is_recovered_and_quality_drop_detected():
    events, customers = _simulated_channels()
    m = wb.retention_matrix(
        events, by="channel", customers=customers, as_of="2025-06-30", max_period=3, level=0.99
    )
    early = wb.retention_curve(m.filter(pl.col("cohort") < datetime(2024, 7, 1).date()), level=0.99)
    for row in early.filter(pl.col("period") > 0).iter_rows(named=True):
        true = 0.8 ** row["period"]
        assert row["ci_low"] <= true <= row["ci_high"], row
    late = wb.retention_curve(m.filter(pl.col("cohort") >= datetime(2024, 7, 1).date()), level=0.99)
    b = late.filter((pl.col("channel") == "b") & (pl.col("period") > 0))
    for row in b.iter_rows(named=True):
        assert row["ci_low"] <= 0.6 ** row["period"] <= row["ci_high"], row
    a1 = late.filter((pl.col("channel") == "a") & (pl.col("period") == 1)).row(0, named=True)
    b1 = b.filter(pl.col("period") == 1).row(0, named=True)
    from workbench.stats import two_proportion_test

    _, p = two_proportion_test(
        b1["retained"], b1["base"], a1["retained"], a1["base"], alternative="smaller"
    )
    assert p < 1e-6
