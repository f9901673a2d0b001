"""Synthetic event logs for the benchmarks, written as Parquet.

Each customer is acquired at a uniform time in 2023-01-01 .. 2024-12-31, stays active for an
exponential lifetime (mean 180 days, cut at the end of the horizon) and produces a geometric
number of events (mean 8) spread uniformly over that lifetime; the first event is at the start.
About one customer per 8 events: 10M events -> ~1.25M customers. Columns: customer_id (Int64),
ts (timestamp, UTC, microseconds), event ("visit" or "purchase"), amount (Float64, purchases).

    python benchmarks/gen_events.py --sizes 1M,10M        # 100M works too, in chunks
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.parquet as pq

DATA = Path(__file__).resolve().parent / "data"
START_US = 1_672_531_200_000_000  # 2023-01-01T00:00:00Z
HORIZON_US = 730 * 86_400_000_000  # two years
DAY_US = 86_400_000_000
EVENTS_PER_CUSTOMER = 8
CHUNK_EVENTS = 5_000_000


def parse_size(text: str) -> int:
    text = text.strip().upper()
    mult = {"K": 1_000, "M": 1_000_000, "G": 1_000_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("KMG")) * mult)


def path_for(n_events: int) -> Path:
    label = f"{n_events // 1_000_000}M" if n_events % 1_000_000 == 0 else str(n_events)
    return DATA / f"events_{label}.parquet"


def _chunk(rng: np.random.Generator, n_events: int, first_id: int) -> tuple[pa.Table, int]:
    """Customers whose events add up to exactly `n_events`."""
    n_cust = max(1, n_events // EVENTS_PER_CUSTOMER)
    counts = rng.geometric(1 / EVENTS_PER_CUSTOMER, size=n_cust)
    total = np.cumsum(counts)
    if total[-1] < n_events:  # top up the last customer
        counts[-1] += n_events - total[-1]
    else:
        cut = int(np.searchsorted(total, n_events))
        counts = counts[: cut + 1]
        counts[-1] -= total[cut] - n_events
        n_cust = counts.size
    start = START_US + rng.integers(0, HORIZON_US, size=n_cust)
    life = rng.exponential(180 * DAY_US, size=n_cust).astype(np.int64)
    life = np.minimum(life, START_US + HORIZON_US - 1 - start)
    owner = np.repeat(np.arange(n_cust), counts)
    offsets = (rng.random(n_events) * life[owner]).astype(np.int64)
    first = np.r_[0, np.cumsum(counts)[:-1]]
    offsets[first] = 0
    ts = start[owner] + offsets
    purchase = rng.random(n_events) < 0.25
    amount = np.where(purchase, np.round(rng.gamma(2.0, 20.0, n_events), 2), np.nan)
    order = np.argsort(ts, kind="stable")
    table = pa.table(
        {
            "customer_id": pa.array(first_id + owner[order], pa.int64()),
            "ts": pa.array(ts[order], pa.timestamp("us", tz="UTC")),
            "event": pa.array(np.where(purchase[order], "purchase", "visit")),
            "amount": pa.array(amount[order], pa.float64(), from_pandas=True),
        }
    )
    return table, n_cust


def generate(n_events: int, *, seed: int = 0, force: bool = False) -> Path:
    """Write `n_events` synthetic events to benchmarks/data/events_<size>.parquet (cached)."""
    path = path_for(n_events)
    if path.exists() and not force:
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    tmp = path.with_suffix(".tmp")
    writer = None
    done, next_id = 0, 0
    t0 = time.perf_counter()
    while done < n_events:
        n = min(CHUNK_EVENTS, n_events - done)
        table, n_cust = _chunk(rng, n, next_id)
        if writer is None:
            writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
        writer.write_table(table, row_group_size=1_000_000)
        done += n
        next_id += n_cust
    writer.close()
    tmp.rename(path)
    print(
        f"wrote {path} ({n_events:,} events, {next_id:,} customers) "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    return path


CHANNELS = ("paid_search", "organic", "social", "referral", "email")


def customers_for(events_path: Path, *, seed: int = 1) -> Path:
    """A customers table (customer_id, channel) for every id of an event file (cached)."""
    path = events_path.with_name(events_path.name.replace("events_", "customers_"))
    if path.exists():
        return path
    ids = pq.read_table(events_path, columns=["customer_id"]).column(0)
    n = pa.compute.max(ids).as_py() + 1
    rng = np.random.default_rng(seed)
    channel = np.asarray(CHANNELS)[rng.choice(len(CHANNELS), n, p=[0.35, 0.3, 0.15, 0.1, 0.1])]
    table = pa.table({"customer_id": np.arange(n, dtype=np.int64), "channel": channel})
    pq.write_table(table, path, compression="zstd")
    return path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1M,10M", help="comma-separated, e.g. 1M,10M,100M")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="regenerate existing files")
    args = parser.parse_args(argv)
    for size in args.sizes.split(","):
        generate(parse_size(size), seed=args.seed, force=args.force)


if __name__ == "__main__":
    main()
