"""Annotations: schema, loader, validation errors, and drawing them on figures."""

from __future__ import annotations

import warnings
from datetime import date, datetime

import pandas as pd
import plotly.graph_objects as go
import polars as pl
import pytest
from plotly.subplots import make_subplots

import workbench as wb
from workbench.annotations import annotation_table
from workbench.errors import (
    BadDataError,
    BadParameterError,
    MissingColumnError,
    WorkbenchError,
    WorkbenchWarning,
)
from workbench.plots.annotations import add_annotations

RAW = {
    "start": ["2025-06-10", "2025-03-01", "2025-09-01"],
    "end": ["2025-06-12", None, "2025-12-31"],
    "label": ["Service outage", "Price change", "Competitor launch in DE"],
    "kind": ["incident", "pricing", "competitor"],
    "segment_column": [None, "plan", "country"],
    "segment_value": [None, "basic", "DE"],
}
CUSTOMERS = pl.DataFrame(
    {
        "customer_id": ["a", "b", "c"],
        "country": ["DE", "US", "UK"],
        "plan": ["basic", "pro", "basic"],
    }
)
EXPECTED = pl.DataFrame(
    {
        "start": [date(2025, 3, 1), date(2025, 6, 10), date(2025, 9, 1)],
        "end": [date(2025, 3, 1), date(2025, 6, 12), date(2025, 12, 31)],
        "label": ["Price change", "Service outage", "Competitor launch in DE"],
        "kind": ["pricing", "incident", "competitor"],
        "segment_column": ["plan", None, "country"],
        "segment_value": ["basic", None, "DE"],
    }
)


@pytest.mark.parametrize("form", ["polars", "lazy", "pandas", "csv", "parquet"])
def test_load_annotations_every_source_gives_the_canonical_table(form, tmp_path):
    frame = pl.DataFrame(RAW)
    source = {
        "polars": frame,
        "lazy": frame.lazy(),
        "pandas": frame.to_pandas(),
    }.get(form)
    if form == "csv":
        source = tmp_path / "ann.csv"
        frame.write_csv(source)
    elif form == "parquet":
        source = tmp_path / "ann.parquet"
        frame.write_parquet(source)
    out = wb.load_annotations(source, customers=CUSTOMERS)
    assert out.equals(EXPECTED)
    assert out.schema["start"] == pl.Date and out.schema["end"] == pl.Date


def test_schema_maps_user_columns_and_end_defaults_to_start():
    frame = pl.DataFrame({"date": [datetime(2025, 3, 1, 23, 30)], "event": ["Launch"]})
    out = wb.load_annotations(frame, schema=wb.AnnotationSchema(start="date", label="event"))
    assert out.row(0) == (date(2025, 3, 1), date(2025, 3, 1), "Launch", None, None, None)


def test_time_zone_of_naive_timestamps_is_respected():
    frame = pd.DataFrame({"start": ["2025-03-01 00:30"], "label": ["x"]})
    out = wb.load_annotations(frame, tz="Europe/Berlin")  # 23:30 UTC the day before
    assert out["start"][0] == date(2025, 2, 28)


def test_future_events_are_accepted_unless_as_of_is_given():
    frame = pl.DataFrame({"start": ["2099-01-01"], "label": ["planned price change"]})
    assert wb.load_annotations(frame).height == 1
    with pytest.raises(BadDataError, match="after the analysis date"):
        wb.load_annotations(frame, as_of="2025-12-31")


