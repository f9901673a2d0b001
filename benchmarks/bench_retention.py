"""Monthly cohort retention ("on" and "on_or_after"): workbench vs DuckDB SQL vs pandas.

Each measurement runs in its own subprocess (only that tool imported), reads the Parquet file
itself (timed), and reports its wall time (best of --repeat runs) and peak resident memory
(VmHWM), both in total and above the process's baseline after imports. The parent checks
that the three tools return identical (cohort, period, retained) counts and prints ratios, then
the floor: the time polars takes just to read the two columns every tool needs.

    python benchmarks/bench_retention.py                    # 1M and 10M events
    python benchmarks/bench_retention.py --by channel       # split by a customers attribute
    python benchmarks/bench_retention.py --sizes 100M --tools workbench,duckdb --engine streaming
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _forked import peak_rss_mb  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

TOOLS = ("workbench", "duckdb", "pandas")
MODES = ("on", "on_or_after")


# -- the three implementations (each runs in a child process) -----------------------------------


def run_workbench(path: str, mode: str, engine: str, customers: str | None):
    import polars as pl

    import workbench as wb

    split = {"by": "channel", "customers": pl.scan_parquet(customers)} if customers else {}
    m = wb.retention_matrix(
        pl.scan_parquet(path), period="month", mode=mode, engine=engine, **split
    )
    keys = ["channel"] if customers else []
    return m.filter(pl.col("retained") > 0).select(*keys, "cohort", "period", "retained")


DUCKDB_SQL = {
    "on": """
        WITH a AS (SELECT DISTINCT customer_id, date_trunc('month', ts) AS m
                   FROM read_parquet('{path}')),
             f AS (SELECT customer_id, min(m) AS cohort FROM a GROUP BY customer_id)
        SELECT {g} CAST(f.cohort AS DATE) AS cohort, date_diff('month', f.cohort, a.m) AS period,
               count(*) AS retained
        FROM a JOIN f USING (customer_id) {join}
        GROUP BY ALL""",
    "on_or_after": """
        WITH c AS (SELECT customer_id, date_trunc('month', min(ts)) AS cohort,
                          date_trunc('month', max(ts)) AS last
                   FROM read_parquet('{path}') GROUP BY customer_id),
             h AS (SELECT {g} cohort, date_diff('month', cohort, last) AS span, count(*) AS n
                   FROM c {join} GROUP BY ALL)
        SELECT {g} CAST(h.cohort AS DATE) AS cohort, k.period, sum(h.n) AS retained
        FROM h JOIN range(0, 1200) AS k(period) ON h.span >= k.period
        GROUP BY ALL""",
}
JOIN = "JOIN read_parquet('{customers}') AS u USING (customer_id)"


def run_duckdb(path: str, mode: str, engine: str, customers: str | None):
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    join = JOIN.format(customers=customers) if customers else ""
    sql = DUCKDB_SQL[mode].format(path=path, g="channel," if customers else "", join=join)
    return con.sql(sql).pl()


def run_pandas(path: str, mode: str, engine: str, customers: str | None):
    import pandas as pd

    df = pd.read_parquet(path, columns=["customer_id", "ts"])
    df["month"] = df["ts"].dt.tz_localize(None).dt.to_period("M")
    g = ["channel"] if customers else []
    if mode == "on":
        df = df.drop_duplicates(["customer_id", "month"])
        df["cohort"] = df.groupby("customer_id")["month"].transform("min")
        df["period"] = (df["month"].dt.year - df["cohort"].dt.year) * 12 + (
            df["month"].dt.month - df["cohort"].dt.month
        )
        if customers:
            df = df.merge(pd.read_parquet(customers), on="customer_id")
        out = df.groupby([*g, "cohort", "period"]).size().rename("retained").reset_index()
    else:
        c = df.groupby("customer_id")["month"].agg(["min", "max"])
        c["span"] = (c["max"].dt.year - c["min"].dt.year) * 12 + (
            c["max"].dt.month - c["min"].dt.month
        )
        if customers:
            c = c.join(pd.read_parquet(customers).set_index("customer_id"))
        hist = pd.crosstab([c[k] for k in [*g, "min"]], c["span"])
        hist = hist.reindex(columns=range(int(c["span"].max()) + 1), fill_value=0)
        cum = hist.iloc[:, ::-1].cumsum(axis=1).iloc[:, ::-1]
        out = cum.stack().rename("retained").reset_index()
        out.columns = [*g, "cohort", "period", "retained"]
        out = out[out["retained"] > 0]
    out["cohort"] = out["cohort"].dt.to_timestamp().dt.date
    return out


def run_read(path: str, mode: str, engine: str, customers: str | None):
    """The floor: polars reading the two needed columns, nothing else."""
    import polars as pl

    pl.scan_parquet(path).select("customer_id", "ts").collect()
    return pl.DataFrame({"cohort": [], "period": [], "retained": []})


def child(tool, mode, path, out, repeat: int, engine, customers: str | None) -> None:
    runners = {"workbench": run_workbench, "duckdb": run_duckdb, "pandas": run_pandas}
    fn = {**runners, "read": run_read}[tool]
    if tool == "workbench":
        import polars  # noqa: F401

        import workbench  # noqa: F401
    elif tool == "read":
        import polars  # noqa: F401
    elif tool == "duckdb":
        import duckdb  # noqa: F401
        import polars  # noqa: F401
    else:
        import pandas  # noqa: F401
        import pyarrow  # noqa: F401
    base = peak_rss_mb()
    times, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), _cpu()
        result = fn(path, mode, engine, customers)
        times.append(time.perf_counter() - t0)
        cpu.append(_cpu() - c0)
    peak = peak_rss_mb()
    import polars as pl

    frame = result if isinstance(result, pl.DataFrame) else pl.from_pandas(result)
    keys = ["channel"] if customers else []
    frame.select(
        *[pl.col(k).cast(pl.String) for k in keys],
        pl.col("cohort").cast(pl.Date),
        pl.col("period").cast(pl.Int64),
        pl.col("retained").cast(pl.Int64),
    ).sort(*keys, "cohort", "period").write_parquet(out)
    best = times.index(min(times))
    print(
        json.dumps(
            {
                "seconds": times[best],
                "cpu": cpu[best],
                "all": times,
                "peak_mb": peak,
                "base_mb": base,
            }
        )
    )


def _cpu() -> float:
    """User + system CPU seconds of this process (all threads)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# -- the parent -------------------------------------------------------------------------------


