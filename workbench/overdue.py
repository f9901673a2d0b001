"""Who should have bought but didn't: overdue customers, value at stake and category drop-outs.

Overdue. Each customer's typical gap between purchase days is their own mean gap shrunk toward
the population (``wb.purchase_cycles``). The expected next purchase is the last purchase day +
typical gap. A customer is overdue at `as_of` when days since the last purchase >= k x typical
gap; ``days_overdue`` = as_of day - expected next purchase day.

Value at stake over a horizon (``wb.value_at_stake``): a BG/NBD model is fitted on the daily
repeat-purchase summary (``wb.rfm_summary``) of all customers and a Gamma-Gamma model on the
repeat buyers' mean spend. For each customer
``value_at_stake = E[spend per purchase] x E[purchases in the horizon | history]`` where the
conditional expectation of the BG/NBD already equals P(alive) x E[purchases | alive]; so the
value at stake is P(alive) x expected spend per purchase x expected purchases if alive.

Category drop-out. For each customer and category with at least `m` purchases of the category,
the category cycle is (last - first category purchase) / (purchases - 1). The customer has
dropped the category at `as_of` when the recent window of length L = max(k x cycle,
`min_window`) holds no purchase of it and at least `min_other` purchases of other categories,
and the reference window before it (the `reference` length before the recent window, or all
history) holds at least `m` purchases of it, at least `min_share` of the customer's purchases
there up to the last one of it; at least `min_switches` purchases of other categories followed the last one of it.
"""

from __future__ import annotations

import html
import warnings
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from ._leaving import (
    DAY_US,
    PURCHASE,
    amount_expr,
    check_choice,
    days,
    parse_duration,
    resolve_as_of,
    to_utc,
    usual_category,
    weight,
)
from .errors import BadDataError, BadParameterError
from .schema import AMOUNT, CATEGORY, CUSTOMER_ID, EVENT, TS, EventSchema, canonical

OVERDUE_DEFINITION = (
    "Overdue: days since the last purchase >= k x the customer's typical gap between purchases "
    "(their own mean gap shrunk toward the population). Days overdue = days past the expected "
    "next purchase (last purchase + typical gap)."
)
VALUE_AT_STAKE_DEFINITION = (
    "Value at stake over a horizon: P(alive) x expected spend per purchase (Gamma-Gamma) x "
    "expected purchases in the horizon if alive (BG/NBD), i.e. expected spend x the BG/NBD "
    "conditional expected number of purchases."
)
CATEGORY_DROPOUT_DEFINITION = (
    "Category drop-out: a customer with >= m purchases of a category in the reference window "
    "(at least half of their purchases there, by default) and none in the recent window (length "
    ">= k x their own cycle in that category), who still bought other categories in the recent "
    "window (and at least 3 times since their last purchase of it, by default)."
)


def _check_number(caller, param, value, *, minimum=0.0, strict=True) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value)
    ok = ok and (value > minimum if strict else value >= minimum)
    if not ok:
        op = ">" if strict else ">="
        raise BadParameterError(f"{caller}: {param}={value!r} must be a number {op} {minimum}.")
    return float(value)


