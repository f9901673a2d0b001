"""Monthly report: rendered HTML against direct API calls, offline-ness, escaping, secrets,
atomic failure, and (with Debian chromium) that every figure draws in a real browser."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest

import workbench as wb
from workbench.reports import ReportError
from workbench.reports.kpis import count_pvalue, rate_kpi
from workbench.reports.render import (
    latest_complete_month,
    month_as_of,
    months_between,
    redact,
    redact_notebook_json,
)

MONTH = "2025-12"
HOSTILE = "<script>alert(1)</script>"
SECRET = "S3cretPass"
CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]


class _Scripts(HTMLParser):
    """Collects <script> tags (attributes and text) and element ids of a page."""

    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.scripts: list[tuple[dict, str]] = []
        self.ids: list[str] = []
        self._in = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "script":
            self._in = (attrs, [])

    def handle_data(self, data):
        if self._in is not None:
            self._in[1].append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._in is not None:
            self.scripts.append((self._in[0], "".join(self._in[1])))
            self._in = None


def _parse(html_text: str) -> _Scripts:
    p = _Scripts()
    p.feed(html_text)
    return p


@pytest.fixture(scope="module")
def sample():
    return wb.datasets.load_sample()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """The sample data's report, rendered once (default month: the latest complete one)."""
    out = tmp_path_factory.mktemp("reports")
    path = wb.render_report(out=out)
    return {
        "out": out,
        "path": path,
        "html": path.read_text(encoding="utf-8"),
        "kpis": json.loads((out / f"{MONTH}.kpis.json").read_text()),
        "nb": (out / "_work" / f"{MONTH}.ipynb").read_text(encoding="utf-8"),
    }


def _kpi(report, key):
    return next(k for k in report["kpis"]["kpis"] if k["key"] == key)


# -- the sample report -------------------------------------------------------------------------


def test_default_month_is_latest_complete_month(report):
    assert report["path"].name == f"{MONTH}.html"
    assert report["kpis"]["month"] == MONTH and report["kpis"]["compare"] == "2025-11"
    assert (report["out"] / "index.html").exists()


def test_sections_and_table_of_contents(report):
    html_text = report["html"]
    ids = _parse(html_text).ids
    toc = re.findall(r'<li><a href="#([^"]+)">', html_text)
    expected = [
        "summary",
        "acquisition",
        "lifecycle",
        "churn",
        "drivers",
        "leaving",
        "winback",
        "funnel",
        "definitions",
        "data-quality",
    ]
    for sid in expected:
        assert sid in toc, sid
    # every entry points at a rendered section, in order, and nothing else is listed
    assert all(t in ids for t in toc)
    assert toc == [
        s for s in re.findall(r'<section class="wb-section[^"]*" id="([^"]+)"', html_text)
    ]
    assert toc[0] == "summary" and toc[-2:] == ["definitions", "data-quality"]
    assert "coming soon" not in html_text.lower() and "not available yet" not in html_text.lower()
    assert report["kpis"]["sections"][0] == "Executive summary"


def test_kpis_equal_direct_computation(report, sample):
    ev = sample.events
    dec = ev.filter(pl.col("ts").dt.strftime("%Y-%m") == MONTH)
    nov = ev.filter(pl.col("ts").dt.strftime("%Y-%m") == "2025-11")
    active = _kpi(report, "active")
    assert active["value"] == dec["customer_id"].n_unique()
    assert active["previous"] == nov["customer_id"].n_unique()
    first = ev.group_by("customer_id").agg(pl.col("ts").min())
    assert (
        _kpi(report, "new")["value"]
        == first.filter(pl.col("ts").dt.strftime("%Y-%m") == MONTH).height
    )
    # the tile shows the same number
    tile = '<div class="wb-tile-label">Active customers</div><div class="wb-tile-value">'
    assert f"{tile}{int(active['value']):,}</div>" in report["html"]