def test_sample_annotations_validate_against_the_sample_customers():
    s = wb.datasets.load_sample()
    out = wb.load_annotations(s.annotations, customers=s.customers)
    truth = {a["label"] for a in s.truth["annotations"].values()}
    assert set(out["label"]) == truth
    assert out.height == 3


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"label": None}, MissingColumnError, "no column 'label'"),
        ({"label": ["a", None, "c"]}, BadDataError, "'label' has 1 of 3 rows with null"),
        ({"label": ["a", "  ", "c"]}, BadDataError, "'label' is blank on 1 of 3"),
        ({"end": ["2025-06-01", None, None]}, BadDataError, "'Service outage' ends .*before"),
        ({"start": ["2025-13-10", "2025-03-01", "x"]}, BadDataError, "cannot be parsed"),
        ({"start": None}, MissingColumnError, "no column 'start'"),
        ({"segment_value": [None, None, "DE"]}, BadDataError, "segment_column='plan' but"),
    ],
)
def test_bad_annotations_raise_with_a_fix(change, error, match):
    raw = dict(RAW)
    for key, value in change.items():
        if value is None:
            raw.pop(key)
        else:
            raw[key] = value
    with pytest.raises(error, match=match) as info:
        wb.load_annotations(pl.DataFrame(raw))
    assert "Fix:" in str(info.value)
    assert isinstance(info.value, WorkbenchError)


def test_unknown_segment_column_or_value_against_customers():
    bad_col = pl.DataFrame(RAW).with_columns(pl.col("segment_column").replace("country", "contry"))
    with pytest.raises(MissingColumnError, match="'contry'.*Did you mean 'country'"):
        wb.load_annotations(bad_col, customers=CUSTOMERS)
    bad_value = pl.DataFrame(RAW).with_columns(pl.col("segment_value").replace("DE", "DEU"))
    with pytest.raises(BadDataError, match="country = 'DEU'.*Did you mean 'DE'"):
        wb.load_annotations(bad_value, customers=CUSTOMERS)
    # Without customers the segment cannot be checked and loads.
    assert wb.load_annotations(bad_col).height == 3


def test_on_invalid_drop_counts_and_warns():
    raw = dict(RAW, start=["2025-06-10", "not a date", "2025-09-01"])
    with pytest.warns(WorkbenchWarning, match="dropped 1 invalid rows of 3"):
        out = wb.load_annotations(pl.DataFrame(raw), on_invalid="drop")
    assert out["label"].to_list() == ["Service outage", "Competitor launch in DE"]


def test_annotation_table_accepts_dicts_and_dates():
    one = annotation_table({"start": date(2025, 1, 15), "label": "placebo"}, caller="t")
    assert one.select("start", "end", "label").row(0) == (
        date(2025, 1, 15),
        date(2025, 1, 15),
        "placebo",
    )
    bare = annotation_table("2025-01-15", caller="t")
    assert bare["label"][0] == "2025-01-15"
    many = annotation_table(
        [{"start": "2025-01-01", "label": "a"}, {"start": "2025-02-01", "label": "b"}], caller="t"
    )
    assert many["label"].to_list() == ["a", "b"]
    with pytest.raises(BadParameterError, match="neither an annotations table nor an ISO date"):
        annotation_table("last tuesday", caller="t")
    with pytest.raises(BadDataError, match="empty"):
        annotation_table([], caller="t")


# -- figures ----------------------------------------------------------------------------------


def _figure():
    return go.Figure(go.Scatter(x=[date(2025, 1, 1), date(2025, 10, 1)], y=[1, 2]))


def test_single_days_are_lines_and_ranges_are_shaded():
    fig = add_annotations(_figure(), pl.DataFrame(RAW))
    kinds = [s.type for s in fig.layout.shapes]
    assert kinds == ["line", "rect", "rect"]
    rect = fig.layout.shapes[1]
    assert (rect.x0, rect.x1) == (datetime(2025, 6, 10), datetime(2025, 6, 13))  # end inclusive
    texts = [a.text for a in fig.layout.annotations]
    assert texts == ["Price change", "Service outage", "Competitor launch in DE"]
    hover = fig.layout.annotations[2].hovertext
    assert "competitor, 2025-09-01 to 2025-12-31" in hover and "country = DE" in hover


def test_events_outside_the_figure_dates_are_left_out():
    fig = go.Figure(go.Scatter(x=["2025-01", "2025-04"], y=[1, 2]))  # month labels
    add_annotations(fig, pl.DataFrame(RAW))
    assert [a.text for a in fig.layout.annotations] == ["Price change"]


