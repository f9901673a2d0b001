"""Leaving-customer explorer: a view over ``wb.departed_patterns`` with a hypothesis panel.

ex = wb.explore.LeavingExplorer(events, customers=customers, subscriptions=subscriptions)
ex.arguments()                               # wb.departed_patterns(events, **ex.arguments())
ex.test_hypothesis("tenure_days", segment=("plan", "basic"))
ex.log.table                                 # every hypothesis, BH-adjusted over all
ex.export_log("hypotheses.csv")
"""

from __future__ import annotations

import html
from datetime import timedelta

import ipywidgets as widgets
import polars as pl

from ..errors import BadParameterError, WorkbenchError
from ..patterns import DepartedPatterns, compare_groups, departed_patterns
from ..plots.leaving import departed_patterns_figure
from ..schema import CUSTOMER_ID, TS, SubscriptionSchema, canonical
from .base import (
    _STYLE,
    Explorer,
    _show_none,
    canonical_customers,
    canonical_events,
    dropdown,
    string_columns,
    table_html,
)
from .hypotheses import HypothesisLog

HORIZONS = ("30d", "60d", "90d", "180d")
MAX_SEGMENT_LEVELS = 20


def month_starts(events: pl.DataFrame, *, months_of_history: int = 3) -> list[str]:
    """ISO dates of the first days of months from a few months after the first event until
    30 days before the last one: the cut-off choices."""
    lo, hi = events[TS].min(), events[TS].max()
    if lo is None:
        return []
    first = pl.date_range(lo.date(), hi.date(), "1mo", eager=True).dt.month_start()
    last = (hi - timedelta(days=30)).date()
    out = [d for d in first.to_list() if d <= last]
    return [d.isoformat() for d in out[months_of_history:]] or [d.isoformat() for d in out]


