"""Reference funnel (wb.funnel), one customer at a time.

Entry t1 = the customer's first steps[0] event. strict: t_j = the earliest steps[j-1] event
with t_{j-1} < t_j <= deadline (deadline t1 + window, or t_{j-1} + window when chained).
any: steps 2..k each occur somewhere in [t1, t1 + window]; time to reach k = the latest of
their first occurrences there. Only customers with t1 + span <= as_of are counted, span =
window (or window x (steps - 1) when chained).
"""

from __future__ import annotations

from collections import defaultdict


def reach_times(events, steps, *, window, order="strict", chained=False, as_of=None) -> dict:
    """customer -> [t1, t2, ...] up to the last step reached (times)."""
    per = defaultdict(list)
    for e in events:
        per[e["customer_id"]].append((e["ts"], e["event"]))
    span = window * (len(steps) - 1) if chained else window
    out = {}
    for c, evs in per.items():
        firsts = [ts for ts, name in evs if name == steps[0]]
        if not firsts:
            continue
        t1 = min(firsts)
        if as_of is not None and t1 + span > as_of:
            continue
        times = [t1]
        if order == "strict":
            for name in steps[1:]:
                prev = times[-1]
                deadline = prev + window if chained else t1 + window
                cands = [ts for ts, n in evs if n == name and prev < ts <= deadline]
                if not cands:
                    break
                times.append(min(cands))
        else:
            for name in steps[1:]:
                cands = [ts for ts, n in evs if n == name and t1 <= ts <= t1 + window]
                if not cands:
                    break
                times.append(max(times[-1], min(cands)) if len(times) > 1 else min(cands))
        out[c] = times
    return out


def linear_quantile(values, q):
    xs = sorted(values)
    pos = q * (len(xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def table(events, steps, **kw) -> list[dict]:
    """One row per step: customers reaching it and the median time to reach it."""
    reach = reach_times(events, steps, **kw)
    rows = []
    for k in range(1, len(steps) + 1):
        dts = [t[k - 1] - t[0] for t in reach.values() if len(t) >= k]
        rows.append(
            {
                "step": k,
                "customers": len(dts),
                "time_median": linear_quantile(dts, 0.5) if dts and k > 1 else None,
            }
        )
    return rows
