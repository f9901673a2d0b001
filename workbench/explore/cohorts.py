"""Cohort retention explorer: a view over ``wb.retention_matrix``.

ex = wb.explore.CohortExplorer(events, customers=customers)
ex                      # in a notebook: controls, heatmap, mean curve, table head
ex.arguments()          # the keyword arguments of wb.retention_matrix(events, ...)
"""

from __future__ import annotations

import polars as pl

from ..cohorts import retention_curve, retention_matrix
from ..plots.cohorts import plot_retention_curves, plot_retention_heatmap
from ..schema import CUSTOMER_ID, SIGNUP_TS
from .base import (
    Explorer,
    as_of_picker,
    canonical_customers,
    canonical_events,
    dropdown,
    string_columns,
)

# Calendar days are left out of the period choices: a two-year daily triangle has ~270,000
# cells, far too many to draw interactively (use period="day" in a direct call instead).
PERIODS = ("week", "month", "quarter")
MAX_PERIODS = (None, 6, 12, 26)


class CohortExplorer(Explorer):
    """Retention triangle and mean retention curve, with the options of `wb.retention_matrix`.

    Data controls (each is the `wb.retention_matrix` argument of the same name): period,
    window, cohort_period, mode, reference, by (a `customers` column), min_events, max_period,
    as_of (a date; empty: the explorer's own `as_of`, else the latest event).
    Figures: ``figures["heatmap"]`` (`wb.plot_retention_heatmap` of the matrix) and
    ``figures["curve"]`` (`wb.plot_retention_curves` of `wb.retention_curve(matrix)`).
    ``result`` is the matrix; ``curve`` its mean retention curve.
    """

    title = "Cohort retention"
    figure_names = ("heatmap", "curve")

    def __init__(
        self,
        events,
        *,
        customers=None,
        as_of=None,
        period: str = "month",
        by: str | None = None,
        schema=None,
        customer_schema=None,
        debounce: float = 0.25,
        rows: int = 10,
    ):
        caller = "CohortExplorer"
        self.events = canonical_events(events, schema, caller)
        self.customers = canonical_customers(customers, customer_schema, caller)
        self.as_of = as_of
        self._initial = {"period": period, "by": by}
        super().__init__(debounce=debounce, rows=rows)

    def _make_controls(self):
        by_options = [None, *string_columns(self.customers, skip=(CUSTOMER_ID, SIGNUP_TS))]
        return {
            "period": dropdown("period", PERIODS, self._initial["period"]),
            "window": dropdown("window", ("calendar", "rolling")),
            "cohort_period": dropdown("cohort_period", (None, "month", "quarter")),
            "mode": dropdown("mode", ("on", "on_or_after")),
            "reference": dropdown("reference", ("total", "previous")),
            "by": dropdown("by", by_options, self._initial["by"]),
            "min_events": dropdown("min_events", (1, 2, 3)),
            "max_period": dropdown("max_period", MAX_PERIODS),
            "as_of": as_of_picker(self.events),
        }

    def arguments(self) -> dict:
        """Keyword arguments of ``wb.retention_matrix(events, **arguments)``."""
        args = {name: w.value for name, w in self.controls.items()}
        if self.customers is not None:
            args["customers"] = self.customers
        return self._with_as_of(args)

    def compute(self, arguments: dict) -> pl.DataFrame:
        return retention_matrix(self.events, **arguments)

    @property
    def curve(self) -> pl.DataFrame | None:
        """Mean retention curve of the current matrix (`wb.retention_curve`)."""
        return None if self.result is None else retention_curve(self.result)

    def draw(self, result: pl.DataFrame):
        unit = self.controls["period"].value
        return {
            "heatmap": plot_retention_heatmap(result),
            "curve": plot_retention_curves(retention_curve(result), unit=unit),
        }
