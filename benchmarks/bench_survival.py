"""Kaplan-Meier curves + log-rank tests: wb.churn_curves against plain lifelines on the rows.

    .venv/bin/python benchmarks/bench_survival.py                      # 1M customers
    .venv/bin/python benchmarks/bench_survival.py --sizes 1e6 1e7      # 1M and 10M
    .venv/bin/python benchmarks/bench_survival.py --sizes 1e7 --lifelines-max 1e7

A churn table of n customers in 4 groups (integer durations of 0-730 days, about 60% churned)
is analysed two ways, each in a fresh child process so that its peak resident memory is its own
(the figure includes the table itself):

* workbench: ``wb.churn_curves(table, by="group")`` (KM per group, median, horizons, RMST)
  followed by ``.compare()`` (overall and pairwise log-rank, BH-adjusted);
* lifelines on the expanded rows: ``KaplanMeierFitter().fit`` per group,
  ``multivariate_logrank_test`` and ``logrank_test`` for every pair.

Wall seconds depend on what else the machine is running; "cpu s" (all threads of the child)
is the steadier figure. Sizes above ``--lifelines-max`` are not run through lifelines; its time there is extrapolated
linearly from the largest size it ran and labelled as such. Results are checked equal (survival,
interval bounds and test statistics) wherever both ran.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import multiprocessing as mp
import time

import numpy as np
from _forked import peak_rss_mb  # noqa: E402

GROUPS = ("organic", "paid_search", "social", "referral")


def make_table(n: int, seed: int = 0):
    import polars as pl

    rng = np.random.default_rng(seed)
    g = rng.integers(0, len(GROUPS), n)
    scale = np.array([240.0, 150.0, 190.0, 260.0])[g]
    life = np.ceil(rng.exponential(scale)).astype(np.int64)
    follow = rng.integers(0, 731, n)
    churned = life <= follow
    duration = np.where(churned, life, follow)
    return pl.DataFrame(
        {
            "group": pl.Series(np.array(GROUPS)[g]).cast(pl.Enum(GROUPS)),
            "duration_days": duration,
            "churned": churned,
        }
    )


def _peak_mb() -> float:
    return peak_rss_mb()


def run_workbench(n: int) -> dict:
    import lifelines  # noqa: F401  (imported before timing, as in run_lifelines)

    import workbench as wb

    df = make_table(n)
    c0, t0 = time.process_time(), time.perf_counter()
    res = wb.churn_curves(df, by="group")
    t_km = time.perf_counter() - t0
    cmp = res.compare()
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    curves = {
        g: res.table.filter(res.table["group"] == g)
        .select("survival", "ci_low", "ci_high")
        .to_numpy()
        for g in GROUPS
    }
    stats = dict(
        zip(
            [f"{a}|{b}" for a, b in cmp.select("group_a", "group_b").iter_rows()],
            cmp["statistic"].to_list(),
            strict=True,
        )
    )
    return {
        "seconds": total,
        "cpu": cpu,
        "km_seconds": t_km,
        "peak_mb": _peak_mb(),
        "curves": curves,
        "stats": stats,
    }


def run_lifelines(n: int) -> dict:
    import warnings

    from lifelines import KaplanMeierFitter
    from lifelines.statistics import logrank_test, multivariate_logrank_test

    warnings.simplefilter("ignore")
    df = make_table(n)
    d = df["duration_days"].to_numpy().astype(float)
    e = df["churned"].to_numpy()
    g = df["group"].cast(str).to_numpy()
    del df
    c0, t0 = time.process_time(), time.perf_counter()
    curves = {}
    for name in GROUPS:
        m = g == name
        k = KaplanMeierFitter().fit(d[m], e[m])
        curves[name] = np.column_stack(
            [k.survival_function_.to_numpy()[:, 0], k.confidence_interval_.to_numpy()]
        )
    t_km = time.perf_counter() - t0
    stats = {"all groups|None": multivariate_logrank_test(d, g, e).test_statistic}
    for i, a in enumerate(GROUPS):
        for b in GROUPS[i + 1 :]:
            ma, mb = g == a, g == b
            stats[f"{a}|{b}"] = logrank_test(d[ma], d[mb], e[ma], e[mb]).test_statistic
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "seconds": total,
        "cpu": cpu,
        "km_seconds": t_km,
        "peak_mb": _peak_mb(),
        "curves": curves,
        "stats": stats,
    }


def in_child(fn, n: int) -> dict:
    with cf.ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as ex:
        return ex.submit(fn, n).result()


def compare(a: dict, b: dict) -> float:
    diff = 0.0
    for name in GROUPS:
        x, y = a["curves"][name], b["curves"][name]
        if x.shape != y.shape:
            return float("inf")
        diff = max(diff, float(np.nanmax(np.abs(x - y))))
    for key, v in a["stats"].items():
        diff = max(diff, abs(v - b["stats"][key]) / max(1.0, abs(v)))
    return diff


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", type=float, default=[1e6])
    ap.add_argument(
        "--lifelines-max",
        type=float,
        default=2e6,
        help="largest size run through lifelines on expanded rows",
    )
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes]
    print(
        f"{'customers':>11} {'tool':<26} {'seconds':>9} {'cpu s':>7} {'KM only':>8} "
        f"{'peak MB':>8} {'ratio':>7}  check"
    )
    last_ll = None
    for n in sizes:
        wbr = in_child(run_workbench, n)
        print(
            f"{n:>11,} {'workbench churn_curves':<26} {wbr['seconds']:>9.2f} "
            f"{wbr['cpu']:>7.2f} {wbr['km_seconds']:>8.2f} {wbr['peak_mb']:>8.0f}"
        )
        if n <= args.lifelines_max:
            llr = in_child(run_lifelines, n)
            last_ll = (n, llr["seconds"], llr["km_seconds"])
            diff = compare(wbr, llr)
            ok = "equal" if diff < 1e-9 else f"DIFFER (max {diff:.2e})"
            print(
                f"{n:>11,} {'lifelines, expanded rows':<26} {llr['seconds']:>9.2f} "
                f"{llr['cpu']:>7.2f} {llr['km_seconds']:>8.2f} {llr['peak_mb']:>8.0f} "
                f"{llr['seconds'] / wbr['seconds']:>6.1f}x  {ok} (max diff {diff:.1e})"
            )
        elif last_ll is not None:
            n0, s0, k0 = last_ll
            est = s0 * n / n0
            print(
                f"{n:>11,} {'lifelines (EXTRAPOLATED)':<26} {est:>9.2f} {'n/a':>7} "
                f"{k0 * n / n0:>8.2f} "
                f"{'n/a':>8} {est / wbr['seconds']:>6.1f}x  linear from {n0:,} rows, not run"
            )
        else:
            print(f"{n:>11,} lifelines not run (above --lifelines-max and no smaller size)")


if __name__ == "__main__":
    main()
