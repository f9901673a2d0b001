"""Figure structure for the cohort plots: trace types and counts, axis titles, hover text."""

from datetime import UTC, date, datetime

import numpy as np
import plotly.graph_objects as go
import polars as pl
import pytest

import workbench as wb
from workbench.plots.cohorts import INCOMPLETE_NOTE, REFERENCE_NAME


def d(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


EV = pl.DataFrame(
    {
        "customer_id": ["A", "A", "A", "B", "B", "C", "D", "D"],
        "ts": [
            d(t)
            for t in (
                "2024-01-05",
                "2024-02-10",
                "2024-04-01",
                "2024-01-20",
                "2024-03-03",
                "2024-02-02",
                "2024-02-05",
                "2024-03-30",
            )
        ],
        "amount": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
    }
)
CUSTOMERS = pl.DataFrame({"customer_id": ["A", "B", "C", "D"], "channel": ["x", "x", "y", "y"]})


def test_heatmap_marks_incomplete_cells():
    m = wb.retention_matrix(EV, as_of="2024-04-15")
    fig = wb.plot_retention_heatmap(m)
    assert isinstance(fig, go.Figure)
    assert [t.type for t in fig.data] == ["heatmap", "heatmap"]
    complete, incomplete = fig.data
    assert complete.opacity == 1.0 and incomplete.opacity < 1.0
    # the incomplete trace holds exactly the incomplete cells, labelled with '*'
    n_incomplete = int(np.isfinite(np.asarray(incomplete.z, dtype=float)).sum())
    assert n_incomplete == (~m["complete"]).sum()
    assert all(t.endswith("*") for row in incomplete.text for t in row if t)
    assert INCOMPLETE_NOTE in str(incomplete.customdata)
    assert "%{customdata[0]} of %{customdata[1]}" in complete.hovertemplate
    assert "CI" in complete.hovertemplate
    assert fig.layout.xaxis.title.text == "periods since cohort start"
    assert fig.layout.yaxis.title.text == "cohort"


def test_heatmap_one_panel_per_group_and_brackets():
    m = wb.retention_matrix(EV, as_of="2024-04-15", by="channel", customers=CUSTOMERS)
    fig = wb.plot_retention_heatmap(m)
    assert len(fig.data) == 4
    assert [a.text for a in fig.layout.annotations] == ["x", "y"]
    one = wb.plot_retention_heatmap(m, group="y")
    assert len(one.data) == 2
    b = wb.retention_matrix(EV, as_of="2024-04-15", brackets=[[1], [2, 3]])
    fig = wb.plot_retention_heatmap(b)
    assert list(fig.data[0].x) == ["1", "2-3"]


def test_retention_curves_with_bands_and_reference():
    m = wb.retention_matrix(EV, as_of="2024-04-15", by="channel", customers=CUSTOMERS)
    curve = wb.retention_curve(m)
    fig = wb.plot_retention_curves(curve)
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    assert [t.name for t in lines] == ["x", "y"]
    assert sum(t.fill == "tonexty" for t in fig.data) == 2  # one band per group
    assert fig.layout.yaxis.tickformat == ".0%"
    ref = wb.plot_retention_curves(curve, reference=True, unit="day")
    marks = [t for t in ref.data if t.name == REFERENCE_NAME]
    assert len(marks) == 1 and sorted(marks[0].x) == [7, 30, 90]
    assert "context" in marks[0].hovertemplate
    monthly = wb.plot_retention_curves(curve, reference=True, unit="month")
    assert sorted(next(t for t in monthly.data if t.name == REFERENCE_NAME).x) == [1, 3]
    unknown = wb.plot_retention_curves(curve, reference=True)
    assert len(unknown.layout.shapes) == 3


def test_lifecycle_bars_dormant_below_zero():
    lc = wb.lifecycle(EV, as_of="2024-04-15")
    fig = lc.plot()
    assert [t.name for t in fig.data] == ["new", "returning", "resurrected", "dormant"]
    assert fig.layout.barmode == "relative"
    assert all(v <= 0 for v in fig.data[3].y)
    assert list(fig.data[0].marker.opacity) == [1.0, 1.0, 1.0, 0.45]
    grouped = wb.lifecycle(EV, by="channel", customers=CUSTOMERS, as_of="2024-04-15")
    summed = wb.plot_lifecycle(grouped.table)
    assert list(summed.data[0].y) == list(fig.data[0].y)


def test_mrr_waterfall():
    subs = pl.DataFrame(
        {
            "customer_id": ["A", "A", "B"],
            "period_start": [d("2024-01-15"), d("2024-02-15"), d("2024-01-20")],
            "period_end": [d("2024-02-15"), d("2024-03-15"), d("2024-02-20")],
            "amount": [10.0, 15.0, 20.0],
        }
    )
    bridge = wb.mrr_bridge(subs, as_of=date(2024, 2, 29))
    fig = bridge.plot()
    w = fig.data[0]
    assert w.type == "waterfall"
    assert list(w.x) == [
        "start MRR",
        "new",
        "expansion",
        "reactivated",
        "contraction",
        "churned",
        "end MRR",
    ]
    assert list(w.y) == [30.0, 0.0, 5.0, 0.0, 0.0, -20.0, 15.0]
    assert list(w.measure)[0] == "absolute" and list(w.measure)[-1] == "total"
    whole = bridge.plot(month="all")
    assert list(whole.data[0].y) == [0.0, 30.0, 5.0, 0.0, 0.0, -20.0, 15.0]
    assert fig.layout.yaxis.title.text == "monthly recurring revenue"


def test_rate_and_value_curves():
    rates = wb.customer_retention_rate(EV, inactivity="30d", as_of="2024-04-15")
    fig = rates.plot()
    assert fig.data[-1].name == "all" and fig.layout.yaxis.title.text.startswith("CRR")
    v = wb.value_retention(EV, as_of="2024-04-15", by="channel", customers=CUSTOMERS)
    fig = wb.plot_value_curves(wb.ltv_curve(v), unit="month")
    assert [t.name for t in fig.data] == ["x", "y"]
    assert fig.layout.xaxis.title.text == "months since start"
    assert "customers" in fig.data[0].hovertemplate


def test_results_render_html():
    lc = wb.lifecycle(EV, as_of="2024-04-15")
    html = lc._repr_html_()
    assert "Lifecycle" in html and "period" in html
    with pytest.raises(AttributeError):
        lc.table = None  # frozen


def test_heatmap_outlines_the_calendar_periods_of_business_events():
    """An event falls on the diagonal of its calendar period: cell (c, k) with c + k = its
    month; a range covers every month it overlaps; each by-group panel gets its own cells."""
    ev = pl.DataFrame(
        {
            "customer_id": [1, 1, 2, 2, 3, 4],
            "ts": [datetime(2024, m, 5, tzinfo=UTC) for m in (1, 4, 2, 4, 3, 4)],
            "channel": ["a", "a", "b", "b", "a", "b"],
        }
    )
    m = wb.retention_matrix(ev, as_of="2024-04-30")
    ann = pl.DataFrame(
        {
            "start": [date(2024, 3, 10), date(2024, 2, 20)],
            "end": [date(2024, 3, 10), date(2024, 3, 2)],
            "label": ["price change", "outage"],
        }
    )
    fig = wb.plot_retention_heatmap(m, annotations=ann)
    marks = {t.name: sorted(zip(t.y, t.x, strict=True)) for t in fig.data if t.type == "scatter"}
    assert marks["price change"] == [
        ("2024-01-01", "2"),
        ("2024-02-01", "1"),
        ("2024-03-01", "0"),
    ]
    assert marks["outage"] == [
        ("2024-01-01", "1"),
        ("2024-01-01", "2"),
        ("2024-02-01", "0"),
        ("2024-02-01", "1"),
        ("2024-03-01", "0"),
    ]
    split = wb.plot_retention_heatmap(
        wb.retention_matrix(ev, as_of="2024-04-30", by="channel"), annotations=ann.head(1)
    )
    scat = [t for t in split.data if t.type == "scatter"]
    assert [(t.xaxis, t.showlegend) for t in scat] == [("x", True), ("x2", False)]
    assert sorted(scat[1].y) == ["2024-02-01"]  # panel b: its only cohort before March
    weekly = wb.plot_retention_heatmap(
        wb.retention_matrix(ev, period="week", as_of="2024-04-30"),
        annotations=ann.head(1),
        period="week",
    )
    week = [t for t in weekly.data if t.type == "scatter"][0]
    assert set(zip(week.y, week.x, strict=True)) == {
        ("2024-01-01", "9"),  # the week of Mon Mar 4 is 9 weeks after Mon Jan 1
        ("2024-02-05", "4"),
        ("2024-03-04", "0"),
    }
    with pytest.raises(wb.BadParameterError, match="period"):
        wb.plot_retention_heatmap(m, annotations=ann, period="year")
