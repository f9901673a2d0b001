"""Point-in-time customer features and churn labels, for models and comparisons without leakage.

`customer_features` uses only rows with a timestamp strictly before `cutoff`; `churn_labels`
uses only rows in ``[cutoff, cutoff + horizon)``. Shifting or editing anything at or after the
cutoff cannot change a feature.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from ._leaving import DAY_US, PURCHASE, amount_expr, check_choice, parse_duration, to_utc, weight
from .errors import BadParameterError, MissingColumnError
from .schema import (
    CATEGORY,
    CUSTOMER_ID,
    EVENT,
    PERIOD_END,
    PERIOD_START,
    PLAN,
    SIGNUP_TS,
    TS,
    CustomerSchema,
    EventSchema,
    SubscriptionSchema,
    canonical,
)

SUPPORT = "support_contact"
CATEGORY_PREFIX = "category_share__"
DISCOUNT = "discount"

FEATURE_DEFINITIONS = {
    "tenure_days": "days from the first event (or signup, if earlier) to the cutoff",
    "days_since_last_activity": "days from the last event of any kind to the cutoff",
    "days_since_last_purchase": "days from the last purchase to the cutoff (tenure if none)",
    "n_events": "events of any kind before the cutoff",
    "n_purchases": "purchases before the cutoff",
    "purchases_recent": "purchases in the last `window` before the cutoff",
    "purchases_previous": "purchases in the `window` before that",
    "purchase_trend": "purchases_recent - purchases_previous (negative = slowing down)",
    "purchases_per_30d": "n_purchases / tenure in days x 30",
    "events_recent": "events of any kind in the last `window` before the cutoff",
    "total_spend": "sum of purchase amounts before the cutoff",
    "mean_order_value": "total_spend / n_purchases (0 without purchases)",
    "spend_recent": "purchase amounts in the last `window` before the cutoff",
    "discount_share": "share of purchases with discount=True (when the column exists)",
    "support_contacts": "support_contact events before the cutoff",
    "support_contacts_recent": "support_contact events in the last `window`",
    "tariff_changes_exposed": "annotated tariff/price changes between the first event and cutoff",
    "subscribed_at_cutoff": "a paid subscription period covers the cutoff",
    "paid_periods": "subscription periods started before the cutoff",
    "subscription_plan": "plan of the latest subscription period started before the cutoff",
    CATEGORY_PREFIX + "<c>": "share of purchases in category <c>",
}
FEATURES_DEFINITION = (
    "Point-in-time features: computed only from events strictly before the cut-off date; "
    "customer attributes (channel, country, plan) are taken as known at signup."
)
LABEL_DEFINITION = (
    "Churned (label): a customer active before the cut-off with no activity in "
    "[cutoff, cutoff + horizon)."
)


def _days_between(later, earlier) -> pl.Expr:
    return (later - earlier).dt.total_microseconds() / DAY_US


def customer_features(
    events,
    *,
    cutoff,
    customers=None,
    subscriptions=None,
    annotations=None,
    window="90d",
    categories: list[str] | None = None,
    annotation_match=("tariff", "pricing"),
    purchase_event: str = PURCHASE,
    support_event: str = SUPPORT,
    schema: EventSchema | None = None,
    customer_schema: CustomerSchema | None = None,
    subscription_schema: SubscriptionSchema | None = None,
) -> pl.DataFrame:
    """One row per customer with any event before `cutoff`; features from data before it only.

    Columns: see `FEATURE_DEFINITIONS`. `categories` fixes the category-share columns (pass
    the training categories when scoring); by default they are the categories purchased before
    the cutoff. Customer attributes (every `customers` column but the id and signup time) are
    joined as they are. `annotations` (a table with a ``start``, ``ts`` or ``date`` column, as
    `wb.datasets.load_sample().annotations`) counts the rows whose text mentions one of
    `annotation_match` and that start between a customer's first event and the cutoff; rows
    with ``segment_column``/``segment_value`` count only for customers in that segment. Pre-aggregated events count ``n_events``.
    """
    caller = "customer_features"
    cut = to_utc(cutoff, caller, "cutoff")
    win = parse_duration(window, caller, "window")
    lf = canonical(events, schema=schema, caller=caller)
    names = lf.collect_schema().names()
    before = lf.filter(pl.col(TS) < cut)
    w = weight(names)
    is_p = pl.col(EVENT) == purchase_event
    recent = pl.col(TS) >= cut - win
    previous = (pl.col(TS) >= cut - 2 * win) & (pl.col(TS) < cut - win)
    amt = amount_expr(names)
    aggs = [
        pl.col(TS).min().alias("__first"),
        pl.col(TS).max().alias("__last_any"),
        pl.col(TS).filter(is_p).max().alias("__last_p"),
        w.sum().alias("n_events"),
        w.filter(is_p).sum().alias("n_purchases"),
        w.filter(is_p & recent).sum().alias("purchases_recent"),
        w.filter(is_p & previous).sum().alias("purchases_previous"),
        w.filter(recent).sum().alias("events_recent"),
        amt.filter(is_p).sum().alias("total_spend"),
        amt.filter(is_p & recent).sum().alias("spend_recent"),
        w.filter(pl.col(EVENT) == support_event).sum().alias("support_contacts"),
        w.filter((pl.col(EVENT) == support_event) & recent).sum().alias("support_contacts_recent"),
    ]
    has_discount = DISCOUNT in names
    if has_discount:
        disc = pl.col(DISCOUNT).cast(pl.Boolean, strict=False).fill_null(False)
        aggs.append(w.filter(is_p & disc).sum().alias("__n_disc"))
    base = before.group_by(CUSTOMER_ID).agg(aggs)

    if customers is not None:
        cust = canonical(customers, schema=customer_schema, caller=caller, default=CustomerSchema)
        cnames = cust.collect_schema().names()
        if SIGNUP_TS in cnames:
            base = (
                base.join(
                    cust.select(CUSTOMER_ID, pl.col(SIGNUP_TS).alias("__signup")),
                    on=CUSTOMER_ID,
                    how="left",
                )
                .with_columns(
                    pl.when(
                        pl.col("__signup").is_not_null() & (pl.col("__signup") < pl.col("__first"))
                    )
                    .then(pl.col("__signup"))
                    .otherwise(pl.col("__first"))
                    .alias("__first")
                )
                .drop("__signup")
            )
        attrs = [c for c in cnames if c not in (CUSTOMER_ID, SIGNUP_TS)]
    else:
        attrs = []

    tenure = _days_between(pl.lit(cut), pl.col("__first"))
    out = base.with_columns(
        tenure.alias("tenure_days"),
        _days_between(pl.lit(cut), pl.col("__last_any")).alias("days_since_last_activity"),
        pl.coalesce(_days_between(pl.lit(cut), pl.col("__last_p")), tenure).alias(
            "days_since_last_purchase"
        ),
    ).with_columns(
        (pl.col("purchases_recent") - pl.col("purchases_previous")).alias("purchase_trend"),
        (pl.col("n_purchases") / pl.col("tenure_days").clip(1.0) * 30).alias("purchases_per_30d"),
        pl.when(pl.col("n_purchases") > 0)
        .then(pl.col("total_spend") / pl.col("n_purchases"))
        .otherwise(0.0)
        .alias("mean_order_value"),
    )
    cols = [
        "tenure_days",
        "days_since_last_activity",
        "days_since_last_purchase",
        "n_events",
        "n_purchases",
        "purchases_recent",
        "purchases_previous",
        "purchase_trend",
        "purchases_per_30d",
        "events_recent",
        "total_spend",
        "mean_order_value",
        "spend_recent",
    ]
    if has_discount:
        out = out.with_columns(
            pl.when(pl.col("n_purchases") > 0)
            .then(pl.col("__n_disc") / pl.col("n_purchases"))
            .otherwise(0.0)
            .alias("discount_share")
        )
        cols.append("discount_share")
    cols += ["support_contacts", "support_contacts_recent"]

    # Category mix: share of purchases per category.
    if CATEGORY in names:
        if categories is None:
            categories = sorted(
                before.filter(is_p & pl.col(CATEGORY).is_not_null())
                .select(pl.col(CATEGORY).unique())
                .collect()[CATEGORY]
                .to_list()
            )
        if categories:
            shares = (
                before.filter(is_p)
                .group_by(CUSTOMER_ID)
                .agg(
                    (w.filter(pl.col(CATEGORY) == c).sum() / w.sum()).alias(CATEGORY_PREFIX + c)
                    for c in categories
                )
            )
            out = out.join(shares, on=CUSTOMER_ID, how="left")
            share_cols = [CATEGORY_PREFIX + c for c in categories]
            out = out.with_columns(pl.col(share_cols).fill_null(0.0))
            cols += share_cols

    if annotations is not None:
        exposure = _tariff_exposure(
            annotations,
            out,
            cust if customers is not None else None,
            cut,
            annotation_match,
            caller,
        )
        out = out.join(exposure, on=CUSTOMER_ID, how="left")
        out = out.with_columns(pl.col("tariff_changes_exposed").fill_null(0))
        cols.append("tariff_changes_exposed")

    if subscriptions is not None:
        out = out.join(
            _subscription_features(subscriptions, cut, subscription_schema, caller),
            on=CUSTOMER_ID,
            how="left",
        ).with_columns(
            pl.col("subscribed_at_cutoff").fill_null(False), pl.col("paid_periods").fill_null(0)
        )
        cols += ["subscribed_at_cutoff", "paid_periods", "subscription_plan"]

    if attrs:
        out = out.join(cust.select(CUSTOMER_ID, *attrs), on=CUSTOMER_ID, how="left")
        cols += [a for a in attrs if a not in cols]
    return out.select(CUSTOMER_ID, *cols).sort(CUSTOMER_ID).collect()


def _tariff_exposure(annotations, base: pl.LazyFrame, cust, cut: datetime, match, caller: str):
    """customer_id, tariff_changes_exposed: matching annotations in [first event, cutoff).

    An annotation with ``segment_column`` / ``segment_value`` only counts for customers whose
    attribute (in the customers table) has that value.
    """
    if isinstance(annotations, pl.DataFrame):
        ann = annotations
    else:
        try:
            ann = pl.from_pandas(annotations)
        except Exception:
            raise BadParameterError(
                f"{caller}: annotations must be a polars or pandas DataFrame, "
                f"got {type(annotations).__name__}."
            ) from None
    ts_col = next((c for c in (TS, "start", "date") if c in ann.columns), None)
    if ts_col is None:
        raise MissingColumnError(
            f"{caller}: annotations has no column 'ts', 'start' or 'date'. "
            f"Available: {ann.columns}. Fix: rename the annotation time column to 'start'."
        )
    words = [match] if isinstance(match, str) else list(match)
    text_cols = [c for c, t in ann.schema.items() if t == pl.String and c != ts_col]
    hit = pl.lit(False)
    for c in text_cols:
        low = pl.col(c).str.to_lowercase()
        for w in words:
            hit = hit | low.str.contains(w.lower(), literal=True).fill_null(False)
    dtype = ann.schema[ts_col]
    ts = pl.col(ts_col)
    if dtype == pl.String:
        ts = ts.str.to_datetime(time_unit="us", strict=False, time_zone="UTC")
    elif dtype == pl.Date or (isinstance(dtype, pl.Datetime) and dtype.time_zone is None):
        ts = ts.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    else:
        ts = ts.cast(pl.Datetime("us", "UTC"))
    rows = ann.filter(hit).with_columns(ts.alias("__ann")).filter(pl.col("__ann") < cut)
    attrs = cust.collect_schema().names() if cust is not None else []
    terms = []
    for row in rows.iter_rows(named=True):
        term = pl.col("__first") <= pl.lit(row["__ann"])
        col, val = row.get("segment_column"), row.get("segment_value")
        if col and val is not None and col in attrs:
            term = term & (pl.col("__seg_" + col).cast(pl.String) == str(val)).fill_null(False)
        terms.append(term.cast(pl.Int64))
    if not terms:
        return base.select(CUSTOMER_ID, pl.lit(0, dtype=pl.Int64).alias("tariff_changes_exposed"))
    frame = base
    seg_cols = {r.get("segment_column") for r in rows.iter_rows(named=True)} & set(attrs)
    if seg_cols:
        frame = frame.join(
            cust.select(CUSTOMER_ID, *[pl.col(c).alias("__seg_" + c) for c in seg_cols]),
            on=CUSTOMER_ID,
            how="left",
        )
    return frame.select(CUSTOMER_ID, pl.sum_horizontal(terms).alias("tariff_changes_exposed"))


def _subscription_features(subscriptions, cut, schema, caller) -> pl.LazyFrame:
    subs = canonical(subscriptions, schema=schema, caller=caller, default=SubscriptionSchema)
    snames = subs.collect_schema().names()
    started = subs.filter(pl.col(PERIOD_START) < cut)
    plan = pl.col(PLAN).sort_by(PERIOD_START).last() if PLAN in snames else pl.lit(None)
    return started.group_by(CUSTOMER_ID).agg(
        (pl.col(PERIOD_END) >= cut).any().alias("subscribed_at_cutoff"),
        pl.len().cast(pl.Int64).alias("paid_periods"),
        plan.cast(pl.String).alias("subscription_plan"),
    )


def churn_labels(
    events,
    *,
    cutoff,
    horizon="90d",
    active_within=None,
    activity: str = "any",
    purchase_event: str = PURCHASE,
    as_of=None,
    schema: EventSchema | None = None,
) -> pl.DataFrame:
    """customer_id, churned: customers active before `cutoff` with no activity in the horizon.

    Population: customers with an activity event before `cutoff` (within `active_within` of it
    when given). ``churned`` is True when they have no activity event in
    ``[cutoff, cutoff + horizon)``. `activity` is "any" (every event) or "purchase". The
    horizon must have elapsed by `as_of` (default: the last event), else BadParameterError.
    """
    caller = "churn_labels"
    check_choice(caller, "activity", activity, ["any", "purchase"])
    cut = to_utc(cutoff, caller, "cutoff")
    h = parse_duration(horizon, caller, "horizon")
    lf = canonical(events, schema=schema, caller=caller)
    act = lf if activity == "any" else lf.filter(pl.col(EVENT) == purchase_event)
    end = to_utc(as_of, caller, "as_of") if as_of is not None else None
    if end is None:
        last = lf.select(pl.col(TS).max()).collect().item()
        end = to_utc(last, caller, "as_of") if last is not None else cut
    if cut + h > end + _SLACK:
        raise BadParameterError(
            f"{caller}: the label window [{cut:%Y-%m-%d}, {cut + h:%Y-%m-%d}) ends after the data "
            f"(last event {end:%Y-%m-%d}), so churn cannot be observed yet. "
            f"Fix: use an earlier cutoff or a shorter horizon."
        )
    start = cut - parse_duration(active_within, caller, "active_within") if active_within else None
    pop_filter = pl.col(TS) < cut
    if start is not None:
        pop_filter = pop_filter & (pl.col(TS) >= start)
    pop = act.filter(pop_filter).select(CUSTOMER_ID).unique()
    back = (
        act.filter((pl.col(TS) >= cut) & (pl.col(TS) < cut + h))
        .select(CUSTOMER_ID)
        .unique()
        .with_columns(pl.lit(True).alias("__back"))
    )
    return (
        pop.join(back, on=CUSTOMER_ID, how="left")
        .select(CUSTOMER_ID, pl.col("__back").is_null().alias("churned"))
        .sort(CUSTOMER_ID)
        .collect()
    )


# A label window may end up to one day after the last event (data end mid-day).
_SLACK = parse_duration("1d", "churn_labels", "slack")
