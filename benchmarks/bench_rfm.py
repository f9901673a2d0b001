"""rfm_summary against lifetimes' summary_data_from_transaction_data / calibration_and_holdout_data.

    .venv/bin/python benchmarks/bench_rfm.py              # 1M events (lifetimes too)
    .venv/bin/python benchmarks/bench_rfm.py --sizes 1e6 1e7 --lifetimes-max 1e7

Prints wall and CPU time (CPU is the steadier figure on a shared machine), the ratios
lifetimes / workbench, peak memory (traced Python and numpy allocations; polars allocates outside
Python, so the growth of the resident set is shown too), and checks that both give the same
numbers.
"""

from __future__ import annotations

import argparse
import gc
import resource
import time
import tracemalloc
import warnings
from datetime import datetime

import numpy as np
import polars as pl

import workbench as wb

START = datetime(2023, 1, 1)
CAL_END = datetime(2024, 6, 30)


def make_events(n_events: int, seed: int = 0) -> pl.DataFrame:
    """About 8 events per customer (gamma-skewed), timestamps to the second over two years."""
    rng = np.random.default_rng(seed)
    n_customers = max(n_events // 8, 1)
    rate = rng.gamma(0.5, 1.0, size=n_customers)
    ids = np.searchsorted(np.cumsum(rate) / rate.sum(), rng.random(n_events))
    first = rng.integers(0, 365 * 86400, size=n_customers)
    offset = (rng.exponential(200 * 86400, size=n_events)).astype(np.int64)
    secs = np.minimum(first[ids] + offset, 2 * 365 * 86400 - 1)
    ts = (np.datetime64(START, "s") + secs.astype("timedelta64[s]")).astype("datetime64[us]")
    return pl.DataFrame(
        {
            "customer_id": ids.astype(np.int64),
            "ts": ts,
            "amount": np.round(rng.gamma(2.0, 20.0, size=n_events), 2),
        }
    )


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn):
    """Result, wall seconds, CPU seconds (all threads), peak traced MB, max-RSS growth MB."""
    gc.collect()
    tracemalloc.start()
    rss0 = _rss_mb()
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return out, Timing(dt, cpu), peak, _rss_mb() - rss0


class Timing:
    def __init__(self, wall: float, cpu: float) -> None:
        self.wall, self.cpu = wall, cpu

    def __str__(self) -> str:
        return f"{self.wall:7.2f} s wall {self.cpu:7.2f} s CPU"

    def ratio(self, other: Timing) -> str:
        return f"{self.wall / other.wall:6.1f}x wall, {self.cpu / other.cpu:6.1f}x CPU"


def run(n: int, with_lifetimes: bool, time_unit: str, freq_mult: int) -> None:
    events = make_events(n)
    print(f"\n== {n:,} events, {events['customer_id'].n_unique():,} customers ==")
    ours, t_wb, mem_wb, rss_wb = timed(
        lambda: wb.rfm_summary(events, time_unit=time_unit, calibration_end=CAL_END)
    )
    ours_plain, t_wb2, _, _ = timed(lambda: wb.rfm_summary(events, time_unit=time_unit))
    print(f"workbench  calibration+holdout {t_wb}  (peak traced {mem_wb:6.0f} MB, "
          f"max-RSS growth {rss_wb:6.0f} MB)")
    print(f"workbench  summary             {t_wb2}")
    if not with_lifetimes:
        print("lifetimes: not run at this size (use --lifetimes-max)")
        return
    from lifetimes.utils import calibration_and_holdout_data, summary_data_from_transaction_data

    pdf = events.to_pandas()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs, t_lt, mem_lt, _ = timed(
            lambda: calibration_and_holdout_data(
                pdf, "customer_id", "ts", CAL_END, freq="D", freq_multiplier=freq_mult,
                monetary_value_col="amount",
            )
        )
        theirs_plain, t_lt2, mem_lt2, _ = timed(
            lambda: summary_data_from_transaction_data(
                pdf, "customer_id", "ts", freq="D", freq_multiplier=freq_mult,
                monetary_value_col="amount",
            )
        )
    print(f"lifetimes  calibration+holdout {t_lt}  (peak traced {mem_lt:6.0f} MB)")
    print(f"lifetimes  summary             {t_lt2}  (peak traced {mem_lt2:6.0f} MB)")
    print(f"ratio lifetimes/workbench: calibration+holdout {t_lt.ratio(t_wb)}; "
          f"summary {t_lt2.ratio(t_wb2)}")
    _check(ours, theirs, cal=True)
    _check(ours_plain, theirs_plain, cal=False)
    print("numbers identical (frequency exact, times and amounts to 1e-9 relative): yes")


def _check(ours: pl.DataFrame, theirs, cal: bool) -> None:
    theirs = theirs.sort_index()
    suffix = "_cal" if cal else ""
    assert ours["customer_id"].to_list() == theirs.index.tolist()
    assert np.array_equal(ours["frequency"].to_numpy(), theirs["frequency" + suffix].to_numpy())
    for col in ("recency", "T"):
        assert np.array_equal(ours[col].to_numpy(), theirs[col + suffix].to_numpy()), col
    np.testing.assert_allclose(
        ours["monetary_value"].to_numpy(), theirs["monetary_value" + suffix].to_numpy(), rtol=1e-9
    )
    if cal:
        for col in ("frequency_holdout", "duration_holdout"):
            assert np.array_equal(ours[col].to_numpy(), theirs[col].to_numpy()), col
        np.testing.assert_allclose(
            ours["monetary_value_holdout"].to_numpy(),
            theirs["monetary_value_holdout"].to_numpy(),
            rtol=1e-9,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e6])
    parser.add_argument("--lifetimes-max", type=float, default=1e6,
                        help="largest size at which lifetimes is also run")
    parser.add_argument("--weeks", action="store_true", help="time in weeks (days / 7)")
    args = parser.parse_args()
    unit, mult = ("W", 7) if args.weeks else ("D", 1)
    for size in args.sizes:
        run(int(size), int(size) <= args.lifetimes_max, unit, mult)


if __name__ == "__main__":
    main()
