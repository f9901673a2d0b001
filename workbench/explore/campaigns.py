"""Campaign explorer: a view over ``wb.campaign_effect``.

ex = wb.explore.CampaignExplorer(events, campaigns, segments=customers)
ex.arguments()        # wb.campaign_effect(events, campaigns, **ex.arguments())
"""

from __future__ import annotations

import polars as pl

from ..campaigns import CampaignEffect, campaign_effect
from ..plots.campaigns import lift_forest
from ..schema import CAMPAIGN_ID, CUSTOMER_ID, GROUP, SIGNUP_TS, CampaignSchema, canonical
from .base import (
    Explorer,
    as_of_picker,
    canonical_customers,
    canonical_events,
    dropdown,
    string_columns,
)


class CampaignExplorer(Explorer):
    """Return-rate lift of each campaign against its control group, overall or by segment.

    Data controls (the `wb.campaign_effect` arguments of the same name): window, outcome,
    by (a campaigns column such as offer or channel, or a column of `segments`), level
    (confidence level of the intervals; 1 - significance level), ci, test, as_of (a date;
    empty: the explorer's own `as_of`, else the latest event). The figure is
    `lift_forest` (absolute lift with intervals); the table the effect per campaign (x
    segment), with p-values and Benjamini-Hochberg adjusted p-values. A `segments` column
    that is also a campaigns column is renamed with a ``customer_`` prefix.
    """

    title = "Campaign effect"
    figure_names = ("lift",)

    def __init__(
        self,
        events,
        campaigns,
        *,
        segments=None,
        as_of=None,
        schema=None,
        campaign_schema=None,
        segment_schema=None,
        debounce: float = 0.25,
        rows: int = 10,
    ):
        caller = "CampaignExplorer"
        self.events = canonical_events(events, schema, caller)
        self.campaigns = canonical(
            campaigns, schema=campaign_schema, caller=caller, default=CampaignSchema
        ).collect()
        segments = canonical_customers(segments, segment_schema, caller)
        if segments is not None:
            # A column in both tables would make `by` ambiguous: keep the campaigns' one and
            # prefix the customer attribute (channel -> customer_channel).
            clash = [
                c for c in segments.columns if c != CUSTOMER_ID and c in self.campaigns.columns
            ]
            segments = segments.rename({c: f"customer_{c}" for c in clash})
        self.segments = segments
        self.as_of = as_of
        super().__init__(debounce=debounce, rows=rows)

    def _make_controls(self):
        own = string_columns(self.campaigns, skip=(CUSTOMER_ID, CAMPAIGN_ID, GROUP))
        extra = string_columns(self.segments, skip=(CUSTOMER_ID, SIGNUP_TS, *own))
        return {
            "window": dropdown("window", ("7d", "14d", "30d", "60d"), "30d"),
            "outcome": dropdown("outcome", ("return", "any")),
            "by": dropdown("by", (None, *own, *extra)),
            "level": dropdown("level", (0.9, 0.95, 0.99), 0.95),
            "ci": dropdown("ci", ("newcombe", "wald")),
            "test": dropdown("test", ("auto", "z", "fisher")),
            "as_of": as_of_picker(self.events),
        }

    def arguments(self) -> dict:
        """Keyword arguments of ``wb.campaign_effect(events, campaigns, **arguments)``."""
        args = {name: w.value for name, w in self.controls.items()}
        if self.segments is not None:
            args["segments"] = self.segments
        return self._with_as_of(args)

    def compute(self, arguments: dict) -> CampaignEffect:
        return campaign_effect(self.events, self.campaigns, **arguments)

    def draw(self, result: CampaignEffect):
        return {"lift": lift_forest(result)}

    def tidy(self, result: CampaignEffect) -> pl.DataFrame:
        return result.table
