"""Reference implementations of the cohort metrics, written from the metric definitions.

Plain loops over lists and dicts with ``datetime`` arithmetic. Events are dicts with keys
customer_id, ts (an aware datetime in any time zone, or naive = UTC), event, amount and any
attribute columns; an optional ``n_events`` key is the row's weight (pre-aggregated rows).

Conventions (from the metric definitions and the workbench docstrings):
- calendar periods are UTC days, Monday weeks, months and quarters;
- ``as_of`` is inclusive to the second: the observed time ends when as_of's second ends
  (``until``), a period [a, b) has fully elapsed when b <= until, events from until on are
  ignored; a bare date means the last microsecond of that day; ``as_of=None`` means the
  latest event;
- rolling window k of a customer covers [start + k*L, start + (k+1)*L), L = 1/7/30/90 days.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from statistics import NormalDist

EPOCH_MONDAY = date(1969, 12, 29)
ROLLING = {"day": 1, "week": 7, "month": 30, "quarter": 90}
ONE_SECOND = timedelta(seconds=1)


# -- time helpers -------------------------------------------------------------------------------


def utc(ts) -> datetime:
    if isinstance(ts, datetime):
        return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    # a bare date: its last microsecond
    return datetime(ts.year, ts.month, ts.day, 23, 59, 59, 999_999, tzinfo=UTC)


def pindex(ts: datetime, period: str) -> int:
    d = utc(ts).date()
    if period == "day":
        return d.toordinal()
    if period == "week":
        monday = d - timedelta(days=d.weekday())
        return (monday - EPOCH_MONDAY).days // 7
    if period == "month":
        return d.year * 12 + (d.month - 1)
    if period == "quarter":
        return d.year * 4 + (d.month - 1) // 3
    raise ValueError(period)


def pstart(index: int, period: str) -> datetime:
    if period == "day":
        d = date.fromordinal(index)
    elif period == "week":
        d = EPOCH_MONDAY + timedelta(days=7 * index)
    elif period == "month":
        d = date(index // 12, index % 12 + 1, 1)
    else:
        d = date(index // 4, (index % 4) * 3 + 1, 1)
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def until(as_of: datetime) -> datetime:
    """The end of as_of's second: the observed time is before it."""
    return as_of.replace(microsecond=0) + ONE_SECOND


def elapsed(end: datetime, as_of: datetime) -> bool:
    """A period ending (exclusively) at `end` has fully elapsed by the inclusive as_of."""
    return end <= until(as_of)


def resolve_as_of(events, as_of) -> datetime:
    if as_of is None:
        return max(utc(e["ts"]) for e in events)
    if isinstance(as_of, str):
        if len(as_of) == 10:
            return utc(date.fromisoformat(as_of))
        return utc(datetime.fromisoformat(as_of))
    return utc(as_of)


def wilson(x: int, n: int, level: float = 0.95):
    if n == 0:
        return None, None
    z = NormalDist().inv_cdf(0.5 + level / 2)
    p = x / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    lo = 0.0 if x == 0 else max(0.0, centre - half)
    hi = 1.0 if x == n else min(1.0, centre + half)
    return lo, hi


def _names(value):
    if value is None:
        return None
    return {value} if isinstance(value, str) else set(value)


def _observed(events, as_of):
    return [
        dict(e, ts=utc(e["ts"]))
        for e in events
        if e["customer_id"] is not None and utc(e["ts"]) < until(as_of)
    ]


def _label(value) -> str:
    return "(missing)" if value is None else str(value)


def _top_labels(values: list[str], top_n) -> dict[str, str]:
    """Map each label to itself when among the top_n most common (ties: smaller label first)."""
    counts = defaultdict(int)
    for v in values:
        counts[v] += 1
    if top_n is None:
        return {v: v for v in counts}
    ranked = sorted(counts, key=lambda v: (-counts[v], v))
    keep = set(ranked[:top_n])
    return {v: (v if v in keep else "other") for v in counts}


# -- cohort entries -----------------------------------------------------------------------------


