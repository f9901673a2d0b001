"""The ``truth`` dict of the sample: generating parameters plus realised figures."""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from ..schema import CATEGORY, CUSTOMER_ID
from . import sample_params as P
from .sample_campaigns import CampaignDraw
from .sample_customers import Customers
from .sample_subscribers import Spells
from .sample_time import ts_series


def _campaign_truth(draws: list[CampaignDraw]) -> dict:
    out = {}
    by_id = {camp["campaign_id"]: camp for camp in P.CAMPAIGNS}
    for d in draws:
        camp = by_id[d.campaign_id]
        n_t, n_c = int(d.treated.sum()), int((~d.treated).sum())
        r_t = float(d.returned[d.treated].mean()) if n_t else math.nan
        r_c = float(d.returned[~d.treated].mean()) if n_c else math.nan
        out[d.campaign_id] = {
            "sent_ts": camp["sent_ts"],
            "eligibility": (
                f"last purchase before the send more than {camp['lapsed_days']} days old"
                + (
                    ""
                    if camp["targeted_share"] >= 1
                    else f"; a random {camp['targeted_share']:.0%}"
                )
                + ("" if camp is P.CAMPAIGNS[0] else "; not in an earlier campaign")
            ),
            "lapsed_days": camp["lapsed_days"],
            "window_days": camp["window_days"],
            "control_rate": camp["control_rate"],
            "treatment_rate": round(camp["control_rate"] + camp["abs_lift"], 10),
            "abs_lift": camp["abs_lift"],
            "offers": camp["offers"],
            "channels": camp["channels"],
            "n_control": n_c,
            "n_treatment": n_t,
            "realised_control_rate": r_c,
            "realised_treatment_rate": r_t,
            "realised_abs_lift": r_t - r_c,
        }
    return out


def _funnel_truth(c: Customers) -> dict:
    w = P.FUNNEL["window_days"]
    seen = c.visit1 + w <= P.AS_OF_DAY
    carted = seen & ~np.isnan(c.cart1)
    cart_seen = carted & (c.cart1 + w <= P.AS_OF_DAY)
    bought = cart_seen & ~np.isnan(c.purchase1)
    return {
        "steps": P.FUNNEL["steps"],
        "window_days": w,
        "visit_to_add_to_cart": P.FUNNEL["visit_to_add_to_cart"],
        "add_to_cart_to_purchase": P.FUNNEL["add_to_cart_to_purchase"],
        "definition": (
            "Per customer, from their first visit: share with an add_to_cart within 7 days after "
            "it; from the first add_to_cart after that visit: share with a purchase within 7 days "
            "after it. Customers whose window has not fully elapsed by as_of are left out."
        ),
        "realised": {
            "visitors": int(seen.sum()),
            "added_to_cart": int(carted.sum()),
            "visit_to_add_to_cart": float(carted.sum() / max(seen.sum(), 1)),
            "cart_customers": int(cart_seen.sum()),
            "purchased": int(bought.sum()),
            "add_to_cart_to_purchase": float(bought.sum() / max(cart_seen.sum(), 1)),
        },
    }


def build_truth(*, seed, c: Customers, ids: pl.Series, spells: Spells, draws, dropouts, comeback):
    drop_c, drop_cat, drop_t = dropouts
    lifetimes = pl.DataFrame(
        {
            CUSTOMER_ID: ids.gather(spells.cust),
            "spell": pl.Series(spells.number, dtype=pl.Int64),
            "start": ts_series("start", spells.start),
            "latent_end": ts_series("latent_end", np.minimum(spells.churn, 10 * P.HORIZON)),
            "lifetime_days": spells.churn - spells.start,
            "paid_until": ts_series("paid_until", np.minimum(spells.paid_until, 10 * P.HORIZON)),
            "churned": spells.churn <= P.AS_OF_DAY,
            "onboarded": c.onboarded[spells.cust],
        }
    ).sort([CUSTOMER_ID, "spell"])
    buyers = np.flatnonzero(c.plan == P.PLANS.index("none"))
    buyer_parameters = pl.DataFrame(
        {
            CUSTOMER_ID: ids.gather(buyers),
            "purchase_rate": c.rate[buyers],
            "dropout_probability": c.dropout[buyers],
            "spend_nu": c.spend_nu[buyers],
        }
    )
    order = np.argsort(drop_c)
    category_dropouts = pl.DataFrame(
        {
            CUSTOMER_ID: ids.gather(drop_c[order]),
            CATEGORY: pl.Series(P.CATEGORIES).gather(drop_cat[order]),
            "dropout_ts": ts_series("dropout_ts", drop_t[order]),
        }
    )
    react = np.union1d(spells.cust[spells.number > 1], comeback).astype(np.int64)
    bg, gg = P.BGNBD, P.GAMMA_GAMMA
    annotations = {key: {k: v for k, v in ann.items()} for key, ann in P.ANNOTATIONS.items()}
    return {
        "hazard_ratios": dict(P.HAZARD_RATIOS),
        "baseline_monthly_hazard": P.BASELINE_MONTHLY_HAZARD,
        "hazard_model": (
            "exponential baseline in continuous time; h(t) = baseline_monthly_hazard / 30.4375 "
            "per day x hazard ratios x activation x channel quality x business-event multipliers"
        ),
        "lifetimes": lifetimes,
        "bgnbd": {**bg, "alpha_weeks": bg["alpha"] / 7},
        "gamma_gamma": {**gg, "mean_spend": gg["p"] * gg["gamma"] / (gg["q"] - 1)},
        "buyer_parameters": buyer_parameters,
        "campaigns": _campaign_truth(draws),
        "funnel": _funnel_truth(c),
        "activation": dict(P.ACTIVATION),
        "annotations": annotations,
        "category_dropout_customers": ids.gather(np.sort(drop_c)).to_list(),
        "category_dropouts": category_dropouts,
        "reactivated_customers": ids.gather(react).to_list(),
        "channel_quality": dict(P.CHANNEL_QUALITY),
        "feedback": {
            "response_rate": P.FEEDBACK["response_rate"],
            "segment_rules": P.FEEDBACK["segment_rules"],
            "reason_probabilities": {
                k: dict(v) for k, v in P.FEEDBACK["reason_probabilities"].items()
            },
        },
        "prices": {
            **P.PRICES,
            "basic_after_tariff_change": P.ANNOTATIONS["tariff_change"]["price_after"],
        },
        "early_support": dict(P.EARLY_SUPPORT),
        "subscriber_reactivation": dict(P.SUBSCRIBER_REACTIVATION),
        "buyer_comeback": dict(P.BUYER_COMEBACK),
        "as_of": P.AS_OF,
        "seed": seed,
        "n_customers": c.n,
    }
