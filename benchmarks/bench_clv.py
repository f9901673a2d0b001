"""Customer-value model fits against lifetimes, side by side.

    .venv/bin/python benchmarks/bench_clv.py                       # 1M customers; lifetimes on 100k
    .venv/bin/python benchmarks/bench_clv.py --lifetimes-n 1000000 # lifetimes on 1M too (slow)

Data: a CDNOW-like population drawn from a BG/NBD (r=0.24, alpha=4.4, a=0.79, b=2.4) with
Gamma-Gamma spend, first purchases spread over 12 weeks, 39 weeks of calibration, times to the
day (in weeks). Prints fit times, the ratio lifetimes / workbench at the same size, peak traced
memory, and checks that both reach the same estimates.
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
import warnings

import numpy as np
import polars as pl

import workbench as wb


def make_rfm(n: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    birth_day = rng.integers(0, 84, size=n)
    T = (273 - birth_day) / 7.0
    rfm = wb.models.simulate_bgnbd(0.243, 4.414, 0.793, 2.426, T, seed=seed)
    # Times to the day, as rfm_summary(time_unit="W") gives them.
    recency = np.minimum(np.floor(rfm["recency"].to_numpy() * 7) / 7, T)
    x = rfm["frequency"].to_numpy()
    nu = rng.gamma(3.74, 1 / 15.44, size=n)
    spend = rng.gamma(6.25 * np.maximum(x, 1), 1 / (nu * np.maximum(x, 1)))
    return pl.DataFrame(
        {
            "frequency": x,
            "recency": np.where(x > 0, recency, 0.0),
            "T": T,
            "monetary_value": np.where(x > 0, np.round(spend, 2), 0.0),
        }
    )


def timed(fn):
    gc.collect()
    tracemalloc.start()
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return out, dt, peak


def ours(name: str, rfm: pl.DataFrame):
    cls = {
        "BG/NBD": wb.models.BetaGeoNBD,
        "MBG/NBD": wb.models.ModifiedBetaGeoNBD,
        "Pareto/NBD": wb.models.ParetoNBD,
        "Gamma-Gamma": wb.models.GammaGamma,
    }[name]
    return cls().fit(rfm)


def theirs(name: str, rfm: pl.DataFrame):
    import lifetimes

    pdf = rfm.to_pandas()
    if name == "Gamma-Gamma":
        pdf = pdf[pdf["frequency"] > 0]
        return lifetimes.GammaGammaFitter().fit(pdf["frequency"], pdf["monetary_value"])
    cls = {
        "BG/NBD": lifetimes.BetaGeoFitter,
        "MBG/NBD": lifetimes.ModifiedBetaGeoFitter,
        "Pareto/NBD": lifetimes.ParetoNBDFitter,
    }[name]
    return cls().fit(pdf["frequency"], pdf["recency"], pdf["T"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=float, default=1e6, help="customers for the workbench")
    parser.add_argument("--lifetimes-n", type=float, default=1e5,
                        help="customers for lifetimes (its fits at 1M take minutes)")
    parser.add_argument("--models", nargs="+",
                        default=["BG/NBD", "MBG/NBD", "Pareto/NBD", "Gamma-Gamma"])
    args = parser.parse_args()
    n, n_lt = int(args.n), int(args.lifetimes_n)
    big = make_rfm(n)
    small = big.head(n_lt) if n_lt <= n else make_rfm(n_lt)
    print(f"customers: workbench {n:,}, lifetimes {n_lt:,}; distinct (x, t_x, T) rows at "
          f"{n:,}: {big.select('frequency', 'recency', 'T').n_unique():,}")
    for name in args.models:
        model, t_big, mem_big = timed(lambda name=name: ours(name, big))
        model_small, t_small, mem_small = timed(lambda name=name: ours(name, small))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref, t_ref, mem_ref = timed(lambda name=name: theirs(name, small))
        est = np.array(list(model_small.params_.values()))
        ref_est = np.asarray(ref.params_.values, dtype=float)
        agree = np.max(np.abs(est / ref_est - 1))
        print(
            f"{name:12s} workbench {n:>9,}: {t_big:6.2f} s (peak {mem_big:5.0f} MB) | "
            f"at {n_lt:,}: workbench {t_small:6.2f} s, lifetimes {t_ref:7.2f} s "
            f"(peak {mem_ref:5.0f} MB) -> {t_ref / t_small:5.1f}x | "
            f"max relative difference of estimates {agree:.1e}"
        )
        print(f"{'':12s} estimates at {n:,}: "
              + ", ".join(f"{k}={v:.4f}" for k, v in model.params_.items()))


if __name__ == "__main__":
    main()