def _check_int(caller, param, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise BadParameterError(f"{caller}: {param}={value!r} must be an integer >= {minimum}.")
    return value


# ----------------------------------------------------------------------------- value at stake
def _fit_value_models(summary: pl.DataFrame, horizon_days: float, spend: str) -> pl.DataFrame:
    """p_alive, expected_purchases, expected_spend per summary row (BG/NBD + Gamma-Gamma)."""
    from .models import BetaGeoNBD, GammaGamma

    f = summary["frequency"].to_numpy().astype(float)
    r = summary["recency"].to_numpy().astype(float)
    t = summary["T"].to_numpy().astype(float)
    # Only point predictions are used here: a note that standard errors are unavailable is moot.
    moot = "ignore", ".*standard errors are not available.*"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.filterwarnings(*moot)
        bg = BetaGeoNBD().fit(summary)
        p_alive = np.asarray(bg.conditional_probability_alive(f, r, t), dtype=float)
        n_exp = np.asarray(
            bg.conditional_expected_number_of_purchases_up_to_time(horizon_days, f, r, t),
            dtype=float,
        )
    if spend == "gamma_gamma":
        m = summary["monetary_value"].to_numpy().astype(float)
        ok = (f > 0) & (m > 0)
        if ok.sum() < 10:
            raise BadDataError(
                "value_at_stake: fewer than 10 customers with repeat purchases and a positive "
                "spend, too few for the Gamma-Gamma spend model. Fix: pass spend='mean'."
            )
        with warnings.catch_warnings():
            warnings.filterwarnings(*moot)
            gg = GammaGamma().fit(summary.filter(pl.Series(ok)))
        exp_spend = np.asarray(gg.conditional_expected_average_profit(f, m), dtype=float)
        own = summary["__mean_spend"].to_numpy().astype(float)
        exp_spend = np.where(np.isfinite(exp_spend), exp_spend, own)  # q <= 1: no finite mean
    else:
        exp_spend = summary["__mean_spend"].to_numpy().astype(float)
    return pl.DataFrame(
        {
            CUSTOMER_ID: summary[CUSTOMER_ID],
            "p_alive": p_alive,
            "expected_purchases": n_exp,
            "expected_spend": exp_spend,
        }
    )


def value_at_stake(
    events,
    *,
    as_of=None,
    horizon="90d",
    spend: str = "gamma_gamma",
    before: bool = False,
    purchase_event: str = PURCHASE,
    schema: EventSchema | None = None,
) -> pl.DataFrame:
    """Expected value of each customer over the next `horizon`, from BG/NBD and Gamma-Gamma.

    The models are fitted on the purchases up to `as_of` (strictly before it when `before`,
    as for a cut-off date), one purchase per customer-day (``wb.rfm_summary``, days). Columns:
    customer_id, frequency, recency, T, p_alive, expected_purchases (BG/NBD conditional
    expectation over the horizon, P(alive) included), expected_spend (Gamma-Gamma conditional
    mean spend per purchase, or the customer's mean purchase amount with ``spend="mean"``),
    value_at_stake = expected_spend x expected_purchases.
    """
    from .rfm import rfm_summary

    caller = "value_at_stake"
    check_choice(caller, "spend", spend, ["gamma_gamma", "mean"])
    h = days(parse_duration(horizon, caller, "horizon"))
    lf = canonical(events, schema=schema, caller=caller, require=(AMOUNT,))
    # a cut-off date (`before`) starts at its midnight; an analysis date includes its whole day
    at = to_utc(as_of, caller, "as_of") if before and as_of is not None else None
    at = at or resolve_as_of(lf, as_of, caller)
    buys = lf.filter(
        (pl.col(EVENT) == purchase_event) & (pl.col(TS) < at if before else pl.col(TS) <= at)
    )
    names = buys.collect_schema().names()
    summary = rfm_summary(buys, time_unit="D", collapse="D", observation_end=at, event=None)
    if summary.height < 20:
        raise BadDataError(
            f"{caller}: {summary.height} customers with purchases before {at:%Y-%m-%d} are "
            f"too few to fit the BG/NBD model. Fix: use more history or a later date."
        )
    means = (
        buys.group_by(CUSTOMER_ID)
        .agg((amount_expr(names).sum() / weight(names).sum()).alias("__mean_spend"))
        .collect()
    )
    summary = summary.join(means, on=CUSTOMER_ID, how="left")
    pred = _fit_value_models(summary, h, spend)
    return (
        summary.select(CUSTOMER_ID, "frequency", "recency", "T")
        .join(pred, on=CUSTOMER_ID, how="left")
        .with_columns(
            (pl.col("expected_spend") * pl.col("expected_purchases")).alias("value_at_stake")
        )
        .sort(CUSTOMER_ID)
    )


# ----------------------------------------------------------------------------- overdue list
@dataclass(frozen=True)
class OverdueCustomers:
    """Overdue list: `.table` one row per overdue customer, by value at stake; `.params`."""

    table: pl.DataFrame
    params: dict = field(default_factory=dict)
    definition: str = OVERDUE_DEFINITION

    def plot(self):
        from .plots.leaving import overdue_figure

        return overdue_figure(self)

    def _repr_html_(self) -> str:
        return (
            f"<h4>Overdue customers ({self.table.height})</h4><p>{html.escape(self.definition)} "
            f"{html.escape(VALUE_AT_STAKE_DEFINITION)}</p>" + self.table.head(50)._repr_html_()
        )


def overdue_customers(
    events,
    *,
    as_of=None,
    k: float = 1.5,
    min_purchases: int = 2,
    prior_strength: float = 3.0,
    horizon="90d",
    model: str | None = "bgnbd",
    spend: str = "gamma_gamma",
    max_days_since=None,
    purchase_event: str = PURCHASE,
    schema: EventSchema | None = None,
) -> OverdueCustomers:
    """Customers past k x their typical purchase gap, with P(alive) and value at stake.

    Rhythm from ``wb.purchase_cycles(events, as_of=..., prior_strength=...)`` (purchase days);
    customers with fewer than `min_purchases` purchase days are left out, and so are those
    inactive longer than `max_days_since` when given. With ``model="bgnbd"`` the value columns
    come from ``wb.value_at_stake`` (BG/NBD fitted on all customers' purchases); with
    ``model=None`` p_alive is null, expected_purchases = horizon / typical gap, expected_spend
    is the customer's mean purchase amount. ``.table``: customer_id, category (most purchased),
    n_purchases, last_purchase, typical_gap_days, expected_next, days_since_last,
    overdue_ratio, days_overdue, p_alive, expected_purchases, expected_spend, value_at_stake;
    sorted by value at stake, highest first.
    """
    from .cycles import purchase_cycles

    caller = "overdue_customers"
    k = _check_number(caller, "k", k)
    min_purchases = _check_int(caller, "min_purchases", min_purchases, 1)
    if model not in ("bgnbd", None):
        from .errors import bad_choice

        raise bad_choice(caller, "model", model, ["bgnbd", None])
    check_choice(caller, "spend", spend, ["gamma_gamma", "mean"])
    h = days(parse_duration(horizon, caller, "horizon"))
    lf = canonical(events, schema=schema, caller=caller, require=(AMOUNT,))
    at = resolve_as_of(lf, as_of, caller)
    cycles = purchase_cycles(lf, event=purchase_event, as_of=at, prior_strength=prior_strength)
    # 1e-9 of slack: an exact 3-day rhythm has typical gap exp(log 3) = 3.0000000000000004,
    # and a customer exactly k gaps late must still count as overdue
    od = cycles.filter(
        (pl.col("n_purchases") >= min_purchases) & (pl.col("overdue_ratio") >= k - 1e-9)
    ).with_columns(
        (pl.lit(at.date()) - pl.col("expected_next"))
        .dt.total_days()
        .cast(pl.Int64)
        .alias("days_overdue")
    )
    if max_days_since is not None:
        limit = days(parse_duration(max_days_since, caller, "max_days_since"))
        od = od.filter(pl.col("days_since_last") <= limit)
    buys = lf.filter((pl.col(EVENT) == purchase_event) & (pl.col(TS) <= at))
    cat = usual_category(buys).collect()
    if model == "bgnbd":
        val = value_at_stake(
            lf, as_of=at, horizon=horizon, spend=spend, purchase_event=purchase_event
        )
        val = val.select(
            CUSTOMER_ID, "p_alive", "expected_purchases", "expected_spend", "value_at_stake"
        )
    else:
        names = buys.collect_schema().names()
        val = (
            buys.group_by(CUSTOMER_ID)
            .agg((amount_expr(names).sum() / weight(names).sum()).alias("expected_spend"))
            .collect()
        )
    out = od.join(val, on=CUSTOMER_ID, how="left").join(cat, on=CUSTOMER_ID, how="left")
    if model is None:
        out = out.with_columns(
            pl.lit(None, dtype=pl.Float64).alias("p_alive"),
            (h / pl.col("typical_gap_days")).alias("expected_purchases"),
        ).with_columns(
            (pl.col("expected_spend") * pl.col("expected_purchases")).alias("value_at_stake")
        )
    table = out.select(
        CUSTOMER_ID,
        CATEGORY,
        "n_purchases",
        "last_purchase",
        "typical_gap_days",
        "expected_next",
        "days_since_last",
        "overdue_ratio",
        "days_overdue",
        "p_alive",
        "expected_purchases",
        "expected_spend",
        "value_at_stake",
    ).sort(["value_at_stake", CUSTOMER_ID], descending=[True, False], nulls_last=True)
    params = {
        "as_of": at,
        "k": k,
        "min_purchases": min_purchases,
        "prior_strength": prior_strength,
        "horizon": str(horizon),
        "horizon_days": h,
        "model": model,
        "spend": spend,
        "max_days_since": max_days_since,
        "customers_with_rhythm": cycles.filter(pl.col("n_purchases") >= min_purchases).height,
    }
    return OverdueCustomers(table=table, params=params)


# ----------------------------------------------------------------------------- category drop-out
def category_dropouts(
    events,
    *,
    as_of=None,
    m: int = 3,
    k: float = 3.0,
    min_window="30d",
    reference=None,
    min_other: int = 1,
    min_share: float = 0.5,
    min_switches: int = 3,
    exclude_categories: tuple[str, ...] = (),
    purchase_event: str = PURCHASE,
    schema: EventSchema | None = None,
) -> pl.DataFrame:
    """Customers who bought a category regularly and stopped while still buying other things.

    For each customer and category with at least `m` purchases of it up to `as_of`:

    - category cycle = (last - first purchase of the category) / (purchases - 1), in days;
    - recent window = the last L days before `as_of`, L = max(k x cycle, `min_window`);
    - reference window = the `reference` length before the recent window (None: all history).

    Categories whose `m`+ purchases all share one instant have no cycle and are skipped.
    `as_of`: a datetime, or a bare date meaning the end of that UTC day (default: last event).

    The category is dropped when the recent window holds no purchase of it and at least
    `min_other` purchases of other categories; the reference window holds at least `m`
    purchases of it, making at least `min_share` of the customer's purchases there up to the
    last one of it ("bought regularly"); and at least `min_switches` purchases of other categories followed the last
    one of it (evidence of a switch rather than a pause; 1 turns this off).

    One row per (customer, dropped category): customer_id, category, category_purchases and
    category_share (in the reference window), category_cycle_days, last_category_purchase,
    days_since_category, recent_window_days, other_purchases_recent, switches, gap_ratio
    (days_since_category / category_cycle_days). Sorted by gap_ratio, highest first.
    Pre-aggregated events count ``n_events``.
    """
    caller = "category_dropouts"
    m = _check_int(caller, "m", m, 2)
    k = _check_number(caller, "k", k)
    min_other = _check_int(caller, "min_other", min_other, 1)
    min_switches = _check_int(caller, "min_switches", min_switches, 1)
    min_share = _check_number(caller, "min_share", min_share, strict=False)
    if min_share > 1:
        raise BadParameterError(f"{caller}: min_share={min_share!r} must be a share in [0, 1].")
    if isinstance(exclude_categories, str):
        exclude_categories = (exclude_categories,)
    if not isinstance(exclude_categories, list | tuple | set | frozenset) or not all(
        isinstance(c, str) for c in exclude_categories
    ):
        raise BadParameterError(
            f"{caller}: exclude_categories={exclude_categories!r} must be a category name or a "
            f"list of names, e.g. ('gift cards',)."
        )
    floor_days = days(parse_duration(min_window, caller, "min_window")) if min_window else 0.0
    ref_days = days(parse_duration(reference, caller, "reference")) if reference else None
    lf = canonical(events, schema=schema, caller=caller, require=(CATEGORY,))
    names = lf.collect_schema().names()
    at = resolve_as_of(lf, as_of, caller)
    w = weight(names)
    buys = lf.filter(
        (pl.col(EVENT) == purchase_event) & (pl.col(TS) <= at) & pl.col(CATEGORY).is_not_null()
    )
    if exclude_categories:
        buys = buys.filter(~pl.col(CATEGORY).is_in(list(exclude_categories)))
    age = (pl.lit(at) - pl.col(TS)).dt.total_microseconds() / DAY_US  # days before as_of
    pairs = (
        buys.group_by(CUSTOMER_ID, CATEGORY)
        .agg(
            w.sum().alias("__n"),
            pl.col(TS).min().alias("__first"),
            pl.col(TS).max().alias("last_category_purchase"),
        )
        .filter(pl.col("__n") >= m)
        .with_columns(
            (
                (pl.col("last_category_purchase") - pl.col("__first")).dt.total_microseconds()
                / DAY_US
                / (pl.col("__n") - 1)
            ).alias("category_cycle_days"),
            (
                (pl.lit(at) - pl.col("last_category_purchase")).dt.total_microseconds() / DAY_US
            ).alias("days_since_category"),
        )
        .filter(pl.col("category_cycle_days") > 0)
        .with_columns(
            pl.max_horizontal(k * pl.col("category_cycle_days"), pl.lit(floor_days)).alias(
                "recent_window_days"
            )
        )
        .filter(pl.col("days_since_category") >= pl.col("recent_window_days"))
        .select(
            CUSTOMER_ID,
            pl.col(CATEGORY).alias("__dropped"),
            "category_cycle_days",
            "last_category_purchase",
            "days_since_category",
            "recent_window_days",
        )
    )
    # Every purchase of the candidate customers, placed relative to each candidate category.
    rows = pairs.join(
        buys.select(CUSTOMER_ID, CATEGORY, TS, age.alias("__age"), w.alias("__w")),
        on=CUSTOMER_ID,
        how="inner",
    ).with_columns((pl.col(CATEGORY) == pl.col("__dropped")).alias("__same"))
    in_ref = pl.col("__age") >= pl.col("recent_window_days")
    if ref_days is not None:
        in_ref = in_ref & (pl.col("__age") < pl.col("recent_window_days") + ref_days)
    in_recent = pl.col("__age") < pl.col("recent_window_days")
    other = ~pl.col("__same")
    stats = rows.group_by(CUSTOMER_ID, "__dropped").agg(
        pl.col("__w").filter(in_ref & pl.col("__same")).sum().alias("category_purchases"),
        pl.col("__w")
        .filter(in_ref & (pl.col(TS) <= pl.col("last_category_purchase")))
        .sum()
        .alias("__ref_all"),
        pl.col("__w").filter(in_recent & other).sum().alias("other_purchases_recent"),
        pl.col("__w")
        .filter(other & (pl.col(TS) > pl.col("last_category_purchase")))
        .sum()
        .alias("switches"),
    )
    return (
        pairs.join(stats, on=[CUSTOMER_ID, "__dropped"], how="inner")
        .with_columns(
            (pl.col("category_purchases") / pl.col("__ref_all")).alias("category_share"),
            (pl.col("days_since_category") / pl.col("category_cycle_days")).alias("gap_ratio"),
        )
        .filter(
            (pl.col("category_purchases") >= m)
            & (pl.col("category_share") >= min_share)
            & (pl.col("other_purchases_recent") >= min_other)
            & (pl.col("switches") >= min_switches)
        )
        .rename({"__dropped": CATEGORY})
        .select(
            CUSTOMER_ID,
            CATEGORY,
            "category_purchases",
            "category_share",
            "category_cycle_days",
            "last_category_purchase",
            "days_since_category",
            "recent_window_days",
            "other_purchases_recent",
            "switches",
            "gap_ratio",
        )
        .sort(["gap_ratio", CUSTOMER_ID, CATEGORY], descending=[True, False, False])
        .collect()
    )
