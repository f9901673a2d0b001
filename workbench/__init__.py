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
from .cohorts import (
    RETENTION_DEFINITIONS,
    cohort_customers,
    reference_figures,
    retention_curve,
    retention_matrix,
)
from .lifecycle import (
    LIFECYCLE_DEFINITIONS,
    Lifecycle,
    RetentionRates,
    customer_retention_rate,
    day_n_retention,
    lifecycle,
    stickiness,
)
from .plots.cohorts import (
    plot_lifecycle,
    plot_mrr_bridge,
    plot_retention_curves,
    plot_retention_heatmap,
    plot_retention_rate,
    plot_value_curves,
)
from .revenue import (
    REVENUE_DEFINITIONS,
    MrrBridge,
    ltv_curve,
    mrr,
    mrr_bridge,
    value_retention,
)

# -- churn and survival --
from .churn import CENSORING_DEFINITION, CHURN_DEFINITIONS, churn_table
from .churn_compare import compare_churn_definitions
from .cycles import CYCLES_DEFINITION, purchase_cycles
from .survival import KM_DEFINITION, LOGRANK_DEFINITION, ChurnCurves, churn_curves
from .survival_drivers import COX_DEFINITION, ChurnDrivers, churn_drivers

# -- customer value and leaving customers --
from .models import customer_lifetime_value
from .rfm import rfm_summary
from .features import (
    FEATURE_DEFINITIONS,
    FEATURES_DEFINITION,
    LABEL_DEFINITION,
    churn_labels,
    customer_features,
)
from .overdue import (
    CATEGORY_DROPOUT_DEFINITION,
    OVERDUE_DEFINITION,
    VALUE_AT_STAKE_DEFINITION,
    OverdueCustomers,
    category_dropouts,
    overdue_customers,
    value_at_stake,
)
from .patterns import (
    PATTERNS_DEFINITION,
    PROBLEM_SEGMENTS_DEFINITION,
    DepartedPatterns,
    ProblemSegments,
    compare_groups,
    departed_patterns,
    problem_segments,
)
from .propensity import PROPENSITY_DEFINITION, ChurnPropensity, churn_propensity
from .reasons import REASONS_DEFINITION, ChurnReasons, churn_reasons
from .segments import (
    ABC_XYZ_DEFINITION,
    RFM_SEGMENT_RULES,
    RFM_SEGMENTS_DEFINITION,
    AbcXyz,
    abc_xyz,
    rfm_scores,
    rfm_segment_counts,
)
from .winback import WINBACK_DEFINITION, WINBACK_OFFER_RULES, export_targets, winback_targets

# -- campaigns, funnels, activation, channels --
from .activation import ACTIVATION_DEFINITION, ActivationEffect, activation_effect
from .campaigns import (
    CAMPAIGN_EFFECT_DEFINITION,
    WINBACK_TEST_PLAN_DEFINITION,
    CampaignEffect,
    campaign_effect,
    winback_test_plan,
)
from .channels import CHANNEL_QUALITY_DEFINITION, ChannelQuality, channel_quality
from .funnels import FUNNEL_DEFINITION, Funnel, funnel

# -- business events --
from .annotations import ANNOTATIONS_DEFINITION, AnnotationSchema, load_annotations
from .impact import EVENT_IMPACT_DEFINITION, EventImpact, event_impact

# -- reports --
from .reports import render_report, render_reports

# -- warehouse --
from .warehouse import activity_sql, activity_table, redact_uri

# -- explorers --
from . import explore

__version__ = "0.1.0"

__all__ = [
    "LIFECYCLE_DEFINITIONS",
    "Lifecycle",
    "MrrBridge",
    "RETENTION_DEFINITIONS",
    "REVENUE_DEFINITIONS",
    "RetentionRates",
    "cohort_customers",
    "customer_retention_rate",
    "day_n_retention",
    "lifecycle",
    "ltv_curve",
    "mrr",
    "mrr_bridge",
    "plot_lifecycle",
    "plot_mrr_bridge",
    "plot_retention_curves",
    "plot_retention_heatmap",
    "plot_retention_rate",
    "plot_value_curves",
    "reference_figures",
    "retention_curve",
    "retention_matrix",
    "stickiness",
    "value_retention",
    "CENSORING_DEFINITION",
    "CHURN_DEFINITIONS",
    "COX_DEFINITION",
    "CYCLES_DEFINITION",
    "ChurnCurves",
    "ChurnDrivers",
    "KM_DEFINITION",
    "LOGRANK_DEFINITION",
    "churn_curves",
    "churn_drivers",
    "churn_table",
    "compare_churn_definitions",
    "purchase_cycles",
    "ACTIVATION_DEFINITION",
    "ActivationEffect",
    "activation_effect",
    "CAMPAIGN_EFFECT_DEFINITION",
    "WINBACK_TEST_PLAN_DEFINITION",
    "CampaignEffect",
    "campaign_effect",
    "winback_test_plan",
    "CHANNEL_QUALITY_DEFINITION",
    "ChannelQuality",
    "channel_quality",
    "FUNNEL_DEFINITION",
    "Funnel",
    "funnel",
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
    "activity_sql",
    "activity_table",
    "check_events",
    "customer_lifetime_value",
    "datasets",
    "load_campaigns",
    "load_customers",
    "load_events",
    "load_feedback",
    "load_subscriptions",
    "explore",
    "models",
    "redact_uri",
    "render_report",
    "render_reports",
    "rfm_summary",
    "ABC_XYZ_DEFINITION",
    "AbcXyz",
    "CATEGORY_DROPOUT_DEFINITION",
    "ChurnPropensity",
    "ChurnReasons",
    "DepartedPatterns",
    "FEATURES_DEFINITION",
    "FEATURE_DEFINITIONS",
    "LABEL_DEFINITION",
    "OVERDUE_DEFINITION",
    "OverdueCustomers",
    "PATTERNS_DEFINITION",
    "PROBLEM_SEGMENTS_DEFINITION",
    "PROPENSITY_DEFINITION",
    "ProblemSegments",
    "REASONS_DEFINITION",
    "RFM_SEGMENTS_DEFINITION",
    "RFM_SEGMENT_RULES",
    "VALUE_AT_STAKE_DEFINITION",
    "WINBACK_DEFINITION",
    "WINBACK_OFFER_RULES",
    "abc_xyz",
    "category_dropouts",
    "churn_labels",
    "churn_propensity",
    "churn_reasons",
    "compare_groups",
    "customer_features",
    "departed_patterns",
    "export_targets",
    "overdue_customers",
    "problem_segments",
    "rfm_scores",
    "rfm_segment_counts",
    "value_at_stake",
    "winback_targets",
    "ANNOTATIONS_DEFINITION",
    "AnnotationSchema",
    "EVENT_IMPACT_DEFINITION",
    "EventImpact",
    "event_impact",
    "load_annotations",
]