def test_kpis_equal_headless_apis(report, sample):
    from datetime import date

    as_of = month_as_of(MONTH)
    lc = wb.lifecycle(sample.events, period="month", as_of=as_of).table
    row = lc.filter(pl.col("period_start") == date(2025, 12, 1)).row(0, named=True)
    assert _kpi(report, "active")["value"] == row["active"]
    assert _kpi(report, "new")["value"] == row["new"]
    crr = wb.customer_retention_rate(sample.events, inactivity="90d", as_of=as_of).table
    r = crr.filter(pl.col("period_start") == date(2025, 12, 1)).row(0, named=True)
    assert _kpi(report, "churned")["value"] == r["churned"]
    assert _kpi(report, "crr")["value"] == pytest.approx(r["crr"])
    d30 = wb.day_n_retention(sample.events, days=(30,), as_of=as_of)
    latest = d30.filter(pl.col("complete")).sort("cohort").row(-1, named=True)
    assert _kpi(report, "d30")["value"] == pytest.approx(latest["retention"])
    bridge = wb.mrr_bridge(sample.subscriptions, as_of=as_of).table
    b = bridge.filter(pl.col("month") == date(2025, 12, 1)).row(0, named=True)
    assert _kpi(report, "nrr")["value"] == pytest.approx(b["nrr"])
    assert _kpi(report, "grr")["value"] == pytest.approx(b["grr"])
    res = wb.overdue_customers(sample.events, as_of=as_of)
    assert _kpi(report, "overdue")["value"] == res.table.height
    value = _kpi(report, "overdue_value")
    assert value["value"] == pytest.approx(res.table["value_at_stake"].sum())
    assert value["p_value"] is None and value["flag"] is False  # sums are never tested


def test_cohort_sizes_equal_retention_matrix(report, sample):
    m = wb.retention_matrix(sample.events, period="month", as_of=month_as_of(MONTH))
    sizes = m.group_by("cohort").agg(pl.col("cohort_size").first()).sort("cohort")
    assert sizes.height == 24
    for row in sizes.iter_rows(named=True):
        assert (
            f'<td>{row["cohort"]}</td><td class="wb-num">{row["cohort_size"]:,}</td>'
            in (report["html"])
        ), row


def test_survival_table_matches_api(report, sample):
    from workbench.churn import churn_table
    from workbench.survival import churn_curves

    tbl = churn_table(
        sample.events, inactivity="90d", as_of=month_as_of(MONTH), customers=sample.customers
    )
    summary = churn_curves(tbl, by="channel").summary
    for row in summary.iter_rows(named=True):
        cells = f'<td>{row["channel"]}</td><td class="wb-num">{row["customers"]:,}</td>'
        assert cells in report["html"], row["channel"]


def test_churn_definitions_compared_match_api(report, sample):
    got = wb.compare_churn_definitions(
        sample.events,
        definitions={"inactivity": "90d", "own_cycle": 2.0, "p_alive_below": 0.3},
        as_of=month_as_of(MONTH),
    )
    for row, name in zip(
        got.iter_rows(named=True),
        ["no event for 90d", "own rhythm: gap &gt; 2 x typical", "P(alive) &lt; 0.3"],
        strict=True,
    ):
        cells = (
            f'<td>{name}</td><td class="wb-num">{row["customers"]:,}</td>'
            f'<td class="wb-num">{row["churned"]:,}</td>'
        )
        assert cells in report["html"], row["definition"]
    for text in (wb.CHURN_DEFINITIONS["p_alive_below"], wb.CHURN_DEFINITIONS["own_cycle"]):
        assert " ".join(text.split()) in unescape(report["html"])


def test_flags_follow_the_stated_tests(report):
    for k in report["kpis"]["kpis"]:
        if k["p_value"] is None:
            assert not k["flag"]
        else:
            assert k["flag"] == (k["p_value"] < 0.05)
    assert "two-proportion z-test" in report["html"] and "exact Poisson test" in report["html"]


def test_definitions_and_data_quality_appendix(report, sample):
    html_text = report["html"]
    # the definitions are the analyses' own wording, with the parameters used
    for text in (
        wb.LIFECYCLE_DEFINITIONS["crr"],
        wb.KM_DEFINITION,
        wb.RETENTION_DEFINITIONS["maturity"],
    ):
        assert " ".join(text.split()) in unescape(html_text)
    assert "inactivity=90d" in html_text
    check = wb.check_events(sample.events, as_of=sample.as_of)
    assert f"<td>rows read</td><td>{check.rows_read}</td>" in html_text


