"""Generating parameters of the sample data: the ground truth that analyses should recover.

Time inside the generator is measured in days (float) since ``START`` (2024-01-01 00:00 UTC).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

START = datetime(2024, 1, 1, tzinfo=UTC)
AS_OF = datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)
HORIZON = 731.0  # days from START to 2026-01-01 00:00 UTC
AS_OF_DAY = HORIZON - 1.0 / 86_400
MONTH_DAYS = 30.4375  # average month, the unit of "monthly hazard"
MINUTE = 1.0 / 1440


def day_of(d: date | datetime) -> float:
    """Days since START of a date (midnight UTC) or an aware datetime."""
    if not isinstance(d, datetime):
        d = datetime(d.year, d.month, d.day, tzinfo=UTC)
    return (d - START).total_seconds() / 86_400


# -- customers --------------------------------------------------------------------------------
CHANNELS = ("organic", "paid_search", "social", "referral")
CHANNEL_SHARES = (0.35, 0.28, 0.22, 0.15)
COUNTRIES = ("US", "UK", "DE", "FR")
COUNTRY_SHARES = (0.45, 0.25, 0.15, 0.15)
PLANS = ("none", "basic", "pro")
PLAN_SHARES = (0.60, 0.25, 0.15)
CATEGORIES = ("books", "music", "electronics", "home", "garden")
SUBSCRIPTION_CATEGORY = "subscription"
ACQUISITION_GROWTH = 1.0  # daily signup intensity doubles over the two years
ACQUISITION_SEASONALITY = 0.25  # amplitude of a yearly cycle peaking in late November
EARLY_SUPPORT = {"window_days": 14, "mean": 0.45, "max": 6}

# -- subscriber lifetimes (proportional hazards, exponential baseline) --------------------------
BASELINE_MONTHLY_HAZARD = 0.05  # organic/referral, basic, 0 early contacts, not onboarded
HAZARD_RATIOS = {
    "channel[paid_search]": 1.6,
    "channel[social]": 1.3,
    "plan[pro]": 0.7,
    "early_support_contacts": 1.25,
}
ACTIVATION = {
    "action": "onboarding_complete",
    "window_days": 7,
    "hazard_ratio": 0.7,
    "share": 0.5,
    "applies_to": "subscription churn hazard (plans basic and pro)",
}
CHANNEL_QUALITY = {
    "channel": "social",
    "cohorts_from": date(2025, 7, 1),
    "hazard_multiplier": 1.6,  # subscribers, during their first tenure_days
    "tenure_days": 92,
    "dropout_probability_multiplier": 1.5,  # one-off buyers
}
PRICES = {"basic": 9.99, "pro": 19.99}
SUBSCRIBER_REACTIVATION = {"probability": 0.2, "min_gap_days": 45, "mean_extra_gap_days": 75.0}

# -- business events --------------------------------------------------------------------------
ANNOTATIONS = {
    "tariff_change": {
        "label": "Basic plan price 9.99 -> 12.99",
        "kind": "pricing",
        "start": date(2025, 3, 1),
        "end": date(2025, 3, 1),
        "segment_column": "plan",
        "segment_value": "basic",
        "hazard_multiplier": 2.0,
        "effect_start": date(2025, 3, 1),
        "effect_end": date(2025, 3, 31),  # exclusive: 30 days
        "price_before": 9.99,
        "price_after": 12.99,
    },
    "outage": {
        "label": "Service outage",
        "kind": "incident",
        "start": date(2025, 6, 10),
        "end": date(2025, 6, 12),
        "segment_column": None,
        "segment_value": None,
        "hazard_multiplier": 1.5,
        "effect_start": date(2025, 6, 10),
        "effect_end": date(2025, 7, 13),  # exclusive: outage days + 30 days after its end
        "support_contact_probability": 0.3,
    },
    "competitor_launch": {
        "label": "Competitor launch in DE",
        "kind": "competitor",
        "start": date(2025, 9, 1),
        "end": date(2025, 12, 31),
        "segment_column": "country",
        "segment_value": "DE",
        "hazard_multiplier": 1.6,
        "effect_start": date(2025, 9, 1),
        "effect_end": None,  # lasts beyond the data
    },
}

# -- one-off buyers (BG/NBD purchase process, gamma-gamma spend) --------------------------------
BGNBD = {"r": 0.75, "alpha": 50.0, "a": 0.8, "b": 2.4, "time_unit": "day"}
GAMMA_GAMMA = {"p": 6.0, "q": 4.0, "gamma": 20.0}
BUYER_COMEBACK = {"probability": 0.15, "min_gap_days": 120, "max_gap_days": 300}
CATEGORY_PREFERENCE_CONCENTRATION = 0.7  # symmetric Dirichlet
CATEGORY_DROPOUT = {"min_purchases": 8, "share": 0.2}
DISCOUNT_RATE = 0.12

# -- funnel and engagement ----------------------------------------------------------------------
FUNNEL = {
    "steps": ("visit", "add_to_cart", "purchase"),
    "window_days": 7,
    "visit_to_add_to_cart": 0.55,
    "add_to_cart_to_purchase": 0.6,
    "same_session_share": 0.6,
}
FIRST_PURCHASE_DELAY_MEAN = 20.0  # days, for customers who did not buy in their first funnel
BROWSE_VISITS_PER_MONTH = 0.8
BROWSE_CART_SHARE = 0.2
SUPPORT_CONTACTS_PER_MONTH = 0.15

# -- win-back campaigns -------------------------------------------------------------------------
CAMPAIGNS = (
    {
        "campaign_id": "WB-2025-06",
        "sent_ts": datetime(2025, 6, 15, 9, 0, tzinfo=UTC),
        "lapsed_days": 60,
        "window_days": 30,
        "control_rate": 0.10,
        "abs_lift": 0.10,
        "targeted_share": 1.0,
        "offers": ("category_discount", "inactivity_discount"),
        "channels": ("email", "sms"),
        "channel_shares": (0.7, 0.3),
    },
    {
        "campaign_id": "WB-2025-10",
        "sent_ts": datetime(2025, 10, 15, 9, 0, tzinfo=UTC),
        "lapsed_days": 90,
        "window_days": 30,
        "control_rate": 0.06,
        "abs_lift": 0.06,
        "targeted_share": 0.5,
        "offers": ("inactivity_discount",),
        "channels": ("sms",),
        "channel_shares": (1.0,),
    },
)

# -- churn-reason survey ------------------------------------------------------------------------
REASONS = ("price", "competitor", "not_using", "support", "other")
FEEDBACK = {
    "response_rate": 0.4,
    "segment_rules": (
        "tariff: plan basic and churned during the tariff effect window; "
        "competitor: country DE and churned on or after the competitor launch; "
        "outage: churned during the outage effect window; "
        "support_heavy: early_support_contacts >= 2; default: everyone else. "
        "The first matching rule wins."
    ),
    "reason_probabilities": {
        "tariff": {
            "price": 0.55,
            "competitor": 0.10,
            "not_using": 0.20,
            "support": 0.05,
            "other": 0.10,
        },
        "competitor": {
            "price": 0.20,
            "competitor": 0.45,
            "not_using": 0.20,
            "support": 0.05,
            "other": 0.10,
        },
        "outage": {
            "price": 0.15,
            "competitor": 0.10,
            "not_using": 0.20,
            "support": 0.45,
            "other": 0.10,
        },
        "support_heavy": {
            "price": 0.15,
            "competitor": 0.10,
            "not_using": 0.20,
            "support": 0.45,
            "other": 0.10,
        },
        "default": {
            "price": 0.25,
            "competitor": 0.15,
            "not_using": 0.35,
            "support": 0.10,
            "other": 0.15,
        },
    },
}
