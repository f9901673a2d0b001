"""Win-back target lists: who to contact, why, with which offer, through which channel.

`winback_targets` gathers four reasons to contact a customer at `as_of`:

- ``overdue``: days since the last purchase >= k x typical gap (``wb.overdue_customers``);
  strength = overdue_ratio / k;
- ``category_dropout``: stopped buying a category while buying others
  (``wb.category_dropouts``); strength = days since the category / recent window length;
- ``long_inactivity``: no purchase for at least `inactivity` (and at most `max_inactivity`);
  strength = days since the last purchase / inactivity;
- ``high_risk``: churn risk >= `high_risk`, the risk being the churn probability of a fitted
  ``wb.churn_propensity`` model when one is given, else 1 - P(alive) from the BG/NBD model;
  strength = risk / high_risk.

Every reason's strength is 1 at its own trigger, so they compare: the strongest reason is the
one furthest past its trigger (ties: category_dropout, overdue, high_risk, long_inactivity, the
more specific reason first). The offer follows `WINBACK_OFFER_RULES`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import polars as pl

from ._leaving import DAY_US, PURCHASE, days, parse_duration, resolve_as_of, usual_category
from .errors import BadParameterError, DataSourceError, MissingColumnError
from .periods import observed
from .schema import (
    AMOUNT,
    CAMPAIGN_ID,
    CATEGORY,
    CHANNEL,
    CUSTOMER_ID,
    EVENT,
    GROUP,
    SENT_TS,
    TREATMENT,
    TS,
    CampaignSchema,
    CustomerSchema,
    EventSchema,
    canonical,
)

REASONS = ("category_dropout", "overdue", "high_risk", "long_inactivity")
WINBACK_OFFER_RULES = pl.DataFrame(
    {
        "rule": [1, 2, 3],
        "condition": [
            "high_risk is among the reasons and value_at_stake is in the top "
            "(1 - high_value_quantile) of customers",
            "the strongest reason is category_dropout",
            "otherwise (overdue, long_inactivity or high_risk as the strongest reason)",
        ],
        "offer": ["loyalty_points", "category_discount", "inactivity_discount"],
    }
)
WINBACK_DEFINITION = (
    "Win-back targets: customers with at least one reason to contact them (overdue, category "
    "drop-out, long inactivity, high churn risk); the strongest reason is the one furthest past "
    "its own trigger; the offer follows the rule table (loyalty points for high-value high-risk "
    "customers, a category discount for drop-outs, an inactivity discount otherwise)."
)
RESPONSE_WINDOW = parse_duration("30d", "winback_targets", "response_window")


def _channel_table(
    customers, campaigns, buys, channel_column, caller, customer_schema, campaign_schema, at
) -> pl.LazyFrame | None:
    """customer_id, channel, channel_source from attributes, then campaign history (treatment
    sends up to `at`: a control customer received nothing)."""
    parts = []
    if customers is not None:
        cust = canonical(customers, schema=customer_schema, caller=caller, default=CustomerSchema)
        if channel_column in cust.collect_schema().names():
            parts.append(
                cust.select(CUSTOMER_ID, pl.col(channel_column).cast(pl.String).alias(CHANNEL))
                .filter(pl.col(CHANNEL).is_not_null())
                .with_columns(pl.lit("attribute").alias("channel_source"), pl.lit(0).alias("__o"))
            )
    if campaigns is not None:
        camp = canonical(campaigns, schema=campaign_schema, caller=caller, default=CampaignSchema)
        if CHANNEL in camp.collect_schema().names():
            sends = camp.filter(
                pl.col(CHANNEL).is_not_null()
                & (pl.col(GROUP) == TREATMENT)
                & observed(pl.col(SENT_TS), at)
            )
            # A response: a purchase within 30 days after a treatment send.
            resp = (
                sends.join(buys.select(CUSTOMER_ID, TS), on=CUSTOMER_ID, how="inner")
                .filter(
                    (pl.col(TS) > pl.col(SENT_TS))
                    & (pl.col(TS) <= pl.col(SENT_TS) + RESPONSE_WINDOW)
                )
                .select(CUSTOMER_ID, CAMPAIGN_ID, CHANNEL, SENT_TS)
                .unique()
                .sort(SENT_TS)
                .group_by(CUSTOMER_ID)
                .agg(pl.col(CHANNEL).last())
                .with_columns(
                    pl.lit("campaign_response").alias("channel_source"), pl.lit(1).alias("__o")
                )
            )
            last = (
                sends.sort(SENT_TS)
                .group_by(CUSTOMER_ID)
                .agg(pl.col(CHANNEL).last())
                .with_columns(
                    pl.lit("campaign_history").alias("channel_source"), pl.lit(2).alias("__o")
                )
            )
            parts += [resp, last]
    if not parts:
        return None
    return (
        pl.concat([p.select(CUSTOMER_ID, CHANNEL, "channel_source", "__o") for p in parts])
        .sort("__o")
        .group_by(CUSTOMER_ID)
        .first()
        .drop("__o")
    )


def winback_targets(
    events,
    *,
    as_of=None,
    customers=None,
    campaigns=None,
    subscriptions=None,
    annotations=None,
    propensity=None,
    overdue=None,
    dropouts: pl.DataFrame | None = None,
    k: float = 1.5,
    inactivity="180d",
    max_inactivity="730d",
    high_risk: float = 0.7,
    high_value_quantile: float = 0.8,
    horizon="90d",
    model: str | None = "bgnbd",
    min_value: float | None = None,
    channel_column: str = "preferred_channel",
    default_channel: str = "email",
    exclude_categories: tuple[str, ...] = (),
    purchase_event: str = PURCHASE,
    schema: EventSchema | None = None,
    customer_schema: CustomerSchema | None = None,
    campaign_schema: CampaignSchema | None = None,
) -> pl.DataFrame:
    """One row per customer to contact: strongest reason, all reasons, offer, value, channel.

    `overdue` (an OverdueCustomers result or its table) and `dropouts` (a category_dropouts
    table) may be passed to reuse earlier runs or other settings; otherwise they are computed
    with `k` (overdue, ``model=None``) and the ``wb.category_dropouts`` defaults.
    `propensity` is a fitted ``wb.churn_propensity`` result, scored at `as_of` with the
    `customers`, `subscriptions` and `annotations` given here (those it was trained with).
    Value at stake and P(alive) come from ``wb.value_at_stake`` (``model="bgnbd"``); with
    ``model=None`` the value is the customer's mean spend x horizon / typical gap and the
    fallback risk is unavailable. Channel: the customers column `channel_column`, else the
    channel of the latest campaign the customer responded to (a purchase within 30 days of a
    treatment send), else of the latest treatment send up to `as_of`, else `default_channel`.

    Columns: customer_id, reason, reasons (list), reason_strength, offer, value_at_stake,
    p_alive, risk, days_since_last_purchase, category, channel, channel_source. Sorted by
    value at stake, highest first.
    """
    from ._leaving import check_fraction
    from .cycles import purchase_cycles
    from .overdue import OverdueCustomers, category_dropouts, overdue_customers, value_at_stake

    caller = "winback_targets"
    high_risk = check_fraction(caller, "high_risk", high_risk)
    high_value_quantile = check_fraction(
        caller, "high_value_quantile", high_value_quantile, closed=True
    )
    if model not in ("bgnbd", None):
        from .errors import bad_choice

        raise bad_choice(caller, "model", model, ["bgnbd", None])
    inact = days(parse_duration(inactivity, caller, "inactivity"))
    max_inact = (
        days(parse_duration(max_inactivity, caller, "max_inactivity"))
        if (max_inactivity is not None)
        else float("inf")
    )
    if max_inact < inact:
        raise BadParameterError(
            f"{caller}: max_inactivity={max_inactivity!r} is shorter than "
            f"inactivity={inactivity!r}. Fix: pass a longer max_inactivity or None."
        )
    h = days(parse_duration(horizon, caller, "horizon"))
    lf = canonical(events, schema=schema, caller=caller, require=(AMOUNT,))
    at = resolve_as_of(lf, as_of, caller)
    buys = lf.filter((pl.col(EVENT) == purchase_event) & (pl.col(TS) <= at))

    # Base: every buyer, with recency, usual category and value.
    base = (
        buys.group_by(CUSTOMER_ID)
        .agg(
            ((pl.lit(at) - pl.col(TS).max()).dt.total_microseconds() / DAY_US).alias(
                "days_since_last_purchase"
            )
        )
        .join(usual_category(buys), on=CUSTOMER_ID, how="left")
        .collect()
    )
    if model == "bgnbd":
        val = value_at_stake(lf, as_of=at, horizon=horizon, purchase_event=purchase_event)
        val = val.select(CUSTOMER_ID, "p_alive", "value_at_stake")
    else:
        cyc = purchase_cycles(lf, event=purchase_event, as_of=at)
        names = buys.collect_schema().names()
        from ._leaving import amount_expr, weight

        mean = (
            buys.group_by(CUSTOMER_ID)
            .agg((amount_expr(names).sum() / weight(names).sum()).alias("__m"))
            .collect()
        )
        val = cyc.join(mean, on=CUSTOMER_ID, how="left").select(
            CUSTOMER_ID,
            pl.lit(None, dtype=pl.Float64).alias("p_alive"),
            (pl.col("__m") * h / pl.col("typical_gap_days")).alias("value_at_stake"),
        )
    base = base.join(val, on=CUSTOMER_ID, how="left").with_columns(
        pl.col("value_at_stake", "p_alive").fill_nan(None)  # a failed estimate is unknown
    )

    # Risk: propensity model if given, else 1 - P(alive).
    if propensity is not None:
        if not hasattr(propensity, "score"):
            raise BadParameterError(
                f"{caller}: propensity must be a fitted wb.churn_propensity(...) result, "
                f"got {type(propensity).__name__}."
            )
        side = {"customers": customers, "subscriptions": subscriptions, "annotations": annotations}
        scores = propensity.score(lf, as_of=at, **{k: v for k, v in side.items() if v is not None})
        base = base.join(
            scores.select(CUSTOMER_ID, pl.col("churn_probability").alias("risk")),
            on=CUSTOMER_ID,
            how="left",
        )
    else:
        base = base.with_columns((1.0 - pl.col("p_alive")).alias("risk"))

    # Reasons with strengths (1 = exactly at the trigger).
    if overdue is None:
        overdue = overdue_customers(lf, as_of=at, k=k, model=None, purchase_event=purchase_event)
    od = overdue.table if isinstance(overdue, OverdueCustomers) else overdue
    k_used = overdue.params["k"] if isinstance(overdue, OverdueCustomers) else k
    if dropouts is None:
        dropouts = category_dropouts(
            lf,
            as_of=at,
            exclude_categories=exclude_categories,
            purchase_event=purchase_event,
        )
    for name, frame, cols in (
        ("overdue", od, ("overdue_ratio",)),
        ("dropouts", dropouts, (CATEGORY, "days_since_category", "recent_window_days")),
    ):
        missing = [c for c in (CUSTOMER_ID, *cols) if c not in frame.columns]
        if missing:
            raise MissingColumnError(
                f"{caller}: {name} has no column {missing[0]!r}. Fix: pass the output of "
                f"wb.{'overdue_customers' if name == 'overdue' else 'category_dropouts'}."
            )
    drop = (
        dropouts.with_columns(
            (pl.col("days_since_category") / pl.col("recent_window_days")).alias("__s")
        )
        .sort(["__s", CATEGORY], descending=[True, False])
        .group_by(CUSTOMER_ID, maintain_order=True)
        .first()
        .select(
            CUSTOMER_ID,
            pl.col("__s").alias("s_category_dropout"),
            pl.col(CATEGORY).alias("__dropped"),
        )
    )
    data = (
        base.join(
            od.select(CUSTOMER_ID, (pl.col("overdue_ratio") / k_used).alias("s_overdue")),
            on=CUSTOMER_ID,
            how="left",
        )
        .join(drop, on=CUSTOMER_ID, how="left")
        .with_columns(
            pl.when(pl.col("days_since_last_purchase").is_between(inact, max_inact))
            .then(pl.col("days_since_last_purchase") / inact)
            .alias("s_long_inactivity"),
            pl.when(pl.col("risk") >= high_risk)
            .then(pl.col("risk") / high_risk)
            .alias("s_high_risk"),
        )
    )
    s_cols = [f"s_{r}" for r in REASONS]
    data = data.filter(pl.any_horizontal(pl.col(s_cols).is_not_null()))
    strongest = pl.lit(None, dtype=pl.String)
    best = pl.max_horizontal(s_cols)
    for r in reversed(REASONS):  # the first reason in REASONS order wins ties
        strongest = pl.when(pl.col(f"s_{r}") == best).then(pl.lit(r)).otherwise(strongest)
    reasons = pl.concat_list(
        [pl.when(pl.col(f"s_{r}").is_not_null()).then(pl.lit(r)) for r in REASONS]
    ).list.drop_nulls()
    value_cut = base["value_at_stake"].quantile(high_value_quantile, interpolation="linear")
    high_value = (
        (pl.col("value_at_stake") >= value_cut).fill_null(False)
        if (value_cut is not None)
        else pl.lit(False)
    )
    offer = (
        pl.when(pl.col("s_high_risk").is_not_null() & high_value)
        .then(pl.lit("loyalty_points"))
        .when(pl.col("reason") == "category_dropout")
        .then(pl.lit("category_discount"))
        .otherwise(pl.lit("inactivity_discount"))
    )
    out = data.with_columns(
        strongest.alias("reason"), reasons.alias("reasons"), best.alias("reason_strength")
    )
    out = out.with_columns(
        offer.alias("offer"),
        pl.when(pl.col("reason") == "category_dropout")
        .then(pl.col("__dropped"))
        .otherwise(pl.col(CATEGORY))
        .alias(CATEGORY),
    )
    if min_value is not None:
        out = out.filter(pl.col("value_at_stake") >= min_value)
    chan = _channel_table(
        customers,
        campaigns,
        buys,
        channel_column,
        caller,
        customer_schema,
        campaign_schema,
        at,
    )
    if chan is not None:
        out = out.join(chan.collect(), on=CUSTOMER_ID, how="left")
    else:
        out = out.with_columns(
            pl.lit(None, dtype=pl.String).alias(CHANNEL),
            pl.lit(None, dtype=pl.String).alias("channel_source"),
        )
    out = out.with_columns(
        pl.col(CHANNEL).fill_null(default_channel),
        pl.col("channel_source").fill_null("default"),
    )
    return out.select(
        CUSTOMER_ID,
        "reason",
        "reasons",
        "reason_strength",
        "offer",
        "value_at_stake",
        "p_alive",
        "risk",
        "days_since_last_purchase",
        CATEGORY,
        CHANNEL,
        "channel_source",
    ).sort(["value_at_stake", CUSTOMER_ID], descending=[True, False], nulls_last=True)


# ----------------------------------------------------------------------------- export
def pseudonymise_ids(ids: pl.Series, salt: str | bytes) -> pl.Series:
    """Salted SHA-256 of each id (hex): sha256(salt + str(id)). Same salt, same pseudonym."""
    key = salt.encode() if isinstance(salt, str) else bytes(salt)
    return pl.Series(
        ids.name,
        [hashlib.sha256(key + str(v).encode()).hexdigest() for v in ids.to_list()],
        dtype=pl.String,
    )


def export_targets(
    targets: pl.DataFrame,
    path,
    *,
    pseudonymise: bool = False,
    salt: str | bytes | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a target list to CSV or Parquet (by suffix) atomically; return the path.

    The file is written to a temporary file in the same folder and moved into place with
    ``os.replace``, so readers never see a half-written list. An existing file is kept unless
    ``overwrite=True``. With ``pseudonymise=True`` customer ids become salted SHA-256 hashes
    (a non-empty `salt` is required; keep it secret and reuse it to match lists). In CSV files
    the ``reasons`` list is written as text joined by ";".
    """
    caller = "export_targets"
    if not isinstance(targets, pl.DataFrame):
        raise BadParameterError(
            f"{caller}: targets must be a polars DataFrame (the output of wb.winback_targets), "
            f"got {type(targets).__name__}."
        )
    if CUSTOMER_ID not in targets.columns:
        raise MissingColumnError(
            f"{caller}: targets has no column {CUSTOMER_ID!r}. Available: {targets.columns}."
        )
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise BadParameterError(
            f"{caller}: path={str(path)!r} has suffix {suffix!r}; choose '.csv' or '.parquet'."
        )
    if pseudonymise:
        if not salt or not isinstance(salt, str | bytes):
            raise BadParameterError(
                f"{caller}: pseudonymise=True needs a non-empty salt (str or bytes). Fix: pass "
                f"salt=... kept secret; without it the hashes of ids could be guessed."
            )
        targets = targets.with_columns(pseudonymise_ids(targets[CUSTOMER_ID], salt))
    elif salt is not None:
        raise BadParameterError(
            f"{caller}: salt is given but pseudonymise=False. Fix: pass pseudonymise=True "
            f"or leave salt out."
        )
    if not path.parent.is_dir():
        raise DataSourceError(
            f"{caller}: folder {str(path.parent)!r} does not exist. Fix: create it first."
        )
    if path.exists() and not overwrite:
        raise BadParameterError(
            f"{caller}: {str(path)!r} already exists. Fix: pass overwrite=True or another path."
        )
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        if suffix == ".csv":
            lists = [c for c, t in targets.schema.items() if isinstance(t, pl.List)]
            flat = targets.with_columns(pl.col(c).list.join(";") for c in lists)
            _write_csv(flat, tmp)
        else:
            _write_parquet(targets, tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _write_csv(frame: pl.DataFrame, path: str) -> None:
    frame.write_csv(path)


def _write_parquet(frame: pl.DataFrame, path: str) -> None:
    frame.write_parquet(path)