def test_offline_single_plotly_no_mathjax_no_requirejs(report):
    html_text = report["html"]
    assert '<script src="http' not in html_text
    scripts = _parse(html_text).scripts
    assert not [a for a, _ in scripts if "src" in a]  # nothing loaded from anywhere
    libs = [body for a, body in scripts if a.get("id") == "wb-plotlyjs"]
    assert len(libs) == 1 and len(libs[0]) > 1_000_000
    banner = re.compile(r"plotly\.js v\d+\.\d+\.\d+")
    assert len(banner.findall(html_text)) == 1
    assert "require.min.js" not in html_text and "MathJax.js" not in html_text
    assert "mathjax@" not in html_text.lower()


def test_figures_counted_and_size_bound(report):
    n = report["html"].count('class="plotly-graph-div"')
    assert n == report["kpis"]["figures"] >= 5
    assert len(report["html"].encode()) < 8_000_000


def test_no_code_or_parameters_in_html(report):
    html_text = report["html"]
    assert "jp-InputArea jp-Cell-inputArea" not in html_text and "S.show(" not in html_text
    assert "jp-InputPrompt" not in html_text.split("<body", 1)[1]
    assert "churn_definition =" not in html_text and "injected-parameters" not in html_text
    body = html_text.split("<body", 1)[1]
    assert "In&nbsp;[" not in body and "Out[" not in body


def test_print_css_present(report):
    css = report["html"]
    assert "@media print" in css and "break-before: page" in css
    assert re.search(r"@media print \{[^@]*nav\.wb-toc \{ position: static", css)


def test_index_lists_month_with_kpis(report):
    index = (report["out"] / "index.html").read_text()
    assert f'href="{MONTH}.html"' in index
    active = _kpi(report, "active")
    assert active["display"] in index
    assert '<script src="http' not in index


# -- hostile data, credentials ----------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, sample):
    """A copy of the sample whose 'books' category is a script tag, rendered via the CLI."""
    from workbench.cli import main

    tmp = tmp_path_factory.mktemp("hostile")
    events = sample.events.with_columns(pl.col("category").replace("books", HOSTILE)).rename(
        {"ts": "when"}  # and a column mapped through --schema
    )
    customers = sample.customers.with_columns(
        pl.col("channel").replace("referral", '"><img src=x onerror=alert(2)>')
    )
    annotations = sample.annotations.with_columns(
        pl.col("label").replace("Service outage", "<b onmouseover=alert(3)>Service outage</b>")
    )
    for name, frame in (
        ("events", events),
        ("customers", customers),
        ("campaigns", sample.campaigns),
        ("annotations", annotations),
    ):
        frame.write_parquet(tmp / f"{name}.parquet")
    out = tmp / "reports"
    argv = ["report", "--month", MONTH, "--out", str(out), "--data", str(tmp / "events.parquet")]
    argv += ["--schema", "ts=when"]
    for name in ("customers", "campaigns", "annotations"):
        argv += [f"--{name}", str(tmp / f"{name}.parquet")]
    code = main(argv)
    assert code == 0
    return out / f"{MONTH}.html"


@pytest.mark.slow
def test_hostile_names_are_escaped(hostile, report):
    html_text = hostile.read_text(encoding="utf-8")
    # the renamed timestamp column was mapped: the same customers as the sample's report
    record = json.loads(hostile.with_suffix("").with_suffix(".kpis.json").read_text())
    assert _kpi({"kpis": record}, "active")["value"] == _kpi(report, "active")["value"]
    assert HOSTILE not in html_text
    assert "<img src=x" not in html_text and "<b onmouseover" not in html_text
    assert "&lt;b onmouseover=alert(3)&gt;" in html_text  # the business-event label, escaped
    # the names are shown, escaped, in tables ...
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html_text
    # ... and inside figure data only as JSON strings with '<' encoded
    for _attrs, body in _parse(html_text).scripts:
        assert "<script" not in body.lower() and "<img" not in body.lower()


@pytest.fixture(scope="module")
def duckdb_events(tmp_path_factory, sample):
    import duckdb

    path = tmp_path_factory.mktemp("db") / "shop.duckdb"
    con = duckdb.connect(str(path))
    frame = sample.events  # noqa: F841 - read by DuckDB's replacement scan
    con.execute("CREATE TABLE events AS SELECT * FROM frame")
    con.close()
    return path