def cohort_entries(
    events,
    *,
    as_of,
    period="month",
    window="calendar",
    cohort_period=None,
    cohorting="first_time",
    start_event=None,
    by=(),
    customers=None,
    top_n=10,
):
    """List of entries: dict(customer_id, start, cohort (index), groups (tuple of labels), E)."""
    cohort_period = cohort_period or period
    by = (by,) if isinstance(by, str) else tuple(by or ())
    names = _names(start_event)
    cust_attr = {}
    if customers is not None:
        for row in customers:
            cust_attr.setdefault(row["customer_id"], row)
    cust_cols = set()
    if customers:
        for row in customers:
            cust_cols |= set(row)
    starts = defaultdict(list)
    for e in events:
        if names is None or e["event"] in names:
            key = e["customer_id"]
            if cohorting == "recurring":
                key = (key, pindex(e["ts"], cohort_period))
            starts[key].append(e)
    out = []
    for key, rows in starts.items():
        cid = key[0] if cohorting == "recurring" else key
        start = min(r["ts"] for r in rows)
        groups = []
        for b in by:
            if b in cust_cols:
                groups.append(_label(cust_attr.get(cid, {}).get(b)))
            else:
                at_start = [r.get(b) for r in rows if r["ts"] == start]
                present = sorted(v for v in at_start if v is not None)
                groups.append(_label(present[0] if present else None))
        ent = {
            "customer_id": cid,
            "start": start,
            "cohort": pindex(start, cohort_period),
            "groups": groups,
        }
        if window == "rolling":
            length = timedelta(days=ROLLING[period])
            # last window k with start + (k + 1) L <= until(as_of)
            k = -1
            while elapsed(start + (k + 2) * length, as_of):
                k += 1
            ent["E"] = k
        out.append(ent)
    for i, _ in enumerate(by):
        mapping = _top_labels([e["groups"][i] for e in out], top_n)
        for e in out:
            e["groups"][i] = mapping[e["groups"][i]]
    for e in out:
        e["groups"] = tuple(e["groups"])
    return out


def _active_units(ent, returns_by_customer, *, period, window, min_events, brackets):
    """Set of active periods (or bracket indexes) of one entry."""
    counts = defaultdict(int)
    for r in returns_by_customer.get(ent["customer_id"], []):
        if window == "rolling":
            if r["ts"] < ent["start"]:
                continue
            k = (r["ts"] - ent["start"]) // timedelta(days=ROLLING[period])
        else:
            k = pindex(r["ts"], period) - ent["cohort"]
            if k < 0:
                continue
        counts[k] += r.get("n_events", 1) if min_events > 1 else 1
    ks = {k for k, n in counts.items() if n >= min_events}
    if brackets is None:
        return ks
    return {j for j, (lo, hi) in enumerate(brackets) if any(lo <= k <= hi for k in ks)}


def _brackets(brackets):
    if brackets is None:
        return None
    out = []
    for b in brackets:
        b = list(b) if isinstance(b, list | tuple) else [b]
        out.append((b[0], b[-1]))
    return out


# -- retention matrix ---------------------------------------------------------------------------


def retention_matrix(
    events,
    *,
    period="month",
    window="calendar",
    mode="on",
    brackets=None,
    min_events=1,
    reference="total",
    cohorting="first_time",
    start_event=None,
    return_event=None,
    by=(),
    customers=None,
    top_n=10,
    as_of=None,
    level=0.95,
    min_cohort_size=30,
    cohort_period=None,
    max_period=None,
):
    """Cells as dicts keyed like the workbench's output columns (by columns by name)."""
    as_of = resolve_as_of(events, as_of)
    events = _observed(events, as_of)
    by = (by,) if isinstance(by, str) else tuple(by or ())
    brackets = _brackets(brackets)
    cohort_period = cohort_period or period
    ents = cohort_entries(
        events,
        as_of=as_of,
        period=period,
        window=window,
        cohort_period=cohort_period,
        cohorting=cohorting,
        start_event=start_event,
        by=by,
        customers=customers,
        top_n=top_n,
    )
    rnames = _names(return_event)
    returns = defaultdict(list)
    for e in events:
        if rnames is None or e["event"] in rnames:
            returns[e["customer_id"]].append(e)
    for ent in ents:
        ent["active"] = _active_units(
            ent, returns, period=period, window=window, min_events=min_events, brackets=brackets
        )
    cohorts = defaultdict(list)
    for ent in ents:
        cohorts[(ent["groups"], ent["cohort"])].append(ent)
    rows = []
    for (groups, c), members in sorted(cohorts.items()):
        if window == "rolling":
            kmax = max(0, max(m["E"] for m in members))
        else:
            kmax = pindex(as_of, period) - c
        if brackets is None:
            top = kmax if max_period is None else min(kmax, max_period)
            units = [(k, k, k) for k in range(top + 1)]  # (first, last, index)
        else:
            units = [
                (lo, hi, j)
                for j, (lo, hi) in enumerate(brackets)
                if (hi if window == "rolling" else lo) <= kmax
            ]
        for first, last, u in units:
            if window == "rolling":
                pool = [m for m in members if m["E"] >= last]
                complete = all(m["E"] >= last for m in members)
            else:
                pool = list(members)
                complete = elapsed(pstart(c + last + 1, period), as_of)

            def on(m, unit):
                if mode == "on":
                    return unit in m["active"]
                return any(k >= unit for k in m["active"])

            if reference == "previous" and u > 0:
                base_set = [m for m in pool if on(m, u - 1)]
            else:
                base_set = pool
            retained = sum(1 for m in base_set if on(m, u))
            base = len(base_set)
            lo, hi = wilson(retained, base, level)
            row = dict(zip(by, groups, strict=True))
            row.update(
                cohort=pstart(c, cohort_period).date(),
                period=first,
                cohort_size=len(members),
                base=base,
                retained=retained,
                retention=retained / base if base else None,
                ci_low=lo,
                ci_high=hi,
                complete=complete,
                small=len(members) < min_cohort_size,
            )
            if brackets is not None:
                row["period_end"] = last
                row["bracket"] = str(first) if first == last else f"{first}-{last}"
            rows.append(row)
    return rows


