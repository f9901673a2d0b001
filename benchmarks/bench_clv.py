"""Customer-value model fits against lifetimes, side by side.

    .venv/bin/python benchmarks/bench_clv.py                          # workbench 1M, both at 100k
    .venv/bin/python benchmarks/bench_clv.py --lifetimes-n 1000000    # lifetimes at 1M (slow)

Data: a CDNOW-like population drawn from a BG/NBD (r=0.243, alpha=4.414, a=0.793, b=2.426) with
Gamma-Gamma spend; first purchases spread over 12 weeks, 39 weeks of calibration, times to the
day, in weeks. Each fit runs in its own child process: wall time, CPU time and peak memory
growth. The estimates of both sides are compared on the same customers.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
from _forked import measure  # noqa: E402

import workbench as wb  # noqa: E402

DATA = Path(__file__).parent / "data"
MODELS = ("BG/NBD", "MBG/NBD", "Pareto/NBD", "Gamma-Gamma")


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


def _path(n: int) -> Path:
    return DATA / f"clv_rfm_{n}.parquet"


# -- measured calls (top level: they run in spawned children) ------------------------------------
def setup(n, name):
    return pl.read_parquet(_path(n)), name


def fit_workbench(args):
    rfm, name = args
    cls = {
        "BG/NBD": wb.models.BetaGeoNBD,
        "MBG/NBD": wb.models.ModifiedBetaGeoNBD,
        "Pareto/NBD": wb.models.ParetoNBD,
        "Gamma-Gamma": wb.models.GammaGamma,
    }[name]
    model = cls().fit(rfm)
    return model.params_, model.n_rows_


def fit_lifetimes(args):
    import lifetimes

    rfm, name = args
    pdf = rfm.to_pandas()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name == "Gamma-Gamma":
            pdf = pdf[pdf["frequency"] > 0]
            model = lifetimes.GammaGammaFitter().fit(pdf["frequency"], pdf["monetary_value"])
        else:
            cls = {
                "BG/NBD": lifetimes.BetaGeoFitter,
                "MBG/NBD": lifetimes.ModifiedBetaGeoFitter,
                "Pareto/NBD": lifetimes.ParetoNBDFitter,
            }[name]
            model = cls().fit(pdf["frequency"], pdf["recency"], pdf["T"])
    return dict(zip(("a", "b", "c", "d"), map(float, model.params_.values), strict=False)), 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=float, default=1e6, help="customers for the workbench")
    parser.add_argument(
        "--lifetimes-n",
        type=float,
        default=1e5,
        help="customers for the side-by-side with lifetimes",
    )
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    args = parser.parse_args()
    n, n_lt = int(args.n), int(args.lifetimes_n)
    DATA.mkdir(exist_ok=True)
    for size in {n, n_lt}:
        if not _path(size).exists():
            make_rfm(size).write_parquet(_path(size))
    print(f"customers: workbench alone {n:,}; side by side with lifetimes {n_lt:,}")
    for name in args.models:
        big = measure(setup, fit_workbench, n, name)
        ours = measure(setup, fit_workbench, n_lt, name)
        theirs = measure(setup, fit_lifetimes, n_lt, name)
        est = np.array(list(ours.result[0].values()))
        ref = np.array(list(theirs.result[0].values()))
        print(f"{name}")
        print(f"  workbench {n:>9,} customers ({big.result[1]:,} distinct rows): {big}")
        print(f"  workbench {n_lt:>9,} customers: {ours}")
        print(f"  lifetimes {n_lt:>9,} customers: {theirs}")
        print(
            f"  -> lifetimes / workbench at {n_lt:,}: {theirs.ratio(ours)}; "
            f"largest relative difference of the estimates {np.max(np.abs(est / ref - 1)):.1e}"
        )
        print(
            "  estimates at {:,}: {}".format(
                n, ", ".join(f"{k}={v:.4f}" for k, v in big.result[0].items())
            )
        )


if __name__ == "__main__":
    main()
