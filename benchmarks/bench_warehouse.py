"""PostgreSQL push-down against pulling raw rows, on a throw-away local server.

Starts PostgreSQL (initdb into a temporary directory, 127.0.0.1, free port; needs Debian's
postgresql package), loads N synthetic clickstream events (the generator of bench_scale.py) with
COPY, and builds the activity table two ways, each in its own child process (the URI travels in
WORKBENCH_DB_URI, never on a command line):

* push-down: ``wb.load_events("env://", table="events")`` -- the GROUP BY runs in PostgreSQL and
  only the activity table crosses the wire;
* raw pull: ``wb.load_events("env://", table="events", reduce=None)`` (every row through
  connectorx) followed by ``wb.activity_table`` locally.

The server gets work_mem = 512MB so that the GROUP BY hashes in memory (with PostgreSQL's
4MB default it spills to disk and runs about 1.5x slower). Both use the loaders' defaults (validation, duplicate check). Each method runs `--repeat` times
(default 2) and the fastest run is shown. The server is local, so the network costs nothing here:
over a real network, moving fewer rows matters more than on this loopback.

Checks that both give the identical table and prints wall time, rows transferred and the client's
peak RSS (the server's memory is not included).

    python benchmarks/bench_warehouse.py                  # 1M and 5M events
    python benchmarks/bench_warehouse.py --sizes 1M
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from bench_scale import DATA, label, parse_size, peak_rss_mb, sessions_chunk  # noqa: E402

COLUMNS = {
    "customer_id": "bigint",
    "ts": "timestamptz",
    "event": "text",
    "category": "text",
    "amount": "double precision",
}


def child(method: str, out: str) -> None:
    import workbench as wb

    t = time.perf_counter()
    if method == "pushdown":
        res = wb.load_events("env://", table="events").collect()
        moved = res.height
    elif method == "raw":
        raw = wb.load_events("env://", table="events", reduce=None).collect()
        moved = raw.height
        res = wb.activity_table(raw)
        del raw
    else:
        raise SystemExit(f"unknown method {method}")
    seconds = time.perf_counter() - t
    res.write_parquet(out)
    print(
        json.dumps(
            {"seconds": seconds, "rows": res.height, "moved": moved, "peak_rss_mb": peak_rss_mb()}
        )
    )


def load_table(server, n_events: int, seed: int = 0) -> float:
    import numpy as np
    import polars as pl
    from pg_server import copy_frame

    t = time.perf_counter()
    rng = np.random.default_rng(seed)
    with server.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS events")
        written = 0
        first = True
        while written < n_events:
            size = min(1_000_000, n_events - written)
            chunk = pl.from_arrow(sessions_chunk(rng, size, max(1000, n_events // 100)))
            if first:
                copy_frame(conn, "events", chunk, COLUMNS)
                first = False
            else:
                _append(conn, chunk)
            written += size
        conn.execute("ANALYZE events")
        conn.execute("ALTER DATABASE wbtest SET work_mem = '512MB'")
    return time.perf_counter() - t


def _append(conn, frame) -> None:
    names = ", ".join(f'"{c}"' for c in COLUMNS)
    with (
        conn.cursor() as cur,
        cur.copy(f"COPY events ({names}) FROM STDIN (FORMAT csv, NULL '')") as copy,
    ):
        copy.write(frame.select(list(COLUMNS)).write_csv(include_header=False).encode())


def run_child(method: str, uri: str, out: Path) -> dict:
    env = {**os.environ, "WORKBENCH_DB_URI": uri}
    proc = subprocess.run(
        [sys.executable, __file__, "--child", method, str(out)],
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        raise SystemExit(f"{method} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1M,5M")
    ap.add_argument("--repeat", type=int, default=2, help="runs per method; the best is shown")
    ap.add_argument("--child", nargs=2, metavar=("METHOD", "OUT"))
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    import polars as pl
    from pg_server import PgServer, find_pg_bin
    from polars.testing import assert_frame_equal

    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise SystemExit("PostgreSQL binaries not found: apt-get install postgresql")
    server = PgServer(bin_dir).start()
    DATA.mkdir(parents=True, exist_ok=True)
    try:
        for size in args.sizes.split(","):
            n = parse_size(size)
            load_s = load_table(server, n)
            print(f"\n== {label(n)} events in PostgreSQL (COPY + ANALYZE {load_s:.1f} s)")
            res, outs = {}, {}
            for m in ["pushdown", "raw"]:
                outs[m] = DATA / f"warehouse_{label(n)}_{m}.parquet"
                runs = [run_child(m, server.uri, outs[m]) for _ in range(args.repeat)]
                res[m] = r = min(runs, key=lambda x: x["seconds"])
                print(
                    f"  {m:<9} {r['seconds']:7.1f} s  rows transferred {r['moved']:>11,}  "
                    f"client peak RSS {r['peak_rss_mb']:7.0f} MB  -> {r['rows']:,} rows"
                )
            keys = ["customer_id", "ts", "event", "category"]
            a = pl.read_parquet(outs["pushdown"]).sort(keys, nulls_last=True)
            b = pl.read_parquet(outs["raw"]).select(a.columns).sort(keys, nulls_last=True)
            assert_frame_equal(a, b)
            assert int(a["n_events"].sum()) == n
            print(
                f"  identical activity tables; raw pull / push-down: time "
                f"{res['raw']['seconds'] / res['pushdown']['seconds']:.2f}x, rows moved "
                f"{res['raw']['moved'] / res['pushdown']['moved']:.2f}x, client memory "
                f"{res['raw']['peak_rss_mb'] / res['pushdown']['peak_rss_mb']:.2f}x"
            )
            for f in outs.values():
                f.unlink(missing_ok=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