def retention_curve(cells, by=()):
    """Per (by..., period): sum retained / sum base over complete cells with base > 0."""
    acc = defaultdict(lambda: [0, 0, 0])
    for r in cells:
        if r["complete"] and r["base"] > 0:
            key = (*[r[b] for b in by], r["period"])
            acc[key][0] += 1
            acc[key][1] += r["base"]
            acc[key][2] += r["retained"]
    return {k: (n, b, x, x / b) for k, (n, b, x) in sorted(acc.items())}


def cell_customers(events, *, cohort_index, unit, status="retained", **options):
    """Customer ids behind one cell (unit = period, or bracket index) - via the matrix rules."""
    as_of = resolve_as_of(events, options.get("as_of"))
    obs = _observed(events, as_of)
    period = options.get("period", "month")
    window = options.get("window", "calendar")
    brackets = _brackets(options.get("brackets"))
    mode = options.get("mode", "on")
    ents = cohort_entries(
        obs,
        as_of=as_of,
        period=period,
        window=window,
        cohort_period=options.get("cohort_period"),
        cohorting=options.get("cohorting", "first_time"),
        start_event=options.get("start_event"),
    )
    rnames = _names(options.get("return_event"))
    returns = defaultdict(list)
    for e in obs:
        if rnames is None or e["event"] in rnames:
            returns[e["customer_id"]].append(e)
    last = brackets[unit][1] if brackets else unit
    out = []
    for ent in ents:
        if ent["cohort"] != cohort_index:
            continue
        if window == "rolling" and ent["E"] < last:
            continue
        act = _active_units(
            ent,
            returns,
            period=period,
            window=window,
            min_events=options.get("min_events", 1),
            brackets=brackets,
        )

        def on(u, act=act):
            return u in act if mode == "on" else any(k >= u for k in act)

        if options.get("reference", "total") == "previous" and unit > 0 and not on(unit - 1):
            continue
        now = on(unit)
        if status == "base" or (status == "retained") == now:
            out.append(ent["customer_id"])
    return sorted(out)


# -- lifecycle ----------------------------------------------------------------------------------


def active_periods(events, *, period, event=None):
    names = _names(event)
    act = defaultdict(set)
    for e in events:
        if names is None or e["event"] in names:
            act[e["customer_id"]].add(pindex(e["ts"], period))
    return act


def lifecycle(events, *, period="month", event=None, as_of=None):
    """Rows per period: new, returning, resurrected, dormant (negative), active, quick_ratio."""
    as_of = resolve_as_of(events, as_of)
    events = _observed(events, as_of)
    act = active_periods(events, period=period, event=event)
    first = min(min(s) for s in act.values())
    rows = []
    for p in range(first, pindex(as_of, period) + 1):
        new = ret = res = dor = 0
        for s in act.values():
            if p in s:
                if min(s) == p:
                    new += 1
                elif p - 1 in s:
                    ret += 1
                else:
                    res += 1
            elif p - 1 in s:
                dor += 1
        rows.append(
            dict(
                period_start=pstart(p, period).date(),
                new=new,
                returning=ret,
                resurrected=res,
                dormant=-dor,
                active=new + ret + res,
                quick_ratio=(new + res) / dor if dor else None,
                complete=elapsed(pstart(p + 1, period), as_of),
            )
        )
    return rows


