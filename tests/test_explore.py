"""Explorers: every view equals a direct call of its headless function with `.arguments()`."""

import subprocess
import sys
import threading
import time
import warnings
from datetime import date

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from scipy import stats as sps

import workbench as wb
from workbench.explore.base import Debouncer, Explorer, dropdown
from workbench.plots.campaigns import lift_forest
from workbench.plots.leaving import departed_patterns_figure, winback_figure
from workbench.plots.survival import survival_curves


@pytest.fixture(scope="module")
def sample():
    return wb.datasets.load_sample()


def direct(fn, *args, **kwargs):
    """A direct call of a headless function, with the statistical notes it emitted."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", wb.WorkbenchWarning)
        out = fn(*args, **kwargs)
    return out, list(dict.fromkeys(str(w.message) for w in caught))


def figure_dict(fig) -> dict:
    """Figure as a plain dict without trace uids (FigureWidget assigns its own)."""
    d = go.Figure(fig).to_dict()
    for trace in d["data"]:
        trace.pop("uid", None)
    return d


def same(a, b) -> bool:
    """Equal structures; floats equal up to rounding (group sums may add in any order)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple | np.ndarray) and isinstance(b, list | tuple | np.ndarray):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-12, abs=1e-12, nan_ok=True)
    return a == b


def assert_same_figure(widget: go.FigureWidget, built: go.Figure) -> None:
    a, b = figure_dict(widget), figure_dict(built)
    assert len(a["data"]) == len(b["data"])
    assert [t["type"] for t in a["data"]] == [t["type"] for t in b["data"]]
    assert same(a, b)


def assert_standard_api(ex, names):
    assert list(ex.controls) == names
    assert all(isinstance(w, widgets.ValueWidget) for w in ex.controls.values())
    assert isinstance(ex.figure, go.FigureWidget)
    assert isinstance(ex.widget, widgets.VBox)
    assert ex.figure in ex.widget.children
    assert callable(ex._ipython_display_)
    assert ex.error is None
    assert ex.arguments() == ex.arguments()  # pure: same answer, no side effect


# -- debounce --------------------------------------------------------------------------------


def test_debouncer_runs_once_after_quiet_time_and_flushes():
    calls = []
    d = Debouncer(lambda: calls.append(1), wait=30)
    d()
    d()
    d()
    assert calls == [] and d.pending
    assert d.flush() is True
    assert calls == [1] and not d.pending
    assert d.flush() is False  # nothing pending: no second call
    assert calls == [1]


def test_debouncer_timer_fires_by_itself():
    fired = threading.Event()
    d = Debouncer(fired.set, wait=0.05)
    d()
    assert fired.wait(5)
    assert not d.pending


def test_debouncer_zero_wait_is_synchronous():
    calls = []
    d = Debouncer(lambda: calls.append(1), wait=0)
    d()
    d()
    assert calls == [1, 1]


class _Echo(Explorer):
    """A minimal explorer over a fake headless function, to test the machinery alone."""

    title = "echo"

    def __init__(self, **kw):
        self.calls = []
        super().__init__(**kw)

    def _make_controls(self):
        return {"n": dropdown("n", (None, 1, 2, 3))}

    def arguments(self):
        return {"n": self.controls["n"].value}

    def compute(self, arguments):
        self.calls.append(arguments)
        n = arguments["n"]
        if n == 2:
            warnings.warn("only 2 customers", wb.WorkbenchWarning, stacklevel=1)
        if n == 3:
            raise RuntimeError("boom")
        return pl.DataFrame({"n": [n]})

    def draw(self, result):
        return {"main": go.Figure(go.Bar(y=[result["n"][0] or 0]))}


def test_explorer_machinery_notes_errors_and_close():
    ex = _Echo(debounce=0)
    assert ex.controls["n"].index == 0 and ex.arguments() == {"n": None}  # "(none)" shown
    ex.controls["n"].value = 2
    assert ex.notes == ["only 2 customers"]
    assert "Note: only 2 customers" in ex.status.value
    assert ex.figure.data[0].y == (2,)
    ex.controls["n"].value = 1
    assert ex.notes == [] and ex.figure.data[0].y == (1,)
    ex.controls["n"].value = None
    assert ex.controls["n"].index == 0  # set back to None: still shows "(none)"
    assert len(ex.calls) == 3  # None came from the cache
    with pytest.raises(RuntimeError, match="boom"):
        ex.controls["n"].value = 3
    assert "Failed:</b> RuntimeError: boom" in ex.status.value
    ex.close()
    assert ex.widget.comm is None and ex.figure.comm is None


