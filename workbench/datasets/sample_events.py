"""Assembling the sample's tables (events, subscriptions, campaigns, feedback, annotations)."""

from __future__ import annotations

import numpy as np
import polars as pl

from ..schema import (
    AMOUNT,
    CAMPAIGN_ID,
    CATEGORY,
    CHANNEL,
    CONTROL,
    COUNTRY,
    CUSTOMER_ID,
    EVENT,
    GROUP,
    OFFER,
    PERIOD_END,
    PERIOD_START,
    PLAN,
    REASON,
    SENT_TS,
    SIGNUP_TS,
    TREATMENT,
    TS,
)
from . import sample_params as P
from .sample_campaigns import CampaignDraw
from .sample_customers import Customers
from .sample_subscribers import Spells
from .sample_time import to_us, ts_series

EVENTS = (
    "signup",
    "visit",
    "add_to_cart",
    "purchase",
    "support_contact",
    "cancel",
    "onboarding_complete",
)
EV = {name: i for i, name in enumerate(EVENTS)}
DISCOUNT = "discount"
EARLY_SUPPORT_COLUMN = "early_support_contacts"


class EventBuffer:
    """Collects event columns as numpy chunks; `frame` builds the polars table once."""

    def __init__(self):
        self.parts: list[tuple] = []

    def add(self, event, cust, t, amount=None, category=None, discount=None):
        n = len(cust)
        nan = np.full(n, np.nan)
        self.parts.append(
            (
                np.asarray(cust, dtype=np.int64),
                np.asarray(t, dtype=np.float64),
                np.full(n, EV[event], dtype=np.int8),
                nan if amount is None else np.asarray(amount, dtype=np.float64),
                np.full(n, -1, dtype=np.int64) if category is None else np.asarray(category),
                np.full(n, -1, dtype=np.int8)
                if discount is None
                else np.asarray(discount, dtype=np.int8),
            )
        )

    def frame(self, ids: pl.Series) -> pl.DataFrame:
        cust, t, ev, amount, cat, disc = (np.concatenate(x) for x in zip(*self.parts, strict=True))
        raw = pl.DataFrame(
            {
                "c": cust,
                "us": to_us(t),
                "e": ev,
                "a": amount,
                "k": cat,
                "d": disc,
            }
        )
        raw = raw.filter(pl.col("us") <= to_us(np.array([P.AS_OF_DAY]))[0]).sort("c", "us", "e")
        cats = pl.Series((*P.CATEGORIES, P.SUBSCRIPTION_CATEGORY))
        return pl.DataFrame(
            {
                CUSTOMER_ID: ids.gather(raw["c"]),
                TS: raw["us"].cast(pl.Datetime("us", "UTC")),
                EVENT: pl.Series(EVENTS).gather(raw["e"]),
                AMOUNT: raw["a"].fill_nan(None),
                CATEGORY: cats.gather(raw["k"].replace(-1, None)),
                DISCOUNT: raw["d"].replace(-1, None).cast(pl.Boolean),
            }
        )


def uniform_events(rng, cust, lo, hi, per_day):
    """Poisson numbers of events per customer on [lo, hi), uniformly placed."""
    span = np.maximum(hi - lo, 0.0)
    k = rng.poisson(per_day * span)
    c = np.repeat(cust, k)
    t = np.repeat(lo, k) + rng.random(k.sum()) * np.repeat(span, k)
    return c, t


def session_before(rng, buf: EventBuffer, cust, t):
    """A visit and an add_to_cart a few minutes before each purchase."""
    cart = t - rng.uniform(1, 20, len(t)) * P.MINUTE
    visit = cart - rng.uniform(2, 30, len(t)) * P.MINUTE
    buf.add("visit", cust, visit)
    buf.add("add_to_cart", cust, cart)


def customers_frame(c: Customers, ids: pl.Series) -> pl.DataFrame:
    return pl.DataFrame(
        {
            CUSTOMER_ID: ids,
            SIGNUP_TS: ts_series(SIGNUP_TS, c.signup),
            CHANNEL: pl.Series(P.CHANNELS).gather(c.channel),
            COUNTRY: pl.Series(P.COUNTRIES).gather(c.country),
            PLAN: pl.Series(P.PLANS).gather(c.plan),
            EARLY_SUPPORT_COLUMN: pl.Series(c.early_support, dtype=pl.Int64),
        }
    )


def subscription_frame(c, ids, spells: Spells, per) -> pl.DataFrame:
    spell_idx, _k, start, end = per
    cust = spells.cust[spell_idx]
    plan = c.plan[cust]
    price = period_prices(plan, start)
    return pl.DataFrame(
        {
            CUSTOMER_ID: ids.gather(cust),
            PERIOD_START: ts_series(PERIOD_START, start),
            PERIOD_END: ts_series(PERIOD_END, end),
            AMOUNT: price,
            PLAN: pl.Series(P.PLANS).gather(plan),
        }
    ).sort([CUSTOMER_ID, PERIOD_START])


