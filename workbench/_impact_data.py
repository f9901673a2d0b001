"""Customer-time around an event: paid periods or churn spells split at the window boundaries.

Days are integers (days since 1970-01-01, UTC). Windows are half-open: the baseline window is
[lo, st) and the after window [st, hi).

- Paid periods (contractual churn): each paid period is one renewal decision. A unit covers the
  period's new coverage [u0, u1); it ends the spell ("churned") when no later period starts
  within the grace after it. Only units whose outcome is known at ``as_of`` whatever it is,
  i.e. ``u1 + grace <= as_of``, are used (keeping only the known churns near the data end would
  drop churns selectively).
- Churn spells (any `wb.churn_table`): at risk on [start, end) with end the churn date (churned)
  or the end of follow-up (censored); a churn falls on the day before its churn date.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from .annotations import LABEL
from .errors import BadDataError, MissingColumnError, closest
from .schema import CUSTOMER_ID, PERIOD_END, PERIOD_START, CustomerSchema, canonical

SEG = "__segment"
GROUP = "__group"  # 1 = the annotation's segment (or everyone), 0 = control


def _day(expr: pl.Expr) -> pl.Expr:
    return expr.dt.date().cast(pl.Int64)


def period_units(subs: pl.LazyFrame, *, grace: int, as_of: int, keep: list[str]) -> pl.LazyFrame:
    """Paid periods -> renewal units with columns a0 (unit start), a1 (unit end), churned,
    spell_start, known (outcome observable at as_of), plus the `keep` columns."""
    a = _day(pl.col(PERIOD_START))
    b = pl.max_horizontal(_day(pl.col(PERIOD_END)), a)
    prev = pl.col("b").cum_max().shift(1).over(CUSTOMER_ID)
    new = pl.col("prev").is_null() | ((pl.col("a") - pl.col("prev")) > grace)
    spell = [CUSTOMER_ID, "spell"]
    return (
        subs.select(CUSTOMER_ID, a.alias("a"), b.alias("b"), *keep)
        .filter(pl.col("a").is_not_null() & pl.col("b").is_not_null() & (pl.col("a") <= as_of))
        .sort(CUSTOMER_ID, "a", "b")
        .with_columns(prev.alias("prev"))
        .with_columns(new.alias("new"))
        .with_columns(
            pl.col("new").cast(pl.Int64).cum_sum().over(CUSTOMER_ID).alias("spell"),
            pl.when(pl.col("new")).then(pl.col("a"))
            .otherwise(pl.max_horizontal("a", "prev")).alias("a0"),
            pl.when(pl.col("new")).then(pl.col("b"))
            .otherwise(pl.max_horizontal("b", "prev")).alias("a1"),
        )
        .filter(pl.col("a1") > pl.col("a0"))
        .with_columns(
            (pl.col("a1") == pl.col("a1").max().over(spell)).alias("churned"),
            pl.col("a0").min().over(spell).alias("spell_start"),
            ((pl.col("a1") + grace) <= as_of).alias("known"),
        )
        .select(CUSTOMER_ID, "a0", "a1", "churned", "spell_start", "known", *keep)
    )


def churn_spells(tbl: pl.LazyFrame) -> pl.LazyFrame:
    """A churn table -> at-risk spells [a0, a1) with churned and the spell start."""
    start = pl.col("start").cast(pl.Date).cast(pl.Int64)
    end = pl.when(pl.col("churned")).then(pl.col("churn_date").cast(pl.Date).cast(pl.Int64))
    follow = start + pl.col("duration_days").cast(pl.Int64)
    return tbl.with_columns(
        start.alias("a0"),
        pl.max_horizontal(end.otherwise(follow), start).alias("a1"),
        pl.col("churned").cast(pl.Boolean),
        start.alias("spell_start"),
        pl.lit(True).alias("known"),
    )


def attach_segment(lf: pl.LazyFrame, column: str, customers, customer_schema, caller: str,
                   label: str, where: str) -> pl.LazyFrame:
    """Add the segment attribute (String) as SEG: from customers when it has the column, else
    from the unit table itself."""
    if customers is not None:
        cust = canonical(customers, schema=customer_schema, caller=caller, default=CustomerSchema)
        names = cust.collect_schema().names()
        if column in names and column != CUSTOMER_ID:
            seg = cust.select(CUSTOMER_ID, pl.col(column).cast(pl.String).alias(SEG))
            seg = seg.unique(CUSTOMER_ID, keep="first")
            return lf.join(seg, on=CUSTOMER_ID, how="left")
    names_here = lf.collect_schema().names()
    if column in names_here and column != CUSTOMER_ID:
        return lf.with_columns(pl.col(column).cast(pl.String).alias(SEG))
    options = [n for n in names_here if not n.startswith("__")]
    if customers is not None:
        options += [n for n in names if n not in options]
    hint = closest(column, [o for o in options if o != CUSTOMER_ID])
    did = f" Did you mean {hint!r}?" if hint else ""
    raise MissingColumnError(
        f"{caller}: annotation {label!r} applies to segment column {column!r}, but neither the "
        f"customers table nor the {where} has it.{did} Fix: pass customers= with that "
        f"attribute, or correct segment_column (segment=False compares everyone)."
    )


def assign_groups(lf: pl.LazyFrame, value: str | None, control: list[str] | None,
                  caller: str, label: str, column: str | None) -> pl.LazyFrame:
    """GROUP = 1 in the segment, 0 in the control (others with a value, or `control` values),
    rows in neither are dropped. Without a segment everyone is group 1."""
    if value is None:
        return lf.with_columns(pl.lit(1, dtype=pl.Int8).alias(GROUP))
    seen = lf.select(pl.col(SEG).unique().drop_nulls()).collect().to_series().to_list()
    if value not in seen:
        hint = closest(value, seen)
        did = f" Did you mean {hint!r}?" if hint else ""
        raise BadDataError(
            f"{caller}: annotation {label!r} applies to {column} = {value!r}, but no customer "
            f"in the data has that value. Available: {sorted(seen)[:20]}.{did} Fix: correct "
            f"segment_value."
        )
    in_control = (pl.col(SEG) != value) if control is None else pl.col(SEG).is_in(control)
    return lf.with_columns(
        pl.when(pl.col(SEG) == value).then(pl.lit(1, dtype=pl.Int8))
        .when(in_control).then(pl.lit(0, dtype=pl.Int8))
        .alias(GROUP)
    ).filter(pl.col(GROUP).is_not_null())


def _overlap(a0: pl.Expr, a1: pl.Expr, lo: int, hi: int) -> pl.Expr:
    return pl.max_horizontal(pl.min_horizontal(a1, pl.lit(hi)) - pl.max_horizontal(a0, pl.lit(lo)),
                             pl.lit(0))


@dataclass
class Cells:
    """Exposure and churn of one group around one event.

    `parts` holds per-unit day counts (base = days before st, after, post = days from hi on)
    with the unit counts `n` and churns `y` of each distinct combination (paid periods), or is
    None for exact churn days. Counts and exposures describe the before and after windows.
    """

    events_before: int
    events_after: int
    exposure_before: float
    exposure_after: float
    new_share: float  # share of after-window exposure from spells started on/after the event
    parts: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


def period_cells(units: pl.LazyFrame, lo: int, st: int, hi: int) -> dict[int, Cells]:
    """Per group: renewal units overlapping [lo, hi), split into their base/after/post days."""
    a0, a1 = pl.col("a0"), pl.col("a1")
    base = (pl.min_horizontal(a1, pl.lit(st)) - a0).clip(lower_bound=0)
    before = _overlap(a0, a1, lo, st)
    after = _overlap(a0, a1, st, hi)
    post = (a1 - pl.max_horizontal(a0, pl.lit(hi))).clip(lower_bound=0)
    rows = (
        units.filter(pl.col("known") & (a1 > lo) & (a0 < hi))
        .select(GROUP, "churned", base.alias("base"), before.alias("before"),
                after.alias("after"), post.alias("post"),
                (pl.col("spell_start") >= st).alias("new"))
        .collect()
    )
    out = {}
    for g in (1, 0):
        part = rows.filter(pl.col(GROUP) == g)
        if not part.height:
            continue
        comb = (
            part.group_by("base", "after", "post")
            .agg(pl.len().alias("n"), pl.col("churned").sum().alias("y"))
            .sort("base", "after", "post")
        )
        days = comb.select("base", "after", "post").to_numpy().astype(float)
        # A churn is counted in the window holding most of its unit's days.
        ch = part.filter(pl.col("churned"))
        in_after = ch.filter((pl.col("after") >= pl.col("base")) & (pl.col("after") >= pl.col("post")))
        in_before = ch.filter((pl.col("base") > pl.col("after")) & (pl.col("base") >= pl.col("post")))
        e_after = float(part["after"].sum())
        new_after = float(part.filter(pl.col("new"))["after"].sum())
        out[g] = Cells(
            events_before=in_before.height,
            events_after=in_after.height,
            exposure_before=float(part["before"].sum()),
            exposure_after=e_after,
            new_share=new_after / e_after if e_after > 0 else float("nan"),
            parts=(days, comb["n"].to_numpy().astype(float), comb["y"].to_numpy().astype(float)),
        )
    return out


def spell_cells(spells: pl.LazyFrame, lo: int, st: int, hi: int) -> dict[int, Cells]:
    """Per group: exposure days and churns in [lo, st) and [st, hi) (exact churn days)."""
    a0, a1 = pl.col("a0"), pl.col("a1")
    day = pl.max_horizontal(a1 - 1, a0)
    churned = pl.col("churned")
    stats = (
        spells.filter((a1 > lo) & (a0 < hi))
        .group_by(GROUP)
        .agg(
            (churned & (day >= lo) & (day < st)).sum().alias("y_b"),
            (churned & (day >= st) & (day < hi)).sum().alias("y_a"),
            _overlap(a0, a1, lo, st).sum().alias("e_b"),
            _overlap(a0, a1, st, hi).sum().alias("e_a"),
            _overlap(a0, a1, st, hi).filter(pl.col("spell_start") >= st).sum().alias("e_new"),
        )
        .collect()
    )
    out = {}
    for r in stats.iter_rows(named=True):
        e_a = float(r["e_a"])
        out[int(r[GROUP])] = Cells(
            events_before=int(r["y_b"]),
            events_after=int(r["y_a"]),
            exposure_before=float(r["e_b"]),
            exposure_after=e_a,
            new_share=float(r["e_new"]) / e_a if e_a > 0 else float("nan"),
        )
    return out


def retention_counts(spells: pl.LazyFrame, t0: int, t1: int) -> dict[int, tuple[int, int]]:
    """Per group: (customers at risk on day t0, of whom churned with a churn date <= t1).

    At risk on t0: started on or before t0 and not churned by then (churn date after t0) and
    followed at least to t1 when not churned.
    """
    a0, a1 = pl.col("a0"), pl.col("a1")
    at_risk = (a0 <= t0) & (a1 > t0) & (pl.col("churned") | (a1 >= t1))
    stats = (
        spells.filter(at_risk)
        .group_by(GROUP)
        .agg(pl.len().alias("n"), (pl.col("churned") & (a1 <= t1)).sum().alias("x"))
        .collect()
    )
    return {int(r[GROUP]): (int(r["n"]), int(r["x"])) for r in stats.iter_rows(named=True)}


def concurrent(ann: pl.DataFrame, row: dict, lo_date, hi_date) -> list[str]:
    """Labels of other annotations whose range overlaps [lo_date, hi_date]."""
    others = ann.filter(
        (pl.col("start") <= hi_date) & (pl.col("end") >= lo_date)
        & ~((pl.col("start") == row["start"]) & (pl.col(LABEL) == row[LABEL]))
    )
    return others[LABEL].to_list()
