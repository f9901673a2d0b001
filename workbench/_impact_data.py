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
from datetime import date, timedelta

import numpy as np
import polars as pl

from ._impact_fit import band_edges
from .annotations import LABEL
from .churn import churn_table
from .cycles import last_day, parse_days, to_day
from .errors import BadDataError, BadParameterError, MissingColumnError, closest
from .schema import (
    CUSTOMER_ID,
    PERIOD_END,
    PERIOD_START,
    TS,
    CustomerSchema,
    SubscriptionSchema,
    canonical,
)

_EPOCH = date(1970, 1, 1)

# Working columns of the renewal units (attributes with these names are not carried along).
_OFFSET = 10**7  # days; larger than any span of dates
_UNIT_COLUMNS = ("a", "b", "prev", "new", "spell", "a0", "a1", "churned", "spell_start", "known")
SEG = "__segment"
GROUP = "__group"  # 1 = the annotation's segment (or everyone), 0 = control


def _day(expr: pl.Expr) -> pl.Expr:
    return expr.dt.date().cast(pl.Int64)


def period_units(subs: pl.LazyFrame, *, grace: int, as_of: int, keep: list[str]) -> pl.LazyFrame:
    """Paid periods -> renewal units with columns a0 (unit start), a1 (unit end), churned,
    spell_start, known (outcome observable at as_of), plus the `keep` columns."""
    a = _day(pl.col(PERIOD_START))
    b = pl.max_horizontal(_day(pl.col(PERIOD_END)), a)
    # Rows are sorted by customer; offsetting each customer's days by a multiple of a large
    # constant turns per-customer running maxima into one running maximum (no window groups).
    first = (pl.col(CUSTOMER_ID) != pl.col(CUSTOMER_ID).shift(1)).fill_null(True)
    offset = first.cast(pl.Int64).cum_sum() * _OFFSET
    cover = (pl.col("b") + offset).cum_max() - offset  # latest end so far, this row included
    prev = pl.when(~first).then(pl.col("a1").shift(1))
    new = pl.col("prev").is_null() | ((pl.col("a") - pl.col("prev")) > grace)
    last = (pl.col("spell") != pl.col("spell").shift(-1)).fill_null(True)
    return (
        subs.select(CUSTOMER_ID, a.alias("a"), b.alias("b"), *keep)
        .filter(pl.col("a").is_not_null() & pl.col("b").is_not_null() & (pl.col("a") <= as_of))
        .sort(CUSTOMER_ID, "a", "b")
        .with_columns(cover.alias("a1"))
        .with_columns(prev.alias("prev"))
        .with_columns(new.alias("new"))
        .with_columns(
            pl.col("new").cast(pl.Int64).cum_sum().alias("spell"),
            pl.when(pl.col("new")).then(pl.col("a")).forward_fill().alias("spell_start"),
            pl.when(pl.col("new"))
            .then(pl.col("a"))
            .otherwise(pl.max_horizontal("a", "prev"))
            .alias("a0"),
        )
        .filter(pl.col("a1") > pl.col("a0"))
        .with_columns(
            last.alias("churned"),  # the spell's last unit: no renewal followed in time
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


def attach_segment(
    lf: pl.LazyFrame, column: str, customers, customer_schema, caller: str, label: str, where: str
) -> pl.LazyFrame:
    """Add the segment attribute (String) as SEG: from customers when it has the column, else
    from the unit table itself."""
    if customers is not None:
        cust = canonical(customers, schema=customer_schema, caller=caller, default=CustomerSchema)
        names = cust.collect_schema().names()
        if column in names and column != CUSTOMER_ID:
            left, right = lf.collect_schema()[CUSTOMER_ID], cust.collect_schema()[CUSTOMER_ID]
            if left != right:
                raise BadDataError(
                    f"{caller}: customer_id is {left} in the churn data but {right} in "
                    f"customers, so they cannot be matched. Fix: load both with the same "
                    f"identifier type."
                )
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


def assign_groups(
    lf: pl.LazyFrame,
    value: str | None,
    control: list[str] | None,
    caller: str,
    label: str,
    column: str | None,
) -> pl.LazyFrame:
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
        pl.when(pl.col(SEG) == value)
        .then(pl.lit(1, dtype=pl.Int8))
        .when(in_control)
        .then(pl.lit(0, dtype=pl.Int8))
        .alias(GROUP)
    ).filter(pl.col(GROUP).is_not_null())


def _overlap(a0: pl.Expr, a1: pl.Expr, lo: int, hi: int) -> pl.Expr:
    return pl.max_horizontal(
        pl.min_horizontal(a1, pl.lit(hi)) - pl.max_horizontal(a0, pl.lit(lo)), pl.lit(0)
    )


@dataclass
class Cells:
    """Customer-time of one group around one event, for `fit_banded`.

    `days` (cells x parts), `band` (tenure band of each cell), `y` churns and `n` renewal units
    per cell (paid periods), or `y` per cell and part with `n` None (exact churn days). The
    counts and exposures describe the before and after windows.
    """

    events_before: int
    events_after: int
    exposure_before: float
    exposure_after: float
    new_share: float  # share of after-window exposure from spells started on/after the event
    days: np.ndarray
    band: np.ndarray
    y: np.ndarray
    n: np.ndarray | None = None
    bands: list[str] | None = None  # tenure band of each band index


_BIG = 10**9


def _band_labels(kept: list[float], present: np.ndarray) -> list[str]:
    def m(v: float) -> str:
        return "inf" if v >= _BIG else f"{v / 30.4375:.0f}"

    return [f"tenure {m(kept[i])}-{m(kept[i + 1])} months" for i in present]


def _merge_index(fine_churns: np.ndarray, edges: list[float]) -> tuple[np.ndarray, list[float]]:
    """Map fine tenure bands onto merged ones holding enough churns each."""
    mids = np.asarray(edges[:-1], dtype=float)
    kept = band_edges(mids, fine_churns, tuple(edges) if len(edges) > 1 else (0.0, _BIG))
    return np.searchsorted(np.asarray(kept[1:-1], dtype=float), mids, side="right"), kept


def period_cells(
    units: pl.LazyFrame, lo: int, st: int, hi: int, edges: list[float]
) -> dict[int, Cells]:
    """Per group: renewal units overlapping [lo, hi), split into their base/after/post days and
    banded by tenure at the unit's start."""
    a0, a1 = pl.col("a0"), pl.col("a1")
    base = (pl.min_horizontal(a1, pl.lit(st)) - a0).clip(lower_bound=0)
    after = _overlap(a0, a1, st, hi)
    post = (a1 - pl.max_horizontal(a0, pl.lit(hi))).clip(lower_bound=0)
    cuts = [float(e) for e in edges[1:-1]]
    tenure = (a0 - pl.col("spell_start")).cast(pl.Float64)
    fine = pl.sum_horizontal([(tenure >= c).cast(pl.Int64) for c in cuts]) if cuts else None
    fine = fine if fine is not None else pl.lit(0, dtype=pl.Int64)
    rows = (
        units.filter(pl.col("known") & (a1 > lo) & (a0 < hi))
        .select(
            GROUP,
            "churned",
            base.alias("base"),
            _overlap(a0, a1, lo, st).alias("before"),
            after.alias("after"),
            post.alias("post"),
            fine.alias("fine"),
            (pl.col("spell_start") >= st).alias("new"),
        )
        .collect()
    )
    out = {}
    for g in (1, 0):
        part = rows.filter(pl.col(GROUP) == g)
        if not part.height:
            continue
        per_band = part.group_by("fine").agg(pl.col("churned").sum()).sort("fine")
        fine_churns = np.zeros(len(edges) - 1)
        fine_churns[per_band["fine"].to_numpy()] = per_band["churned"].to_numpy()
        idx, kept = _merge_index(fine_churns, edges)
        comb = (
            part.with_columns(
                pl.col("fine")
                .replace_strict(list(range(len(idx))), idx.tolist(), return_dtype=pl.Int64)
                .alias("band")
            )
            .group_by("band", "base", "after", "post")
            .agg(pl.len().alias("n"), pl.col("churned").sum().alias("y"))
            .sort("band", "base", "after", "post")
        )
        # For the counts, a churn belongs to the part holding most of its unit's days (the
        # days before the baseline window and after the after window count for neither).
        ch = part.filter(pl.col("churned")).with_columns(
            (pl.col("base") - pl.col("before")).alias("pre")
        )
        n_after = ch.filter(pl.col("after") >= pl.max_horizontal("before", "pre", "post")).height
        n_before = ch.filter(
            (pl.col("before") > pl.col("after"))
            & (pl.col("before") >= pl.max_horizontal("pre", "post"))
        ).height
        e_after = float(part["after"].sum())
        new_after = float(part.filter(pl.col("new"))["after"].sum())
        out[g] = Cells(
            events_before=n_before,
            events_after=n_after,
            exposure_before=float(part["before"].sum()),
            exposure_after=e_after,
            new_share=new_after / e_after if e_after > 0 else float("nan"),
            days=comb.select("base", "after", "post").to_numpy().astype(float),
            band=np.unique(comb["band"].to_numpy(), return_inverse=True)[1],
            y=comb["y"].to_numpy().astype(float),
            n=comb["n"].to_numpy().astype(float),
            bands=_band_labels(kept, np.unique(comb["band"].to_numpy())),
        )
    return out


def spell_cells(
    spells: pl.LazyFrame, lo: int, st: int, hi: int, edges: list[float]
) -> dict[int, Cells]:
    """Per group and tenure band: exposure days and churns in [lo, st) and [st, hi)."""
    bands = pl.LazyFrame(
        {
            "fine": list(range(len(edges) - 1)),
            "t0": [int(min(e, _BIG)) for e in edges[:-1]],
            "t1": [int(min(e, _BIG)) for e in edges[1:]],
        },
        schema={"fine": pl.Int64, "t0": pl.Int64, "t1": pl.Int64},
    )
    s = pl.col("spell_start")
    b0, b1 = s + pl.col("t0"), s + pl.col("t1")
    a0 = pl.max_horizontal(pl.col("a0"), b0)
    a1 = pl.min_horizontal(pl.col("a1"), b1)
    day = pl.max_horizontal(pl.col("a1") - 1, pl.col("a0"))
    event = pl.col("churned") & (day >= b0) & (day < b1)
    stats = (
        spells.filter((pl.col("a1") > lo) & (pl.col("a0") < hi))
        .join(bands, how="cross")
        .group_by(GROUP, "fine")
        .agg(
            (event & (day >= lo) & (day < st)).sum().alias("y_b"),
            (event & (day >= st) & (day < hi)).sum().alias("y_a"),
            _overlap(a0, a1, lo, st).sum().alias("e_b"),
            _overlap(a0, a1, st, hi).sum().alias("e_a"),
            _overlap(a0, a1, st, hi).filter(s >= st).sum().alias("e_new"),
        )
        .sort(GROUP, "fine")
        .collect()
    )
    out = {}
    for g in (1, 0):
        part = stats.filter(pl.col(GROUP) == g)
        if not part.height or part.select(pl.col("e_b") + pl.col("e_a")).sum().item() == 0:
            continue
        fine = part["fine"].to_numpy()
        churns = np.zeros(len(edges) - 1)
        churns[fine] = (part["y_b"] + part["y_a"]).to_numpy()
        idx, kept = _merge_index(churns, edges)
        nb = len(kept) - 1
        days, y = np.zeros((nb, 2)), np.zeros((nb, 2))
        np.add.at(days, idx[fine], part.select("e_b", "e_a").to_numpy().astype(float))
        np.add.at(y, idx[fine], part.select("y_b", "y_a").to_numpy().astype(float))
        keep = days.sum(axis=1) > 0
        e_a = float(part["e_a"].sum())
        out[g] = Cells(
            events_before=int(part["y_b"].sum()),
            events_after=int(part["y_a"].sum()),
            exposure_before=float(part["e_b"].sum()),
            exposure_after=e_a,
            new_share=float(part["e_new"].sum()) / e_a if e_a > 0 else float("nan"),
            days=days[keep],
            band=np.arange(int(keep.sum())),
            y=y[keep],
            bands=_band_labels(kept, np.flatnonzero(keep)),
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
    """Labels of other annotations whose range overlaps [lo_date, hi_date] (the caller widens
    the range to cover after-effects of earlier events)."""
    others = ann.filter(
        (pl.col("start") <= hi_date)
        & (pl.col("end") >= lo_date)
        & ~((pl.col("start") == row["start"]) & (pl.col(LABEL) == row[LABEL]))
    )
    return others[LABEL].to_list()


# -- churn sources -----------------------------------------------------------------------------


@dataclass
class Source:
    """Where churn comes from: renewal units ("periods") or churn spells ("spells")."""

    kind: str
    lf: pl.LazyFrame
    as_of: int
    horizon: int  # first day whose churn is not yet known
    where: str
    description: str


def day_num(d: date) -> int:
    return (d - _EPOCH).days


def churn_source(
    events, subscriptions, churn, *, metric, grace, as_of, schema, subscription_schema, caller
) -> Source:
    is_table = churn is not None and not isinstance(churn, str | int | timedelta)
    if subscriptions is not None and churn is not None:
        raise BadParameterError(
            f"{caller}: pass either subscriptions= (contractual churn) or churn=, not both."
        )
    if subscriptions is not None:
        lag = parse_days(grace, caller, "grace", allow_zero=True)
        subs = canonical(
            subscriptions, schema=subscription_schema, caller=caller, default=SubscriptionSchema
        )
        if as_of is not None:
            day = to_day(as_of, caller)
        elif events is not None:
            day = last_day(canonical(events, schema=schema, caller=caller), TS, caller)
        else:
            day = last_day(subs, PERIOD_START, caller)
        d = day_num(day)
        desc = f"subscriptions (renewal within {lag} days)"
        if metric == "churn_hazard":
            extra = [
                c
                for c in subs.collect_schema().names()
                if c not in (CUSTOMER_ID, PERIOD_START, PERIOD_END, *_UNIT_COLUMNS)
            ]
            units = period_units(subs, grace=lag, as_of=d, keep=extra).collect().lazy()
            return Source("periods", units, d, d - lag, "subscriptions table", desc)
        tbl = churn_table(subscriptions=subs, episodes=True, as_of=day, grace=grace)
        return Source("spells", churn_spells(tbl.lazy()), d, d - lag, "churn table", desc)
    if is_table:
        tbl = _churn_input(churn, caller)
        names = tbl.collect_schema().names()
        if as_of is not None:
            d = day_num(to_day(as_of, caller))
        elif "days_since_last" in names and "last_active" in names:
            d = (
                tbl.select(
                    (
                        pl.col("last_active").cast(pl.Date).cast(pl.Int64)
                        + pl.col("days_since_last")
                    ).max()
                )
                .collect()
                .item()
            )
        else:
            d = None
        spells = churn_spells(tbl).collect().lazy()
        lag = (
            tbl.select(pl.col("threshold_days").max()).collect().item()
            if "threshold_days" in names
            else 0
        ) or 0
        last = spells.select(pl.col("a1").max()).collect().item()
        d = int(d if d is not None else last)
        return Source("spells", spells, d, d - int(lag), "churn table", "churn table")
    if events is None:
        raise BadParameterError(
            f"{caller}: no churn data. Fix: pass subscriptions=, churn=<a wb.churn_table>, or "
            f"the events (with churn='90d' for inactivity churn)."
        )
    threshold = "90d" if churn is None else churn
    tbl = churn_table(events, inactivity=threshold, episodes=True, as_of=as_of, schema=schema)
    d = tbl.select((pl.col("last_active").cast(pl.Int64) + pl.col("days_since_last")).max()).item()
    if d is None:
        d = day_num(to_day(as_of, caller)) if as_of is not None else 0
    lag = parse_days(threshold, caller, "churn")
    return Source(
        "spells",
        churn_spells(tbl.lazy()),
        int(d),
        int(d) - lag,
        "churn table",
        f"inactivity churn ({lag} days)",
    )


def _churn_input(tbl, caller: str) -> pl.LazyFrame:
    """A churn table (polars or pandas) as a LazyFrame with the columns event_impact needs."""
    from .survival import to_lazy

    lf = to_lazy(tbl, caller)
    names = lf.collect_schema().names()
    for col in (CUSTOMER_ID, "start", "churn_date", "churned", "duration_days"):
        if col not in names:
            raise MissingColumnError(
                f"{caller}: churn table has no column {col!r}. Available: {names}. Fix: pass "
                f"the output of wb.churn_table(...) as churn=."
            )
    return lf
