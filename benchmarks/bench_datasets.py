"""Sample-data generation time and memory; vendored CDNOW load against parsing the text file.

    .venv/bin/python benchmarks/bench_datasets.py                  # 6k and 60k customers
    .venv/bin/python benchmarks/bench_datasets.py --sizes 6000 600000
    .venv/bin/python benchmarks/bench_datasets.py --cdnow-text /path/to/CDNOW_master.txt

Generation has no peer to race; it prints wall time, events per second and the resident-set
growth (polars and numpy allocate outside traced Python memory). The CDNOW part compares
``wb.datasets.load_cdnow()`` (vendored parquet) with pandas ``read_csv`` on the original text file
and checks that both give the same rows.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import polars as pl
from _forked import peak_rss_mb  # noqa: E402

import workbench as wb
from workbench.datasets.real import _cdnow
from workbench.datasets.sample import _generate


def rss_mb() -> float:
    return peak_rss_mb()


def bench_sample(n: int) -> None:
    before = rss_mb()
    t = time.perf_counter()
    s = _generate.__wrapped__(0, n)
    dt = time.perf_counter() - t
    print(
        f"load_sample n_customers={n:>9,}: {dt:7.2f} s, {s.events.height:>11,} events "
        f"({s.events.height / dt:,.0f}/s), peak RSS growth {rss_mb() - before:,.0f} MB"
    )


def bench_cdnow(text: Path) -> None:
    import pandas as pd

    t = time.perf_counter()
    raw = pd.read_csv(text, sep=r"\s+", skiprows=1, header=None, names=["id", "date", "n", "usd"])
    raw["ts"] = pd.to_datetime(raw["date"].astype(str), format="%Y%m%d", utc=True)
    t_pandas = time.perf_counter() - t
    _cdnow.cache_clear()
    t = time.perf_counter()
    m = wb.datasets.load_cdnow()
    t_wb = time.perf_counter() - t
    same = (
        m.height == len(raw)
        and m["customer_id"].to_list() == raw["id"].tolist()
        and m["amount"].to_list() == raw["usd"].tolist()
        and (m["ts"] == pl.Series(raw["ts"]).dt.cast_time_unit("us")).all()
    )
    print(
        f"CDNOW master: load_cdnow {t_wb * 1e3:.1f} ms, pandas read_csv {t_pandas * 1e3:.1f} ms, "
        f"ratio {t_pandas / t_wb:.1f}x, same rows: {same}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", nargs="+", type=float, default=[6000, 60000])
    ap.add_argument(
        "--cdnow-text", type=Path, default=Path("/work/shared/datasets/cdnow/CDNOW_master.txt")
    )
    args = ap.parse_args()
    for n in args.sizes:
        bench_sample(int(n))
    if args.cdnow_text.exists():
        bench_cdnow(args.cdnow_text)


if __name__ == "__main__":
    main()
