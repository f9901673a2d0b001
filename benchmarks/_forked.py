"""Run one measured call in a fresh child process: wall time, CPU time and peak memory.

A child per measurement gives each contender its own peak resident-set size, without tracing
overhead on either side. Children are spawned (not forked: polars' thread pool does not survive
a fork), so `setup` and `run` must be top-level functions of an importable module.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import time
from dataclasses import dataclass
from pathlib import Path


def peak_rss_mb() -> float:
    """High-water resident memory of this process in MB: VmHWM, which starts afresh at exec
    (ru_maxrss does not: a child process inherits its parent's)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Measured:
    result: object
    wall: float
    cpu: float
    peak_mb: float

    def __str__(self) -> str:
        return f"{self.wall:8.2f} s wall {self.cpu:8.2f} s CPU {self.peak_mb:7.0f} MB peak"

    def ratio(self, other: Measured) -> str:
        """How many times slower self is than other (wall, CPU)."""
        return f"{self.wall / other.wall:6.1f}x wall, {self.cpu / other.cpu:6.1f}x CPU"


def _head(data, n: int = 2000):
    """The data with every frame cut to its first rows (for a warm-up call)."""
    items = data if isinstance(data, tuple) else (data,)
    cut = tuple(x.head(n) if hasattr(x, "head") else x for x in items)
    return cut if isinstance(data, tuple) else cut[0]


def _child(setup, run, args, conn) -> None:
    data = setup(*args)
    run(_head(data))  # warm-up on a slice: one-time imports and initialisation are not timed
    start = peak_rss_mb()
    best = None
    for attempt in range(2):  # a second run when the first is short: the best of two is steadier
        c0, t0 = time.process_time(), time.perf_counter()
        result = run(data)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if best is None or wall < best[1]:
            best = (result, wall, cpu)
        if attempt == 0 and wall > 5.0:
            break
    # Growth of the high-water mark over the size with the input loaded (MB).
    peak = peak_rss_mb() - start
    conn.send((*best, peak))
    conn.close()


def measure(setup, run, *args) -> Measured:
    """run(setup(*args)) in a spawned child, timing only `run`: after a warm-up call on the
    first rows, the faster of two runs (one run when it takes over 5 s). The result must pickle."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(setup, run, args, child))
    proc.start()
    child.close()
    result, wall, cpu, peak = parent.recv()
    proc.join()
    return Measured(result, wall, cpu, peak)
