"""Churn and survival explorer: a view over ``wb.churn_table`` followed by ``wb.churn_curves``.

ex = wb.explore.SurvivalExplorer(events, customers=customers, subscriptions=subscriptions)
ex.arguments()          # wb.churn_table(events, **ex.arguments())
ex.curve_arguments()    # wb.churn_curves(table, **ex.curve_arguments())
"""

from __future__ import annotations

from collections import OrderedDict

import ipywidgets as widgets
import polars as pl

from ..churn import churn_table
from ..plots.survival import survival_curves
from ..schema import CUSTOMER_ID, EVENT, SIGNUP_TS, SubscriptionSchema, canonical
from ..survival import ChurnCurves, churn_curves
from .base import (
    _STYLE,
    Explorer,
    as_of_picker,
    canonical_customers,
    canonical_events,
    dropdown,
    freeze,
    string_columns,
)

INACTIVITY = ("30d", "60d", "90d", "180d", "365d")
GRACE = ("0d", "15d", "30d", "45d", "90d")


class SurvivalExplorer(Explorer):
    """Kaplan-Meier curves of customers under a chosen churn definition, by segment.

    Data controls: ``definition`` picks which one of the mutually exclusive `wb.churn_table`
    modes is passed (inactivity, own_cycle, p_alive_below, cancel_event, subscriptions) and the
    control of that name holds its threshold (``grace`` goes with subscriptions, and
    ``with_cancels`` adds the ``cancel_event`` control's event to them); ``as_of`` is
    the analysis date (empty: the explorer's own `as_of`, else the latest event); ``by``,
    ``rmst_horizon`` and ``level`` are the `wb.churn_curves` arguments. ``result`` is the
    `ChurnCurves`; ``churn`` the churn table it was estimated from; the table shown is
    ``result.summary`` (customers, churned, median lifetime, RMST per segment).
    """

    title = "Churn and survival"
    figure_names = ("curves",)

    def __init__(
        self,
        events,
        *,
        customers=None,
        subscriptions=None,
        as_of=None,
        definition: str = "inactivity",
        by: str | None = None,
        schema=None,
        customer_schema=None,
        subscription_schema=None,
        debounce: float = 0.25,
        rows: int = 10,
    ):
        caller = "SurvivalExplorer"
        self.events = canonical_events(events, schema, caller)
        self.customers = canonical_customers(customers, customer_schema, caller)
        self.subscriptions = (
            None
            if subscriptions is None
            else canonical(
                subscriptions,
                schema=subscription_schema,
                caller=caller,
                default=SubscriptionSchema,
            ).collect()
        )
        self.as_of = as_of
        self._initial = {"definition": definition, "by": by}
        self._tables: OrderedDict = OrderedDict()
        super().__init__(debounce=debounce, rows=rows)
        self.controls["definition"].observe(self._enable, names="value")
        self.controls["with_cancels"].observe(self._enable, names="value")
        self._enable()

    def _make_controls(self):
        definitions = ["inactivity", "own_cycle", "p_alive_below", "cancel_event"]
        if self.subscriptions is not None:
            definitions.append("subscriptions")
        events = sorted(self.events[EVENT].unique().drop_nulls().to_list())
        by_options = [None, *string_columns(self.customers, skip=(CUSTOMER_ID, SIGNUP_TS))]
        return {
            "definition": dropdown("definition", definitions, self._initial["definition"]),
            "inactivity": dropdown("inactivity", INACTIVITY, "90d"),
            "own_cycle": widgets.FloatSlider(
                value=2.0, min=1.0, max=5.0, step=0.5, description="own_cycle", style=_STYLE
            ),
            "p_alive_below": widgets.FloatSlider(
                value=0.3, min=0.05, max=0.95, step=0.05, description="p_alive_below", style=_STYLE
            ),
            "cancel_event": dropdown("cancel_event", events, "cancel"),
            "grace": dropdown("grace", GRACE, "45d"),
            "with_cancels": widgets.Checkbox(value=False, description="with cancel events"),
            "by": dropdown("by", by_options, self._initial["by"]),
            "rmst_horizon": dropdown("rmst_horizon", (90, 180, 365), 365),
            "level": dropdown("level", (0.9, 0.95, 0.99), 0.95),
            "as_of": as_of_picker(self.events),
        }

    def _enable(self, _change=None) -> None:
        mode = self.controls["definition"].value
        for name in ("inactivity", "own_cycle", "p_alive_below", "cancel_event"):
            self.controls[name].disabled = name != mode
        self.controls["grace"].disabled = mode != "subscriptions"
        self.controls["with_cancels"].disabled = mode != "subscriptions"
        if mode == "subscriptions":  # the cancel event to add to non-renewal
            self.controls["cancel_event"].disabled = not self.controls["with_cancels"].value

    def arguments(self) -> dict:
        """Keyword arguments of ``wb.churn_table(events, **arguments)``."""
        c = {name: w.value for name, w in self.controls.items()}
        mode = c["definition"]
        if mode == "subscriptions":
            args = {"subscriptions": self.subscriptions, "grace": c["grace"]}
            if c["with_cancels"]:
                args["cancel_event"] = c["cancel_event"]
        else:
            args = {mode: c[mode]}
        if self.customers is not None:
            args["customers"] = self.customers
        return self._with_as_of({**args, "as_of": c["as_of"]})

    def curve_arguments(self) -> dict:
        """Keyword arguments of ``wb.churn_curves(table, **curve_arguments)``."""
        return {name: self.controls[name].value for name in ("by", "rmst_horizon", "level")}

    def _key(self):
        return super()._key(), freeze(self.curve_arguments())

    @property
    def churn(self) -> pl.DataFrame | None:
        """The churn table behind the current curves (`wb.churn_table` output)."""
        return self._churn_table(self.arguments()) if self.result is not None else None

    def _churn_table(self, arguments: dict) -> pl.DataFrame:
        frames = (pl.DataFrame, pl.LazyFrame)
        key = freeze({k: v for k, v in arguments.items() if not isinstance(v, frames)})
        if key not in self._tables:
            self._tables[key] = churn_table(self.events, **arguments)
            while len(self._tables) > 8:
                self._tables.popitem(last=False)
        return self._tables[key]

    def compute(self, arguments: dict) -> ChurnCurves:
        return churn_curves(self._churn_table(arguments), **self.curve_arguments())

    def draw(self, result: ChurnCurves):
        return {"curves": survival_curves(result)}

    def tidy(self, result: ChurnCurves) -> pl.DataFrame:
        return result.summary