def crr_events(events, *, period="month", inactivity=timedelta(days=90), event=None, as_of=None):
    """CRR per complete period; a customer at instant t: some activity in [t - thr, t)."""
    as_of = resolve_as_of(events, as_of)
    events = _observed(events, as_of)
    names = _names(event)
    times = defaultdict(list)
    for e in events:
        if names is None or e["event"] in names:
            times[e["customer_id"]].append(e["ts"])

    def members(t):
        return {c for c, ts in times.items() if any(t - inactivity <= x < t for x in ts)}

    first = {c: pindex(min(ts), period) for c, ts in times.items()}
    rows = []
    p = min(first.values())
    while elapsed(pstart(p + 1, period), as_of):
        s, e = members(pstart(p, period)), members(pstart(p + 1, period))
        n = sum(1 for c in first if first[c] == p)
        rows.append(_crr_row(p, period, s, e, n, first))
        p += 1
    return rows


def _crr_row(p, period, s, e, n, first):
    retained = len(s & e)
    return dict(
        period_start=pstart(p, period).date(),
        start_customers=len(s),
        end_customers=len(e),
        new=n,
        retained=retained,
        reactivated=sum(1 for c in e - s if first[c] < p),
        churned=len(s) - retained,
        crr=(len(e) - n) / len(s) if s else None,
    )


def crr_subscriptions(subs, *, period="month", as_of=None):
    """A customer at instant t: a paid period with period_start < t <= period_end."""
    as_of = utc(as_of) if as_of is not None else max(utc(r["period_start"]) for r in subs)
    subs = [
        dict(r, period_start=utc(r["period_start"]), period_end=utc(r["period_end"]))
        for r in subs
        if utc(r["period_start"]) < until(as_of)
    ]
    first = {}
    for r in subs:
        i = pindex(r["period_start"], period)
        first[r["customer_id"]] = min(first.get(r["customer_id"], i), i)

    def members(t):
        return {r["customer_id"] for r in subs if r["period_start"] < t <= r["period_end"]}

    rows = []
    p = min(first.values())
    while elapsed(pstart(p + 1, period), as_of):
        s, e = members(pstart(p, period)), members(pstart(p + 1, period))
        n = sum(1 for c in first if first[c] == p)
        rows.append(_crr_row(p, period, s, e, n, first))
        p += 1
    return rows


def stickiness(events, *, period="day", window="month", event=None, as_of=None):
    """{(window_start, active_periods): customers} and the complete flag per window."""
    as_of = resolve_as_of(events, as_of)
    events = _observed(events, as_of)
    act = active_periods(events, period=period, event=event)
    counts = defaultdict(int)
    for s in act.values():
        per_window = defaultdict(int)
        for p in s:
            per_window[pindex(pstart(p, period), window)] += 1
        for w, n in per_window.items():
            counts[(w, n)] += 1
    return {
        (pstart(w, window).date(), n): (c, elapsed(pstart(w + 1, window), as_of))
        for (w, n), c in counts.items()
    }


# -- value retention ----------------------------------------------------------------------------


def value_retention(
    events,
    *,
    period="month",
    window="calendar",
    cohorting="first_time",
    start_event=None,
    revenue_event=None,
    as_of=None,
    cohort_period=None,
    max_period=None,
):
    """Cells: cohort, period, base, paying, revenue, cumulative_revenue_per_customer, complete.

    Calendar: base = the cohort; rolling: entries whose window k has elapsed, and the
    cumulative revenue of cell k sums their revenue in windows 0..k.
    """
    as_of = resolve_as_of(events, as_of)
    events = _observed(events, as_of)
    cohort_period = cohort_period or period
    ents = cohort_entries(
        events,
        as_of=as_of,
        period=period,
        window=window,
        cohort_period=cohort_period,
        cohorting=cohorting,
        start_event=start_event,
    )
    rnames = _names(revenue_event)
    revs = defaultdict(list)
    for e in events:
        if (rnames is None or e["event"] in rnames) and e.get("amount") is not None:
            revs[e["customer_id"]].append(e)
    for ent in ents:
        per = defaultdict(float)
        paid = set()
        for r in revs.get(ent["customer_id"], []):
            if window == "rolling":
                if r["ts"] < ent["start"]:
                    continue
                k = (r["ts"] - ent["start"]) // timedelta(days=ROLLING[period])
            else:
                k = pindex(r["ts"], period) - ent["cohort"]
                if k < 0:
                    continue
            per[k] += r["amount"]
            paid.add(k)
        ent["rev"], ent["paid"] = per, paid
    cohorts = defaultdict(list)
    for ent in ents:
        cohorts[ent["cohort"]].append(ent)
    rows = []
    for c, members in sorted(cohorts.items()):
        if window == "rolling":
            kmax = max(0, max(m["E"] for m in members))
        else:
            kmax = pindex(as_of, period) - c
        top = kmax if max_period is None else min(kmax, max_period)
        for k in range(top + 1):
            if window == "rolling":
                pool = [m for m in members if m["E"] >= k]
                complete = all(m["E"] >= k for m in members)
            else:
                pool = members
                complete = elapsed(pstart(c + k + 1, period), as_of)
            revenue = sum(m["rev"].get(k, 0.0) for m in pool)
            cum = sum(m["rev"].get(j, 0.0) for m in pool for j in range(k + 1))
            rows.append(
                dict(
                    cohort=pstart(c, cohort_period).date(),
                    period=k,
                    cohort_size=len(members),
                    base=len(pool),
                    paying=sum(1 for m in pool if k in m["paid"]),
                    revenue=revenue,
                    cumulative_revenue_per_customer=cum / len(pool) if pool else None,
                    complete=complete,
                )
            )
    return rows


