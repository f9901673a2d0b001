"""The monthly report from a password-protected PostgreSQL source: numbers equal the sample's,
and the password is never written anywhere (notebook, HTML, KPI file, index, messages)."""

from __future__ import annotations

import json
from datetime import date

import polars as pl
import pytest
from pg_server import copy_frame, start_for_tests

import workbench as wb
from workbench.reports import ReportError
from workbench.reports.render import month_as_of

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

MONTH = "2025-12"
EVENT_TYPES = {
    "customer_id": "text",
    "ts": "timestamptz",
    "event": "text",
    "amount": "double precision",
    "category": "text",
}


@pytest.fixture(scope="module")
def pg(request):
    return start_for_tests(request)


@pytest.fixture(scope="module")
def sample():
    return wb.datasets.load_sample(n_customers=1000)


def test_report_from_postgres_never_writes_the_password(pg, sample, tmp_path):
    with pg.connect() as conn:
        copy_frame(conn, "events", sample.events, EVENT_TYPES)
    assert pg.password in pg.uri
    out = tmp_path / "reports"
    path = wb.render_report(MONTH, data=pg.uri, table="events", out=out)
    written = [p for p in out.rglob("*") if p.is_file()]
    assert len(written) >= 4
    for p in written:
        assert pg.password not in p.read_text(encoding="utf-8"), p
    html_text = path.read_text(encoding="utf-8")
    assert "postgresql://wb:***@127.0.0.1" in html_text
    # the events arrive reduced to one row per customer, event, category and day; the
    # day-grain headline numbers equal those of the raw sample
    kpis = {k["key"]: k for k in json.loads((out / f"{MONTH}.kpis.json").read_text())["kpis"]}
    lc = wb.lifecycle(sample.events, as_of=month_as_of(MONTH)).table
    row = lc.filter(pl.col("period_start") == date(2025, 12, 1)).row(0, named=True)
    assert kpis["active"]["value"] == row["active"] and kpis["new"]["value"] == row["new"]


def test_wrong_password_fails_redacted(pg, tmp_path):
    bad = pg.uri_with(password="Wr0ngSecretPw")
    out = tmp_path / "reports"
    with pytest.raises(ReportError) as info:
        wb.render_report(MONTH, data=bad, table="events", out=out)
    assert "Wr0ngSecretPw" not in str(info.value) and "cell" in str(info.value)
    for p in out.rglob("*"):
        if p.is_file():
            assert "Wr0ngSecretPw" not in p.read_text(encoding="utf-8")