@pytest.mark.slow
def test_credentials_never_written(tmp_path, duckdb_events):
    uri = f"duckdb:///{duckdb_events}?password={SECRET}"
    out = tmp_path / "reports"
    path = wb.render_report(MONTH, data=uri, table="events", out=out)
    written = [p for p in out.rglob("*") if p.is_file()]
    assert {p.name for p in written} >= {
        f"{MONTH}.html",
        f"{MONTH}.kpis.json",
        "index.html",
        f"{MONTH}.ipynb",
    }
    for p in written:
        text = p.read_text(encoding="utf-8")
        assert SECRET not in text, p
    html_text = path.read_text(encoding="utf-8")
    assert "password=***" in html_text  # the source is named, redacted
    nb = json.loads((out / "_work" / f"{MONTH}.ipynb").read_text())
    params = nb["metadata"]["papermill"]["parameters"]
    assert SECRET not in json.dumps(params) and "data" not in params


def test_failing_database_source_error_is_redacted(tmp_path):
    uri = f"postgresql://analyst:{SECRET}@127.0.0.1:9/shop"
    out = tmp_path / "reports"
    with pytest.raises(ReportError) as info:
        wb.render_report(MONTH, data=uri, table="events", out=out)
    message = str(info.value)
    assert SECRET not in message and "cell" in message
    nb_text = (out / "_work" / f"{MONTH}.ipynb").read_text()
    assert SECRET not in nb_text
    assert not (out / f"{MONTH}.html").exists()


def test_redaction_helpers():
    assert (
        redact(f"x postgresql://bob:{SECRET}@h:5432/db y") == "x postgresql://bob:***@h:5432/db y"
    )
    assert SECRET not in redact(f"token={SECRET}&a=1", [f"token={SECRET}"])
    nb = json.dumps({"cells": [{"source": [f"uri = 'postgresql://u:{SECRET}@h/db'\n"]}]})
    assert SECRET not in redact_notebook_json(nb)


# -- atomic failure ----------------------------------------------------------------------------


def test_failed_run_keeps_previous_report(tmp_path, sample, capsys):
    from workbench.cli import main

    out = tmp_path / "reports"
    out.mkdir()
    old = b"<html>previous report</html>\n"
    (out / f"{MONTH}.html").write_bytes(old)
    bad = tmp_path / "events.parquet"
    sample.events.rename({"ts": "when"}).write_parquet(bad)  # no timestamp column
    code = main(["report", "--month", MONTH, "--data", str(bad), "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert "cell" in err and "MissingColumnError" in err and "Traceback" not in err
    assert (out / f"{MONTH}.html").read_bytes() == old
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary left over
    kept = out / "_work" / f"{MONTH}.ipynb"
    assert kept.exists() and "MissingColumnError" in kept.read_text()


def test_bad_month_is_rejected_before_rendering(tmp_path):
    with pytest.raises(wb.BadParameterError, match="YYYY-MM"):
        wb.render_report("2025-13", out=tmp_path)
    with pytest.raises(wb.BadParameterError, match="compare"):
        wb.render_report(MONTH, compare=MONTH, out=tmp_path)
    with pytest.raises(wb.BadParameterError, match="churn_definition"):
        wb.render_report(MONTH, churn_definition="ninety", out=tmp_path)
    assert list(tmp_path.iterdir()) == []


# -- small pieces ------------------------------------------------------------------------------


def test_month_helpers():
    assert month_as_of("2024-02") == datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)
    assert months_between("2024-11", "2025-02") == ["2024-11", "2024-12", "2025-01", "2025-02"]
    assert latest_complete_month(datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)) == "2025-12"
    assert latest_complete_month(datetime(2025, 12, 30, 10, 0, tzinfo=UTC)) == "2025-11"


def test_kpi_tests_against_statsmodels_and_scipy():
    from scipy.stats import binomtest
    from statsmodels.stats.proportion import proportions_ztest

    k = rate_kpi("crr", "CRR", 450, 500, 400, 500)
    _, p = proportions_ztest([450, 400], [500, 500])
    assert k.p_value == pytest.approx(p) and k.flag
    # equal exposure: the exact Poisson test is a fair-coin binomial test
    assert count_pvalue(60, 40, 30, 30) == pytest.approx(binomtest(60, 100, 0.5).pvalue)
    assert count_pvalue(31, 28, 31, 28) == pytest.approx(1.0)
    assert not rate_kpi("x", "x", 51, 100, 50, 100).flag


