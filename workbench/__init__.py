"""Retention research workbench: cohorts, churn and survival, customer value, win-back, reports.

The one documented import path is ``import workbench as wb``.
"""

from . import datasets, models
from .errors import (
    BadDataError,
    BadParameterError,
    DataSourceError,
    MissingColumnError,
    NotFittedError,
    WorkbenchError,
    WorkbenchWarning,
)
from .schema import (
    CampaignSchema,
    CustomerSchema,
    EventSchema,
    FeedbackSchema,
    SubscriptionSchema,
)
from .sources import (
    LoadReport,
    check_events,
    load_campaigns,
    load_customers,
    load_events,
    load_feedback,
    load_subscriptions,
)

# -- cohorts --
# -- churn and survival --
# -- customer value and leaving customers --
# -- campaigns, funnels, activation, channels --
# -- business events --

__version__ = "0.1.0"

__all__ = [
    "BadDataError",
    "BadParameterError",
    "CampaignSchema",
    "CustomerSchema",
    "DataSourceError",
    "EventSchema",
    "FeedbackSchema",
    "LoadReport",
    "MissingColumnError",
    "NotFittedError",
    "SubscriptionSchema",
    "WorkbenchError",
    "WorkbenchWarning",
    "check_events",
    "datasets",
    "load_campaigns",
    "load_customers",
    "load_events",
    "load_feedback",
    "load_subscriptions",
    "models",
]
