"""Vendored real data: the CDNOW transaction log and the BG/BB donations table.

Both ship compressed (parquet, zstd) in ``workbench/datasets/data/``; ``build_vendored`` rebuilds
them from the original text files.

CDNOW (Fader, Hardie & Lee 2005): every customer made a first purchase in Q1 1997; purchases run
to 1998-06-30. ``load_cdnow()`` returns the master log (69,659 rows, 23,570 customers);
``load_cdnow(sample=True)`` the 1/10 sample used in the papers (6,919 rows, 2,357 customers,
$244,091.94). In the sample, ``customer_id`` is the customer's *master* id, so the same customer
has the same id in both; the sample's own 1..2357 numbering is kept in ``sample_id``.

Donations (Fader, Hardie & Shang 2010): 22 rows (frequency, recency, periods, weights) standing
for 11,104 donors over 6 annual repeat opportunities.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

import polars as pl

from ..errors import BadParameterError, DataSourceError
from ..schema import AMOUNT, CUSTOMER_ID, DEFAULT_EVENT, EVENT, TS

QUANTITY = "quantity"
SAMPLE_ID = "sample_id"
_FILES = {
    "master": "cdnow_master.parquet",
    "sample": "cdnow_sample.parquet",
    "donations": "donations.parquet",
}


def _read(name: str) -> pl.DataFrame:
    path = resources.files("workbench.datasets").joinpath("data", _FILES[name])
    try:
        with resources.as_file(path) as p:
            return pl.read_parquet(p)
    except FileNotFoundError as exc:  # pragma: no cover - broken installation
        raise DataSourceError(
            f"load_{'donations' if name == 'donations' else 'cdnow'}: vendored file "
            f"{_FILES[name]!r} is missing from the installation. Fix: reinstall workbench."
        ) from exc


@functools.lru_cache(maxsize=2)
def _cdnow(sample: bool) -> pl.DataFrame:
    raw = _read("sample" if sample else "master")
    cols = [
        pl.col("customer_id").cast(pl.Int64).alias(CUSTOMER_ID),
        pl.col("date").cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias(TS),
        pl.lit(DEFAULT_EVENT, dtype=pl.String).alias(EVENT),
        pl.col("amount").cast(pl.Float64).alias(AMOUNT),
        pl.col("quantity").cast(pl.Int64).alias(QUANTITY),
    ]
    if sample:
        cols.append(pl.col("sample_id").cast(pl.Int64).alias(SAMPLE_ID))
    return raw.select(cols)


def load_cdnow(sample: bool = False) -> pl.DataFrame:
    """The CDNOW purchase log in canonical shape, one row per recorded transaction.

    Columns: customer_id (Int64; the master id, also in the sample), ts (Datetime UTC, midnight
    of the purchase day), event ("purchase"), amount (Float64, dollars), quantity (Int64, CDs);
    the sample adds sample_id (Int64, 1..2357). Rows keep the files' order (by customer, date).
    """
    if not isinstance(sample, bool):
        raise BadParameterError(
            f"load_cdnow: sample={sample!r} is not supported. Fix: pass True (the 1/10 sample) "
            f"or False (the full master log)."
        )
    return _cdnow(sample).clone()


@functools.lru_cache(maxsize=1)
def _donations() -> pl.DataFrame:
    return _read("donations").select(
        pl.col(c).cast(pl.Int64) for c in ("frequency", "recency", "periods", "weights")
    )


def load_donations() -> pl.DataFrame:
    """The BG/BB donations table: frequency, recency, periods, weights (Int64), 22 rows.

    Each row is a (frequency, recency) pattern over ``periods`` = 6 annual repeat opportunities;
    ``weights`` counts the donors with that pattern (11,104 in all).
    """
    return _donations().clone()


def build_vendored(source_dir: str | Path, out_dir: str | Path | None = None) -> None:
    """Rebuild the vendored parquet files from the original CDNOW and donations text files.

    `source_dir` holds ``cdnow/CDNOW_master.txt``, ``cdnow/CDNOW_sample.txt`` and
    ``donations/donations.csv``.
    """
    src = Path(source_dir)
    out = Path(out_dir) if out_dir else Path(__file__).parent / "data"
    out.mkdir(parents=True, exist_ok=True)

    def rows(path: Path, skip: int) -> list[list[str]]:
        lines = path.read_text().splitlines()[skip:]
        return [line.split() for line in lines if line.strip()]

    def frame(records, names) -> pl.DataFrame:
        df = pl.DataFrame(records, schema=names, orient="row")
        return df.with_columns(
            pl.col("date").str.strptime(pl.Date, "%Y%m%d"),
            pl.col("quantity").cast(pl.Int32),
            pl.col("amount").cast(pl.Float64),
            *(pl.col(c).cast(pl.Int32) for c in names if c.endswith("_id")),
        )

    master = frame(
        rows(src / "cdnow" / "CDNOW_master.txt", 1), ["customer_id", "date", "quantity", "amount"]
    )
    sample = frame(
        rows(src / "cdnow" / "CDNOW_sample.txt", 0),
        ["customer_id", "sample_id", "date", "quantity", "amount"],
    )
    donations = pl.read_csv(src / "donations" / "donations.csv")
    for name, df in (("master", master), ("sample", sample), ("donations", donations)):
        df.write_parquet(
            out / _FILES[name], compression="zstd", compression_level=19, statistics=False
        )
