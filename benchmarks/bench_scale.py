"""Larger-than-memory event logs: reduce a hive-partitioned Parquet dataset to the activity table.

Generates a synthetic clickstream (sessions of a few events per customer-day: visits, carts,
purchases with a category and an amount) as Parquet partitioned by month, written chunk by chunk
so generation itself stays small, then reduces it to the activity table (one row per customer x
event x category x UTC day) three ways, each in its own child process so peak memory is that
process's alone:

* workbench: ``wb.activity_table(pl.scan_parquet(dir))`` on polars' streaming engine;
* the same through ``wb.load_events(dir, reduce="day")`` (validation pass + reduction);
* DuckDB running ``wb.activity_sql(..., dialect="duckdb")`` over the same files.

Results are checked equal (full frame at 10M; totals and row counts at every size) and the
script prints wall time and peak RSS of each.

    python benchmarks/bench_scale.py                 # 10M events
    python benchmarks/bench_scale.py --sizes 10M,100M
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from _forked import peak_rss_mb  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
START_US = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z
DAY_US = 86_400_000_000
DAYS = 366
CHUNK_EVENTS = 5_000_000
EVENTS = np.array(["visit", "add_to_cart", "purchase"])
CATEGORIES = np.array(["books", "music", "electronics", "home", "garden"])


def parse_size(text: str) -> int:
    text = text.strip().upper()
    mult = {"K": 1_000, "M": 1_000_000, "G": 1_000_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("KMG")) * mult)


def label(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else str(n)


def sessions_chunk(rng: np.random.Generator, n_events: int, n_customers: int) -> pa.Table:
    """About `n_events` events in sessions (one customer, one day, 1 + Poisson(7) events)."""
    n_sess = max(1, n_events // 8)
    sizes = 1 + rng.poisson(7, size=n_sess)
    sizes[-1] += max(0, n_events - int(sizes.sum()))
    cut = int(np.searchsorted(np.cumsum(sizes), n_events))
    sizes = sizes[: cut + 1]
    sizes[-1] -= int(sizes.sum()) - n_events
    sizes = sizes[sizes > 0]
    n_sess = sizes.size
    # Zipf-like customers: a few very active ones, a long tail.
    cust = (rng.pareto(1.2, size=n_sess) * n_customers / 20).astype(np.int64) % n_customers
    start = (
        START_US
        + rng.integers(0, DAYS, size=n_sess) * DAY_US
        + rng.integers(0, DAY_US - 3_600_000_000, size=n_sess)
    )
    owner = np.repeat(np.arange(n_sess), sizes)
    ts = start[owner] + rng.integers(0, 3_600_000_000, size=n_events)
    kind = rng.choice(3, size=n_events, p=[0.7, 0.18, 0.12])
    purchase = kind == 2
    category = np.where(kind > 0, CATEGORIES[rng.integers(0, 5, size=n_events)], None)
    amount = np.where(purchase, np.round(rng.gamma(2.0, 20.0, n_events) * 4) / 4, np.nan)
    return pa.table(
        {
            "customer_id": pa.array(cust[owner], pa.int64()),
            "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
            "event": pa.array(EVENTS[kind]),
            "category": pa.array(category, pa.string()),
            "amount": pa.array(amount, pa.float64(), from_pandas=True),
        }
    )


def generate(n_events: int, *, seed: int = 0, force: bool = False) -> Path:
    """Write benchmarks/data/scale_<size>/month=YYYY-MM/part-NNNN.parquet (cached)."""
    out = DATA / f"scale_{label(n_events)}"
    done = out / "_SUCCESS"
    if done.exists() and not force:
        return out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    n_customers = max(1000, n_events // 100)
    written, part = 0, 0
    while written < n_events:
        size = min(CHUNK_EVENTS, n_events - written)
        table = sessions_chunk(rng, size, n_customers)
        month = table["ts"].to_numpy().astype("datetime64[M]")
        for m in np.unique(month):
            sel = np.nonzero(month == m)[0]
            d = out / f"month={m}"
            d.mkdir(exist_ok=True)
            pq.write_table(table.take(sel), d / f"part-{part:04d}.parquet")
        written += size
        part += 1
    done.touch()
    return out


# -- child processes: one method each, report time and peak RSS ---------------------------------


def child(method: str, path: str, out: str) -> None:
    import polars as pl

    import workbench as wb

    t = time.perf_counter()
    if method == "workbench":
        res = wb.activity_table(pl.scan_parquet(path, hive_partitioning=True))
    elif method == "load_events":
        res = wb.load_events(path, reduce="day", on_duplicates="keep").collect(engine="streaming")
    elif method == "duckdb":
        import duckdb

        con = duckdb.connect()
        con.execute("SET memory_limit = '6GB'")
        sql = wb.activity_sql(
            f"read_parquet('{path}/**/*.parquet', hive_partitioning = false)", dialect="duckdb"
        )
        res = con.sql(sql).pl().with_columns(pl.col("ts").dt.convert_time_zone("UTC"))
    else:
        raise SystemExit(f"unknown method {method}")
    seconds = time.perf_counter() - t
    res.write_parquet(out)
    stats = {
        "seconds": seconds,
        "rows": res.height,
        "n_events": int(res["n_events"].sum()),
        "amount": float(res["amount"].sum()),
        "peak_rss_mb": peak_rss_mb(),
    }
    print(json.dumps(stats))


def run_child(method: str, path: Path, out: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", method, str(path), str(out)],
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        raise SystemExit(f"{method} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench(n_events: int, methods: list[str], full_check: bool) -> None:
    import polars as pl
    from polars.testing import assert_frame_equal

    t = time.perf_counter()
    path = generate(n_events)
    gen_s = time.perf_counter() - t
    gen_rss = peak_rss_mb()
    size_gb = sum(f.stat().st_size for f in path.rglob("*.parquet")) / 1e9
    print(
        f"\n== {label(n_events)} events: {path} ({size_gb:.2f} GB on disk; generation "
        f"{gen_s:.1f} s, generator peak RSS {gen_rss:.0f} MB)"
    )
    results, outs = {}, {}
    for m in methods:
        outs[m] = DATA / f"scale_{label(n_events)}_{m}.parquet"
        results[m] = run_child(m, path, outs[m])
        r = results[m]
        print(
            f"  {m:<12} {r['seconds']:8.1f} s  peak RSS {r['peak_rss_mb']:8.0f} MB  "
            f"-> {r['rows']:,} rows ({n_events / r['rows']:.1f} events per row)"
        )
    base = results[methods[0]]
    for m in methods[1:]:
        r = results[m]
        assert r["rows"] == base["rows"] and r["n_events"] == base["n_events"] == n_events, m
        assert abs(r["amount"] - base["amount"]) <= 1e-9 * abs(base["amount"]), m
        print(f"  {m} / {methods[0]} time ratio: {r['seconds'] / base['seconds']:.2f}")
    if full_check:
        keys = ["customer_id", "ts", "event", "category"]
        ref = pl.read_parquet(outs[methods[0]]).sort(keys, nulls_last=True)
        for m in methods[1:]:
            other = pl.read_parquet(outs[m]).select(ref.columns).sort(keys, nulls_last=True)
            assert_frame_equal(ref, other)
        print("  full activity tables identical across methods")
    else:
        print("  row counts, event totals and amount totals identical across methods")
    for f in outs.values():
        f.unlink(missing_ok=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10M")
    ap.add_argument("--methods", default="workbench,load_events,duckdb")
    ap.add_argument("--child", nargs=3, metavar=("METHOD", "PATH", "OUT"))
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    os.environ.setdefault("POLARS_MAX_THREADS", str(os.cpu_count() or 2))
    for size in args.sizes.split(","):
        n = parse_size(size)
        bench(n, args.methods.split(","), full_check=n <= 20_000_000)


if __name__ == "__main__":
    main()
