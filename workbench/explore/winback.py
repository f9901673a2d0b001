"""Win-back explorer: a view over ``wb.winback_targets`` with an export of the target list.

ex = wb.explore.WinbackExplorer(events, customers=customers, campaigns=campaigns)
ex.arguments()                 # wb.winback_targets(events, **ex.arguments())
ex.export("targets.csv")       # wb.export_targets(ex.result, "targets.csv", ...)
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import polars as pl

from ..errors import WorkbenchError
from ..plots.leaving import winback_figure
from ..schema import CampaignSchema, canonical
from ..winback import export_targets, winback_targets
from .base import (
    _STYLE,
    Explorer,
    as_of_picker,
    canonical_customers,
    canonical_events,
    dropdown,
)


class WinbackExplorer(Explorer):
    """Who to win back, why, with which offer: the target list under adjustable rules.

    Data controls (the `wb.winback_targets` arguments of the same name): k (overdue multiple
    of the usual gap), inactivity, max_inactivity, high_risk, high_value_quantile, horizon,
    model, as_of (a date; empty: the explorer's own `as_of`, else the latest event). The figure is `winback_figure` (customers by reason and offer); the table the
    target list. "Export" writes the list with `wb.export_targets` (``export(path)``).
    """

    title = "Win-back targets"
    figure_names = ("targets",)

    def __init__(
        self,
        events,
        *,
        customers=None,
        campaigns=None,
        as_of=None,
        export_path: str = "winback_targets.csv",
        schema=None,
        customer_schema=None,
        campaign_schema=None,
        debounce: float = 0.25,
        rows: int = 10,
    ):
        caller = "WinbackExplorer"
        self.events = canonical_events(events, schema, caller)
        self.customers = canonical_customers(customers, customer_schema, caller)
        self.campaigns = (
            None
            if campaigns is None
            else canonical(
                campaigns, schema=campaign_schema, caller=caller, default=CampaignSchema
            ).collect()
        )
        self.as_of = as_of
        self.export_path = widgets.Text(value=export_path, description="file", style=_STYLE)
        self.pseudonymise = widgets.Checkbox(value=False, description="pseudonymise ids")
        self.salt = widgets.Password(description="salt", style=_STYLE)
        self.export_button = widgets.Button(description="Export", icon="download")
        self.export_status = widgets.HTML()
        self.export_button.on_click(lambda _b: self._export_clicked())
        super().__init__(debounce=debounce, rows=rows)

    def _make_controls(self):
        return {
            "k": widgets.FloatSlider(
                value=1.5, min=1.0, max=3.0, step=0.25, description="k", style=_STYLE
            ),
            "inactivity": dropdown("inactivity", ("90d", "180d", "365d"), "180d"),
            "max_inactivity": dropdown("max_inactivity", ("365d", "730d", None), "730d"),
            "high_risk": dropdown("high_risk", (0.5, 0.6, 0.7, 0.8, 0.9), 0.7),
            "high_value_quantile": dropdown("high_value_quantile", (0.5, 0.8, 0.9), 0.8),
            "horizon": dropdown("horizon", ("30d", "90d", "180d", "365d"), "90d"),
            "model": dropdown("model", ("bgnbd", None), "bgnbd"),
            "as_of": as_of_picker(self.events),
        }

    def arguments(self) -> dict:
        """Keyword arguments of ``wb.winback_targets(events, **arguments)``."""
        args = {name: w.value for name, w in self.controls.items()}
        for name in ("customers", "campaigns"):
            if getattr(self, name) is not None:
                args[name] = getattr(self, name)
        return self._with_as_of(args)

    def compute(self, arguments: dict) -> pl.DataFrame:
        return winback_targets(self.events, **arguments)

    def draw(self, result: pl.DataFrame):
        return {"targets": winback_figure(result)}

    def _extra_widgets(self):
        return [
            widgets.HBox([self.export_path, self.pseudonymise, self.salt, self.export_button]),
            self.export_status,
        ]

    def export(self, path, *, pseudonymise: bool = False, salt=None, overwrite: bool = True):
        """Write the current target list with `wb.export_targets`; return the path."""
        return export_targets(
            self.result, path, pseudonymise=pseudonymise, salt=salt, overwrite=overwrite
        )

    def _export_clicked(self) -> None:
        try:
            path = self.export(
                self.export_path.value,
                pseudonymise=self.pseudonymise.value,
                salt=self.salt.value or None,
            )
        except WorkbenchError as exc:
            self.export_status.value = f"<div style='color:#b00020'>{html.escape(str(exc))}</div>"
            return
        self.export_status.value = html.escape(f"Wrote {self.result.height:,} targets to {path}.")
