"""Customers of the sample: acquisition, attributes, first funnel and latent traits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import sample_params as P


@dataclass
class Customers:
    """Per-customer arrays, index i is customer ``ids[i]`` (ids follow signup order)."""

    ids: np.ndarray
    signup: np.ndarray
    channel: np.ndarray  # codes into P.CHANNELS
    country: np.ndarray  # codes into P.COUNTRIES
    plan: np.ndarray  # codes into P.PLANS
    early_support: np.ndarray
    onboarded: np.ndarray  # bool
    onboarding_t: np.ndarray
    visit1: np.ndarray
    cart1: np.ndarray  # nan when no add_to_cart in the first funnel
    purchase1: np.ndarray  # nan when no purchase in the first funnel
    first_purchase: np.ndarray  # funnel purchase or a later one
    browse_from: np.ndarray
    prefs: np.ndarray  # (n, categories) purchase-category preferences
    rate: np.ndarray  # BG/NBD purchase rate per day
    dropout: np.ndarray  # BG/NBD dropout probability after each repeat purchase
    spend_nu: np.ndarray  # gamma-gamma individual scale
    late_social: np.ndarray  # bool: social cohort from CHANNEL_QUALITY["cohorts_from"]

    @property
    def n(self) -> int:
        return len(self.ids)


def _signup_days(rng: np.random.Generator, n: int) -> np.ndarray:
    d = np.arange(int(P.HORIZON))
    day_of_year = d % 365.25
    w = (1 + P.ACQUISITION_GROWTH * d / P.HORIZON) * (
        1 + P.ACQUISITION_SEASONALITY * np.cos(2 * np.pi * (day_of_year - 328) / 365.25)
    )
    days = rng.choice(d, size=n, p=w / w.sum())
    return np.minimum(np.sort(days + rng.random(n)), P.AS_OF_DAY - 1.0 / 86_400)


def _session_delay(rng: np.random.Generator, n: int) -> np.ndarray:
    """Delay to the next funnel step: minutes in the same session, else up to 6.8 days later."""
    same = rng.random(n) < P.FUNNEL["same_session_share"]
    minutes = rng.uniform(2, 30, n) * P.MINUTE
    days = rng.uniform(0.1, 6.8, n)
    return np.where(same, minutes, days)


def make_customers(rng: np.random.Generator, n: int) -> Customers:
    signup = _signup_days(rng, n)
    channel = rng.choice(len(P.CHANNELS), size=n, p=P.CHANNEL_SHARES)
    country = rng.choice(len(P.COUNTRIES), size=n, p=P.COUNTRY_SHARES)
    plan = rng.choice(len(P.PLANS), size=n, p=P.PLAN_SHARES)
    es = P.EARLY_SUPPORT
    early_support = np.minimum(rng.poisson(es["mean"], n), es["max"])
    onboarded = rng.random(n) < P.ACTIVATION["share"]
    onboarding_t = signup + rng.uniform(0.01, P.ACTIVATION["window_days"] - 0.01, n)

    # First funnel, starting with a visit right after signup.
    visit1 = signup + rng.uniform(1, 10, n) * P.MINUTE
    to_cart = rng.random(n) < P.FUNNEL["visit_to_add_to_cart"]
    to_buy = to_cart & (rng.random(n) < P.FUNNEL["add_to_cart_to_purchase"])
    cart1 = np.where(to_cart, visit1 + _session_delay(rng, n), np.nan)
    purchase1 = np.where(to_buy, cart1 + _session_delay(rng, n), np.nan)
    # Nothing else that counts for the first funnel happens in its 7-day windows.
    quiet_until = np.where(to_cart, cart1, visit1) + P.FUNNEL["window_days"] + 0.1
    later = quiet_until + rng.exponential(P.FIRST_PURCHASE_DELAY_MEAN, n)
    first_purchase = np.where(to_buy, purchase1, later)
    browse_from = visit1 + P.FUNNEL["window_days"] + 0.1
    browse_from = np.where(
        to_cart, np.maximum(browse_from, cart1 + P.FUNNEL["window_days"] + 0.1), browse_from
    )
    browse_from = np.where(to_buy, np.minimum(browse_from, purchase1), browse_from)

    prefs = rng.dirichlet(np.full(len(P.CATEGORIES), P.CATEGORY_PREFERENCE_CONCENTRATION), n) + 1e-3
    prefs /= prefs.sum(axis=1, keepdims=True)
    bg = P.BGNBD
    rate = rng.gamma(bg["r"], 1.0 / bg["alpha"], n)
    dropout = rng.beta(bg["a"], bg["b"], n)
    cq = P.CHANNEL_QUALITY
    late_social = (channel == P.CHANNELS.index(cq["channel"])) & (
        signup >= P.day_of(cq["cohorts_from"])
    )
    dropout = np.where(
        late_social, np.minimum(dropout * cq["dropout_probability_multiplier"], 0.95), dropout
    )
    gg = P.GAMMA_GAMMA
    spend_nu = rng.gamma(gg["q"], 1.0 / gg["gamma"], n)
    ids = np.array([f"C{i:06d}" for i in range(1, n + 1)])
    return Customers(
        ids=ids,
        signup=signup,
        channel=channel,
        country=country,
        plan=plan,
        early_support=early_support,
        onboarded=onboarded,
        onboarding_t=onboarding_t,
        visit1=visit1,
        cart1=cart1,
        purchase1=purchase1,
        first_purchase=first_purchase,
        browse_from=browse_from,
        prefs=prefs,
        rate=rate,
        dropout=dropout,
        spend_nu=spend_nu,
        late_social=late_social,
    )
