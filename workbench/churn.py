"""Who churned, when, and after how long: one table that every survival analysis starts from.

Time is measured in whole UTC calendar days. ``as_of`` is the analysis day: data up to the end
of that day is known. Each churn mode turns a customer's history into *spells* of being a
customer; a spell ends at ``churn_date`` (the first day the customer no longer counts as one) and
the churn becomes observable ``threshold_days`` after that. A spell whose churn could not yet be
observed on ``as_of`` is censored.

Survival times are chosen so that the Kaplan-Meier curve is unbiased:

- churned: ``duration_days = churn_date - start``;
- censored: ``duration_days = max(as_of - threshold_days - start, 0)``. Any lifetime shorter
  than that would already show as churn, so the customer is known to outlive it; nothing more is
  known. (Censoring at the last activity instead would drop exactly the customers who are about
  to be counted as churned, and bias survival upward.)

``last_active`` and ``days_since_last`` describe the customer's observed history, whatever
the status.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import polars as pl

from .cycles import (
    cycles_from_days,
    day_expr,
    event_filter,
    last_day,
    parse_days,
    purchase_days,
    to_day,
)
from .errors import BadDataError, BadParameterError, WorkbenchError
from .schema import (
    CUSTOMER_ID,
    EVENT,
    PERIOD_END,
    PERIOD_START,
    TS,
    CustomerSchema,
    EventSchema,
    SubscriptionSchema,
    canonical,
)

CHURN_MODES = ("inactivity", "subscriptions", "cancel_event", "own_cycle", "p_alive_below")
P_ALIVE_MODELS = ("bgnbd", "mbgnbd")

CHURN_DEFINITIONS = {
    "inactivity": (
        "Inactivity churn: a customer has churned when more than the threshold (e.g. 90 days) "
        "has passed since their last active day (as_of - last_active > threshold). Customers "
        "active within the threshold are censored, not churned. The churn date is the day after "
        "the last active day; the lifetime is churn date - first active day."
    ),
    "subscriptions": (
        "Contractual churn: a subscription has churned when no new paid period starts within "
        "the grace period (default 45 days) after a paid period ends. The churn date is the end "
        "of the last paid period. Customers whose last period end + grace is after the analysis "
        "day are censored - unless a cancel event (when given) falls in their last paid period "
        "and that period has ended: then the churn is known without waiting for the grace."
    ),
    "cancel_event": (
        "Cancellation churn: a customer has churned on the day of a cancel event that no later "
        "activity follows. Everyone else is censored at the analysis day."
    ),
    "own_cycle": (
        "Own-rhythm churn ('should have bought but didn't'): a customer has churned when the "
        "days since their last purchase exceed k times their typical gap between purchases "
        "(their own mean gap, shrunk toward the population when they have few purchases)."
    ),
    "p_alive_below": (
        "Probability churn: a customer has churned when their probability of still being active "
        "(P(alive) from a BG/NBD model fitted on everyone's purchase days) has fallen below the "
        "cut-off, i.e. when the days since their last purchase exceed the gap at which their "
        "P(alive) crosses it. The churn date is the day after the last purchase. Under BG/NBD a "
        "customer without a repeat purchase is certainly alive and never churns (MBG/NBD lets "
        "them leave too)."
    ),
}

CENSORING_DEFINITION = (
    "Censoring: a churn becomes visible only threshold days after it happens, so a customer not "
    "yet churned on the analysis day is followed until analysis day - threshold. Churned customers "
    "count their lifetime from start to churn date."
)

_EPOCH = date(1970, 1, 1)
_EPS_DAYS = 1e-9  # floating-point slack when a day count is compared with k x typical gap
_NEVER_DAYS = 1e7  # a P(alive) threshold beyond this many days is "never"


def churn_table(
    events=None,
    *,
    inactivity=None,
    subscriptions=None,
    cancel_event: str | None = None,
    own_cycle: float | None = None,
    p_alive_below: float | None = None,
    as_of=None,
    customers=None,
    episodes: bool = False,
    grace="45d",
    event=None,
    prior_strength: float = 3.0,
    p_alive_model: str = "bgnbd",
    schema: EventSchema | None = None,
    subscription_schema: SubscriptionSchema | None = None,
    customer_schema: CustomerSchema | None = None,
) -> pl.DataFrame:
    """One row per customer (or per churn episode) with start, last activity and churn status.

    Exactly one mode:

    - ``inactivity="90d"``: churned when ``as_of - last_active > 90`` days. Activity is any
      event, or the events named in ``event``. ``churn_date = last_active + 1 day``.
    - ``subscriptions=<table>``: contractual churn, on calendar days: paid periods cover
      [period_start day, period_end day). A renewal is in time when its start day is at most
      ``grace`` days (default 45) after the latest period end day so far; a later start, or
      none, ends the spell. ``churn_date`` is the end day of the last paid period;
      ``last_active`` is the last paid day (that end day - 1, or the start day when every
      period of the spell is empty); a customer is censored while ``last period end day +
      grace`` is after ``as_of``. With ``cancel_event=`` as well (events needed), a cancel
      event on or after the start of the last paid period makes the churn known without
      waiting for the grace period: churned once that period has ended by ``as_of`` (churn
      date still its end day); a renewal starting after the cancel undoes it.
    - ``cancel_event="cancel"``: churned on the day of that event when no activity (any other
      event, or those in ``event``) follows on a later day. ``churn_date`` = the first cancel
      day on or after the spell's last activity day (a cancel on the same day as activity
      counts; later repeated cancels change nothing), and ``last_active`` of a churned spell is
      that cancel day. Activity on a later day starts a new spell (a reactivation). A censored
      customer is followed to ``as_of`` (threshold 0).
    - ``own_cycle=k``: churned when ``days_since_last > k * typical_gap_days`` from
      :func:`workbench.purchase_cycles` (purchase days, ``event`` defaults to "purchase";
      ``prior_strength`` as there); the whole-day threshold is floor(k * typical gap),
      computed with 1e-9 days of slack so that an exact 7-day rhythm gives 7k days.
    - ``p_alive_below=c``: churned when the customer's P(alive) from a BG/NBD model
      (``p_alive_model="bgnbd"``, or "mbgnbd") has fallen below c. The model is fitted on
      everyone's purchase days up to ``as_of`` (``event`` defaults to "purchase"; frequency,
      recency and T in days, as ``wb.rfm_summary(time_unit="D")``); the customer's threshold is
      the whole days since the last purchase after which P(alive) < c
      (``time_until_probability_alive_below``), so the status on ``as_of`` is exactly
      "P(alive) < c". ``churn_date = last_active + 1 day``. Under BG/NBD a customer without a
      repeat purchase has P(alive) = 1: never churned, ``threshold_days`` null, followed to
      ``as_of``. Earlier gaps longer than the threshold count as churn and reactivation.

    Columns: ``customer_id``, (``episode``,) ``start``, ``last_active``, ``churn_date`` (null
    unless churned), ``churned``, ``duration_days`` (see the module docstring: churned
    ``churn_date - start``; censored ``max(as_of - threshold_days - start, 0)``),
    ``threshold_days`` (the observation delay of this mode: inactivity threshold, grace, the
    customer's own threshold, or 0), ``days_since_last`` (``as_of - last_active``), and
    ``n_episodes`` (customer rows) or ``reactivated`` (episode rows). ``customers=`` adds the
    customer attributes.

    ``as_of``: the analysis day (datetime, date or ISO string; its UTC day); data up to the end
    of that day counts, later rows are ignored. Default: the day of the latest event (of the
    latest period start when ``events`` is None). ``event``: event name(s) that count as
    activity (all events by default; "purchase" for ``own_cycle``). ``grace`` applies to
    ``subscriptions`` only.

    ``episodes=False`` gives the customer's whole history up to the final status: start = first
    activity, churned = the latest spell has churned (earlier gaps are reactivations, counted in
    ``n_episodes``). ``episodes=True`` gives one row per spell, numbered from 1; every spell but
    the last has churned and ``reactivated`` is True for those. Episode 1 is time to first churn.
    """
    caller = "churn_table"
    chosen = {
        "inactivity": inactivity,
        "subscriptions": subscriptions,
        "cancel_event": cancel_event,
        "own_cycle": own_cycle,
        "p_alive_below": p_alive_below,
    }
    given = [name for name, value in chosen.items() if value is not None]
    contract = set(given) == {"subscriptions", "cancel_event"}  # non-renewal or a cancel
    if len(given) != 1 and not contract:
        what = "none" if not given else " and ".join(given)
        raise BadParameterError(
            f"{caller}: pass exactly one churn mode, got {what} (subscriptions= may come with "
            f"cancel_event=). Choose one of {[f'{m}=...' for m in CHURN_MODES]}, e.g. "
            f"inactivity='90d'."
        )
    mode = "subscriptions" if contract else given[0]
    if not isinstance(episodes, bool):
        raise BadParameterError(f"{caller}: episodes={episodes!r} must be True or False.")
    if events is None and (mode != "subscriptions" or contract):
        raise BadParameterError(
            f"{caller}: cancel_event=... needs the events table. Fix: churn_table(events, "
            f"subscriptions=..., cancel_event=...)."
            if contract
            else f"{caller}: {mode}=... needs the events table. Fix: churn_table(events, "
            f"{mode}=...)."
        )
    lf = canonical(events, schema=schema, caller=caller) if events is not None else None

    if mode == "subscriptions":
        subs = canonical(
            subscriptions, schema=subscription_schema, caller=caller, default=SubscriptionSchema
        )
        if lf is not None:
            as_of_day = to_day(as_of, caller) if as_of is not None else last_day(lf, TS, caller)
        else:
            as_of_day = (
                to_day(as_of, caller)
                if as_of is not None
                else last_day(subs, PERIOD_START, caller, "subscriptions")
            )
        lag = parse_days(grace, caller, "grace", allow_zero=True)
        cancels = None
        if contract:
            if lf.collect_schema()[CUSTOMER_ID] != subs.collect_schema()[CUSTOMER_ID]:
                raise BadDataError(
                    f"{caller}: customer_id is {lf.collect_schema()[CUSTOMER_ID]} in events but "
                    f"{subs.collect_schema()[CUSTOMER_ID]} in subscriptions. Fix: load both "
                    f"with the same identifier type."
                )
            cancels = _last_cancels(lf, cancel_event, as_of_day, caller)
        spells = _spells(_subscription_intervals(subs, as_of_day, lag), as_of_day, cancels)
    else:
        as_of_day = to_day(as_of, caller) if as_of is not None else last_day(lf, TS, caller)
        if mode == "inactivity":
            lag = parse_days(inactivity, caller, "inactivity")
            days = purchase_days(lf, event_filter(event, caller), as_of_day)
            spells = _spells(_day_intervals(days, pl.lit(lag, dtype=pl.Int64)), as_of_day)
        elif mode == "own_cycle":
            spells = _own_cycle_spells(lf, own_cycle, event, prior_strength, as_of_day, caller)
        elif mode == "p_alive_below":
            spells = _p_alive_spells(lf, p_alive_below, p_alive_model, event, as_of_day, caller)
        else:
            spells = _cancel_spells(lf, cancel_event, event, as_of_day, caller)

    out = _finish(spells, as_of_day, episodes)
    if customers is not None:
        out = _join_customers(out, customers, customer_schema, caller).sort(
            CUSTOMER_ID, *(["episode"] if episodes else [])
        )
    return out.collect()


# -- intervals and spells ----------------------------------------------------------------------


def _num(col: str | pl.Expr) -> pl.Expr:
    """Date -> integer day number (days since 1970-01-01)."""
    expr = pl.col(col) if isinstance(col, str) else col
    return expr.cast(pl.Int64)


def _day_intervals(days: pl.LazyFrame, lag: pl.Expr) -> pl.LazyFrame:
    """Active days -> covered intervals [day, day + 1) with the customer's threshold."""
    a = _num("day")
    return days.select(CUSTOMER_ID, a.alias("a"), (a + 1).alias("b"), lag.alias("lag"))


def _subscription_intervals(subs: pl.LazyFrame, as_of_day: date, lag: int) -> pl.LazyFrame:
    """Paid periods -> [start day, end day) as day numbers (an end before the start counts as
    the start day)."""
    end_day = _num(pl.col(PERIOD_END).dt.date())
    a = _num(pl.col(PERIOD_START).dt.date())
    return (
        subs.filter(pl.col(PERIOD_START).dt.date() <= pl.lit(as_of_day))
        .select(
            CUSTOMER_ID,
            a.alias("a"),
            pl.max_horizontal(end_day, a).alias("b"),
            pl.lit(lag, dtype=pl.Int64).alias("lag"),
        )
        .filter(pl.col("a").is_not_null() & pl.col("b").is_not_null())
    )


_SPAN = 1 << 26  # > any shifted day number: keeps customers apart in one running maximum
_OFFSET = 1 << 24  # day numbers + offset are positive for any date after year -43000


def _spells(iv: pl.LazyFrame, as_of_day: date, cancels: pl.LazyFrame | None = None):
    """Merge intervals whose uncovered gap is at most `lag` days into spells.

    A gap of more than `lag` uncovered days between the end of coverage so far and the next
    start breaks the spell (the customer churned and came back). The last spell has churned
    when its end is at most as_of - lag, i.e. `lag` uncovered days have been seen by the end of
    as_of, or - with `cancels` (customer_id, cancel: the latest cancel day) - when it was
    cancelled on or after the start of its last interval and its end is at most as_of.
    Implemented with whole-column scans on the sorted rows (no per-customer windows).
    """
    d = (as_of_day - _EPOCH).days
    same = (pl.col(CUSTOMER_ID) == pl.col(CUSTOMER_ID).shift(1)).fill_null(False)
    cust = (~pl.col("__same")).cast(pl.Int64).cum_sum() * _SPAN
    reach = (pl.col("__cust") + pl.col("b") + _OFFSET).cum_max() - pl.col("__cust") - _OFFSET
    prev = pl.when(pl.col("__same")).then(pl.col("__reach").shift(1))
    new = ~pl.col("__same") | ((pl.col("a") - prev) > pl.col("lag")).fill_null(False)
    spells = (
        iv.with_columns(((pl.col("a") + _OFFSET) * _SPAN + pl.col("b") + _OFFSET).alias("__k"))
        .sort(CUSTOMER_ID, "__k")  # = by (customer, a, b), cheaper than three sort keys
        .with_columns(same.alias("__same"))
        .with_columns(cust.alias("__cust"))
        .with_columns(reach.alias("__reach"))
        .with_columns(new.cast(pl.Int64).cum_sum().alias("__spell"))
        .group_by("__spell")
        .agg(
            pl.col(CUSTOMER_ID).first(),
            pl.col("a").min().alias("start"),
            pl.col("b").max().alias("end"),
            (pl.col("b") > pl.col("a")).any().alias("__paid"),
            pl.col("a").max().alias("__last_start"),
            pl.col("lag").first(),
        )
        .sort("__spell")
    )
    seen = (pl.col("end") <= d - pl.col("lag")).fill_null(False)  # a null lag never churns
    if cancels is not None:
        spells = spells.join(cancels, on=CUSTOMER_ID, how="left", maintain_order="left")
        told = (pl.col("cancel") >= pl.col("__last_start")) & (pl.col("end") <= d)
        seen = seen | told.fill_null(False)
    first = pl.when(pl.col("__first")).then(pl.col("__spell")).forward_fill()
    return (
        spells.with_columns(
            (pl.col(CUSTOMER_ID) != pl.col(CUSTOMER_ID).shift(1)).fill_null(True).alias("__first"),
            (pl.col(CUSTOMER_ID) != pl.col(CUSTOMER_ID).shift(-1)).fill_null(True).alias("is_last"),
        )
        .with_columns(
            (pl.col("__spell") - first + 1).alias("episode"),
            # the day before the spell's end; a spell of empty paid periods has its start day
            pl.when("__paid").then(pl.col("end") - 1).otherwise("start").alias("last"),
            (~pl.col("is_last") | seen).alias("churned"),
        )
        .drop(
            "__spell", "__first", "__paid", "__last_start", *([] if cancels is None else ["cancel"])
        )
    )


def _own_cycle_spells(lf, k, event, prior_strength, as_of_day, caller) -> pl.LazyFrame:
    if not isinstance(k, int | float) or isinstance(k, bool) or not (math.isfinite(k) and k > 0):
        raise BadParameterError(
            f"{caller}: own_cycle={k!r} must be a positive number (k times the customer's typical "
            f"gap). Fix: e.g. own_cycle=2."
        )
    if not isinstance(prior_strength, int | float) or not prior_strength >= 0:
        raise BadParameterError(
            f"{caller}: prior_strength={prior_strength!r} must be a number >= 0. Fix: e.g. 3."
        )
    keep = event_filter("purchase" if event is None else event, caller)
    days = purchase_days(lf, keep, as_of_day).collect().lazy()
    cycles = cycles_from_days(days, as_of_day, float(prior_strength)).select(
        CUSTOMER_ID, "typical_gap_days"
    )
    # 1e-9 days of slack: a rhythm of exactly 7 days (exp(log 7) = 6.999...) gives 7k, not 7k - 1
    threshold = (pl.col("typical_gap_days") * float(k) + _EPS_DAYS).floor().cast(pl.Int64)
    lags = cycles.select(CUSTOMER_ID, threshold.alias("lag")).collect()
    if lags.height and lags["lag"].null_count() == lags.height:
        raise BadDataError(
            f"{caller}: no customer has purchases on two different days, so there is no "
            f"purchase rhythm to compare with. Fix: use inactivity='90d' instead, or check event=."
        )
    if lags.height == 0:
        return _spells(_day_intervals(days, pl.lit(0, dtype=pl.Int64)), as_of_day)
    iv = _day_intervals(days.join(lags.lazy(), on=CUSTOMER_ID, how="left"), pl.col("lag"))
    return _spells(iv, as_of_day)


def _p_alive_spells(lf, cut, model, event, as_of_day, caller) -> pl.LazyFrame:
    """Spells with each customer's threshold: the whole days after their last purchase at which
    P(alive) from a BG/NBD model falls below `cut` (null: never)."""
    import warnings

    from .models import BetaGeoNBD, ModifiedBetaGeoNBD

    if isinstance(cut, bool) or not isinstance(cut, int | float) or not 0 < cut < 1:
        raise BadParameterError(
            f"{caller}: p_alive_below={cut!r} must be a probability strictly between 0 and 1. "
            f"Fix: e.g. p_alive_below=0.3."
        )
    if model not in P_ALIVE_MODELS:
        raise BadParameterError(
            f"{caller}: p_alive_model={model!r} is not one of {list(P_ALIVE_MODELS)}. "
            f"Fix: e.g. p_alive_model='bgnbd'."
        )
    keep = event_filter("purchase" if event is None else event, caller)
    days = purchase_days(lf, keep, as_of_day).collect()
    d = (as_of_day - _EPOCH).days
    rfm = days.group_by(CUSTOMER_ID).agg(
        (pl.len() - 1).cast(pl.Float64).alias("frequency"),
        (_num(pl.col("day").max()) - _num(pl.col("day").min())).cast(pl.Float64).alias("recency"),
        (d - _num(pl.col("day").min())).cast(pl.Float64).alias("T"),
    )
    if rfm.height < 20:
        raise BadDataError(
            f"{caller}: {rfm.height} customers with purchases up to {as_of_day}, too few to fit "
            f"the P(alive) model (at least 20). Fix: use inactivity='90d', or check event=."
        )
    fitted = (BetaGeoNBD if model == "bgnbd" else ModifiedBetaGeoNBD)()
    with warnings.catch_warnings():  # only point predictions are used: standard errors moot
        warnings.filterwarnings("ignore", ".*standard errors are not available.*")
        fitted.fit(rfm)
    gap = fitted.time_until_probability_alive_below(
        rfm["frequency"].to_numpy(), rfm["recency"].to_numpy(), float(cut)
    )
    never = ~(gap < _NEVER_DAYS)  # inf (or beyond any data): P(alive) stays above the cut
    lag = np.where(never, 0.0, np.floor(gap))  # P(alive) < cut once days since last > lag
    lags = rfm.select(CUSTOMER_ID).with_columns(
        pl.Series("lag", lag.astype(np.int64)).scatter(np.flatnonzero(never), None)
    )
    iv = _day_intervals(days.lazy().join(lags.lazy(), on=CUSTOMER_ID, how="left"), pl.col("lag"))
    return _spells(iv, as_of_day)


def _check_cancel_event(cancel_event, caller) -> None:
    if not isinstance(cancel_event, str) or not cancel_event:
        raise BadParameterError(
            f"{caller}: cancel_event={cancel_event!r} must be the name of the cancel event. "
            f"Fix: e.g. cancel_event='cancel'."
        )


def _last_cancels(lf, cancel_event, as_of_day, caller) -> pl.LazyFrame:
    """Each customer's latest cancel day (a day number) up to as_of."""
    _check_cancel_event(cancel_event, caller)
    return (
        lf.filter(pl.col(EVENT) == cancel_event)
        .select(CUSTOMER_ID, day_expr().alias("day"))
        .filter(pl.col("day") <= pl.lit(as_of_day))
        .group_by(CUSTOMER_ID)
        .agg(_num(pl.col("day").max()).alias("cancel"))
    )


def _cancel_spells(lf, cancel_event, event, as_of_day, caller) -> pl.LazyFrame:
    _check_cancel_event(cancel_event, caller)
    is_cancel = pl.col(EVENT) == cancel_event
    keep = event_filter(event, caller)
    daily = (
        (lf if keep is None else lf.filter(is_cancel | keep))
        .select(CUSTOMER_ID, day_expr().alias("day"), is_cancel.alias("c"))
        .filter(pl.col("day") <= pl.lit(as_of_day))
        .group_by(CUSTOMER_ID, "day")
        .agg(pl.col("c").any().alias("has_cancel"), (~pl.col("c")).any().alias("has_other"))
        .sort(CUSTOMER_ID, "day")
        # a group starts at each day with activity; cancel-only days join the group before them
        .with_columns(pl.col("has_other").cast(pl.Int64).cum_sum().over(CUSTOMER_ID).alias("g"))
    )
    groups = (
        daily.group_by(CUSTOMER_ID, "g")
        .agg(
            _num(pl.col("day").min()).alias("first"),
            _num(pl.col("day").max()).alias("last_any"),
            _num(pl.col("day").filter(pl.col("has_cancel")).min()).alias("cancel"),
        )
        .sort(CUSTOMER_ID, "g")
        .with_columns(
            (pl.col("cancel").shift(1).over(CUSTOMER_ID).is_not_null())
            .cast(pl.Int64)
            .cum_sum()
            .over(CUSTOMER_ID)
            .add(1)
            .alias("episode")
        )
    )
    return (
        groups.group_by(CUSTOMER_ID, "episode")
        .agg(
            pl.col("first").min().alias("start"),
            pl.col("cancel").max().alias("cancel"),
            pl.col("last_any").max().alias("last_any"),
        )
        .with_columns(
            pl.col("cancel").is_not_null().alias("churned"),
            pl.coalesce("cancel", "last_any").alias("last"),
            pl.col("cancel").alias("end"),
            pl.lit(0, dtype=pl.Int64).alias("lag"),
            (pl.col("episode") == pl.col("episode").max().over(CUSTOMER_ID)).alias("is_last"),
        )
        .drop("cancel", "last_any")
    )


# -- output ------------------------------------------------------------------------------------


def _to_date(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.Int32).cast(pl.Date)


def _finish(spells: pl.LazyFrame, as_of_day: date, episodes: bool) -> pl.LazyFrame:
    """Spells (integer days) -> the public table, per episode or per customer."""
    d = (as_of_day - _EPOCH).days
    if not episodes:
        spells = spells.group_by(CUSTOMER_ID).agg(
            pl.col("start").min(),
            pl.col("end").sort_by("episode").last(),
            pl.col("last").sort_by("episode").last(),
            pl.col("churned").sort_by("episode").last(),
            pl.col("lag").first(),
            pl.col("episode").max().alias("n_episodes"),
        )
    delay = pl.col("lag").fill_null(0)  # a spell that can never churn is followed to as_of
    censored_days = pl.max_horizontal(pl.lit(d) - delay - pl.col("start"), pl.lit(0))
    duration = pl.when(pl.col("churned")).then(pl.col("end") - pl.col("start"))
    extra = (
        [(pl.col("churned") & ~pl.col("is_last")).alias("reactivated")]
        if episodes
        else [pl.col("n_episodes").cast(pl.Int64)]
    )
    first = [CUSTOMER_ID, pl.col("episode").cast(pl.Int64)] if episodes else [CUSTOMER_ID]
    return spells.select(
        *first,
        _to_date(pl.col("start")).alias("start"),
        _to_date(pl.col("last")).alias("last_active"),
        _to_date(pl.when(pl.col("churned")).then(pl.col("end"))).alias("churn_date"),
        pl.col("churned"),
        duration.otherwise(censored_days).cast(pl.Int64).alias("duration_days"),
        pl.col("lag").cast(pl.Int64).alias("threshold_days"),
        (pl.lit(d) - pl.col("last")).cast(pl.Int64).alias("days_since_last"),
        *extra,
    ).sort(CUSTOMER_ID, *(["episode"] if episodes else []))


def _join_customers(out: pl.LazyFrame, customers, customer_schema, caller) -> pl.LazyFrame:
    cust = canonical(customers, schema=customer_schema, caller=caller, default=CustomerSchema)
    left, right = out.collect_schema(), cust.collect_schema()
    if left[CUSTOMER_ID] != right[CUSTOMER_ID]:
        raise BadDataError(
            f"{caller}: customer_id is {left[CUSTOMER_ID]} in the churn data but "
            f"{right[CUSTOMER_ID]} in customers, so they cannot be matched. Fix: load both with "
            f"the same identifier type."
        )
    clash = [c for c in right.names() if c in left.names() and c != CUSTOMER_ID]
    if clash:
        raise WorkbenchError(
            f"{caller}: customers has columns {clash} that the churn table already uses. "
            f"Fix: rename them in customers first."
        )
    dupes = cust.group_by(CUSTOMER_ID).len().filter(pl.col("len") > 1).select(pl.len()).collect()
    if dupes.item():
        raise BadDataError(
            f"{caller}: customers has {dupes.item()} customer ids on more than one row. "
            f"Fix: keep one row per customer (wb.load_customers reports duplicates)."
        )
    return out.join(cust, on=CUSTOMER_ID, how="left")
