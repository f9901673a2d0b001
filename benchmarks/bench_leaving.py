"""Leaving-customer analyses against pandas and DuckDB, side by side.

    .venv/bin/python benchmarks/bench_leaving.py                   # 100k customers, ~1.4M events
    .venv/bin/python benchmarks/bench_leaving.py --customers 500000

Tasks (each engine runs in its own process on the same Parquet file, so the peak resident
memory printed is that engine's own, reading included):

- rfm: RFM quintile scores (recency, frequency, total spend; 1 + floor(5 (min rank - 1) / n));
- dropouts: category drop-outs (wb.category_dropouts defaults; pandas re-implements the rule);
- features: point-in-time features at a cut-off (purchases, spend, recent purchases, support
  contacts, days since last purchase) -- the workbench computes its full feature table;
- tests: Mann-Whitney U over 300 features (workbench's vectorised path vs scipy per feature).

Results must agree between engines (a digest of the sorted result is compared).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from _forked import peak_rss_mb  # noqa: E402

DATA = Path(__file__).parent / "data"
AS_OF = datetime(2025, 12, 31, tzinfo=UTC)
CUTOFF = datetime(2025, 9, 1, tzinfo=UTC)
CATS = ["books", "music", "electronics", "home", "garden"]


def generate(n: int, seed: int = 0) -> Path:
    """Customers buying from a favourite-heavy category mix; some drop their favourite."""
    DATA.mkdir(exist_ok=True)
    path = DATA / f"leaving_events_{n}.parquet"
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    k = rng.poisson(10, n) + 1
    cust = np.repeat(np.arange(n), k)
    start = rng.uniform(0, 500, n)
    ts_day = start[cust] + rng.uniform(0, 730 - start[cust])
    fav = rng.integers(0, 5, n)
    drop = rng.random(n) < 0.1
    pick = np.where(rng.random(cust.size) < 0.6, fav[cust], rng.integers(0, 5, cust.size))
    late = drop[cust] & (ts_day > 600) & (pick == fav[cust])
    pick = np.where(late, (pick + 1) % 5, pick)
    kind = np.where(rng.random(cust.size) < 0.8, "purchase", "support_contact")
    base = np.datetime64("2024-01-01T00:00:00", "us")
    ts = base + (ts_day * 86_400e6).astype("timedelta64[us]")
    return _write(path, cust, ts, kind, pick, rng)


def _write(path, cust, ts, kind, pick, rng) -> Path:
    is_p = pl.col("event") == "purchase"
    pl.DataFrame(
        {
            "customer_id": cust.astype(np.int64),
            "ts": pl.Series(ts).dt.replace_time_zone("UTC"),
            "event": kind,
            "amount": np.round(rng.gamma(2, 20, cust.size), 2),
            "category": np.array(CATS)[pick],
        }
    ).with_columns(
        pl.when(is_p).then(pl.col("amount")), pl.when(is_p).then(pl.col("category"))
    ).write_parquet(path)
    return path


# ----------------------------------------------------------------------------- rfm
def rfm_workbench(path):
    import workbench as wb

    out = wb.rfm_scores(pl.scan_parquet(path), as_of=AS_OF)
    return out.select("customer_id", "r_score", "f_score", "m_score")


def rfm_pandas(path):
    import pandas as pd

    df = pd.read_parquet(path, columns=["customer_id", "ts", "event", "amount"])
    df = df[(df["event"] == "purchase") & (df["ts"] <= pd.Timestamp(AS_OF))]
    g = df.groupby("customer_id").agg(last=("ts", "max"), f=("ts", "size"), m=("amount", "sum"))
    g["m"] = g["m"].round(6)
    n = len(g)
    rec = (pd.Timestamp(AS_OF) - g["last"]).dt.total_seconds()
    out = pd.DataFrame({"customer_id": g.index})
    for name, s in (("r_score", -rec), ("f_score", g["f"]), ("m_score", g["m"])):
        out[name] = (1 + (s.rank(method="min").to_numpy() - 1) * 5 // n).astype(int)
    return pl.from_pandas(out)


def rfm_duckdb(path):
    import duckdb

    q = f"""
    with p as (select customer_id, max(ts) as last, count(*) as f, round(sum(amount), 6) as m
               from '{path}' where event = 'purchase' and ts <= TIMESTAMPTZ '{AS_OF}'
               group by customer_id), n as (select count(*) as n from p)
    select customer_id,
      1 + (rank() over (order by last) - 1) * 5 // n as r_score,
      1 + (rank() over (order by f) - 1) * 5 // n as f_score,
      1 + (rank() over (order by m) - 1) * 5 // n as m_score
    from p, n"""
    return pl.from_arrow(duckdb.sql(q).arrow())


# ----------------------------------------------------------------------------- drop-outs
def dropouts_workbench(path):
    import workbench as wb

    out = wb.category_dropouts(pl.scan_parquet(path), as_of=AS_OF)
    return out.select("customer_id", "category")


def dropouts_pandas(path):
    """The drop-out rule of wb.category_dropouts (defaults) written with pandas."""
    import pandas as pd

    df = pd.read_parquet(path, columns=["customer_id", "ts", "event", "category"])
    df = df[(df["event"] == "purchase") & df["category"].notna()]
    df = df[df["ts"] <= pd.Timestamp(AS_OF)]
    df["age"] = (pd.Timestamp(AS_OF) - df["ts"]).dt.total_seconds() / 86_400
    g = df.groupby(["customer_id", "category"])["ts"].agg(["size", "min", "max"]).reset_index()
    g = g[g["size"] >= 3]
    g["cycle"] = (g["max"] - g["min"]).dt.total_seconds() / 86_400 / (g["size"] - 1)
    g["since"] = (pd.Timestamp(AS_OF) - g["max"]).dt.total_seconds() / 86_400
    g = g[g["cycle"] > 0]
    g["L"] = np.maximum(3 * g["cycle"], 30.0)
    g = g[g["since"] >= g["L"]].rename(columns={"category": "dropped", "max": "last"})
    x = g[["customer_id", "dropped", "L", "last"]].merge(df, on="customer_id")
    same = x["category"] == x["dropped"]
    ref = x["age"] >= x["L"]
    x["cat_ref"] = same & ref
    x["all_ref"] = ref & (x["ts"] <= x["last"])
    x["other_recent"] = ~same & (x["age"] < x["L"])
    x["switch"] = ~same & (x["ts"] > x["last"])
    s = x.groupby(["customer_id", "dropped"])[["cat_ref", "all_ref", "other_recent", "switch"]]
    s = s.sum().reset_index()
    keep = (
        (s["cat_ref"] >= 3)
        & (s["cat_ref"] / s["all_ref"] >= 0.5)
        & (s["other_recent"] >= 1)
        & (s["switch"] >= 3)
    )
    out = s[keep][["customer_id", "dropped"]].rename(columns={"dropped": "category"})
    return pl.from_pandas(out.reset_index(drop=True))


# ----------------------------------------------------------------------------- features
_FEATURES = [
    "n_purchases",
    "total_spend",
    "purchases_recent",
    "support_contacts",
    "days_since_last_purchase",
]


def features_workbench(path):
    import workbench as wb

    out = wb.customer_features(pl.scan_parquet(path), cutoff=CUTOFF)
    return out.select("customer_id", *_FEATURES).with_columns(pl.col(pl.Float64).round(6))


def features_duckdb(path):
    import duckdb

    cut = f"TIMESTAMPTZ '{CUTOFF}'"
    recent = f"TIMESTAMPTZ '{CUTOFF - timedelta(days=90)}'"
    q = f"""
    select customer_id,
      count(*) filter (where event = 'purchase') as n_purchases,
      coalesce(sum(amount) filter (where event = 'purchase'), 0) as total_spend,
      count(*) filter (where event = 'purchase' and ts >= {recent}) as purchases_recent,
      count(*) filter (where event = 'support_contact') as support_contacts,
      round(coalesce(epoch({cut} - max(ts) filter (where event = 'purchase')),
                     epoch({cut} - min(ts))) / 86400, 6) as days_since_last_purchase
    from '{path}' where ts < {cut} group by customer_id"""
    out = pl.from_arrow(duckdb.sql(q).arrow())
    return out.with_columns(pl.col("total_spend").round(6))


# ----------------------------------------------------------------------------- tests
def _test_frame(n_features=300, n=2000, seed=1):
    rng = np.random.default_rng(seed)
    cols = {f"f{j}": rng.standard_normal(n) for j in range(n_features)}
    cols["churned"] = rng.random(n) < 0.4
    return pl.DataFrame(cols)


def tests_workbench(_):
    import workbench as wb

    t = wb.compare_groups(_test_frame(), group="churned")
    return t.select("feature", pl.col("p_value").round(10))


def tests_scipy(_):
    from scipy import stats

    f = _test_frame()
    g = f["churned"].to_numpy()
    rows = []
    for c in f.columns[:-1]:
        a = f[c].to_numpy()
        rows.append((c, round(float(stats.mannwhitneyu(a[g], a[~g]).pvalue), 10)))
    return pl.DataFrame(rows, schema=["feature", "p_value"], orient="row")


TASKS = {
    "rfm": {"workbench": rfm_workbench, "pandas": rfm_pandas, "duckdb": rfm_duckdb},
    "dropouts": {"workbench": dropouts_workbench, "pandas": dropouts_pandas},
    "features": {"workbench": features_workbench, "duckdb": features_duckdb},
    "tests": {"workbench": tests_workbench, "scipy": tests_scipy},
}


def _digest(frame: pl.DataFrame) -> str:
    frame = frame.with_columns(pl.col(pl.Int32, pl.Int8, pl.UInt32).cast(pl.Int64))
    frame = frame.sort(frame.columns)
    return hashlib.sha256(frame.write_csv().encode()).hexdigest()[:12]


def run_one(task: str, engine: str, path: str) -> None:
    import duckdb  # noqa: F401  -- baseline imports, so the increase is the work itself
    import pandas  # noqa: F401

    import workbench  # noqa: F401

    base = peak_rss_mb()
    t0 = time.perf_counter()
    out = TASKS[task][engine](path)
    secs = time.perf_counter() - t0
    peak = peak_rss_mb()
    print(
        json.dumps(
            {
                "secs": secs,
                "peak_mb": peak / 1024,
                "extra_mb": (peak - base) / 1024,
                "rows": out.height,
                "digest": _digest(out),
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--one", nargs=3, metavar=("TASK", "ENGINE", "PATH"))
    args = ap.parse_args()
    if args.one:
        run_one(*args.one)
        return
    path = generate(args.customers)
    print(f"data: {path.name}, {pl.scan_parquet(path).select(pl.len()).collect().item():,} events")
    for task, engines in TASKS.items():
        results = {}
        for engine in engines:
            proc = subprocess.run(
                [sys.executable, __file__, "--one", task, engine, str(path)],
                capture_output=True,
                text=True,
                check=True,
            )
            results[engine] = json.loads(proc.stdout.strip().splitlines()[-1])
        wb_secs = results["workbench"]["secs"]
        same = len({r["digest"] for r in results.values()}) == 1
        print(f"\n{task}: results equal across engines: {same}")
        for engine, r in results.items():
            print(
                f"  {engine:10s} {r['secs']:7.2f} s  x{r['secs'] / wb_secs:5.2f} of workbench"
                f"  peak {r['peak_mb']:7.0f} MB (+{r['extra_mb']:.0f})  rows {r['rows']:,}"
            )


if __name__ == "__main__":
    main()
