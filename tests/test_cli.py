"""The `workbench` command: help texts, sample data round trip, one-line errors with exit 2."""

from __future__ import annotations

import subprocess
import sys

import polars as pl
import pytest

import workbench as wb
from workbench.cli import SAMPLE_TABLES, main


def test_help(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "report" in text and "sample-data" in text


@pytest.mark.parametrize("command", ["report", "sample-data"])
def test_subcommand_help(capsys, command):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert f"workbench {command}" in text
    if command == "report":
        for flag in (
            "--month",
            "--data",
            "--from",
            "--to",
            "--compare",
            "--schema",
            "--churn-definition",
            "--by",
            "--out",
            "--customers",
            "--subscriptions",
            "--campaigns",
        ):
            assert flag in text, flag


def test_console_script_help():
    exe = [sys.executable, "-m", "workbench.cli", "--help"]
    done = subprocess.run(exe, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "sample-data" in done.stdout


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_sample_data_reads_back(tmp_path, capsys, fmt):
    out = tmp_path / "sample"
    assert main(["sample-data", "--out", str(out), "--format", fmt, "--n-customers", "300"]) == 0
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(f"{t}.{fmt}" for t in SAMPLE_TABLES)
    sample = wb.datasets.load_sample(n_customers=300)
    events = wb.load_events(out / f"events.{fmt}").collect()
    assert events.height == sample.events.height
    assert events["customer_id"].n_unique() == sample.events["customer_id"].n_unique()
    assert events["ts"].max() == sample.events["ts"].max()
    customers = wb.load_customers(out / f"customers.{fmt}").collect()
    assert customers.height == sample.customers.height
    subs = wb.load_subscriptions(out / f"subscriptions.{fmt}").collect()
    assert subs.height == sample.subscriptions.height
    campaigns = wb.load_campaigns(out / f"campaigns.{fmt}").collect()
    assert campaigns.height == sample.campaigns.height
    assert "rows" in capsys.readouterr().out


def test_bad_month_exits_2_with_one_line(capsys, tmp_path):
    code = main(["report", "--month", "2025-13", "--out", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("workbench: error:") and "--month='2025-13'" in err and "YYYY-MM" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "argv, words",
    [
        (["report", "--from", "2025-01"], "--from and --to"),
        (["report", "--month", "2025-05", "--from", "2025-01", "--to", "2025-02"], "exclusive"),
        (["report", "--schema", "ts"], "key=value"),
        (["report", "--schema", "when=ts", "--month", "2025-01"], "schema"),
        (
            ["report", "--data", "/nonexistent/events.parquet", "--month", "2025-01"],
            "does not exist",
        ),
        (["report", "--month", "2025-01", "--churn-definition", "soon"], "churn_definition"),
    ],
)
def test_usage_errors_exit_2(capsys, tmp_path, argv, words):
    code = main(argv + ["--out", str(tmp_path / "r")])
    assert code == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1 and "Traceback" not in err


def test_schema_pairs_parse():
    from workbench.cli import _schema_pairs, build_parser

    args = build_parser().parse_args(
        ["report", "--schema", "ts=when", "customer_id=user", "--schema", "amount=rev"]
    )
    assert _schema_pairs(args.schema) == {"ts": "when", "customer_id": "user", "amount": "rev"}


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["report", "--nonsense"])
    assert info.value.code == 2
    assert "unrecognized arguments" in capsys.readouterr().err


def test_entry_point_declared():
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["workbench"] == "workbench.cli:main"


def test_sample_tables_are_frames():
    sample = wb.datasets.load_sample(n_customers=100)
    for name in SAMPLE_TABLES:
        assert isinstance(getattr(sample, name), pl.DataFrame), name
