"""The ``workbench`` command: render monthly reports and write the sample data.

    workbench report --month 2025-12 --data events.parquet --out reports/
    workbench report --from 2025-01 --to 2025-12          # backfill, with a progress bar
    workbench sample-data --out sample/ --format csv

Errors a user can fix print one line to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import BadParameterError, WorkbenchError

SAMPLE_TABLES = ("events", "customers", "subscriptions", "campaigns", "feedback", "annotations")
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports mistakes as one line and exit status 2."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _schema_pairs(values: list[str] | None) -> dict[str, str]:
    out = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise BadParameterError(
                f"workbench report: --schema {item!r} is not key=value. Fix: map a role to your "
                f"column name, e.g. --schema ts=timestamp --schema customer_id=user_id."
            )
        out[key.strip()] = value.strip()
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="workbench",
        description="Retention research workbench: monthly HTML reports and sample data.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    rep = sub.add_parser(
        "report",
        help="render the monthly HTML report (one month, or a range with --from/--to)",
        description=(
            "Render reports/<YYYY-MM>.html for a month (analysis up to the month's end, compared "
            "with the previous month) and rebuild reports/index.html. Without --data the bundled "
            "sample data is used; without --month, the latest complete month of the data."
        ),
    )
    when = rep.add_argument_group("months")
    when.add_argument("--month", metavar="YYYY-MM", help="the report month")
    when.add_argument(
        "--from", dest="start", metavar="YYYY-MM", help="first month of a backfill (with --to)"
    )
    when.add_argument("--to", dest="end", metavar="YYYY-MM", help="last month of a backfill")
    when.add_argument(
        "--compare", metavar="YYYY-MM", help="month to compare with (default: the previous month)"
    )
    data = rep.add_argument_group("data")
    data.add_argument(
        "--data",
        metavar="PATH|URI",
        help="events: CSV/Parquet file, Parquet directory or glob, or database URI",
    )
    data.add_argument(
        "--table", metavar="NAME", help="events table of the database given in --data"
    )
    data.add_argument(
        "--query", metavar="SQL", help="SQL returning the events, for the database given in --data"
    )
    data.add_argument("--customers", metavar="PATH", help="customers table (channel, country, ...)")
    data.add_argument("--subscriptions", metavar="PATH", help="subscriptions table")
    data.add_argument("--campaigns", metavar="PATH", help="campaigns table (win-back sends)")
    data.add_argument("--feedback", metavar="PATH", help="feedback table (cancel reasons)")
    data.add_argument(
        "--annotations", metavar="PATH", help="business events (start, end, label, kind, segment)"
    )
    data.add_argument(
        "--schema",
        metavar="ROLE=COLUMN",
        action="extend",
        nargs="+",
        help="map event roles to your columns, e.g. --schema ts=timestamp customer_id=user",
    )
    rep.add_argument(
        "--churn-definition",
        default="90d",
        metavar="GAP",
        help="inactivity gap after which a customer counts as churned (default 90d)",
    )
    rep.add_argument(
        "--by",
        default="channel",
        metavar="ATTRIBUTE",
        help="customer attribute for breakdowns (default channel)",
    )
    rep.add_argument(
        "--out", default="reports", metavar="DIR", help="output folder (default reports/)"
    )
    rep.add_argument("--no-progress", action="store_true", help="no progress bar for a backfill")

    smp = sub.add_parser(
        "sample-data",
        help="write the sample tables (events, customers, ...) to a folder",
        description="Write the bundled sample tables, to see the shape the workbench expects: "
        + ", ".join(SAMPLE_TABLES)
        + ".",
    )
    smp.add_argument("--out", required=True, metavar="DIR", help="folder to write into")
    smp.add_argument(
        "--format",
        default="parquet",
        choices=["parquet", "csv"],
        help="file format (default parquet)",
    )
    smp.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    smp.add_argument(
        "--n-customers",
        type=int,
        default=6000,
        dest="n_customers",
        metavar="N",
        help="number of customers (default 6000)",
    )
    return parser


def _report(args) -> int:
    from .reports import render_report, render_reports
    from .reports.render import parse_month

    for flag, value in (
        ("--month", args.month),
        ("--from", args.start),
        ("--to", args.end),
        ("--compare", args.compare),
    ):
        if value is not None:
            parse_month(value, caller="workbench report", param=flag)

    common = dict(
        data=args.data,
        table=args.table,
        query=args.query,
        customers=args.customers,
        subscriptions=args.subscriptions,
        campaigns=args.campaigns,
        feedback=args.feedback,
        annotations=args.annotations,
        out=args.out,
        schema=_schema_pairs(args.schema) or None,
        churn_definition=args.churn_definition,
        by=args.by,
    )
    if args.start or args.end:
        if not (args.start and args.end):
            raise BadParameterError(
                "workbench report: a backfill needs both --from and --to. Fix: add the missing "
                "one, e.g. --from 2025-01 --to 2025-12."
            )
        if args.month or args.compare:
            raise BadParameterError(
                "workbench report: --month/--compare and --from/--to are exclusive. Fix: give "
                "either one month or a range."
            )
        paths = render_reports(args.start, args.end, progress=not args.no_progress, **common)
        for path in paths:
            print(path)
        print(Path(args.out) / "index.html")
        return 0
    path = render_report(args.month, compare=args.compare, **common)
    print(path)
    return 0


def _sample_data(args) -> int:
    import polars as pl

    from .datasets import load_sample

    sample = load_sample(seed=args.seed, n_customers=args.n_customers)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in SAMPLE_TABLES:
        frame = getattr(sample, name)
        if not isinstance(frame, pl.DataFrame):
            continue
        path = out / f"{name}.{args.format}"
        if args.format == "csv":
            frame.write_csv(path)
        else:
            frame.write_parquet(path)
        print(f"{path}  ({frame.height:,} rows)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``workbench`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "report":
            return _report(args)
        return _sample_data(args)
    except WorkbenchError as exc:
        text = " ".join(str(exc).split())
        try:
            from .reports.render import redact_uri

            text = redact_uri(text)
        except Exception:  # redaction must never hide the error itself
            pass
        print(f"workbench: error: {text}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("workbench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
