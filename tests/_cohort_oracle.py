"""A slow, literal transcription of the retention definitions, used as a test oracle.

Plain Python loops over customers and periods; no polars. Keys of the result are
(cohort date, period) -> (cohort_size, base, retained, complete).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

EPOCH = date(1970, 1, 1)
DAYS = {"day": 1, "week": 7, "month": 30, "quarter": 90}


def idx(ts: datetime, unit: str) -> int:
    d = ts.astimezone(UTC).date()
    days = (d - EPOCH).days
    if unit == "day":
        return days
    if unit == "week":
        return (days + 3) // 7
    if unit == "month":
        return d.year * 12 + d.month - 1
    return d.year * 4 + (d.month - 1) // 3


def start_date(i: int, unit: str) -> date:
    if unit == "day":
        return EPOCH + timedelta(days=i)
    if unit == "week":
        return EPOCH + timedelta(days=7 * i - 3)
    months = i if unit == "month" else 3 * i
    return date(months // 12, months % 12 + 1, 1)


def oracle(
    rows,
    *,
    period="month",
    window="calendar",
    cohort_period=None,
    mode="on",
    brackets=None,
    min_events=1,
    reference="total",
    cohorting="first_time",
    start_event=None,
    return_event=None,
    as_of=None,
    max_period=None,
):
    """rows: iterable of (customer, ts, event[, weight])."""
    cohort_period = cohort_period or period
    rows = [(r[0], r[1], r[2], r[3] if len(r) > 3 else 1) for r in rows]
    as_of = as_of or max(r[1] for r in rows)
    until = as_of.replace(microsecond=0) + timedelta(seconds=1)  # as_of's second is observed
    rows = [r for r in rows if r[1] < until]
    length = timedelta(days=DAYS[period])

    def is_start(ev):
        return start_event is None or ev in (
            [start_event] if isinstance(start_event, str) else start_event
        )

    def is_return(ev):
        return return_event is None or ev in (
            [return_event] if isinstance(return_event, str) else return_event
        )

    # cohort entries
    starts: dict = {}
    for cust, ts, ev, _ in rows:
        if not is_start(ev):
            continue
        key = cust if cohorting == "first_time" else (cust, idx(ts, cohort_period))
        if key not in starts or ts < starts[key][1]:
            starts[key] = (cust, ts)
    entries = []
    for cust, start in starts.values():
        counts: dict[int, int] = {}
        for c2, ts, ev, w in rows:
            if c2 != cust or not is_return(ev):
                continue
            if window == "calendar":
                k = idx(ts, period) - idx(start, period)
            else:
                k = (ts - start) // length if ts >= start else -1
            if k >= 0:
                counts[k] = counts.get(k, 0) + w
        active = {k for k, n in counts.items() if n >= min_events}
        elapsed = (until - start) // length - 1 if window == "rolling" else None
        entries.append((idx(start, cohort_period), active, elapsed))

    last_done = idx(until, period) - 1
    p_asof = idx(as_of, period)
    out = {}
    for c in sorted({e[0] for e in entries}):
        members = [e for e in entries if e[0] == c]
        if window == "calendar":
            kmax = p_asof - c
        else:
            kmax = max(0, max(e[2] for e in members))
        top = kmax if max_period is None else min(kmax, max_period)
        if brackets is None:
            units = [(k, k, k) for k in range(top + 1)]
        else:
            units = []
            for b in brackets:
                lo, hi = b[0], b[-1]
                shown = hi if window == "rolling" else lo
                if shown <= kmax:
                    units.append((lo, hi, len(units)))

        def active_in(e, lo, hi):
            if mode == "on_or_after":
                return any(k >= lo for k in e[1])
            return any(lo <= k <= hi for k in e[1])

        for i, (lo, hi, _) in enumerate(units):
            need = hi
            elig = [e for e in members if window == "calendar" or e[2] >= need]
            if reference == "previous" and lo > 0 and (brackets is None or i > 0):
                plo, phi = (lo - 1, lo - 1) if brackets is None else units[i - 1][:2]
                if brackets is not None:
                    # previous bracket in the user's list, even when not shown yet
                    j = [b[0] for b in brackets].index(lo) - 1
                    plo, phi = brackets[j][0], brackets[j][-1]
                base = [e for e in elig if active_in(e, plo, phi)]
            else:
                base = elig
            retained = [e for e in base if active_in(e, lo, hi)]
            if window == "calendar":
                complete = c + need <= last_done
            else:
                complete = all(e[2] >= need for e in members)
            out[(start_date(c, cohort_period), lo)] = (
                len(members),
                len(base),
                len(retained),
                complete,
            )
    return out


def engine_cells(matrix) -> dict:
    return {
        (r["cohort"], r["period"]): (r["cohort_size"], r["base"], r["retained"], r["complete"])
        for r in matrix.iter_rows(named=True)
    }
