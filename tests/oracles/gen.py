"""Small random event logs for the audit tests, as plain rows and as polars / pandas frames."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

BASE = datetime(2025, 1, 1, tzinfo=UTC)
# Times of day that sit on both sides of midnight UTC, so that a local-time zone shifts the day.
TIMES = (
    timedelta(0),
    timedelta(minutes=30),
    timedelta(hours=12),
    timedelta(hours=23, minutes=30),
    timedelta(hours=23, minutes=59, seconds=59, microseconds=999_999),
)
ZONES = (None, "UTC", "America/New_York", "Asia/Tokyo", "naive")


def utc_day(ts: datetime):
    return ts.astimezone(UTC).date()


def random_events(
    rng,
    *,
    n_customers: int = 6,
    n_days: int = 40,
    names=("purchase", "visit", "cancel"),
    max_events: int = 8,
    categories=("a", "b", "c"),
    int_ids: bool = False,
    times=TIMES,
) -> list[dict]:
    """Rows customer_id, ts (aware UTC), event, amount, category; some exact duplicates."""
    rows = []
    for c in range(n_customers):
        cid = c if int_ids else f"c{c}"
        for _ in range(int(rng.integers(0, max_events + 1))):
            ts = (
                BASE
                + timedelta(days=int(rng.integers(0, n_days)))
                + times[rng.integers(len(times))]
            )
            row = {
                "customer_id": cid,
                "ts": ts,
                "event": names[int(rng.integers(len(names)))],
                "amount": float(rng.integers(0, 5)) * 10.0,
                "category": categories[int(rng.integers(len(categories)))],
            }
            rows.append(row)
            if rng.random() < 0.15:  # same-moment duplicate
                rows.append(dict(row))
    order = rng.permutation(len(rows)) if rows else []
    return [rows[i] for i in order]


def frame(rows: list[dict], *, tz=None, kind: str = "eager", columns=None, id_dtype=None):
    """Rows -> polars (eager or lazy) or pandas frame, with timestamps shown in time zone `tz`."""
    columns = columns or ["customer_id", "ts", "event", "amount", "category"]
    if id_dtype is None:
        id_dtype = pl.Int64 if rows and isinstance(rows[0]["customer_id"], int) else pl.String
    data = {c: [r[c] for r in rows] for c in columns}
    schema = {
        "customer_id": id_dtype,
        "ts": pl.Datetime("us", "UTC"),
        "event": pl.String,
        "amount": pl.Float64,
        "category": pl.String,
    }
    df = pl.DataFrame(data, schema={c: schema[c] for c in columns})
    if "ts" in columns and tz == "naive":
        df = df.with_columns(pl.col("ts").dt.replace_time_zone(None))
    elif "ts" in columns and tz is not None:
        df = df.with_columns(pl.col("ts").dt.convert_time_zone(tz))
    if kind == "lazy":
        return df.lazy()
    if kind == "pandas":
        return df.to_pandas()
    return df
