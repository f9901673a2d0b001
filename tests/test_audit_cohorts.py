"""Audit: the cohort engine (retention matrix, curve, cell customers, lifecycle, CRR, day-N,
stickiness, value retention, LTV, MRR bridge) against the pure-Python oracle in
tests/oracles/cohorts.py on many small seeded random logs. The logs put events exactly on
period boundaries (midnight UTC, Mondays, month and quarter starts, the leap day), exactly on
rolling-window edges (start + k x 24 h), one microsecond before them, and at as_of."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from oracles import cohorts as oc

import workbench as wb
from workbench import cohorts_engine, cohorts_fast
from workbench.cohorts_spec import make_spec

# Days around year, quarter, month and week edges and the leap day (2024-01-01 is a Monday).
ANCHORS = [date(2023, 12, 29) + timedelta(days=i) for i in range(0, 110)]
SPECIAL = [
    date(2023, 12, 31),
    date(2024, 1, 1),
    date(2024, 1, 7),
    date(2024, 1, 8),
    date(2024, 2, 28),
    date(2024, 2, 29),
    date(2024, 3, 1),
    date(2024, 3, 31),
    date(2024, 4, 1),
]
TIMES = [
    timedelta(0),
    timedelta(microseconds=1),
    timedelta(hours=12),
    timedelta(hours=23, minutes=30),
    timedelta(hours=23, minutes=59, seconds=59),
    timedelta(hours=23, minutes=59, seconds=59, microseconds=999_999),
]
NAMES = ("signup", "purchase", "visit")
ZONES = ("UTC", "America/New_York", "Asia/Tokyo", "Pacific/Kiritimati", "naive")


def _moment(rng) -> datetime:
    days = SPECIAL if rng.random() < 0.4 else ANCHORS
    d = days[int(rng.integers(len(days)))]
    t = TIMES[int(rng.integers(len(TIMES)))]
    return datetime(d.year, d.month, d.day, tzinfo=UTC) + t


def random_log(rng, n_customers=None, names=NAMES) -> list[dict]:
    """Rows with customer_id, ts (UTC), event, amount, category; window-edge follow-ups."""
    n_customers = n_customers or int(rng.integers(1, 9))
    rows = []
    for c in range(n_customers):
        first = _moment(rng)
        for j in range(int(rng.integers(1, 7))):
            if j == 0:
                ts = first
            elif rng.random() < 0.35:  # exactly on (or 1 us before) a rolling-window edge
                k = int(rng.choice([1, 2, 7, 8, 30, 31, 90]))
                ts = first + timedelta(days=k) - timedelta(microseconds=int(rng.integers(0, 2)))
            else:
                ts = _moment(rng)
            rows.append(
                {
                    "customer_id": f"c{c}",
                    "ts": ts,
                    "event": names[int(rng.integers(len(names)))],
                    "amount": float(rng.integers(-1, 5)) * 10.0,
                    "category": [None, "a", "b", "c"][int(rng.integers(4))],
                    "n_events": int(rng.integers(1, 4)),
                }
            )
    return rows


def to_frame(rows, tz="UTC", weighted=False, int_ids=False) -> pl.DataFrame:
    cols = ["customer_id", "ts", "event", "amount", "category"] + (["n_events"] if weighted else [])
    df = pl.DataFrame(
        {c: [r[c] for r in rows] for c in cols},
        schema={
            "customer_id": pl.String,
            "ts": pl.Datetime("us", "UTC"),
            "event": pl.String,
            "amount": pl.Float64,
            "category": pl.String,
            "n_events": pl.Int64,
        }
        if weighted
        else {
            "customer_id": pl.String,
            "ts": pl.Datetime("us", "UTC"),
            "event": pl.String,
            "amount": pl.Float64,
            "category": pl.String,
        },
    )
    if int_ids:
        df = df.with_columns(pl.col("customer_id").str.slice(1).cast(pl.Int64))
    if tz == "naive":
        return df.with_columns(pl.col("ts").dt.replace_time_zone(None))
    return df.with_columns(pl.col("ts").dt.convert_time_zone(tz))


def _as_of(rng, rows):
    """None, an exact event time, a bare date, a boundary minus 1 s or a mid-day instant."""
    pick = int(rng.integers(5))
    ts = [r["ts"] for r in rows]
    if pick == 0:
        return None
    if pick == 1:
        return ts[int(rng.integers(len(ts)))]
    d = sorted(ts)[len(ts) // 2].date() + timedelta(days=int(rng.integers(0, 40)))
    if pick == 2:
        return d
    if pick == 3:
        return datetime(d.year, d.month, 1, tzinfo=UTC) - timedelta(seconds=1)
    return datetime(d.year, d.month, d.day, 13, tzinfo=UTC)


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def assert_rows(got: list[dict], want: list[dict], keys, context=""):
    gmap = {tuple(r[k] for k in keys): r for r in got}
    wmap = {tuple(r[k] for k in keys): r for r in want}
    assert set(gmap) == set(wmap), (
        f"{context}\ncells only in package: {sorted(set(gmap) - set(wmap))[:5]}\n"
        f"cells only in oracle: {sorted(set(wmap) - set(gmap))[:5]}"
    )
    for k, w in wmap.items():
        g = gmap[k]
        for col, v in w.items():
            assert _close(g[col], v), (
                f"{context}\ncell {k} column {col}: package {g[col]!r}, oracle {v!r}"
            )


def _options(rng) -> dict:
    kw = {
        "period": str(rng.choice(["day", "week", "month", "quarter"])),
        "window": str(rng.choice(["calendar", "calendar", "rolling"])),
        "mode": str(rng.choice(["on", "on_or_after"])),
        "reference": str(rng.choice(["total", "previous"])),
        "cohorting": str(rng.choice(["first_time", "recurring"])),
        "min_events": int(rng.choice([1, 1, 1, 2])),
        "min_cohort_size": int(rng.integers(0, 4)),
    }
    if kw["window"] == "rolling" and rng.random() < 0.6:
        kw["cohort_period"] = str(rng.choice(["day", "week", "month", "quarter"]))
    r = rng.random()
    if r < 0.25:
        kw["start_event"], kw["return_event"] = "signup", "purchase"
    elif r < 0.35:
        kw["start_event"] = "signup"
    elif r < 0.45:
        kw["return_event"] = ["purchase", "visit"]
    if kw["mode"] == "on" and rng.random() < 0.25:
        kw["brackets"] = [[[0], [1], [2, 7], [8, 30]], [[1], [2, 3]], [[0, 1], [4]]][
            int(rng.integers(3))
        ]
    elif rng.random() < 0.2:
        kw["max_period"] = int(rng.integers(0, 4))
    if rng.random() < 0.3:
        kw["level"] = 0.8
    return kw


CUSTOMERS = [
    {"customer_id": f"c{i}", "channel": ch}
    for i, ch in enumerate(["paid", "organic", "paid", None, "social", "paid", "organic"])
]  # c7 and later: not in the table


@pytest.mark.parametrize("seed", range(120))
def test_retention_matrix_matches_oracle(seed):
    rng = np.random.default_rng(seed)
    rows = random_log(rng)
    kw = _options(rng)
    tz = ZONES[seed % len(ZONES)]
    weighted = kw["min_events"] > 1 and rng.random() < 0.5
    if not weighted:
        for r in rows:
            r["n_events"] = 1
    as_of = _as_of(rng, rows)
    by = [(), ("category",), ("channel",), ("category", "channel")][seed % 4]
    top_n = [None, 1, 2, 10][int(rng.integers(4))]
    extra = {"by": list(by) or None, "top_n": top_n}
    int_ids = seed % 3 == 0  # integer ids: the sort kernels may apply
    if "channel" in by:
        cust = pl.DataFrame(CUSTOMERS)
        if int_ids:
            cust = cust.with_columns(pl.col("customer_id").str.slice(1).cast(pl.Int64))
        extra["customers"] = cust
    want = oc.retention_matrix(
        rows,
        as_of=as_of,
        by=by,
        customers=CUSTOMERS if "channel" in by else None,
        top_n=top_n,
        **kw,
    )
    cut = oc.resolve_as_of(rows, as_of)
    if "start_event" in kw and not any(
        r["event"] == kw["start_event"] and r["ts"] < oc.until(cut) for r in rows
    ):  # the start event never occurs up to as_of
        with pytest.raises(wb.BadParameterError, match="does not occur"):
            wb.retention_matrix(to_frame(rows, tz, weighted, int_ids), as_of=as_of, **kw, **extra)
        return
    got = wb.retention_matrix(to_frame(rows, tz, weighted, int_ids), as_of=as_of, **kw, **extra)
    keys = [*by, "cohort", "period"]
    assert_rows(got.to_dicts(), want, keys, f"seed={seed} kw={kw} as_of={as_of} tz={tz}")
    curve = wb.retention_curve(got)
    ocurve = oc.retention_curve(want, by)
    assert {
        (*[r[b] for b in by], r["period"]): (r["cohorts"], r["base"], r["retained"])
        for r in curve.to_dicts()
    } == {k: v[:3] for k, v in ocurve.items()}


@pytest.mark.parametrize("seed", range(40))
def test_cohort_customers_match_oracle(seed):
    rng = np.random.default_rng(1000 + seed)
    rows = random_log(rng)
    for r in rows:
        r["n_events"] = 1
    kw = _options(rng)
    kw.pop("level", None)
    kw.pop("min_cohort_size", None)
    as_of = _as_of(rng, rows)
    if not oc.retention_matrix(rows, as_of=as_of, **kw):
        return  # no cohort up to as_of (checked in test_retention_matrix_matches_oracle)
    m = wb.retention_matrix(to_frame(rows), as_of=as_of, **kw)
    period = kw.pop("period")
    cp = kw.get("cohort_period") or period
    for cell in m.sample(min(4, m.height), seed=seed).to_dicts():
        cohort = cell["cohort"]
        unit = cell["period"]
        if kw.get("brackets"):
            firsts = [b[0] for b in kw["brackets"]]
            unit = firsts.index(cell["period"])
        for status in ("retained", "lost", "base"):
            got = wb.cohort_customers(
                to_frame(rows),
                cohort=cohort,
                period=cell["period"],
                unit=period,
                status=status,
                as_of=as_of,
                **kw,
            )
            want = oc.cell_customers(
                rows,
                cohort_index=oc.pindex(datetime(cohort.year, cohort.month, cohort.day), cp),
                unit=unit,
                status=status,
                as_of=as_of,
                period=period,
                **kw,
            )
            assert got["customer_id"].to_list() == want, (seed, kw, cell, status)
            if status == "retained":
                assert len(want) == cell["retained"]
            if status == "base":
                assert len(want) == cell["base"]


@pytest.mark.parametrize("seed", range(30))
def test_lifecycle_matches_oracle(seed):
    rng = np.random.default_rng(2000 + seed)
    rows = random_log(rng)
    period = ["day", "week", "month", "quarter"][seed % 4]
    event = [None, "purchase", ["purchase", "visit"]][seed % 3]
    as_of = _as_of(rng, rows)
    names = oc._names(event)
    got = wb.lifecycle(to_frame(rows, ZONES[seed % 5]), period=period, event=event, as_of=as_of)
    cut = oc.resolve_as_of(rows, as_of)
    if not any((names is None or r["event"] in names) and r["ts"] < oc.until(cut) for r in rows):
        assert got.table.height == 0  # no activity up to as_of
        return
    want = oc.lifecycle(rows, period=period, event=event, as_of=as_of)
    assert_rows(got.table.to_dicts(), want, ["period_start"], f"seed={seed} {period} {event}")
    assert got.table.height == len(want)


@pytest.mark.parametrize("seed", range(30))
def test_crr_from_events_matches_oracle(seed):
    rng = np.random.default_rng(3000 + seed)
    rows = random_log(rng)
    period = ["week", "month", "day", "quarter"][seed % 4]
    thr = ["90d", "30d", "7d", "1d", "45d"][seed % 5]
    as_of = _as_of(rng, rows)
    got = wb.customer_retention_rate(to_frame(rows), period=period, inactivity=thr, as_of=as_of)
    if all(r["ts"] > oc.resolve_as_of(rows, as_of) for r in rows):
        assert got.table.height == 0
        return
    want = oc.crr_events(rows, period=period, inactivity=timedelta(days=int(thr[:-1])), as_of=as_of)
    assert_rows(got.table.to_dicts(), want, ["period_start"], f"seed={seed} {period} {thr}")
    assert got.table.height == len(want)


def _random_subs(rng):
    subs = []
    for c in range(int(rng.integers(1, 7))):
        start = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=int(rng.integers(0, 60)))
        if rng.random() < 0.3:
            start = start.replace(day=1, hour=0)  # exactly on a month start
        amount = float(rng.choice([10, 20, 30]))
        for _ in range(int(rng.integers(1, 6))):
            kind = rng.random()
            if kind < 0.6:
                end = start + timedelta(days=int(rng.choice([28, 30, 31])))
            elif kind < 0.75:
                end = start + timedelta(days=365)
            else:
                end = start + timedelta(days=int(rng.integers(5, 50)))
            subs.append(
                {"customer_id": f"s{c}", "period_start": start, "period_end": end, "amount": amount}
            )
            gap = timedelta(days=int(rng.choice([0, 0, 0, 20, 70])))
            start = end + gap
            amount = max(0.0, amount + float(rng.choice([-10, 0, 0, 10])))
    return subs


@pytest.mark.parametrize("seed", range(30))
def test_crr_from_subscriptions_matches_oracle(seed):
    rng = np.random.default_rng(4000 + seed)
    subs = _random_subs(rng)
    period = ["month", "week", "quarter"][seed % 3]
    as_of = [None, datetime(2024, 6, 30, 23, 59, 59, tzinfo=UTC), date(2024, 9, 30)][seed % 3]
    got = wb.customer_retention_rate(subscriptions=pl.DataFrame(subs), period=period, as_of=as_of)
    want = oc.crr_subscriptions(subs, period=period, as_of=as_of)
    assert_rows(got.table.to_dicts(), want, ["period_start"], f"seed={seed}")
    assert got.table.height == len(want)


@pytest.mark.parametrize("seed", range(30))
def test_mrr_and_bridge_match_oracle(seed):
    rng = np.random.default_rng(5000 + seed)
    subs = _random_subs(rng)
    as_of = [None, datetime(2024, 6, 30, 23, 59, 59, tzinfo=UTC), date(2024, 12, 31)][seed % 3]
    table, _ = oc.mrr(subs, as_of=as_of)
    got = wb.mrr(pl.DataFrame(subs), as_of=as_of)
    gmap = {
        (r["customer_id"], oc.pindex(datetime(r["month"].year, r["month"].month, 1), "month")): r[
            "mrr"
        ]
        for r in got.to_dicts()
    }
    assert set(gmap) == set(table), seed
    for k, v in table.items():
        assert math.isclose(gmap[k], v, rel_tol=1e-9), (seed, k)
    if not table:
        return
    bridge = wb.mrr_bridge(pl.DataFrame(subs), as_of=as_of).table
    want = oc.mrr_bridge(subs, as_of=as_of)
    assert_rows(bridge.to_dicts(), want, ["month"], f"seed={seed}")
    assert bridge.height == len(want)


def test_nrr_grr_signs_literal():
    # one customer: 100 -> 150 (expansion 50), one 100 -> 60 (contraction -40), one 100 -> 0.
    jan, feb, mar = (datetime(2024, m, 1, tzinfo=UTC) for m in (1, 2, 3))
    subs = [
        {"customer_id": "a", "period_start": jan, "period_end": feb, "amount": 100.0},
        {"customer_id": "a", "period_start": feb, "period_end": mar, "amount": 150.0},
        {"customer_id": "b", "period_start": jan, "period_end": feb, "amount": 100.0},
        {"customer_id": "b", "period_start": feb, "period_end": mar, "amount": 60.0},
        {"customer_id": "c", "period_start": jan, "period_end": feb, "amount": 100.0},
    ]
    t = wb.mrr_bridge(pl.DataFrame(subs), as_of=date(2024, 2, 29)).table
    row = t.filter(pl.col("month") == date(2024, 2, 1)).to_dicts()[0]
    assert (row["start_mrr"], row["expansion"], row["contraction"], row["churned"]) == (
        300.0,
        50.0,
        -40.0,
        -100.0,
    )
    assert row["end_mrr"] == 210.0
    assert math.isclose(row["nrr"], (300 + 50 - 40 - 100) / 300)
    assert math.isclose(row["grr"], (300 - 40 - 100) / 300)


@pytest.mark.parametrize("seed", range(20))
def test_day_n_retention_matches_oracle(seed):
    rng = np.random.default_rng(6000 + seed)
    rows = random_log(rng)
    as_of = _as_of(rng, rows)
    cp = ["month", "week", "day"][seed % 3]
    se = [{}, {"start_event": "signup", "return_event": "purchase"}][seed % 2]
    if se and not any(
        r["event"] == "signup" and r["ts"] <= oc.resolve_as_of(rows, as_of) for r in rows
    ):
        with pytest.raises(wb.BadParameterError, match="^day_n_retention: start_event='signup'"):
            wb.day_n_retention(to_frame(rows), as_of=as_of, **se)
        return
    got = wb.day_n_retention(to_frame(rows), days=(1, 7, 30), cohort_period=cp, as_of=as_of, **se)
    want = oc.retention_matrix(
        rows, period="day", window="rolling", cohort_period=cp, as_of=as_of, max_period=30, **se
    )
    want = [
        {k: v for k, v in dict(w, day=w["period"]).items() if k not in ("period", "cohort_size")}
        for w in want
        if w["period"] in (1, 7, 30)
    ]
    assert_rows(got.to_dicts(), want, ["cohort", "day"], f"seed={seed}")
    pooled = wb.day_n_retention(
        to_frame(rows), days=(1, 7, 30), cohort_period=cp, as_of=as_of, per_cohort=False, **se
    )
    for r in pooled.to_dicts():
        cells = [w for w in want if w["day"] == r["day"]]
        assert r["base"] == sum(w["base"] for w in cells)
        assert r["retained"] == sum(w["retained"] for w in cells)


@pytest.mark.parametrize("seed", range(20))
def test_stickiness_matches_oracle(seed):
    rng = np.random.default_rng(7000 + seed)
    rows = random_log(rng)
    period, window = [("day", "week"), ("day", "month"), ("month", "quarter"), ("day", "quarter")][
        seed % 4
    ]
    as_of = _as_of(rng, rows)
    got = wb.stickiness(to_frame(rows, ZONES[seed % 5]), period=period, window=window, as_of=as_of)
    want = oc.stickiness(rows, period=period, window=window, as_of=as_of)
    gmap = {
        (r["window_start"], r["active_periods"]): (r["customers"], r["complete"])
        for r in got.to_dicts()
    }
    assert gmap == want
    for r in got.to_dicts():
        n_days = (
            oc.pstart(
                oc.pindex(
                    datetime(
                        r["window_start"].year, r["window_start"].month, r["window_start"].day
                    ),
                    window,
                )
                + 1,
                window,
            ).date()
            - r["window_start"]
        ).days
        expected = {"day": n_days, "week": n_days // 7, "month": 3}[period]
        assert r["periods_in_window"] == expected


@pytest.mark.parametrize("seed", range(30))
def test_value_retention_and_ltv_match_oracle(seed):
    rng = np.random.default_rng(8000 + seed)
    rows = random_log(rng)
    as_of = _as_of(rng, rows)
    kw = {
        "period": ["month", "week", "day", "quarter"][seed % 4],
        "window": ["calendar", "rolling"][seed % 2],
        "cohorting": ["first_time", "recurring"][(seed // 2) % 2],
    }
    if seed % 3 == 0:
        kw.update(start_event="signup", revenue_event="purchase")
    if kw["window"] == "rolling" and seed % 4 == 1:
        kw["cohort_period"] = "month"
    got = wb.value_retention(to_frame(rows), as_of=as_of, **kw)
    want = oc.value_retention(rows, as_of=as_of, **kw)
    assert_rows(got.to_dicts(), want, ["cohort", "period"], f"seed={seed} {kw}")
    ltv = {
        r["period"]: (
            r["cohorts"],
            r["customers"],
            r["revenue_per_customer"],
            r["cumulative_revenue_per_customer"],
        )
        for r in wb.ltv_curve(got).to_dicts()
    }
    oltv = oc.ltv_curve(want)
    assert set(ltv) == set(oltv)
    for k, v in oltv.items():
        assert ltv[k][:2] == v[:2]
        assert math.isclose(ltv[k][2], v[2], abs_tol=1e-9)
        assert math.isclose(ltv[k][3], v[3], abs_tol=1e-9)


# -- breakdowns: each group's numbers equal the oracle run on that group's customers -----------


def _groups_of(rows, customers=None, top_n=10):
    """customer -> channel label as the workbench assigns it (top_n most common, else other)."""
    attr = {c["customer_id"]: c["channel"] for c in (customers or CUSTOMERS)}
    ids = sorted({r["customer_id"] for r in rows})
    labels = {i: oc._label(attr.get(i)) for i in ids}
    mapping = oc._top_labels(list(labels.values()), top_n)
    return {i: mapping[v] for i, v in labels.items()}


@pytest.mark.parametrize("seed", range(12))
def test_lifecycle_and_crr_by_channel_match_oracle_per_group(seed):
    rng = np.random.default_rng(9000 + seed)
    rows = random_log(rng, n_customers=int(rng.integers(3, 10)))
    period = ["month", "week", "quarter"][seed % 3]
    as_of = date(2024, 5, 31)
    cust = pl.DataFrame(CUSTOMERS)
    top_n = [None, 2][seed % 2]
    label = _groups_of(rows, top_n=top_n)
    lc = wb.lifecycle(to_frame(rows), period=period, by="channel", customers=cust, top_n=top_n)
    crr = wb.customer_retention_rate(
        to_frame(rows), period=period, by="channel", customers=cust, top_n=top_n, as_of=as_of
    )
    for g in sorted(set(label.values())):
        sub = [r for r in rows if label[r["customer_id"]] == g]
        want = oc.lifecycle(sub, period=period, as_of=oc.resolve_as_of(rows, None))
        got = lc.table.filter(pl.col("channel") == g).to_dicts()
        first = want[0]["period_start"]
        assert all(r["active"] == 0 and r["dormant"] == 0 for r in got if r["period_start"] < first)
        got = [
            {k: v for k, v in r.items() if k != "channel"}
            for r in got
            if r["period_start"] >= first
        ]
        assert_rows(got, want, ["period_start"], f"lifecycle seed={seed} group={g}")
        want = oc.crr_events(sub, period=period, as_of=as_of)
        got = crr.table.filter(pl.col("channel") == g).to_dicts()
        first = want[0]["period_start"] if want else date.max
        assert all(
            r["start_customers"] == r["end_customers"] == 0
            for r in got
            if r["period_start"] < first
        )
        got = [r for r in got if r["period_start"] >= first]
        assert_rows(got, want, ["period_start"], f"crr seed={seed} group={g}")


@pytest.mark.parametrize("seed", range(12))
def test_value_retention_and_bridge_by_channel_match_oracle_per_group(seed):
    rng = np.random.default_rng(9500 + seed)
    rows = random_log(rng, n_customers=int(rng.integers(3, 10)))
    cust = pl.DataFrame(CUSTOMERS)
    label = _groups_of(rows, top_n=None)
    v = wb.value_retention(to_frame(rows), by="channel", customers=cust, top_n=None)
    for g in sorted(set(label.values())):
        sub = [r for r in rows if label[r["customer_id"]] == g]
        want = oc.value_retention(sub, as_of=oc.resolve_as_of(rows, None))
        got = v.filter(pl.col("channel") == g).to_dicts()
        assert_rows(got, want, ["cohort", "period"], f"value seed={seed} group={g}")
    subs = _random_subs(rng)
    scust = pl.DataFrame(
        {"customer_id": [f"s{i}" for i in range(6)], "plan": ["x", "y", "x", None, "y", "x"]}
    )
    b = wb.mrr_bridge(pl.DataFrame(subs), by="plan", customers=scust).table
    plan = dict(zip(scust["customer_id"], scust["plan"], strict=True))
    as_of = max(oc.utc(s["period_start"]) for s in subs)
    for g in sorted({oc._label(plan[s["customer_id"]]) for s in subs}):
        sub = [s for s in subs if oc._label(plan[s["customer_id"]]) == g]
        if not oc.mrr(sub, as_of=as_of)[0]:
            continue
        want = oc.mrr_bridge(sub, as_of=as_of)
        got = b.filter(pl.col("plan") == g).to_dicts()
        got = [r for r in got if r["month"] >= want[0]["month"]]
        assert_rows(got, want, ["month"], f"bridge seed={seed} group={g}")


@pytest.mark.parametrize("seed", range(10))
def test_cohort_customers_by_group(seed):
    rng = np.random.default_rng(9800 + seed)
    rows = random_log(rng, n_customers=8)
    cust = pl.DataFrame(CUSTOMERS)
    kw = {"period": "week", "by": "channel", "customers": cust, "top_n": 2, "as_of": "2024-04-30"}
    m = wb.retention_matrix(to_frame(rows), **kw)
    label = _groups_of(rows, top_n=2)
    for cell in m.filter(pl.col("period") <= 2).to_dicts():
        got = wb.cohort_customers(
            to_frame(rows),
            cohort=cell["cohort"],
            period=cell["period"],
            unit="week",
            group=cell["channel"],
            by="channel",
            customers=cust,
            top_n=2,
            as_of="2024-04-30",
        )
        ci = oc.pindex(
            datetime(cell["cohort"].year, cell["cohort"].month, cell["cohort"].day), "week"
        )
        want = oc.cell_customers(
            rows, cohort_index=ci, unit=cell["period"], period="week", as_of="2024-04-30"
        )
        want = [c for c in want if label[c] == cell["channel"]]
        assert got["customer_id"].to_list() == want
        assert len(want) == cell["retained"]


# -- the sort kernels (integer ids, one event set, first-time calendar cohorts) ----------------


@pytest.mark.parametrize("seed", range(16))
def test_sort_kernel_path_matches_oracle(seed):
    rng = np.random.default_rng(9900 + seed)
    rows = random_log(rng, n_customers=int(rng.integers(1, 12)))
    kw = {
        "period": ["day", "week", "month", "quarter"][seed % 4],
        "mode": ["on", "on_or_after"][(seed // 4) % 2],
        "reference": ["total", "previous"][(seed // 8) % 2],
    }
    if seed % 3 == 0:
        kw["start_event"] = kw["return_event"] = ["purchase", "visit"]
    as_of = _as_of(rng, rows)
    if seed % 5 == 0:
        kw["max_period"] = 1
    ev = to_frame(rows, ZONES[seed % 5], int_ids=True)
    spec = make_spec("retention_matrix", **kw)
    assert cohorts_fast.applies(cohorts_engine.prepare(ev, spec, as_of=as_of), spec)
    want = oc.retention_matrix(rows, as_of=as_of, **kw)
    if not want and "start_event" in kw:
        return  # no start event up to as_of: an error (see test_retention_matrix_matches_oracle)
    got = wb.retention_matrix(ev, as_of=as_of, **kw)
    assert_rows(got.to_dicts(), want, ["cohort", "period"], f"seed={seed} {kw}")


# -- literal edge cases -------------------------------------------------------------------------


def _log(items):
    return pl.DataFrame(
        {
            "customer_id": [i[0] for i in items],
            "ts": [datetime.fromisoformat(i[1]).replace(tzinfo=UTC) for i in items],
            "event": [i[2] if len(i) > 2 else "purchase" for i in items],
        }
    )


def test_rolling_day_one_is_24_to_48_hours_after_the_start():
    ev = _log(
        [
            ("a", "2024-02-28T10:00:00"),
            ("a", "2024-02-29T10:00:00"),  # exactly 24 h: day 1
            ("b", "2024-02-28T10:00:00"),
            ("b", "2024-02-29T09:59:59.999999"),  # 1 us short of 24 h: day 0
            ("b", "2024-03-01T10:00:00"),  # exactly 48 h: day 2
            ("c", "2024-02-28T23:59:59"),
            ("c", "2024-02-29T00:00:01"),  # the next calendar day, but day 0 (2 s later)
        ]
    )
    m = wb.retention_matrix(
        ev, period="day", window="rolling", cohort_period="month", as_of="2024-03-02T10:00:00"
    )
    rows = {r["period"]: (r["base"], r["retained"]) for r in m.to_dicts()}
    assert rows[0] == (3, 3)
    assert rows[1] == (3, 1)  # only a
    assert rows[2] == (2, 1)  # only b; c's day 2 ends 03-02 23:59:59, after as_of
    cal = wb.retention_matrix(ev, period="day", as_of="2024-03-02T10:00:00")
    # calendar days: c is back on the next calendar day (cohort 2024-02-28, period 1)
    got = {(r["cohort"], r["period"]): r["retained"] for r in cal.to_dicts()}
    assert got[(date(2024, 2, 28), 1)] == 3
    assert got[(date(2024, 2, 28), 2)] == 1


def test_window_elapses_exactly_at_as_of_plus_one_second():
    ev = _log([("a", "2024-01-01T00:00:00"), ("a", "2024-01-02T12:00:00")])
    # day 1 of a = [01-02 00:00, 01-03 00:00): elapsed when as_of >= 01-02 23:59:59
    for as_of, base in [("2024-01-02T23:59:58", 0), ("2024-01-02T23:59:59", 1), ("2024-01-02", 1)]:
        m = wb.retention_matrix(ev, period="day", window="rolling", as_of=as_of)
        assert m.filter(pl.col("period") == 1)["base"].to_list() in (
            [base],
            [] if base == 0 else [base],
        )


def test_signup_purchase_edge_cases():
    ev = _log(
        [
            ("a", "2024-01-31T23:59:59", "signup"),
            ("a", "2024-02-01T00:00:00", "purchase"),  # next calendar month, 1 s later
            ("b", "2024-01-10T00:00:00", "purchase"),  # purchase before signup
            ("b", "2024-01-20T00:00:00", "signup"),
            ("c", "2024-01-05T00:00:00", "purchase"),  # never signs up: in no cohort
        ]
    )
    kw = dict(start_event="signup", return_event="purchase", as_of="2024-03-31")
    m = wb.retention_matrix(ev, **kw)
    assert [(r["period"], r["cohort_size"], r["retained"]) for r in m.to_dicts()] == [
        (0, 2, 1),  # b's purchase earlier in the cohort month counts for period 0 (calendar)
        (1, 2, 1),
        (2, 2, 0),
    ]
    r = wb.retention_matrix(ev, window="rolling", period="day", cohort_period="month", **kw)
    # rolling windows: only return events at or after the start; a's purchase 1 s later = day 0
    assert r.filter(pl.col("period") == 0)["retained"].item() == 1


def test_quarter_and_week_boundaries():
    ev = _log(
        [
            ("a", "2024-03-31T23:59:59"),  # Q1, Sunday (week of Monday 2024-03-25)
            ("a", "2024-04-01T00:00:00"),  # Q2, Monday (new week)
            ("b", "2023-12-31T12:00:00"),  # Q4 2023, Sunday, week of 2023-12-25
            ("b", "2024-01-01T00:00:00"),
        ]
    )
    q = wb.retention_matrix(ev, period="quarter", as_of="2024-06-30")
    assert [(str(r["cohort"]), r["period"], r["retained"]) for r in q.to_dicts()] == [
        ("2023-10-01", 0, 1),
        ("2023-10-01", 1, 1),
        ("2023-10-01", 2, 0),
        ("2024-01-01", 0, 1),
        ("2024-01-01", 1, 1),
    ]
    w = wb.retention_matrix(ev, period="week", as_of="2024-04-07", max_period=1)
    assert {str(r["cohort"]) for r in w.to_dicts()} == {"2023-12-25", "2024-03-25"}
    assert w.filter(pl.col("period") == 1)["retained"].to_list() == [1, 1]
    assert w.filter(pl.col("period") == 1)["complete"].to_list() == [True, True]


def test_zero_retained_cohort_and_weighted_curve():
    ev = _log(
        [
            ("a", "2024-01-05"),
            ("b", "2024-01-06"),
            ("b", "2024-02-06"),
            ("c", "2024-02-10"),
            ("d", "2024-03-01"),
            ("d", "2024-04-01"),
        ]
    )
    m = wb.retention_matrix(ev, as_of="2024-04-15")
    feb = m.filter(pl.col("cohort") == date(2024, 2, 1), pl.col("period") == 1).to_dicts()[0]
    assert (feb["retained"], feb["retention"], feb["ci_low"]) == (0, 0.0, 0.0)
    c = wb.retention_curve(m).to_dicts()
    # period 1: complete cells = Jan (1 of 2) and Feb (0 of 1); March's period 1 (April) is open
    p1 = next(r for r in c if r["period"] == 1)
    assert (p1["cohorts"], p1["base"], p1["retained"]) == (2, 3, 1)


def _reduce_to_days(rows):
    """Warehouse push-down: one row per (customer, event, category, UTC day), ts = day start,
    amount = the day's sum, n_events = the day's count of events."""
    acc = {}
    for r in rows:
        day = oc.utc(r["ts"]).date()
        key = (r["customer_id"], r["event"], r["category"], day)
        a = acc.setdefault(key, [0.0, 0])
        a[0] += r["amount"]
        a[1] += r.get("n_events", 1)
    return [
        {
            "customer_id": c,
            "ts": datetime(d.year, d.month, d.day, tzinfo=UTC),
            "event": e,
            "category": cat,
            "amount": amt,
            "n_events": n,
        }
        for (c, e, cat, d), (amt, n) in acc.items()
    ]


@pytest.mark.parametrize("seed", range(12))
def test_day_grain_results_are_identical_on_pre_aggregated_rows(seed):
    rng = np.random.default_rng(9700 + seed)
    rows = random_log(rng, n_customers=8)
    day_rows = _reduce_to_days(rows)
    as_of = date(2024, 4, 30)
    raw, red = to_frame(rows, weighted=True), to_frame(day_rows, weighted=True)
    kw = {
        "period": ["day", "week", "month", "quarter"][seed % 4],
        "mode": ["on", "on_or_after"][seed % 2],
        "min_events": [1, 2, 3][seed % 3],
        "cohorting": ["first_time", "recurring"][(seed // 2) % 2],
        "reference": ["total", "previous"][(seed // 3) % 2],
    }
    if seed % 4 == 1:
        kw.update(start_event="signup", return_event="purchase")
    assert wb.retention_matrix(raw, as_of=as_of, **kw).equals(
        wb.retention_matrix(red, as_of=as_of, **kw)
    )
    p = kw["period"]
    assert wb.lifecycle(raw, period=p, as_of=as_of).table.equals(
        wb.lifecycle(red, period=p, as_of=as_of).table
    )
    assert wb.customer_retention_rate(raw, period=p, as_of=as_of, inactivity="30d").table.equals(
        wb.customer_retention_rate(red, period=p, as_of=as_of, inactivity="30d").table
    )
    if p != "day":
        assert wb.stickiness(raw, window=p, as_of=as_of).equals(
            wb.stickiness(red, window=p, as_of=as_of)
        )
    a = wb.value_retention(raw, period=p, as_of=as_of, revenue_event="purchase")
    b = wb.value_retention(red, period=p, as_of=as_of, revenue_event="purchase")
    assert a.drop(
        "revenue", "revenue_per_customer", "revenue_per_paying", "cumulative_revenue_per_customer"
    ).equals(
        b.drop(
            "revenue",
            "revenue_per_customer",
            "revenue_per_paying",
            "cumulative_revenue_per_customer",
        )
    )
    assert np.allclose(a["revenue"].to_numpy(), b["revenue"].to_numpy())
