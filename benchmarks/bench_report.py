"""Time the monthly report end to end on synthetic event logs (papermill + nbconvert).

For each size: the rendered report (`wb.render_report`: kernel start, every section, HTML
export), the time of each notebook cell, and side by side the same sections computed in this
process without the notebook machinery, with equal headline numbers checked. Peak memory: this
process and the report kernel (the largest child process).

    python benchmarks/bench_report.py                 # 1M and 10M events
    python benchmarks/bench_report.py --sizes 10M
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

from _forked import peak_rss_mb  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gen_events import DATA, generate, parse_size  # noqa: E402


def _mb_self() -> float:
    return peak_rss_mb()


def _mb_children() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def in_process(path: Path, month: str) -> tuple[float, list]:
    """The report's sections computed here, without papermill, nbconvert or a kernel."""
    from workbench.reports import sections as S
    from workbench.reports.render import CONFIG_ENV

    os.environ[CONFIG_ENV] = json.dumps({"sources": {"data": str(path)}, "schema": {}})
    try:
        t0 = time.perf_counter()
        ctx = S.load_context(month=month)
        kpis = []
        for name in S.ORDER:
            section = getattr(S, name)(ctx)
            if section is not None:
                section.html()
                if section.kpis is not None:
                    kpis = section.kpis
        return time.perf_counter() - t0, kpis
    finally:
        os.environ.pop(CONFIG_ENV, None)


def run(size: str) -> None:
    import workbench as wb
    from workbench.reports.render import data_end, latest_complete_month

    n = parse_size(size)
    path = generate(n)
    month = latest_complete_month(data_end(str(path)))
    out = DATA / f"report_{size}"
    t0 = time.perf_counter()
    html_path = wb.render_report(month, data=str(path), out=out)
    total = time.perf_counter() - t0
    nb = json.loads((out / "_work" / f"{month}.ipynb").read_text())
    cells = [
        (
            c["metadata"].get("papermill", {}).get("duration") or 0.0,
            " ".join("".join(c["source"]).split())[:48],
        )
        for c in nb["cells"]
    ]
    kernel = nb["metadata"]["papermill"]["duration"]
    kpis = json.loads((out / f"{month}.kpis.json").read_text())["kpis"]
    size_mb = html_path.stat().st_size / 1e6
    mem_kernel = _mb_children()

    direct, direct_kpis = in_process(path, month)
    same = [k["value"] for k in kpis] == [k.value for k in direct_kpis]

    print(f"\n== {size} events ({n:,}), report month {month}")
    print(f"render_report total      {total:8.1f} s   (HTML {size_mb:.1f} MB)")
    print(f"  notebook run (kernel)  {kernel:8.1f} s")
    print(f"  start, export, write   {total - kernel:8.1f} s")
    for duration, source in cells:
        if duration >= 0.05:
            print(f"    {duration:7.2f} s  {source}")
    print(
        f"same sections in-process {direct:8.1f} s   ratio report / in-process "
        f"{total / direct:.2f}x; equal KPIs: {same}"
    )
    print(f"peak memory: this process {_mb_self():,.0f} MB, report kernel {mem_kernel:,.0f} MB")
    for k in kpis:
        print(f"    {k['label']:<42} {k['display']:>10}  {k['change_display']}")
    if not same:
        raise SystemExit("headline numbers differ between the report and the in-process run")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1M,10M", help="comma-separated, e.g. 1M,10M")
    args = parser.parse_args(argv)
    for size in args.sizes.split(","):
        run(size.strip())


if __name__ == "__main__":
    main()
