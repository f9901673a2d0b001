"""Sections on acting: win-back targets with the last campaigns' measured effect, and the funnel."""

from __future__ import annotations

import polars as pl

from ..schema import CAMPAIGN_ID, CATEGORY, CUSTOMER_ID, EVENT, N_EVENTS, SENT_TS
from .blocks import Section, esc, figure_of, has, notes_of, optional, table

FUNNEL_STEPS = ("visit", "add_to_cart", "purchase")
LAST_CAMPAIGNS = 3


def overdue_result(ctx):
    """`wb.overdue_customers` at the report's analysis date, computed once (or None)."""
    if "overdue" not in ctx.cache:
        overdue = optional("overdue")
        ctx.cache["overdue"] = (
            overdue.overdue_customers(ctx.events, as_of=ctx.as_of)
            if has(overdue, "overdue_customers")
            else None
        )
    return ctx.cache["overdue"]


def winback(ctx) -> Section | None:
    """Who to win back (reason, offer, value at stake) and what the last campaigns achieved."""
    wb_mod, campaigns = optional("winback"), optional("campaigns")
    has_targets = has(wb_mod, "winback_targets")
    has_campaigns = (
        has(campaigns, "campaign_effect") and ctx.campaigns is not None and ctx.campaigns.height > 0
    )
    if not (has_targets or has_campaigns):
        return None
    sec = Section("winback", "Win-back targets and campaign effects")
    with notes_of(sec):
        if has_targets:
            extra = {}
            if CATEGORY not in ctx.events.columns:  # no categories: no category drop-outs
                extra["dropouts"] = pl.DataFrame(
                    schema={
                        CUSTOMER_ID: ctx.events.schema[CUSTOMER_ID],
                        CATEGORY: pl.String,
                        "days_since_category": pl.Float64,
                        "recent_window_days": pl.Float64,
                    }
                )
            targets = wb_mod.winback_targets(
                ctx.events,
                as_of=ctx.as_of,
                customers=ctx.customers,
                campaigns=ctx.campaigns,
                overdue=overdue_result(ctx),
                **extra,
            )
            sec.heading("Customers to contact now")
            total = targets["value_at_stake"].sum() if "value_at_stake" in targets.columns else None
            by_reason = (
                targets.group_by("reason")
                .agg(
                    pl.len().alias("customers"),
                    pl.col("value_at_stake").sum().alias("value_at_stake"),
                )
                .sort("value_at_stake", descending=True, nulls_last=True)
            )
            lead = f"{targets.height:,} customers have a reason to be contacted"
            if total is not None:
                lead += f", with {total:,.0f} of expected value at stake over the next 90 days"
            sec.text(lead + ".")
            sec.add(table(by_reason, formats={"value_at_stake": "money"}))
            plots = optional("plots.leaving")
            if has(plots, "winback_figure") and targets.height:
                sec.add(plots.winback_figure(targets))
            cols = [
                c
                for c in (
                    "customer_id",
                    "reason",
                    "offer",
                    "value_at_stake",
                    "p_alive",
                    "days_since_last_purchase",
                    "category",
                    "channel",
                )
                if c in targets.columns
            ]
            sec.heading("Top targets by value at stake")
            sec.add(
                table(
                    targets.select(cols),
                    max_rows=15,
                    formats={"value_at_stake": "money", "p_alive": "pct"},
                )
            )
            ctx.define(
                "Win-back targets",
                wb_mod.WINBACK_DEFINITION,
                {"as_of": ctx.as_of, "horizon": "90d", "k": 1.5},
            )
        if has_campaigns:
            last = (
                ctx.campaigns.group_by(CAMPAIGN_ID)
                .agg(pl.col(SENT_TS).min())
                .sort(SENT_TS, descending=True)
                .head(LAST_CAMPAIGNS)[CAMPAIGN_ID]
                .to_list()
            )
            sends = ctx.campaigns.filter(pl.col(CAMPAIGN_ID).is_in(last))
            effect = campaigns.campaign_effect(ctx.events, sends, as_of=ctx.as_of)
            sec.heading("Measured effect of the last campaigns (treatment vs control)")
            sec.add(figure_of(effect))
            cols = [
                c
                for c in (
                    "campaign_id",
                    "n_treatment",
                    "n_control",
                    "rate_treatment",
                    "rate_control",
                    "lift",
                    "lift_ci_low",
                    "lift_ci_high",
                    "p_value",
                    "incremental_revenue",
                    "note",
                )
                if c in effect.table.columns
            ]
            sec.add(
                table(
                    effect.table.select(cols),
                    formats={
                        "rate_treatment": "pct",
                        "rate_control": "pct",
                        "lift": "pct",
                        "lift_ci_low": "pct",
                        "lift_ci_high": "pct",
                        "incremental_revenue": "money",
                    },
                )
            )
            window = effect.params.get("window", "30d")
            sec.note(
                f"A return is a purchase within {esc(window)} after the send; customers whose "
                f"window has not ended by the analysis date are not counted."
            )
            ctx.define("Campaign effect", campaigns.CAMPAIGN_EFFECT_DEFINITION, effect.params)
    return sec if sec.parts else None


def funnel(ctx) -> Section | None:
    """Visit -> add to cart -> purchase within 7 days of the first visit, by segment."""
    funnels = optional("funnels")
    if not has(funnels, "funnel"):
        return None
    present = set(ctx.events[EVENT].unique().drop_nulls().to_list())
    if not set(FUNNEL_STEPS) <= present or N_EVENTS in ctx.events.columns:
        return None  # no such steps, or events reduced to days (the order within a day is lost)
    sec = Section("funnel", "Funnel")
    with notes_of(sec):
        by = ctx.by if (ctx.customers is not None and ctx.by in ctx.customers.columns) else None
        res = funnels.funnel(
            ctx.events,
            list(FUNNEL_STEPS),
            as_of=ctx.as_of,
            by=by,
            customers=ctx.customers if by else None,
        )
        sec.add(figure_of(res))
        cols = [
            c
            for c in ((by,) if by else ())
            + ("step", "event", "entered", "customers", "step_conversion", "overall_conversion")
            if c in res.table.columns
        ]
        sec.add(
            table(
                res.table.select(cols),
                formats={"step_conversion": "pct", "overall_conversion": "pct"},
            )
        )
        if res.tests is not None and res.tests.height:
            last = res.tests.filter(pl.col("measure") == "overall").tail(1).row(0, named=True)
            verdict = "differs" if last["p_value"] < 0.05 else "does not differ detectably"
            sec.text(
                f"Overall conversion to {esc(last['event'])} {verdict} between "
                f"{esc(by)} segments (chi-square {last['chi2']:.2f}, df {last['df']}, "
                f"p = {last['p_value']:.3g})."
            )
        ctx.define("Funnel", funnels.FUNNEL_DEFINITION, res.params)
    return sec
