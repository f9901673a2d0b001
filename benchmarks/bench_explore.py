"""Redraw time of the explorers on the sample data: each control change, fresh and cached.

    .venv/bin/python benchmarks/bench_explore.py [--n-customers 6000]

A refresh is: the headless call (compute), the plot builders (draw) and copying the figures
into the FigureWidgets plus the table HTML (display). Debouncing is off here (debounce=0) so
every change is timed on its own; a cached setting skips compute and draw.
"""

from __future__ import annotations

import argparse
import statistics
import time

import workbench as wb

SCENARIOS = {
    "CohortExplorer": [
        ("period", "quarter"),
        ("by", "channel"),
        ("mode", "on_or_after"),
        ("reference", "previous"),
        ("period", "month"),
        ("by", None),
    ],
    "SurvivalExplorer": [
        ("by", "channel"),
        ("inactivity", "60d"),
        ("definition", "subscriptions"),
        ("grace", "15d"),
        ("definition", "own_cycle"),
        ("level", 0.9),
    ],
    "LeavingExplorer": [
        ("horizon", "60d"),
        ("cutoff", "2025-06-01"),
        ("active_within", "180d"),
        ("activity", "purchase"),
        ("alpha", 0.01),
    ],
    "WinbackExplorer": [
        ("k", 2.0),
        ("inactivity", "90d"),
        ("high_value_quantile", 0.9),
        ("horizon", "180d"),
    ],
    "CampaignExplorer": [
        ("window", "14d"),
        ("by", "offer"),
        ("by", "plan"),
        ("level", 0.99),
    ],
}


def build(name: str, s):
    cls = getattr(wb.explore, name)
    if name == "CohortExplorer":
        return cls(s.events, customers=s.customers, debounce=0)
    if name == "SurvivalExplorer":
        return cls(
            s.events,
            customers=s.customers,
            subscriptions=s.subscriptions,
            as_of=s.as_of,
            debounce=0,
        )
    if name == "LeavingExplorer":
        return cls(
            s.events,
            customers=s.customers,
            subscriptions=s.subscriptions,
            annotations=s.annotations,
            debounce=0,
        )
    if name == "WinbackExplorer":
        return cls(
            s.events, customers=s.customers, campaigns=s.campaigns, as_of=s.as_of, debounce=0
        )
    return cls(s.events, s.campaigns, segments=s.customers, debounce=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-customers", type=int, default=6000)
    args = parser.parse_args()
    s = wb.datasets.load_sample(n_customers=args.n_customers)
    print(f"sample: {s.events.height:,} events, {s.customers.height:,} customers")
    print(
        f"{'explorer':18s} {'build':>7s} {'fresh median':>13s} {'fresh max':>10s} "
        f"{'cached median':>14s}  (seconds)"
    )
    for name, steps in SCENARIOS.items():
        t0 = time.perf_counter()
        ex = build(name, s)
        t_build = time.perf_counter() - t0
        initial = {k: ex.controls[k].value for k, _ in steps}
        fresh, cached = [], []
        for key, value in steps:
            ex.controls[key].value = value
            assert ex.error is None, ex.error
            fresh.append(ex.timings["total"])
        for key in reversed(list(dict.fromkeys(k for k, _ in steps))):
            ex.controls[key].value = initial[key]  # walk back: settings seen before
        for key, value in steps:
            ex.controls[key].value = value
            if ex.timings["cached"]:
                cached.append(ex.timings["total"])
        print(
            f"{name:18s} {t_build:7.2f} {statistics.median(fresh):13.2f} {max(fresh):10.2f} "
            f"{statistics.median(cached) if cached else float('nan'):14.3f}"
        )
        ex.close()


if __name__ == "__main__":
    main()