def period_prices(plan: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Monthly price by plan code and period start (basic rises at the tariff change)."""
    tariff = P.ANNOTATIONS["tariff_change"]
    basic = np.where(start >= P.day_of(tariff["start"]), tariff["price_after"], P.PRICES["basic"])
    return np.where(plan == P.PLANS.index("pro"), P.PRICES["pro"], basic)


def campaigns_frame(ids: pl.Series, draws: list[CampaignDraw]) -> pl.DataFrame:
    frames = []
    by_id = {camp["campaign_id"]: camp for camp in P.CAMPAIGNS}
    for d in draws:
        camp = by_id[d.campaign_id]
        frames.append(
            pl.DataFrame(
                {
                    CUSTOMER_ID: ids.gather(d.cust),
                    CAMPAIGN_ID: pl.Series([d.campaign_id] * d.cust.size, dtype=pl.String),
                    SENT_TS: ts_series(SENT_TS, np.full(d.cust.size, d.sent)),
                    GROUP: pl.Series(np.where(d.treated, TREATMENT, CONTROL), dtype=pl.String),
                    OFFER: pl.Series(camp["offers"], dtype=pl.String).gather(d.offer),
                    CHANNEL: pl.Series(camp["channels"], dtype=pl.String).gather(d.channel),
                }
            )
        )
    return pl.concat(frames).sort([CAMPAIGN_ID, CUSTOMER_ID])


def feedback_segment(c: Customers, spells: Spells, churned: np.ndarray) -> np.ndarray:
    """Segment name of each churned spell, by the rules in FEEDBACK["segment_rules"]."""
    cust = spells.cust[churned]
    t = spells.churn[churned]
    seg = np.full(cust.size, "default", dtype=object)
    rules = []
    tar, out, comp = (P.ANNOTATIONS[k] for k in ("tariff_change", "outage", "competitor_launch"))
    rules.append(
        (
            "tariff",
            (c.plan[cust] == P.PLANS.index("basic"))
            & (t >= P.day_of(tar["effect_start"]))
            & (t < P.day_of(tar["effect_end"])),
        )
    )
    rules.append(
        (
            "competitor",
            (c.country[cust] == P.COUNTRIES.index("DE")) & (t >= P.day_of(comp["effect_start"])),
        )
    )
    rules.append(
        ("outage", (t >= P.day_of(out["effect_start"])) & (t < P.day_of(out["effect_end"])))
    )
    rules.append(("support_heavy", c.early_support[cust] >= 2))
    decided = np.zeros(cust.size, dtype=bool)
    for name, hit in rules:
        seg[hit & ~decided] = name
        decided |= hit
    return seg


def feedback_frame(rng, c: Customers, ids: pl.Series, spells: Spells) -> pl.DataFrame:
    churned = np.flatnonzero(spells.churn <= P.AS_OF_DAY)
    seg = feedback_segment(c, spells, churned)
    answers = rng.random(churned.size) < P.FEEDBACK["response_rate"]
    probs = P.FEEDBACK["reason_probabilities"]
    table = np.array([[probs[s][r] for r in P.REASONS] for s in seg]).reshape(-1, len(P.REASONS))
    u = rng.random(churned.size)
    reason = np.minimum((u[:, None] > np.cumsum(table, axis=1)).sum(axis=1), len(P.REASONS) - 1)
    t = spells.churn[churned] + rng.uniform(0.01, 2.0, churned.size)
    keep = answers & (t <= P.AS_OF_DAY)
    cust = spells.cust[churned][keep]
    return pl.DataFrame(
        {
            CUSTOMER_ID: ids.gather(cust),
            TS: ts_series(TS, t[keep]),
            REASON: pl.Series(P.REASONS).gather(reason[keep]),
        }
    ).sort([TS, CUSTOMER_ID])


def annotations_frame() -> pl.DataFrame:
    rows = [
        {
            "start": a["start"],
            "end": a["end"],
            "label": a["label"],
            "kind": a["kind"],
            "segment_column": a["segment_column"],
            "segment_value": a["segment_value"],
        }
        for a in P.ANNOTATIONS.values()
    ]
    schema = {
        "start": pl.Date,
        "end": pl.Date,
        "label": pl.String,
        "kind": pl.String,
        "segment_column": pl.String,
        "segment_value": pl.String,
    }
    return pl.DataFrame(rows, schema=schema).sort("start")
