"""What a report's kernel knows: the month, its comparison month, and the tables up to its end.

The data sources arrive through the ``WORKBENCH_REPORT_CONFIG`` environment variable (never as
notebook parameters, so that credentials are not written into the executed notebook). Without
it the bundled sample data is used, which lets the template notebook run on its own.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from ..errors import WorkbenchWarning
from ..schema import PERIOD_START, SENT_TS, SIGNUP_TS, TS, EventSchema
from .render import (
    CONFIG_ENV,
    latest_complete_month,
    month_as_of,
    month_range,
    parse_month,
    previous_month,
    redact_uri,
)


@dataclass
class ReportContext:
    """Inputs shared by every section of one monthly report."""

    month: str
    compare: str
    churn_definition: str
    by: str
    data_label: str
    events: pl.DataFrame
    customers: pl.DataFrame | None = None
    subscriptions: pl.DataFrame | None = None
    campaigns: pl.DataFrame | None = None
    feedback: pl.DataFrame | None = None
    annotations: pl.DataFrame | None = None
    load_report: object | None = None
    rows_after_month: int = 0
    previous_render: dict | None = None
    load_notes: list[str] = field(default_factory=list)
    definitions: dict[str, str] = field(default_factory=dict)
    rendered: list[str] = field(default_factory=list)
    cache: dict = field(default_factory=dict)

    @property
    def start(self) -> datetime:
        return month_range(self.month)[0]

    @property
    def end(self) -> datetime:
        """First instant after the report month."""
        return month_range(self.month)[1]

    @property
    def as_of(self) -> datetime:
        return month_as_of(self.month)

    @property
    def compare_start(self) -> datetime:
        return month_range(self.compare)[0]

    @property
    def compare_end(self) -> datetime:
        return month_range(self.compare)[1]

    @property
    def compare_as_of(self) -> datetime:
        return month_as_of(self.compare)

    def upto(self, frame: pl.DataFrame | None, as_of: datetime) -> pl.DataFrame | None:
        """Rows of a table known at `as_of` (by its own time column)."""
        if frame is None:
            return None
        for col in (TS, SIGNUP_TS, PERIOD_START, SENT_TS):
            if col in frame.columns:
                return frame.filter(pl.col(col) <= as_of)
        return frame

    def define(self, name: str, text: str, params: dict | None = None) -> None:
        """Record a metric's definition (and the parameters it was computed with) for the
        definitions appendix; the first wording of a name wins."""
        if not text or name in self.definitions:
            return
        text = " ".join(str(text).split())
        shown = _params_text(params)
        self.definitions[name] = text + (f" Parameters: {shown}." if shown else "")


def _params_text(params: dict | None) -> str:
    """Short `key=value` list of the scalar (or short list) parameters of a result."""
    if not params:
        return ""
    out = []
    for key, value in params.items():
        if isinstance(value, datetime):
            value = f"{value:%Y-%m-%d %H:%M:%S}"
        elif isinstance(value, list | tuple):
            if len(value) > 8 or not all(isinstance(v, str | int | float) for v in value):
                continue
            value = "[" + ", ".join(str(v) for v in value) + "]"
        elif isinstance(value, float):
            value = f"{value:g}"
        elif not isinstance(value, str | int | bool) and value is not None:
            if not hasattr(value, "isoformat"):
                continue
            value = value.isoformat()
        out.append(f"{key}={value}")
    return ", ".join(out)


def _config() -> dict:
    raw = os.environ.get(CONFIG_ENV)
    if not raw:
        return {"sources": {}, "schema": {}}
    return json.loads(raw)


def _within(frame: pl.DataFrame | pl.LazyFrame | None, col: str, end: datetime):
    if frame is None:
        return None
    lf = frame.lazy()
    if col in lf.collect_schema().names():  # rows without a time are kept
        lf = lf.filter(pl.col(col).is_null() | (pl.col(col) < end))
    return lf.collect()


def load_context(
    *,
    month: str = "",
    compare: str = "",
    churn_definition: str = "90d",
    by: str = "channel",
    data_label: str = "sample data",
) -> ReportContext:
    """Read the configured tables (or the sample) and keep what is known by the month's end."""
    from .. import datasets
    from ..sources import (
        check_events,
        load_campaigns,
        load_customers,
        load_events,
        load_feedback,
        load_subscriptions,
    )

    cfg = _config()
    sources = cfg.get("sources", {})
    schema = EventSchema(**cfg.get("schema", {}))
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", WorkbenchWarning)
        if sources.get("data") is None:
            sample = datasets.load_sample()
            events_lf = sample.events.lazy()
            report = check_events(sample.events, as_of=sample.as_of)
            side = {
                "customers": sample.customers,
                "subscriptions": sample.subscriptions,
                "campaigns": sample.campaigns,
                "feedback": sample.feedback,
            }
            annotations = getattr(sample, "annotations", None)
        else:
            src = sources["data"]
            where = {"table": cfg.get("table"), "query": cfg.get("query")}
            report = check_events(src, schema=schema, **where)
            events_lf = load_events(
                src, schema=schema, on_invalid="drop", on_duplicates="keep", **where
            )
            side = {name: None for name in ("customers", "subscriptions", "campaigns", "feedback")}
            annotations = None
        loaders = {
            "customers": load_customers,
            "subscriptions": load_subscriptions,
            "campaigns": load_campaigns,
            "feedback": load_feedback,
        }
        for name, loader in loaders.items():
            if sources.get(name) is not None:
                side[name] = loader(sources[name], on_invalid="drop", on_duplicates="keep")
        if sources.get("annotations") is not None:
            from ..annotations import load_annotations

            annotations = load_annotations(sources["annotations"])
    if not month:  # standalone run: the latest complete month of the data
        month = latest_complete_month(report.max_ts)
    month = parse_month(month)
    compare = parse_month(compare, param="compare") if compare else previous_month(month)
    end = month_range(month)[1]
    for w in caught:
        if issubclass(w.category, WorkbenchWarning):
            notes.append(redact_uri(str(w.message)))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    counts, events = pl.collect_all(
        [
            events_lf.select((pl.col(TS) >= end).sum().alias("after")),
            events_lf.filter(pl.col(TS) < end),
        ]
    )
    return ReportContext(
        month=month,
        compare=compare,
        churn_definition=churn_definition,
        by=by,
        data_label=data_label,
        events=events,
        customers=_within(side["customers"], SIGNUP_TS, end),
        subscriptions=_within(side["subscriptions"], PERIOD_START, end),
        campaigns=_within(side["campaigns"], SENT_TS, end),
        feedback=_within(side["feedback"], TS, end),
        annotations=annotations,
        load_report=report,
        rows_after_month=int(counts["after"][0]),
        previous_render=cfg.get("previous"),
        load_notes=notes,
    )