def measure(tool, mode, path, repeat, engine, timeout, customers=None):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "counts.parquet")
        cmd = [sys.executable, __file__, "--child", tool, mode, str(path), out, str(repeat), engine]
        cmd += [str(customers) if customers else "-"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"{tool} {mode} failed:\n{proc.stderr[-2000:]}")
        stats = json.loads(proc.stdout.strip().splitlines()[-1])
        import polars as pl

        stats["counts"] = pl.read_parquet(out)
    return stats


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1M,10M")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--repeat", type=int, default=3, help="runs per child (best is kept)")
    parser.add_argument("--pandas-repeat", type=int, default=1)
    parser.add_argument("--engine", default="auto", help="polars engine: auto or streaming")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument(
        "--by", choices=["channel"], help="split by a customers attribute (5 channels)"
    )
    parser.add_argument("--child", nargs=7, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        tool, mode, path, out, repeat, engine, customers = args.child
        child(tool, mode, path, out, int(repeat), engine, None if customers == "-" else customers)
        return

    from gen_events import customers_for, generate, parse_size

    tools = args.tools.split(",")
    print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()}")
    for size in args.sizes.split(","):
        n = parse_size(size)
        path = generate(n)
        customers = customers_for(path) if args.by else None
        for mode in args.modes.split(","):
            results = {}
            for tool in tools:
                repeat = args.pandas_repeat if tool == "pandas" else args.repeat
                results[tool] = measure(
                    tool, mode, path, repeat, args.engine, args.timeout, customers
                )
            ref = results[tools[0]]["counts"]
            same = all(r["counts"].equals(ref) for r in results.values())
            split = f", by {args.by}" if args.by else ""
            print(
                f"\n{size} events, mode={mode}{split}: identical counts across tools: {same} "
                f"({ref.height} cells, {int(ref['retained'].sum()):,} retained)"
            )
            print(
                f"{'tool':<10} {'seconds':>8} {'x slower':>9} {'cpu s':>7} {'x cpu':>6} "
                f"{'peak MB':>8} {'above base':>10}"
            )
            ours = results.get("workbench")
            for tool, r in results.items():
                ratio = r["seconds"] / ours["seconds"] if ours else float("nan")
                cratio = r["cpu"] / ours["cpu"] if ours else float("nan")
                print(
                    f"{tool:<10} {r['seconds']:8.2f} {ratio:9.1f} {r['cpu']:7.2f} {cratio:6.1f} "
                    f"{r['peak_mb']:8.0f} {r['peak_mb'] - r['base_mb']:10.0f}"
                )
            if not same:
                raise SystemExit("counts differ between tools")
        floor = measure("read", "on", path, args.repeat, args.engine, args.timeout)
        print(
            f"\nfloor at {size}: polars reading customer_id and ts alone takes "
            f"{floor['seconds']:.2f} s ({floor['peak_mb'] - floor['base_mb']:.0f} MB above base)"
        )
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