@pytest.mark.slow
def test_backfill_renders_each_month_and_one_index(tmp_path, capsys):
    from workbench.cli import main

    small = wb.datasets.load_sample(n_customers=300)
    small.events.write_parquet(tmp_path / "events.parquet")
    out = tmp_path / "reports"
    code = main(
        [
            "report",
            "--from",
            "2025-10",
            "--to",
            "2025-11",
            "--data",
            str(tmp_path / "events.parquet"),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    captured = capsys.readouterr()
    assert "2/2" in captured.err  # the progress bar
    for month in ("2025-10", "2025-11"):
        assert (out / f"{month}.html").exists() and (out / f"{month}.kpis.json").exists()
        record = json.loads((out / f"{month}.kpis.json").read_text())
        lc = wb.lifecycle(small.events, as_of=month_as_of(month)).table.tail(1)
        active = next(k for k in record["kpis"] if k["key"] == "active")
        assert active["value"] == lc["active"][0]
    index = (out / "index.html").read_text()
    assert index.index('href="2025-11.html"') < index.index('href="2025-10.html"')


def test_late_data_is_reported_against_the_previous_rendering():
    """In-process: the data-quality appendix lists headline numbers that moved since the last
    rendering of the same month (stored in its .kpis.json)."""
    from workbench.reports import sections as S

    ctx = S.load_context(month="2025-11")
    kpis = S.sections_summary.headline_kpis(ctx)
    active = next(k for k in kpis if k.key == "active")
    ctx.previous_render = {
        "rendered_at": "2025-12-01T06:00:00+00:00",
        "source": "sample data",
        "kpis": [
            dict(
                k.to_dict(),
                value=k.value - 3 if k.key == "active" else k.value,
                display=f"{int(k.value) - 3:,}" if k.key == "active" else k.display,
            )
            for k in kpis
        ],
    }
    html_text = unescape(S.data_quality(ctx).html())
    assert "Late data: changes since the last rendering of this month" in html_text
    assert "1 headline number(s) differ from the rendering of 2025-12-01T06:00:00" in html_text
    assert (
        f"<td>Active customers</td><td>{int(active.value) - 3:,}</td><td>{active.display}</td>"
    ) in html_text
    ctx.previous_render["kpis"] = [k.to_dict() for k in kpis]
    assert "equal those of the rendering" in S.data_quality(ctx).html()


def test_render_reports_validates_range(tmp_path):
    with pytest.raises(wb.BadParameterError, match="before"):
        wb.render_reports("2025-06", "2025-01", out=tmp_path)


# -- in a real browser -------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian chromium at /usr/bin/chromium (apt-get install chromium); CI installs it",
)
def test_every_figure_draws_in_chromium(report, hostile):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        try:
            for path, expected in ((report["path"], report["kpis"]["figures"]), (hostile, None)):
                page = browser.new_page()
                errors, dialogs, remote = [], [], []
                page.on(
                    "console", lambda m, e=errors: e.append(m.text) if m.type == "error" else None
                )
                page.on("pageerror", lambda exc, e=errors: e.append(str(exc)))
                page.on("dialog", lambda d, s=dialogs: (s.append(d.message), d.dismiss()))
                page.on(
                    "request",
                    lambda r, s=remote: (
                        s.append(r.url)
                        if not r.url.startswith(("file:", "data:", "blob:"))
                        else None
                    ),
                )
                page.goto(path.as_uri())
                try:
                    page.wait_for_function(
                        "() => { const d = document.querySelectorAll('.plotly-graph-div'); "
                        "return d.length > 0 && Array.from(d).every("
                        "g => g.querySelector('svg.main-svg')); }",
                        timeout=30_000,
                    )
                except PlaywrightTimeout:
                    pass  # the counts below say which figures did not draw
                drawn = page.evaluate(
                    "Array.from(document.querySelectorAll('.js-plotly-plot'))"
                    ".filter(g => g.querySelector('svg.main-svg')).length"
                )
                divs = page.evaluate("document.querySelectorAll('.plotly-graph-div').length")
                assert drawn == divs > 0
                if expected is not None:
                    assert drawn == expected
                assert errors == [] and dialogs == [] and remote == []
                page.emulate_media(media="print")
                assert (
                    page.evaluate("getComputedStyle(document.querySelector('nav.wb-toc')).position")
                    == "static"
                )
                page.close()
        finally:
            browser.close()