def ltv_curve(cells):
    acc = defaultdict(lambda: [0, 0, 0.0, 0.0])
    for r in cells:
        if r["complete"] and r["base"] > 0:
            a = acc[r["period"]]
            a[0] += 1
            a[1] += r["base"]
            a[2] += r["revenue"]
            a[3] += r["cumulative_revenue_per_customer"] * r["base"]
    return {k: (n, b, rv / b, cu / b) for k, (n, b, rv, cu) in sorted(acc.items())}


# -- MRR ----------------------------------------------------------------------------------------


def monthly_rate(amount, start, end):
    days = (end - start).total_seconds() / 86400
    months = round(days / 30.4375)
    if months >= 1 and abs(days - months * 30.4375) <= 3:
        return amount / months
    if days > 0:
        return amount * 30.4375 / days
    return None


def mrr(subs, *, as_of=None):
    """{(customer, month index): mrr} for months whose end has passed; a paid period covers a
    month when period_start <= last instant < period_end, i.e. start < month end <= end."""
    as_of = utc(as_of) if as_of is not None else max(utc(r["period_start"]) for r in subs)
    out = defaultdict(float)
    for r in subs:
        ps, pe = utc(r["period_start"]), utc(r["period_end"])
        if ps >= until(as_of):
            continue
        rate = monthly_rate(r["amount"], ps, pe)
        if rate is None:
            continue
        m = pindex(ps, "month")
        while True:
            end = pstart(m + 1, "month")
            if not elapsed(end, as_of) or end > pe:
                break
            if ps < end:
                out[(r["customer_id"], m)] += rate
            m += 1
    return {k: v for k, v in out.items() if v > 0}, as_of


def mrr_bridge(subs, *, as_of=None):
    """Rows per month: start_mrr, new, expansion, contraction (<0), churned (<0), reactivated,
    end_mrr, nrr = (start + expansion - |contraction| - |churned|) / start, grr without
    expansion."""
    table, as_of = mrr(subs, as_of=as_of)
    by_c = defaultdict(dict)
    for (c, m), v in table.items():
        by_c[c][m] = v
    first_m = min(m for _, m in table)
    last_m = pindex(as_of, "month")
    while not elapsed(pstart(last_m + 1, "month"), as_of):
        last_m -= 1
    rows = []
    for m in range(first_m, last_m + 1):
        r = dict.fromkeys(
            ("start_mrr", "new", "expansion", "contraction", "churned", "reactivated", "end_mrr"),
            0.0,
        )
        n = dict.fromkeys(
            (
                "customers_start",
                "customers_end",
                "new_customers",
                "churned_customers",
                "reactivated_customers",
            ),
            0,
        )
        for months in by_c.values():
            was, now = months.get(m - 1, 0.0), months.get(m, 0.0)
            r["start_mrr"] += was
            r["end_mrr"] += now
            n["customers_start"] += was > 0
            n["customers_end"] += now > 0
            if was == 0 and now > 0:
                if min(months) == m:
                    r["new"] += now
                    n["new_customers"] += 1
                else:
                    r["reactivated"] += now
                    n["reactivated_customers"] += 1
            elif was > 0 and now == 0:
                r["churned"] -= was
                n["churned_customers"] += 1
            elif now > was:
                r["expansion"] += now - was
            elif now < was:
                r["contraction"] -= was - now
        s = r["start_mrr"]
        r["nrr"] = (
            (s + r["expansion"] - abs(r["contraction"]) - abs(r["churned"])) / s if s else None
        )
        r["grr"] = (s - abs(r["contraction"]) - abs(r["churned"])) / s if s else None
        r["month"] = pstart(m, "month").date()
        r.update(n)
        rows.append(r)
    return rows