def test_import_workbench_does_not_load_widgets():
    code = (
        "import sys, workbench as wb; assert 'ipywidgets' not in sys.modules; "
        "assert wb.explore.CohortExplorer.__name__ == 'CohortExplorer'; "
        "assert 'ipywidgets' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- cohorts ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cohort_ex(sample):
    return wb.explore.CohortExplorer(sample.events, customers=sample.customers, debounce=30)


def test_cohort_explorer_matches_retention_matrix(sample, cohort_ex):
    ex = cohort_ex
    assert_standard_api(
        ex,
        [
            "period",
            "window",
            "cohort_period",
            "mode",
            "reference",
            "by",
            "min_events",
            "max_period",
            "as_of",
        ],
    )
    assert ex.controls["by"].options[1:] == (
        ("channel", "channel"),
        ("country", "country"),
        ("plan", "plan"),
    )
    ex.controls["period"].value = "quarter"
    ex.controls["by"].value = "channel"
    ex.controls["mode"].value = "on_or_after"
    assert ex.arguments()["period"] == "quarter"
    assert ex.result["period"].max() == 23  # still the monthly matrix: change is debounced
    assert ex.flush() is True
    args = ex.arguments()
    assert set(args) == (set(ex.controls) - {"as_of"}) | {"customers"}  # empty date: default
    expected, notes = direct(wb.retention_matrix, sample.events, **args)
    assert_frame_equal(ex.result, expected)
    assert ex.result["period"].max() == 7 and "channel" in ex.result.columns
    assert ex.notes == notes
    assert_same_figure(ex.figures["heatmap"], wb.plot_retention_heatmap(expected))
    curve = wb.retention_curve(expected)
    assert_frame_equal(ex.curve, curve)
    assert_same_figure(ex.figures["curve"], wb.plot_retention_curves(curve, unit="quarter"))
    assert f"{expected.height:,} rows" in ex.table_html.value
    # 4 channels: 4 heatmap panels x (complete, incomplete) traces
    assert len(ex.figure.data) == 8
    # the analysis date: an empty picker means the latest event; a date cuts the data there
    assert "as_of" not in args and ex.controls["as_of"].max == sample.events["ts"].max().date()
    ex.controls["as_of"].value = date(2025, 3, 31)
    ex.flush()
    args = ex.arguments()
    assert args["as_of"] == date(2025, 3, 31)
    expected, _ = direct(wb.retention_matrix, sample.events, **args)
    assert_frame_equal(ex.result, expected)
    assert ex.result["cohort"].max() == date(2025, 1, 1)  # quarterly cohorts up to Q1 2025
    assert ex.result.filter(pl.col("cohort") == date(2025, 1, 1))["complete"].all()
    ex.controls["as_of"].value = None
    ex.flush()
    assert "as_of" not in ex.arguments()


def test_cohort_explorer_caches_and_reports_errors(sample, cohort_ex, monkeypatch):
    ex = cohort_ex
    ex.controls["period"].value = "month"
    ex.controls["by"].value = None
    ex.controls["mode"].value = "on"
    ex.flush()
    first = ex.result
    calls = []
    original = ex.compute
    monkeypatch.setattr(ex, "compute", lambda a: calls.append(a) or original(a))
    ex.controls["period"].value = "quarter"
    ex.flush()
    ex.controls["period"].value = "month"
    ex.flush()
    assert len(calls) == 1  # month came from the cache
    assert ex.timings["cached"] is True and ex.timings["compute"] == 0.0
    assert ex.result is first
    # A combination the function rejects leaves the view as it was and says why.
    ex.controls["period"].value = "week"
    ex.controls["cohort_period"].value = "month"
    ex.flush()
    assert isinstance(ex.error, wb.BadParameterError)
    assert "Not updated" in ex.status.value and "cohort_period" in ex.status.value
    assert ex.result is first
    ex.controls["cohort_period"].value = None
    ex.controls["period"].value = "month"
    ex.flush()
    assert ex.error is None and ex.result is first


# -- survival ------------------------------------------------------------------------------


def test_survival_explorer_matches_churn_table_and_curves(sample):
    ex = wb.explore.SurvivalExplorer(
        sample.events,
        customers=sample.customers,
        subscriptions=sample.subscriptions,
        as_of=sample.as_of,
        debounce=0,
    )
    assert_standard_api(
        ex,
        [
            "definition",
            "inactivity",
            "own_cycle",
            "p_alive_below",
            "cancel_event",
            "grace",
            "with_cancels",
            "by",
            "rmst_horizon",
            "level",
            "as_of",
        ],
    )
    assert set(ex.arguments()) == {"inactivity", "customers", "as_of"}
    for change, mode_args in [
        ({"by": "plan", "inactivity": "60d"}, {"inactivity": "60d"}),
        (
            {"definition": "subscriptions", "grace": "15d"},
            {"subscriptions": ex.subscriptions, "grace": "15d"},
        ),
        ({"definition": "own_cycle", "own_cycle": 3.0, "level": 0.9}, {"own_cycle": 3.0}),
        ({"definition": "p_alive_below", "p_alive_below": 0.4}, {"p_alive_below": 0.4}),
        (
            {"definition": "subscriptions", "with_cancels": True},
            {"subscriptions": ex.subscriptions, "grace": "15d", "cancel_event": "cancel"},
        ),
        (
            {
                "definition": "cancel_event",
                "with_cancels": False,
                "by": "channel",
                "rmst_horizon": 180,
            },
            {"cancel_event": "cancel"},
        ),
    ]:
        for name, value in change.items():
            ex.controls[name].value = value
        args = ex.arguments()
        assert args == {**mode_args, "customers": ex.customers, "as_of": sample.as_of}
        table, _ = direct(wb.churn_table, sample.events, **args)
        assert_frame_equal(ex.churn, table, check_row_order=False)  # row order is not fixed
        curves, notes = direct(wb.churn_curves, table, **ex.curve_arguments())
        assert_frame_equal(ex.result.table, curves.table)
        assert_frame_equal(ex.table, curves.summary)
        assert ex.notes == notes
        assert_same_figure(ex.figure, survival_curves(curves))
    assert ex.curve_arguments() == {"by": "channel", "rmst_horizon": 180, "level": 0.9}
    assert ex.controls["inactivity"].disabled and not ex.controls["cancel_event"].disabled
    assert ex.controls["grace"].disabled and ex.controls["with_cancels"].disabled
    assert ex.result.summary["channel"].to_list() == [
        "organic",
        "paid_search",
        "referral",
        "social",
    ]
    ex.controls["as_of"].value = date(2025, 6, 30)  # the picker overrides the explorer's as_of
    args = ex.arguments()
    assert args["as_of"] == date(2025, 6, 30)
    table, _ = direct(wb.churn_table, sample.events, **args)
    assert_frame_equal(ex.churn, table, check_row_order=False)
    assert ex.churn["start"].max() <= date(2025, 6, 30)


# -- leaving customers + hypothesis log -----------------------------------------------------


def test_hypothesis_log_adjusts_over_all_records(tmp_path):
    log = wb.explore.HypothesisLog(alpha=0.05)

    def one(p):
        return pl.DataFrame({"feature": [f"f{p}"], "p_value": [p], "effect_size": [0.1]})

    log.record(one(0.01), segment="all customers")
    assert log.table["p_adjusted"].to_list() == [0.01]
    log.record(one(0.04))
    assert log.table["p_adjusted"].to_list() == pytest.approx([0.02, 0.04])
    log.record(one(0.03))
    # BH over three: 0.01*3/1, then min(0.03*3/2, 0.04*3/3) for the other two
    assert log.table["p_adjusted"].to_list() == pytest.approx([0.03, 0.04, 0.04])
    assert log.table["significant"].to_list() == [True, True, True]
    assert log.table["hypotheses"].to_list() == [1, 2, 3]
    assert log.table["segment"].to_list() == ["all customers", None, None]
    out = log.to_csv(tmp_path / "log.csv")
    back = pl.read_csv(out)
    assert back["p_adjusted"].to_list() == pytest.approx([0.03, 0.04, 0.04])
    with pytest.raises(wb.DataSourceError, match="overwrite=True"):
        log.to_csv(out, overwrite=False)
    with pytest.raises(wb.BadParameterError, match="unknown context"):
        log.record(one(0.5), colour="red")
    with pytest.raises(wb.BadParameterError, match="alpha=1.5"):
        wb.explore.HypothesisLog(alpha=1.5)


@pytest.fixture(scope="module")
def leaving_ex(sample):
    return wb.explore.LeavingExplorer(
        sample.events,
        customers=sample.customers,
        subscriptions=sample.subscriptions,
        annotations=sample.annotations,
        debounce=0,
    )


def test_leaving_explorer_matches_departed_patterns(sample, leaving_ex):
    ex = leaving_ex
    assert_standard_api(
        ex, ["cutoff", "horizon", "active_within", "activity", "min_value_quantile", "alpha"]
    )
    assert ex.arguments()["cutoff"] == "2025-10-01"  # latest cut-off with 90 days observed
    ex.controls["cutoff"].value = "2025-06-01"
    ex.controls["horizon"].value = "60d"
    ex.controls["active_within"].value = "180d"
    args = ex.arguments()
    assert set(args) == set(ex.controls) | {"customers", "subscriptions", "annotations"}
    expected, notes = direct(wb.departed_patterns, sample.events, **args)
    assert_frame_equal(ex.result.table, expected.table)
    assert_frame_equal(ex.result.data, expected.data)
    assert ex.notes == notes
    assert_same_figure(ex.figure, departed_patterns_figure(expected))
    # Too long a horizon for the cut-off: the function's error is shown, the view kept.
    ex.controls["cutoff"].value = "2025-12-01"
    assert "churn cannot be observed yet" in ex.status.value
    assert_frame_equal(ex.result.table, expected.table)
    ex.controls["cutoff"].value = "2025-06-01"
    assert ex.error is None


def test_hypothesis_panel_records_and_exports(leaving_ex, tmp_path):
    ex = leaving_ex
    ex.log.clear()
    data = ex.result.data
    row = ex.test_hypothesis("tenure_days")
    assert_frame_equal(row, wb.compare_groups(data, group="churned", features=["tenure_days"]))
    basic = data.filter(pl.col("plan") == "basic")
    row2 = ex.test_hypothesis("support_contacts", segment=("plan", "basic"))
    assert_frame_equal(
        row2, wb.compare_groups(basic, group="churned", features=["support_contacts"])
    )
    # the panel's own controls and button
    ex.hypothesis_controls["feature"].value = "country"
    ex.hypothesis_controls["segment"].value = ("channel", "social")
    ex.test_button.click()
    log = ex.log.table
    assert log["feature"].to_list() == ["tenure_days", "support_contacts", "country"]
    assert log["segment"].to_list() == ["all customers", "plan=basic", "channel=social"]
    assert log["cutoff"].to_list() == ["2025-06-01"] * 3
    raw = log["p_value"].to_numpy()
    assert raw[0] == row["p_value"][0]
    np.testing.assert_allclose(log["p_adjusted"].to_numpy(), sps.false_discovery_control(raw))
    assert "Recorded #3" in ex.hypothesis_status.value
    assert "plan=basic" in ex.log_html.value
    with pytest.raises(wb.BadParameterError, match="not a feature"):
        ex.test_hypothesis("no_such_feature")
    ex.log_path.value = str(tmp_path / "hyp.csv")
    ex.export_button.click()
    back = pl.read_csv(tmp_path / "hyp.csv")
    assert back.height == 3
    np.testing.assert_allclose(back["p_adjusted"].to_numpy(), log["p_adjusted"].to_numpy())
    assert "Wrote 3 hypotheses" in ex.hypothesis_status.value
    ex.log_path.value = str(tmp_path / "missing" / "hyp.csv")
    ex.export_button.click()
    assert "does not exist" in ex.hypothesis_status.value


# -- win-back --------------------------------------------------------------------------------


def test_winback_explorer_matches_targets_and_exports(sample, tmp_path):
    ex = wb.explore.WinbackExplorer(
        sample.events,
        customers=sample.customers,
        campaigns=sample.campaigns,
        as_of=sample.as_of,
        debounce=0,
    )
    assert_standard_api(
        ex,
        [
            "k",
            "inactivity",
            "max_inactivity",
            "high_risk",
            "high_value_quantile",
            "horizon",
            "model",
            "as_of",
        ],
    )
    before = ex.result.height
    ex.controls["k"].value = 2.5
    ex.controls["inactivity"].value = "365d"
    args = ex.arguments()
    assert args["k"] == 2.5 and args["as_of"] == sample.as_of
    expected, notes = direct(wb.winback_targets, sample.events, **args)
    assert_frame_equal(ex.result, expected)
    assert ex.result.height < before
    assert_same_figure(ex.figure, winback_figure(expected))
    ex.controls["as_of"].value = date(2025, 9, 30)  # overrides the explorer's as_of
    args = ex.arguments()
    assert args["as_of"] == date(2025, 9, 30)
    earlier, _ = direct(wb.winback_targets, sample.events, **args)
    assert_frame_equal(ex.result, earlier)
    ex.controls["as_of"].value = None
    assert ex.arguments()["as_of"] == sample.as_of
    path = ex.export(tmp_path / "targets.csv")
    assert pl.read_csv(path)["customer_id"].to_list() == expected["customer_id"].to_list()
    ex.export_path.value = str(tmp_path / "targets.parquet")
    ex.pseudonymise.value = True
    ex.export_button.click()
    assert "salt" in ex.export_status.value  # pseudonymising needs a salt: error is shown
    ex.salt.value = "s3cret"
    ex.export_button.click()
    out = pl.read_parquet(tmp_path / "targets.parquet")
    assert out.height == expected.height
    assert not set(out["customer_id"]) & set(expected["customer_id"])


# -- campaigns -------------------------------------------------------------------------------


def test_campaign_explorer_matches_campaign_effect(sample):
    ex = wb.explore.CampaignExplorer(
        sample.events, sample.campaigns, segments=sample.customers, debounce=0
    )
    assert_standard_api(ex, ["window", "outcome", "by", "level", "ci", "test", "as_of"])
    assert [v for _, v in ex.controls["by"].options] == [
        None,
        "offer",
        "channel",
        "customer_channel",
        "country",
        "plan",
    ]
    assert "customer_channel" in ex.segments.columns
    for change in [
        {"window": "14d"},
        {"by": "offer", "level": 0.99},
        {"by": "channel"},
        {"by": "plan", "ci": "wald", "test": "fisher"},
    ]:
        for name, value in change.items():
            ex.controls[name].value = value
        expected, notes = direct(
            wb.campaign_effect, sample.events, sample.campaigns, **ex.arguments()
        )
        assert_frame_equal(ex.result.table, expected.table)
        assert ex.notes == notes
        assert_same_figure(ex.figure, lift_forest(expected))
    assert ex.result.table.height == 6  # 2 campaigns x 3 plans
    assert any("smaller than 30" in n for n in ex.notes)
    assert "smaller than 30" in ex.status.value
    # analysis date before the October campaign's 30-day window has ended
    ex.controls["by"].value = None
    ex.controls["window"].value = "30d"
    everything = ex.result.table
    ex.controls["as_of"].value = date(2025, 10, 31)
    assert ex.arguments()["as_of"] == date(2025, 10, 31)
    expected, _ = direct(wb.campaign_effect, sample.events, sample.campaigns, **ex.arguments())
    assert_frame_equal(ex.result.table, expected.table)
    assert not ex.result.table.equals(everything)
    assert any("not fully elapsed" in n for n in ex.notes)  # the view says why


def test_redraw_time_is_small(sample, cohort_ex):
    """A cached setting redraws in well under a second (no computation)."""
    ex = cohort_ex
    ex.controls["period"].value = "quarter"
    ex.flush()
    ex.controls["period"].value = "month"
    start = time.perf_counter()
    ex.flush()
    assert ex.timings["cached"] is True
    assert time.perf_counter() - start < 2.0