def test_subplots_span_all_rows_by_default_or_one_when_asked():
    def grid():
        fig = make_subplots(rows=2, cols=1, shared_xaxes=True)
        for row in (1, 2):
            fig.add_scatter(x=[date(2025, 1, 1), date(2025, 12, 1)], y=[1, 2], row=row, col=1)
        return fig

    fig = add_annotations(grid(), {"start": "2025-03-01", "label": "x"})
    assert sorted(s.xref for s in fig.layout.shapes) == ["x", "x2"]
    assert [(a.xref, a.yref) for a in fig.layout.annotations] == [("x", "y domain")]
    fig = add_annotations(grid(), {"start": "2025-03-01", "label": "x"}, row=2, col=1)
    assert [s.xref for s in fig.layout.shapes] == ["x2"]
    assert [(a.xref, a.yref) for a in fig.layout.annotations] == [("x2", "y2 domain")]


def test_add_annotations_validates_its_input():
    with pytest.raises(MissingColumnError, match="no column 'label'"):
        add_annotations(_figure(), pl.DataFrame({"start": ["2025-03-01"]}))


def test_public_names_are_exported():
    for name in ("load_annotations", "AnnotationSchema", "event_impact", "EventImpact"):
        assert name in wb.__all__ and hasattr(wb, name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert wb.ANNOTATIONS_DEFINITION.startswith("Annotations:")


# -- time-based builders accept annotations ------------------------------------------------------


def test_lifecycle_and_retention_rate_figures_draw_annotations():
    from workbench.plots.cohorts import plot_lifecycle, plot_retention_rate

    months = [date(2025, m, 1) for m in (1, 2, 3, 4)]
    life = pl.DataFrame(
        {
            "period_start": months,
            "new": [5, 6, 7, 8],
            "returning": [3, 4, 5, 6],
            "resurrected": [0, 1, 1, 2],
            "dormant": [0, -2, -3, -3],
            "active": [8, 11, 13, 16],
            "quick_ratio": [None, 3.5, 2.7, 3.3],
            "complete": [True] * 4,
        }
    )
    plain = plot_lifecycle(life)
    fig = plot_lifecycle(life, annotations=pl.DataFrame(RAW))
    assert len(plain.layout.shapes) == 0
    assert [a.text for a in fig.layout.annotations] == ["Price change"]  # the others are later
    assert len(fig.data) == len(plain.data)
    crr = pl.DataFrame(
        {
            "period_start": months,
            "start_customers": [10, 12, 13, 15],
            "end_customers": [12, 13, 15, 16],
            "new": [4, 3, 4, 3],
            "retained": [8, 10, 11, 13],
            "reactivated": [0, 0, 0, 0],
            "churned": [2, 2, 2, 2],
            "crr": [0.8, 0.83, 0.85, 0.87],
            "churn_rate": [0.2, 0.17, 0.15, 0.13],
            "ci_low": [0.5, 0.55, 0.6, 0.62],
            "ci_high": [0.95, 0.95, 0.96, 0.96],
        }
    )
    fig = plot_retention_rate(
        crr, annotations={"start": "2025-02-10", "end": "2025-02-20", "label": "outage"}
    )
    assert [s.type for s in fig.layout.shapes] == ["rect"]


def test_channel_trends_draw_annotations_on_both_panels():
    from types import SimpleNamespace

    from workbench.plots.campaigns import channel_trends

    cohorts = [date(2025, m, 1) for m in (1, 2, 3, 4)]
    table = pl.DataFrame(
        {
            "channel": ["organic"] * 4,
            "cohort": cohorts,
            "customers": [10, 12, 9, 11],
            "retained": [5, 6, 4, 5],
            "retention": [0.5, 0.5, 0.44, 0.45],
            "ci_low": [0.2] * 4,
            "ci_high": [0.8] * 4,
            "mature": [True] * 4,
            "trend": [0.5] * 4,
        }
    )
    result = SimpleNamespace(
        table=table,
        summary=pl.DataFrame({"channel": ["organic"], "flagged": [False]}),
        params={"by": "channel", "period": "month", "horizon": 1},
    )
    fig = channel_trends(result, annotations={"start": "2025-03-01", "label": "price"})
    assert sorted(s.xref for s in fig.layout.shapes) == ["x", "x2"]
    assert [a.text for a in fig.layout.annotations] == ["price"]
