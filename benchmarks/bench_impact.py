"""Event impact against lifelines' time-varying Cox model, side by side.

    .venv/bin/python benchmarks/bench_impact.py                  # 50k subscribers
    .venv/bin/python benchmarks/bench_impact.py --customers 500000

Simulated monthly subscribers (exponential lifetimes, gamma frailty, hazard x2 for 30 days after
an event day). Three runs, each in its own process on the same Parquet file (peak resident
memory is that run's own):

- workbench renewal model: `wb.event_impact(subscriptions=...)`, the interval-censored model on
  paid periods (what the workbench recommends for subscriptions);
- workbench exact days: `wb.churn_table` + `wb.event_impact(churn=...)`, tenure-banded Poisson;
- lifelines: the same churn table turned into start-stop episodes on the tenure scale, split at
  the event day and restricted to the compared windows, fitted by `CoxTimeVaryingFitter`.

The exact-days and Cox estimates use the same data and must agree closely (the Cox baseline is
a free function of tenure, the workbench's is banded). The renewal model should recover the
simulated ratio of 2.0; both churn-date estimates are diluted by the billing lag.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from _forked import peak_rss_mb  # noqa: E402

DATA = Path(__file__).parent / "data"
T0 = date(2024, 1, 1)
EVENT_DAY, EFFECT_DAYS, BEFORE_DAYS, HORIZON = 420, 30, 90, 700


def generate(n: int, seed: int = 0) -> Path:
    DATA.mkdir(exist_ok=True)
    path = DATA / f"impact_subscriptions_{n}.parquet"
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    lam = 0.08 / 30.4375 * rng.gamma(2.0, 0.5, n)
    start = rng.uniform(0, HORIZON - 30, n)
    need = rng.exponential(size=n) / lam
    e0, e1, m = EVENT_DAY, EVENT_DAY + EFFECT_DAYS, 2.0
    pre = np.clip(e0 - start, 0, None)
    inside = np.clip(e1 - np.maximum(start, e0), 0, None) * m
    end = np.where(
        need <= pre,
        start + need,
        np.where(
            need - pre <= inside,
            np.maximum(start, e0) + (need - pre) / m,
            np.maximum(start, e1) + (need - pre - inside),
        ),
    )
    k = np.maximum(np.ceil((np.minimum(end, HORIZON) - start) / 30).astype(int), 1)
    cid = np.repeat(np.arange(n), k)
    ps = start[cid] + 30 * (np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k))
    ok = ps <= HORIZON
    t0 = np.datetime64("2024-01-01T00:00:00", "us")
    us = (ps[ok] * 86_400e6).astype("int64")
    pl.DataFrame(
        {
            "customer_id": cid[ok].astype(np.int64),
            "period_start": pl.Series(t0 + us.astype("timedelta64[us]")),
            "period_end": pl.Series(t0 + (us + 30 * 86_400_000_000).astype("timedelta64[us]")),
        }
    ).with_columns(pl.col("period_start", "period_end").dt.replace_time_zone("UTC")).write_parquet(
        path
    )
    return path


def run(engine: str, path: Path) -> dict:
    import workbench as wb

    subs = pl.read_parquet(path)
    event = T0 + timedelta(days=EVENT_DAY)
    as_of = T0 + timedelta(days=HORIZON)
    t = time.perf_counter()
    if engine == "renewal":
        row = wb.event_impact(
            annotation=event.isoformat(),
            subscriptions=subs,
            window=f"{EFFECT_DAYS}d",
            before=f"{BEFORE_DAYS}d",
            as_of=as_of,
        ).table.row(0, named=True)
        est = row["estimate"]
    else:
        tbl = wb.churn_table(subscriptions=subs, episodes=True, as_of=as_of)
        if engine == "exact":
            est = wb.event_impact(
                annotation=event.isoformat(),
                churn=tbl,
                window=f"{EFFECT_DAYS}d",
                before=f"{BEFORE_DAYS}d",
                as_of=as_of,
            ).table.row(0, named=True)["estimate"]
        else:
            est = _cox(tbl, event)
    seconds = time.perf_counter() - t
    peak = peak_rss_mb()
    return {"engine": engine, "seconds": seconds, "estimate": est, "peak_mb": peak}


def _cox(tbl: pl.DataFrame, event: date) -> float:
    import warnings

    from lifelines import CoxTimeVaryingFitter

    st = (event - date(1970, 1, 1)).days
    lo, hi = st - BEFORE_DAYS, st + EFFECT_DAYS
    s = tbl.select(
        pl.int_range(pl.len()).alias("id"),
        pl.col("start").cast(pl.Int64).alias("s"),
        pl.when(pl.col("churned"))
        .then(pl.col("churn_date").cast(pl.Int64))
        .otherwise(pl.col("start").cast(pl.Int64) + pl.col("duration_days"))
        .alias("e"),
        pl.col("churned"),
    ).filter((pl.col("e") > lo) & (pl.col("s") < hi))
    parts = []
    for a, b, flag in ((lo, st, 0), (st, hi, 1)):
        p0 = pl.max_horizontal(pl.col("s"), pl.lit(a))
        p1 = pl.min_horizontal(pl.col("e"), pl.lit(b))
        parts.append(
            s.filter(p1 > p0).select(
                "id",
                (p0 - pl.col("s")).alias("t0"),
                (p1 - pl.col("s")).alias("t1"),
                pl.lit(flag).alias("after"),
                (pl.col("churned") & (pl.col("e") == p1) & (pl.col("e") <= b)).alias("event"),
            )
        )
    episodes = pl.concat(parts).to_pandas()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ctv = CoxTimeVaryingFitter().fit(
            episodes, id_col="id", start_col="t0", stop_col="t1", event_col="event"
        )
    return float(np.exp(ctv.params_["after"]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--engine", choices=["renewal", "exact", "lifelines"])
    args = parser.parse_args()
    path = generate(args.customers)
    if args.engine:
        print(json.dumps(run(args.engine, path)))
        return
    rows = pl.read_parquet(path).height
    print(f"{args.customers:,} subscribers, {rows:,} paid periods; simulated hazard ratio 2.0")
    out = {}
    for engine in ("renewal", "exact", "lifelines"):
        res = subprocess.run(
            [sys.executable, __file__, "--customers", str(args.customers), "--engine", engine],
            capture_output=True,
            text=True,
            check=True,
        )
        out[engine] = json.loads(res.stdout.strip().splitlines()[-1])
        r = out[engine]
        print(
            f"{engine:>10}: {r['seconds']:7.2f} s  estimate {r['estimate']:.3f}  "
            f"peak {r['peak_mb']:,.0f} MB"
        )
    ratio = out["lifelines"]["seconds"] / out["exact"]["seconds"]
    gap = abs(np.log(out["exact"]["estimate"] / out["lifelines"]["estimate"]))
    print(
        f"lifelines / workbench exact days: {ratio:.1f}x time; |log ratio| of estimates {gap:.3f}"
    )
    assert gap < 0.05, "exact-days estimate and Cox disagree"


if __name__ == "__main__":
    main()
