"""Customer segmentation: RFM quintile scores with named segments, and the ABC x XYZ matrix.

`as_of` is a datetime, or a bare date meaning the end of that UTC day (default: the last event).

RFM. For every customer with at least one purchase up to `as_of`:
recency = days from the last purchase to `as_of`; frequency = number of purchases; monetary =
total spend (or mean order value with ``monetary="mean"``). Each is scored 1-5 by quintile of
its rank among customers: ``score = 1 + floor(5 * (rank - 1) / n)`` with ``rank`` the 1-based
"min" rank (ties share the lower score), ranked so that 5 is best (most recent, most frequent,
highest spend). The named segment comes from the R and F scores via `RFM_SEGMENT_RULES`.

ABC x XYZ. Over the analysis window (the last ``n_periods`` rolling periods ending at `as_of`):
ABC ranks customers by revenue, largest first; a customer is A while the revenue share of the
customers ranked above them is below the A threshold (default 80%), B while it is below A+B (95%),
else C. XYZ measures regularity: the coefficient of variation (population standard deviation /
mean) of the customer's purchase count per period, over the periods since their first purchase
(zeros included); X if CV <= 0.5, Y if CV <= 1.0, else Z. Customers with fewer than
``min_periods`` periods get no XYZ class. X customers have a predictable purchase cycle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import polars as pl

from ._leaving import (
    DAY_US,
    PURCHASE,
    amount_expr,
    check_choice,
    days,
    parse_duration,
    purchases,
    resolve_as_of,
    weight,
)
from .errors import BadDataError, BadParameterError, MissingColumnError
from .schema import AMOUNT, CUSTOMER_ID, TS, EventSchema, canonical

RFM_SEGMENTS_DEFINITION = (
    "RFM: recency (days since last purchase), frequency (number of purchases) and monetary "
    "(total spend) are each scored 1-5 by customer quintile, 5 best; the named segment is read "
    "from the R and F scores with the segment rule table."
)
ABC_XYZ_DEFINITION = (
    "ABC x XYZ: A/B/C = customers making the first 80% / next 15% / last 5% of revenue in the "
    "window; X/Y/Z = coefficient of variation of purchases per period <= 0.5 / <= 1.0 / above. "
    "X customers buy on a predictable cycle."
)

# R score range x F score range -> segment; every (R, F) cell of 1..5 x 1..5 is covered once.
RFM_SEGMENT_RULES = pl.DataFrame(
    [
        ("Champions", 5, 5, 4, 5, "Bought recently, buy often: reward, ask for reviews."),
        ("Loyal", 3, 4, 4, 5, "Buy often, fairly recently: upsell, loyalty programme."),
        ("Potential loyalists", 4, 5, 2, 3, "Recent, a few purchases: offer membership."),
        ("New customers", 5, 5, 1, 1, "Bought very recently for the first time: onboard."),
        ("Promising", 4, 4, 1, 1, "Recent one-off buyers: build the relationship."),
        ("Need attention", 3, 3, 3, 3, "Average recency and frequency: limited-time offers."),
        ("About to sleep", 3, 3, 1, 2, "Below average, slipping away: reactivate now."),
        ("Can't lose them", 1, 2, 5, 5, "Used to buy most often, long gone: win them back."),
        ("At risk", 1, 2, 3, 4, "Bought often, long ago: personalised win-back."),
        ("Hibernating", 1, 2, 1, 2, "Few purchases, long ago: low-cost reactivation."),
    ],
    schema=["segment", "r_min", "r_max", "f_min", "f_max", "description"],
    orient="row",
)
# "Lost" = the bottom cell of Hibernating (R=1, F=1); applied first.
RFM_SEGMENT_RULES = pl.concat(
    [
        pl.DataFrame(
            [("Lost", 1, 1, 1, 1, "Lowest recency and frequency: usually not worth chasing.")],
            schema=RFM_SEGMENT_RULES.schema,
            orient="row",
        ),
        RFM_SEGMENT_RULES,
    ]
)
_RULE_COLUMNS = ("segment", "r_min", "r_max", "f_min", "f_max")


def _check_rules(rules, caller: str) -> pl.DataFrame:
    if not isinstance(rules, pl.DataFrame):
        raise BadParameterError(
            f"{caller}: rules must be a polars DataFrame shaped like wb.RFM_SEGMENT_RULES, "
            f"got {type(rules).__name__}."
        )
    missing = [c for c in _RULE_COLUMNS if c not in rules.columns]
    if missing:
        raise MissingColumnError(
            f"{caller}: rules has no column {missing[0]!r}. Available: {rules.columns}. "
            f"Fix: use the columns of wb.RFM_SEGMENT_RULES {list(_RULE_COLUMNS)}."
        )
    cover: dict[tuple[int, int], list[str]] = {(r, f): [] for r in range(1, 6) for f in range(1, 6)}
    for row in rules.iter_rows(named=True):
        for r in range(int(row["r_min"]), int(row["r_max"]) + 1):
            for f in range(int(row["f_min"]), int(row["f_max"]) + 1):
                if (r, f) in cover:
                    cover[(r, f)].append(row["segment"])
    gaps = [k for k, v in cover.items() if not v]
    if gaps:
        raise BadParameterError(
            f"{caller}: rules leave the (R, F) score cells {gaps[:5]} without a segment. "
            f"Fix: cover every cell of 1..5 x 1..5 (rows are applied in order, first match wins)."
        )
    return rules


def _quintile(expr: pl.Expr, n: pl.Expr) -> pl.Expr:
    rank = expr.rank(method="min")
    return (1 + ((rank - 1) * 5 // n)).cast(pl.Int8)


def rfm_scores(
    events,
    *,
    as_of=None,
    monetary: str = "total",
    rules: pl.DataFrame | None = None,
    purchase_event: str = PURCHASE,
    schema: EventSchema | None = None,
) -> pl.DataFrame:
    """RFM quintile scores (1-5, 5 best) and a named segment per customer.

    Returns one row per customer with a purchase up to `as_of`: ``customer_id, recency_days,
    frequency, monetary, r_score, f_score, m_score, rfm_score ("545"), segment``. `rules` is an
    ordered table like `RFM_SEGMENT_RULES` (first matching row wins); `monetary` is "total"
    (sum of amounts) or "mean" (mean order value), rounded to 6 decimals so that equal spend
    ties whatever the order of addition. Pre-aggregated events count ``n_events``.
    """
    caller = "rfm_scores"
    check_choice(caller, "monetary", monetary, ["total", "mean"])
    rules = _check_rules(RFM_SEGMENT_RULES if rules is None else rules, caller)
    lf = canonical(events, schema=schema, caller=caller, require=(AMOUNT,))
    names = lf.collect_schema().names()
    as_of_dt = resolve_as_of(lf, as_of, caller)
    per = (
        purchases(lf, purchase_event)
        .filter(pl.col(TS) <= as_of_dt)
        .group_by(CUSTOMER_ID)
        .agg(
            ((pl.lit(as_of_dt) - pl.col(TS).max()).dt.total_microseconds() / DAY_US).alias(
                "recency_days"
            ),
            weight(names).sum().alias("frequency"),
            amount_expr(names).sum().alias("__total"),
        )
        .with_columns(
            (pl.col("__total") if monetary == "total" else pl.col("__total") / pl.col("frequency"))
            # Rounded so that equal spend ties whatever the order of addition.
            .round(6)
            .alias("monetary")
        )
    )
    n = pl.len()
    scored = per.with_columns(
        _quintile(-pl.col("recency_days"), n).alias("r_score"),
        _quintile(pl.col("frequency"), n).alias("f_score"),
        _quintile(pl.col("monetary"), n).alias("m_score"),
    ).with_columns(
        pl.concat_str([pl.col(c).cast(pl.String) for c in ("r_score", "f_score", "m_score")]).alias(
            "rfm_score"
        )
    )
    seg = pl.lit(None, dtype=pl.String)
    for row in reversed(list(rules.iter_rows(named=True))):
        hit = pl.col("r_score").is_between(row["r_min"], row["r_max"]) & pl.col(
            "f_score"
        ).is_between(row["f_min"], row["f_max"])
        seg = pl.when(hit).then(pl.lit(row["segment"])).otherwise(seg)
    return (
        scored.with_columns(seg.alias("segment"))
        .select(
            CUSTOMER_ID,
            "recency_days",
            "frequency",
            "monetary",
            "r_score",
            "f_score",
            "m_score",
            "rfm_score",
            "segment",
        )
        .sort(CUSTOMER_ID)
        .collect()
    )


def rfm_segment_counts(scores: pl.DataFrame) -> pl.DataFrame:
    """segment, customers, share, monetary (sum), in rule-table order, from `rfm_scores` output."""
    order = RFM_SEGMENT_RULES["segment"].to_list()
    out = scores.group_by("segment").agg(
        pl.len().cast(pl.Int64).alias("customers"), pl.col("monetary").sum().alias("monetary")
    )
    out = out.with_columns((pl.col("customers") / pl.col("customers").sum()).alias("share"))
    rank = {s: i for i, s in enumerate(order)}
    return (
        out.with_columns(pl.col("segment").replace_strict(rank, default=len(order)).alias("__o"))
        .sort("__o", "segment")
        .drop("__o")
        .select("segment", "customers", "share", "monetary")
    )


# ----------------------------------------------------------------------------- ABC x XYZ
@dataclass(frozen=True)
class AbcXyz:
    """ABC x XYZ result: `.table` per customer, `.matrix` the nine cells, `.params`."""

    table: pl.DataFrame
    matrix: pl.DataFrame
    params: dict = field(default_factory=dict)
    definition: str = ABC_XYZ_DEFINITION

    @property
    def predictable(self) -> pl.DataFrame:
        """Customers whose purchase cycle is predictable (XYZ class X)."""
        return self.table.filter(pl.col("predictable"))

    def plot(self):
        from .plots.leaving import abc_xyz_figure

        return abc_xyz_figure(self)

    def _repr_html_(self) -> str:
        return f"<h4>ABC x XYZ</h4><p>{self.definition}</p>" + self.matrix._repr_html_()


def _check_abc(abc, caller) -> tuple[float, float, float]:
    ok = isinstance(abc, tuple | list) and len(abc) == 3
    ok = ok and all(isinstance(x, int | float) and x > 0 for x in abc)
    if not ok or not math.isclose(sum(abc), 1.0, abs_tol=1e-9):
        raise BadParameterError(
            f"{caller}: abc={abc!r} must be three positive revenue shares summing to 1, "
            f"e.g. (0.8, 0.15, 0.05)."
        )
    return float(abc[0]), float(abc[1]), float(abc[2])


def _check_xyz(xyz, caller) -> tuple[float, float]:
    ok = isinstance(xyz, tuple | list) and len(xyz) == 2
    ok = ok and all(isinstance(x, int | float) and x > 0 for x in xyz)
    if not ok or xyz[0] >= xyz[1]:
        raise BadParameterError(
            f"{caller}: xyz={xyz!r} must be two increasing positive CV thresholds "
            f"(X up to the first, Y up to the second), e.g. (0.5, 1.0)."
        )
    return float(xyz[0]), float(xyz[1])


def abc_xyz(
    events,
    *,
    as_of=None,
    period="30d",
    n_periods: int = 12,
    abc=(0.8, 0.15, 0.05),
    xyz=(0.5, 1.0),
    min_periods: int = 3,
    purchase_event: str = PURCHASE,
    schema: EventSchema | None = None,
) -> AbcXyz:
    """ABC (revenue share) x XYZ (regularity) classes over the last `n_periods` periods.

    Period j (0 = latest) covers ``(as_of - (j+1)*period, as_of - j*period]``. Only customers
    with a purchase in the window are classified. ``.table``: customer_id, revenue,
    revenue_share, cum_share_before, abc, purchases, periods, mean_per_period, cv, xyz, cell
    ("AX"...), predictable. ``.matrix``: abc, xyz, customers, revenue, revenue_share.
    """
    caller = "abc_xyz"
    a, b, _ = _check_abc(abc, caller)
    x_max, y_max = _check_xyz(xyz, caller)
    length = parse_duration(period, caller, "period")
    if not isinstance(n_periods, int) or isinstance(n_periods, bool) or n_periods < 2:
        raise BadParameterError(f"{caller}: n_periods={n_periods!r} must be an integer >= 2.")
    if not isinstance(min_periods, int) or not 2 <= min_periods <= n_periods:
        raise BadParameterError(
            f"{caller}: min_periods={min_periods!r} must be an integer in [2, n_periods]."
        )
    lf = canonical(events, schema=schema, caller=caller, require=(AMOUNT,))
    names = lf.collect_schema().names()
    as_of_dt = resolve_as_of(lf, as_of, caller)
    len_us = int(length.total_seconds() * 1_000_000)
    p = purchases(lf, purchase_event).filter(pl.col(TS) <= as_of_dt)
    age = (pl.lit(as_of_dt) - pl.col(TS)).dt.total_microseconds()
    first = p.group_by(CUSTOMER_ID).agg(pl.col(TS).min().alias("__first"))
    win = (
        p.with_columns((age // len_us).alias("__j"))
        .filter(pl.col("__j") < n_periods)
        .group_by(CUSTOMER_ID, "__j")
        .agg(weight(names).sum().alias("__k"), amount_expr(names).sum().alias("__rev"))
        .group_by(CUSTOMER_ID)
        .agg(
            pl.col("__rev").sum().alias("revenue"),
            pl.col("__k").sum().alias("purchases"),
            (pl.col("__k").cast(pl.Float64) ** 2).sum().alias("__sq"),
        )
        .join(first, on=CUSTOMER_ID, how="left")
    )
    first_j = (pl.lit(as_of_dt) - pl.col("__first")).dt.total_microseconds() // len_us
    mean = pl.col("purchases") / pl.col("periods")
    cv = (pl.col("__sq") / pl.col("periods") - pl.col("mean_per_period") ** 2).clip(
        0.0
    ).sqrt() / pl.col("mean_per_period")
    table = (
        win.with_columns(pl.min_horizontal(first_j, n_periods - 1).add(1).alias("periods"))
        .with_columns(mean.alias("mean_per_period"))
        .with_columns(
            pl.when(pl.col("periods") >= min_periods).then(cv).otherwise(None).alias("cv")
        )
        .collect()
    )
    total = table["revenue"].sum()
    if table.height == 0 or total <= 0:
        raise BadDataError(
            f"{caller}: no positive revenue from purchases in the {n_periods} x {period} window "
            f"ending {as_of_dt:%Y-%m-%d}. Fix: check as_of, period and the amount column."
        )
    table = (
        table.sort(["revenue", CUSTOMER_ID], descending=[True, False])
        .with_columns((pl.col("revenue") / total).alias("revenue_share"))
        .with_columns(
            (pl.col("revenue_share").cum_sum() - pl.col("revenue_share")).alias("cum_share_before")
        )
        .with_columns(
            pl.when(pl.col("cum_share_before") < a - 1e-12)
            .then(pl.lit("A"))
            .when(pl.col("cum_share_before") < a + b - 1e-12)
            .then(pl.lit("B"))
            .otherwise(pl.lit("C"))
            .alias("abc"),
            pl.when(pl.col("cv").is_null())
            .then(pl.lit(None, dtype=pl.String))
            .when(pl.col("cv") <= x_max)
            .then(pl.lit("X"))
            .when(pl.col("cv") <= y_max)
            .then(pl.lit("Y"))
            .otherwise(pl.lit("Z"))
            .alias("xyz"),
        )
        .with_columns(
            (pl.col("abc") + pl.col("xyz")).alias("cell"),
            (pl.col("xyz") == "X").fill_null(False).alias("predictable"),
        )
        .select(
            CUSTOMER_ID,
            "revenue",
            "revenue_share",
            "cum_share_before",
            "abc",
            "purchases",
            "periods",
            "mean_per_period",
            "cv",
            "xyz",
            "cell",
            "predictable",
        )
    )
    grid = pl.DataFrame([(i, j) for i in "ABC" for j in "XYZ"], schema=["abc", "xyz"], orient="row")
    cells = (
        table.filter(pl.col("xyz").is_not_null())
        .group_by("abc", "xyz")
        .agg(pl.len().alias("customers"), pl.col("revenue").sum().alias("revenue"))
    )
    matrix = (
        grid.join(cells, on=["abc", "xyz"], how="left")
        .with_columns(
            pl.col("customers").fill_null(0).cast(pl.Int64), pl.col("revenue").fill_null(0.0)
        )
        .with_columns((pl.col("revenue") / total).alias("revenue_share"))
    )
    params = {
        "as_of": as_of_dt,
        "period": str(period),
        "period_days": days(length),
        "n_periods": n_periods,
        "abc": (a, b, 1 - a - b),
        "xyz": (x_max, y_max),
        "min_periods": min_periods,
        "purchase_event": purchase_event,
        "unclassified_xyz": int(table["xyz"].null_count()),
    }
    return AbcXyz(table=table, matrix=matrix, params=params)
