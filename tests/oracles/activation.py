"""Reference activation counts (wb.activation_effect), one customer at a time.

t0 = first start event (any event by default). Counted only when t0 + max(within, window end)
<= as_of. Did action X: an X event in [t0, t0 + within]. Retained: a return event in
[t0 + start, t0 + end) (unbounded: [t0 + start, as_of]), never after as_of.
"""

from __future__ import annotations

from collections import defaultdict


def counts(
    events,
    *,
    actions,
    within,
    start,
    end,
    unbounded,
    as_of,
    start_event=None,
    return_event="purchase",
):
    """-> (customers, retained, {action: (n_did, retained_did)})."""
    per = defaultdict(list)
    for e in events:
        per[e["customer_id"]].append(e)
    n = x = 0
    did = {a: [0, 0] for a in actions}
    for evs in per.values():
        starts = [e["ts"] for e in evs if start_event is None or e["event"] == start_event]
        if not starts:
            continue
        t0 = min(starts)
        if t0 + max(within, end) > as_of:
            continue  # censored
        kept = any(
            e["event"] == return_event
            and t0 + start <= e["ts"] <= as_of
            and (unbounded or e["ts"] < t0 + end)
            for e in evs
        )
        n += 1
        x += kept
        for a in actions:
            if any(e["event"] == a and t0 <= e["ts"] <= t0 + within for e in evs):
                did[a][0] += 1
                did[a][1] += kept
    return n, x, {a: tuple(v) for a, v in did.items()}
