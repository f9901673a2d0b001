"""Campaign effect and funnel counts against pandas and DuckDB, side by side.

    .venv/bin/python benchmarks/bench_campaigns.py                 # 200k customers, ~2.4M events
    .venv/bin/python benchmarks/bench_campaigns.py --customers 1000000

Each engine runs in its own process on the same Parquet files (benchmarks/data/), so the peak
resident memory printed is that engine's own (reading the data included), shown also as the
increase over the process after importing all three libraries. The campaign task
counts recipients, returners (a purchase in (sent_ts, sent_ts + 30 days]) and revenue per
campaign and group; the workbench computes the full effect table on top. The funnel task
counts customers reaching visit -> add_to_cart -> purchase in strict order within 7 days of
their first visit. Results must agree exactly between engines.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
from _forked import peak_rss_mb  # noqa: E402

DATA = Path(__file__).parent / "data"
WINDOW_DAYS = 30
FUNNEL_DAYS = 7


def generate(n: int, seed: int = 0) -> tuple[Path, Path]:
    """Customers with visits, carts and purchases over a year; four campaigns to 40% of them."""
    DATA.mkdir(exist_ok=True)
    ev_path, cp_path = DATA / f"campaign_events_{n}.parquet", DATA / f"campaign_sends_{n}.parquet"
    if ev_path.exists() and cp_path.exists():
        return ev_path, cp_path
    rng = np.random.default_rng(seed)
    start = np.datetime64("2025-01-01T00:00:00", "us")
    year_us = 365 * 86_400 * 1_000_000
    k = rng.poisson(12, n)  # events per customer
    cust = np.repeat(np.arange(n), k)
    ts = start + rng.integers(0, year_us, cust.size).astype("timedelta64[us]")
    kind = rng.choice(
        np.array(["visit", "add_to_cart", "purchase"]), cust.size, p=[0.6, 0.25, 0.15]
    )
    amount = np.where(kind == "purchase", np.round(rng.gamma(2.0, 25.0, cust.size), 2), np.nan)
    events = pl.DataFrame(
        {
            "customer_id": cust.astype(np.int64),
            "ts": pl.Series(ts).dt.replace_time_zone("UTC"),
            "event": kind,
            "amount": amount,
        }
    ).with_columns(pl.col("amount").fill_nan(None))
    who = rng.choice(n, int(0.4 * n), replace=False)
    camp = rng.integers(0, 4, who.size)
    sent = [datetime(2025, m, 15, 9, tzinfo=UTC) for m in (3, 6, 9, 11)]
    sends = pl.DataFrame(
        {
            "customer_id": who.astype(np.int64),
            "campaign_id": [f"WB-{c}" for c in camp],
            "sent_ts": [sent[c] for c in camp],
            "group": np.where(rng.random(who.size) < 0.5, "treatment", "control"),
        }
    )
    events.write_parquet(ev_path)
    sends.write_parquet(cp_path)
    return ev_path, cp_path


# -- engines: each returns a polars frame sorted by its keys --


def campaign_workbench(ev_path, cp_path):
    import workbench as wb

    res = wb.campaign_effect(
        pl.scan_parquet(ev_path),
        pl.scan_parquet(cp_path),
        window=f"{WINDOW_DAYS}d",
        as_of="2026-01-01",
    )
    t = res.table
    rows = []
    for g, s in (("control", "control"), ("treatment", "treatment")):
        rows.append(
            t.select(
                "campaign_id",
                pl.lit(g).alias("group"),
                pl.col(f"n_{s}").alias("n"),
                pl.col(f"returned_{s}").alias("returned"),
                (pl.col(f"revenue_per_recipient_{s}") * pl.col(f"n_{s}")).round(2).alias("revenue"),
            )
        )
    return pl.concat(rows).sort("campaign_id", "group")


def campaign_pandas(ev_path, cp_path):
    import pandas as pd

    ev = pd.read_parquet(ev_path)
    ev = ev[ev["event"] == "purchase"]
    cp = pd.read_parquet(cp_path)
    j = cp.merge(ev, on="customer_id", how="inner")
    j = j[(j["ts"] > j["sent_ts"]) & (j["ts"] <= j["sent_ts"] + pd.Timedelta(days=WINDOW_DAYS))]
    per = j.groupby(["campaign_id", "customer_id"], as_index=False)["amount"].sum()
    per["returned"] = 1
    full = cp.merge(per, on=["campaign_id", "customer_id"], how="left").fillna(
        {"returned": 0, "amount": 0.0}
    )
    out = full.groupby(["campaign_id", "group"], as_index=False).agg(
        n=("customer_id", "size"), returned=("returned", "sum"), revenue=("amount", "sum")
    )
    out["returned"] = out["returned"].astype("int64")
    out["n"] = out["n"].astype("int64")
    out["revenue"] = out["revenue"].round(2)
    return pl.from_pandas(out).sort("campaign_id", "group")


def campaign_duckdb(ev_path, cp_path):
    import duckdb

    q = f"""
    with hits as (
      select c.campaign_id, c.customer_id, sum(e.amount) as revenue
      from '{cp_path}' c join '{ev_path}' e using (customer_id)
      where e.event = 'purchase' and e.ts > c.sent_ts
        and e.ts <= c.sent_ts + interval {WINDOW_DAYS} day
      group by all
    )
    select c.campaign_id, c."group", count(*)::bigint as n,
           count(h.customer_id)::bigint as returned,
           round(coalesce(sum(h.revenue), 0), 2) as revenue
    from '{cp_path}' c left join hits h using (campaign_id, customer_id)
    group by all order by all
    """
    return pl.from_arrow(duckdb.sql(q).arrow()).sort("campaign_id", "group")


def funnel_workbench(ev_path, _):
    import workbench as wb

    t = wb.funnel(
        pl.scan_parquet(ev_path),
        ["visit", "add_to_cart", "purchase"],
        window=f"{FUNNEL_DAYS}d",
        as_of="2026-01-31",  # every entrant's window has ended
    ).table
    return t.select("step", pl.col("customers").cast(pl.Int64))


def funnel_duckdb(ev_path, _):
    import duckdb

    q = f"""
    with s1 as (select customer_id, min(ts) t1 from '{ev_path}' where event = 'visit'
                group by all),
    s2 as (select s1.customer_id, s1.t1, min(e.ts) t2 from s1 join '{ev_path}' e using (customer_id)
           where e.event = 'add_to_cart' and e.ts > s1.t1
             and e.ts <= s1.t1 + interval {FUNNEL_DAYS} day group by all),
    s3 as (select s2.customer_id from s2 join '{ev_path}' e using (customer_id)
           where e.event = 'purchase' and e.ts > s2.t2
             and e.ts <= s2.t1 + interval {FUNNEL_DAYS} day group by all)
    select 1::bigint step, count(*)::bigint customers from s1 union all
    select 2, count(*) from s2 union all select 3, count(*) from s3 order by step
    """
    return pl.from_arrow(duckdb.sql(q).arrow())


def funnel_pandas(ev_path, _):
    import pandas as pd

    ev = pd.read_parquet(ev_path, columns=["customer_id", "ts", "event"])
    win = pd.Timedelta(days=FUNNEL_DAYS)
    s1 = ev[ev["event"] == "visit"].groupby("customer_id", as_index=False)["ts"].min()
    s1 = s1.rename(columns={"ts": "t1"})
    j = s1.merge(ev[ev["event"] == "add_to_cart"], on="customer_id")
    j = j[(j["ts"] > j["t1"]) & (j["ts"] <= j["t1"] + win)]
    s2 = j.groupby(["customer_id", "t1"], as_index=False)["ts"].min().rename(columns={"ts": "t2"})
    j = s2.merge(ev[ev["event"] == "purchase"], on="customer_id")
    j = j[(j["ts"] > j["t2"]) & (j["ts"] <= j["t1"] + win)]
    counts = [len(s1), len(s2), j["customer_id"].nunique()]
    return pl.DataFrame(
        {"step": [1, 2, 3], "customers": counts}, schema={"step": pl.Int64, "customers": pl.Int64}
    )


ENGINES = {
    "campaign": {
        "workbench": campaign_workbench,
        "pandas": campaign_pandas,
        "duckdb": campaign_duckdb,
    },
    "funnel": {"workbench": funnel_workbench, "pandas": funnel_pandas, "duckdb": funnel_duckdb},
}


def run_one(task: str, engine: str, ev_path: str, cp_path: str) -> None:
    """Child process: run one engine once, print timing, peak RSS and the result."""
    fn = ENGINES[task][engine]
    # Imports are not timed: each engine is measured on its computation only.
    import duckdb  # noqa: F401
    import pandas  # noqa: F401

    import workbench  # noqa: F401

    base_mb = peak_rss_mb()
    t0 = time.perf_counter()
    out = fn(ev_path, cp_path)
    dt = time.perf_counter() - t0
    peak_mb = peak_rss_mb()
    print(
        json.dumps(
            {"seconds": dt, "peak_mb": peak_mb, "base_mb": base_mb, "result": out.write_json()}
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=200_000)
    ap.add_argument("--child", nargs=4, metavar=("TASK", "ENGINE", "EVENTS", "SENDS"))
    args = ap.parse_args()
    if args.child:
        run_one(*args.child)
        return
    ev_path, cp_path = generate(args.customers)
    n_events = pl.scan_parquet(ev_path).select(pl.len()).collect().item()
    print(f"{args.customers:,} customers, {n_events:,} events")
    for task, engines in ENGINES.items():
        results = {}
        for engine in engines:
            proc = subprocess.run(
                [sys.executable, __file__, "--child", task, engine, str(ev_path), str(cp_path)],
                capture_output=True,
                text=True,
                check=True,
            )
            results[engine] = json.loads(proc.stdout.strip().splitlines()[-1])
        base = results["workbench"]
        ref = pl.read_json(base["result"].encode())
        for engine, r in results.items():
            same = pl.read_json(r["result"].encode()).equals(ref)
            ratio = r["seconds"] / base["seconds"]
            print(
                f"{task:9s} {engine:10s} {r['seconds']:7.2f} s  x{ratio:5.2f} vs workbench  "
                f"peak RSS {r['peak_mb']:6.0f} MB (+{r['peak_mb'] - r['base_mb']:5.0f} over "
                f"imports)  same result: {same}"
            )
            if not same:
                raise SystemExit(f"{task}: {engine} disagrees with the workbench")


if __name__ == "__main__":
    main()
