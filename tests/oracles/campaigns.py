"""Reference campaign effect (wb.campaign_effect): per campaign and group, recipients counted
once at their first send; returned = an outcome event in (sent_ts, sent_ts + window] (and not
after as_of); revenue = revenue-event amounts in that window."""

from __future__ import annotations

from collections import defaultdict


def recipients(campaigns) -> dict:
    """(campaign, customer) -> (first sent_ts, group of that send)."""
    out = {}
    for r in campaigns:
        key = (r["campaign_id"], r["customer_id"])
        if key not in out or r["sent_ts"] < out[key][0]:
            out[key] = (r["sent_ts"], r["group"])
    return out


def effect(events, campaigns, *, window, as_of, outcome=("purchase",), revenue_event="purchase"):
    """(campaign, group) -> {n, returned, rate, revenue_mean}; outcome None = any event."""
    by_customer = defaultdict(list)
    for e in events:
        if e["ts"] <= as_of:
            by_customer[e["customer_id"]].append(e)
    cells = defaultdict(lambda: {"n": 0, "returned": 0, "revenue": []})
    for (camp, cust), (sent, group) in recipients(campaigns).items():
        hit, revenue = False, 0.0
        for e in by_customer.get(cust, []):
            if sent < e["ts"] <= sent + window:
                if outcome is None or e["event"] in outcome:
                    hit = True
                if e["event"] == revenue_event:
                    revenue += e["amount"] or 0.0
        cell = cells[(camp, group)]
        cell["n"] += 1
        cell["returned"] += int(hit)
        cell["revenue"].append(revenue)
    out = {}
    for key, c in cells.items():
        out[key] = {
            "n": c["n"],
            "returned": c["returned"],
            "rate": c["returned"] / c["n"],
            "revenue_mean": sum(c["revenue"]) / c["n"],
        }
    return out
