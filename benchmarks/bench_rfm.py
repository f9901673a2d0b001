"""rfm_summary against lifetimes' summary_data_from_transaction_data / calibration_and_holdout_data.

    .venv/bin/python benchmarks/bench_rfm.py                      # 1M events, lifetimes too
    .venv/bin/python benchmarks/bench_rfm.py --sizes 1e7 --lifetimes-max 1e7 --lifetimes-holdout-max 1e6

Each measurement runs in its own child process: wall time, CPU time (the steadier figure on a
shared machine) and peak memory growth over the loaded input. Both sides get the same events
(timestamps to the second; per-day collapse, time in days or, with --weeks, in weeks = days / 7)
and must give the same numbers: integers and times exactly, amounts to 1e-9 relative.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
from _forked import measure  # noqa: E402

import workbench as wb  # noqa: E402

START = datetime(2023, 1, 1)
CAL_END = datetime(2024, 6, 30)
DATA = Path(__file__).parent / "data"


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


def _path(n: int) -> Path:
    return DATA / f"rfm_events_{n}.parquet"


# -- measured calls (top level: they run in spawned children) ------------------------------------
def load_polars(n):
    return pl.read_parquet(_path(n))


def load_pandas(n):
    return pl.read_parquet(_path(n)).to_pandas()


def wb_holdout(args):
    events, unit = args
    return wb.rfm_summary(events, time_unit=unit, calibration_end=CAL_END)


def wb_summary(args):
    events, unit = args
    return wb.rfm_summary(events, time_unit=unit)


def lt_holdout(args):
    from lifetimes.utils import calibration_and_holdout_data

    events, mult = args
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return calibration_and_holdout_data(
            events,
            "customer_id",
            "ts",
            CAL_END,
            freq="D",
            freq_multiplier=mult,
            monetary_value_col="amount",
        )


def lt_summary(args):
    from lifetimes.utils import summary_data_from_transaction_data

    events, mult = args
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return summary_data_from_transaction_data(
            events,
            "customer_id",
            "ts",
            freq="D",
            freq_multiplier=mult,
            monetary_value_col="amount",
        )


def setup_wb(n, unit):
    return load_polars(n), unit


def setup_lt(n, mult):
    return load_pandas(n), mult


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


def run(n: int, with_lifetimes: bool, lifetimes_holdout: bool, unit: str, mult: int) -> None:
    DATA.mkdir(exist_ok=True)
    if not _path(n).exists():
        make_events(n).write_parquet(_path(n))
    customers = pl.scan_parquet(_path(n)).select(pl.col("customer_id").n_unique()).collect()
    print(f"\n== {n:,} events, {customers.item():,} customers ==")
    cases = [
        ("calibration+holdout", wb_holdout, lt_holdout, True),
        ("summary", wb_summary, lt_summary, False),
    ]
    for name, ours_fn, theirs_fn, cal in cases:
        ours = measure(setup_wb, ours_fn, n, unit)
        print(f"workbench  {name:20s} {ours}")
        if not with_lifetimes or (cal and not lifetimes_holdout):
            print(f"lifetimes  {name:20s} not run at this size")
            continue
        theirs = measure(setup_lt, theirs_fn, n, mult)
        print(f"lifetimes  {name:20s} {theirs}")
        print(f"  -> lifetimes / workbench: {theirs.ratio(ours)}")
        _check(ours.result, theirs.result, cal)
        print("  -> same numbers (integers and times exact, amounts to 1e-9 relative): yes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e6])
    parser.add_argument(
        "--lifetimes-max",
        type=float,
        default=1e6,
        help="largest size at which lifetimes is also run",
    )
    parser.add_argument(
        "--lifetimes-holdout-max",
        type=float,
        default=float("inf"),
        help="largest size at which lifetimes' calibration/holdout is also run",
    )
    parser.add_argument("--weeks", action="store_true", help="time in weeks (days / 7)")
    args = parser.parse_args()
    unit, mult = ("W", 7) if args.weeks else ("D", 1)
    for size in args.sizes:
        n = int(size)
        run(n, n <= args.lifetimes_max, n <= args.lifetimes_holdout_max, unit, mult)


if __name__ == "__main__":
    main()