class LeavingExplorer(Explorer):
    """How departed customers differed from retained ones, and a log of tested hypotheses.

    Data controls (the `wb.departed_patterns` arguments of the same name): cutoff, horizon,
    active_within, activity, min_value_quantile, alpha. The figure is
    `departed_patterns_figure`; the table the ranked features.

    Hypothesis panel: pick a feature and optionally a segment (a text/boolean feature = one of
    its values), then "Test and record" runs ``wb.compare_groups(result.data[segment],
    group="churned", features=[feature])`` and adds the comparison to ``log``
    (`HypothesisLog`): effect, p-value and the Benjamini-Hochberg adjusted p-value over every
    hypothesis recorded so far. "Export CSV" writes the log (also ``export_log(path)``).
    """

    title = "Leaving customers: departed vs retained"
    figure_names = ("patterns",)

    def __init__(
        self,
        events,
        *,
        customers=None,
        subscriptions=None,
        annotations=None,
        cutoff=None,
        horizon: str = "90d",
        log: HypothesisLog | None = None,
        log_path: str = "hypotheses.csv",
        schema=None,
        customer_schema=None,
        debounce: float = 0.25,
        rows: int = 10,
    ):
        caller = "LeavingExplorer"
        self.events = canonical_events(events, schema, caller)
        self.customers = canonical_customers(customers, customer_schema, caller)
        self.subscriptions = (
            None
            if subscriptions is None
            else canonical(subscriptions, caller=caller, default=SubscriptionSchema).collect()
        )
        self.annotations = annotations
        self.cutoffs = month_starts(self.events)
        if not self.cutoffs:
            raise BadParameterError(f"{caller}: events is empty; nothing to explore.")
        if cutoff is None:
            last = self.events[TS].max() - timedelta(days=90)
            fits = [c for c in self.cutoffs if c <= last.date().isoformat()]
            cutoff = fits[-1] if fits else self.cutoffs[0]
        self._initial = {"cutoff": str(cutoff), "horizon": horizon}
        self.log = log if log is not None else HypothesisLog()
        self._log_path = log_path
        self._build_panel()
        super().__init__(debounce=debounce, rows=rows)

    def _make_controls(self):
        cutoffs = list(self.cutoffs)
        if self._initial["cutoff"] not in cutoffs:
            cutoffs.append(self._initial["cutoff"])
        return {
            "cutoff": dropdown("cutoff", cutoffs, self._initial["cutoff"]),
            "horizon": dropdown("horizon", HORIZONS, self._initial["horizon"]),
            "active_within": dropdown("active_within", (None, "90d", "180d", "365d")),
            "activity": dropdown("activity", ("any", "purchase")),
            "min_value_quantile": dropdown("min_value_quantile", (None, 0.5, 0.8, 0.9)),
            "alpha": dropdown("alpha", (0.01, 0.05, 0.1), 0.05),
        }

    def arguments(self) -> dict:
        """Keyword arguments of ``wb.departed_patterns(events, **arguments)``."""
        args = {name: w.value for name, w in self.controls.items()}
        for name in ("customers", "subscriptions", "annotations"):
            if getattr(self, name) is not None:
                args[name] = getattr(self, name)
        return args

    def compute(self, arguments: dict) -> DepartedPatterns:
        return departed_patterns(self.events, **arguments)

    def draw(self, result: DepartedPatterns):
        return {"patterns": departed_patterns_figure(result)}

    # -- hypothesis panel -------------------------------------------------------------------
    def _build_panel(self) -> None:
        self.hypothesis_controls = {
            "feature": widgets.Dropdown(description="feature", style=_STYLE),
            "segment": widgets.Dropdown(
                options=[("(all customers)", None)], index=0, description="segment", style=_STYLE
            ),
        }
        self.hypothesis_controls["segment"].observe(_show_none, names="index")
        self.test_button = widgets.Button(description="Test and record", button_style="primary")
        self.export_button = widgets.Button(description="Export CSV", icon="download")
        self.log_path = widgets.Text(value=self._log_path, description="file", style=_STYLE)
        self.hypothesis_status = widgets.HTML()
        self.log_html = widgets.HTML()
        self.test_button.on_click(lambda _b: self._guarded(self.test_hypothesis))
        self.export_button.on_click(lambda _b: self._guarded(self._export_clicked))
        self._render_log()

    def _extra_widgets(self):
        return [
            widgets.HTML(
                "<h4 style='margin:8px 0 2px'>Hypotheses</h4><div style='font-size:12px'>"
                "Each test is recorded; adjusted p-values are Benjamini-Hochberg over all "
                "hypotheses in the log, so trying many comparisons does not inflate false "
                "discoveries.</div>"
            ),
            widgets.HBox([*self.hypothesis_controls.values(), self.test_button]),
            self.hypothesis_status,
            self.log_html,
            widgets.HBox([self.log_path, self.export_button]),
        ]

    def _after_refresh(self) -> None:
        data = self.result.data
        features = [c for c in data.columns if c not in (CUSTOMER_ID, "churned")]
        ranked = [f for f in self.result.table["feature"].to_list() if f in features]
        ordered = ranked + [f for f in features if f not in ranked]
        w = self.hypothesis_controls["feature"]
        keep = w.value if w.value in ordered else (ordered[0] if ordered else None)
        w.options = ordered
        w.value = keep
        segments = [("(all customers)", None)]
        for col in string_columns(data, skip=(CUSTOMER_ID, "churned")):
            levels = data[col].cast(pl.String).drop_nulls().unique().sort().to_list()
            if len(levels) <= MAX_SEGMENT_LEVELS:
                segments += [(f"{col}={v}", (col, v)) for v in levels]
        s = self.hypothesis_controls["segment"]
        values = [v for _, v in segments]
        keep = s.value if s.value in values else None
        s.options = segments
        s.index = values.index(keep)

    def _guarded(self, fn) -> None:
        try:
            fn()
        except WorkbenchError as exc:
            self.hypothesis_status.value = (
                f"<div style='color:#b00020'>{html.escape(str(exc))}</div>"
            )

    def hypothesis_data(self, segment: tuple[str, str] | None = None) -> pl.DataFrame:
        """The compared customers (`result.data`), restricted to a segment (column, value)."""
        data = self.result.data
        if segment is None:
            return data
        col, value = segment
        if col not in data.columns:
            raise BadParameterError(
                f"LeavingExplorer.test_hypothesis: segment column {col!r} is not a feature. "
                f"Available: {string_columns(data, skip=(CUSTOMER_ID, 'churned'))}."
            )
        return data.filter(pl.col(col).cast(pl.String) == str(value))

    def test_hypothesis(self, feature: str | None = None, segment=None) -> pl.DataFrame:
        """Compare churned and retained customers on one feature (in a segment) and record it.

        Defaults come from the panel's controls. Returns the `wb.compare_groups` row; the log
        (``.log.table``) holds it with the p-value adjusted over every recorded hypothesis.
        """
        if self.result is None:
            raise BadParameterError("LeavingExplorer.test_hypothesis: nothing computed yet.")
        if feature is None:
            feature = self.hypothesis_controls["feature"].value
            segment = self.hypothesis_controls["segment"].value
        data = self.hypothesis_data(segment)
        if feature not in data.columns or feature in (CUSTOMER_ID, "churned"):
            raise BadParameterError(
                f"LeavingExplorer.test_hypothesis: feature={feature!r} is not a feature. "
                f"Fix: pick one of {[c for c in data.columns if c not in (CUSTOMER_ID, 'churned')]}."
            )
        row = compare_groups(data, group="churned", features=[feature], alpha=self.log.alpha)
        where = "all customers" if segment is None else f"{segment[0]}={segment[1]}"
        if row.height == 0:
            raise BadParameterError(
                f"LeavingExplorer.test_hypothesis: {feature!r} does not vary among {where}, "
                f"so there is nothing to test (not recorded)."
            )
        args = self.arguments()
        self.log.record(
            row,
            segment=where,
            cutoff=args["cutoff"],
            horizon=args["horizon"],
            active_within=args["active_within"],
            activity=args["activity"],
            min_value_quantile=args["min_value_quantile"],
        )
        r = row.row(0, named=True)
        last = self.log.table.row(-1, named=True)
        self.hypothesis_status.value = html.escape(
            f"Recorded #{last['hypothesis']}: {feature} among {where}: effect "
            f"{_fmt(r['effect_size'])} ({r['test']}), p = {_fmt(r['p_value'])}, adjusted over "
            f"{len(self.log)} hypotheses: {_fmt(last['p_adjusted'])}."
        )
        self._render_log()
        return row

    def export_log(self, path) -> str:
        """Write the hypothesis log to CSV (see `HypothesisLog.to_csv`); return the path."""
        return str(self.log.to_csv(path))

    def _export_clicked(self) -> None:
        path = self.export_log(self.log_path.value)
        self.hypothesis_status.value = html.escape(f"Wrote {len(self.log)} hypotheses to {path}.")

    def _render_log(self) -> None:
        t = self.log.table.select(
            "hypothesis",
            "feature",
            "segment",
            "cutoff",
            "horizon",
            "test",
            "effect_size",
            "p_value",
            "p_adjusted",
            "significant",
        )
        self.log_html.value = (
            table_html(t, 50)
            if len(self.log)
            else ("<div style='font-size:12px;color:#555'>No hypotheses recorded yet.</div>")
        )


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.3g}"
