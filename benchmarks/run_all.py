"""Run the main side-by-side benchmarks at their default (laptop-sized) settings.

Each script prints its own table of times, ratios against the peers and peak memory; the larger
sizes are behind each script's own flags (see the docstring at the top of each file).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    ("bench_retention.py", ["--sizes", "1M"]),
    ("bench_rfm.py", []),
    ("bench_clv.py", []),
    ("bench_survival.py", []),
    ("bench_campaigns.py", []),
    ("bench_leaving.py", []),
    ("bench_impact.py", []),
    ("bench_explore.py", []),
]


def main() -> int:
    failed = []
    for script, args in SCRIPTS:
        print(f"\n=== {script} {' '.join(args)}", flush=True)
        rc = subprocess.call([sys.executable, str(HERE / script), *args])
        if rc:
            failed.append(script)
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
