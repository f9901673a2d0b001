"""Sections on leaving: churn and survival by segment, drivers, and leaving-customer patterns."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from ..schema import CUSTOMER_ID, PLAN
from .blocks import Section, esc, figure_of, has, notes_of, optional, table
from .sections_events import measure_event


def _segment_source(ctx) -> pl.DataFrame | None:
    """The customers table when it carries the breakdown attribute."""
    if ctx.customers is not None and ctx.by in ctx.customers.columns:
        return ctx.customers
    return None


def _gap_days(ctx) -> int:
    from .._leaving import parse_duration

    return int(parse_duration(ctx.churn_definition, "report", "churn_definition").days)


CANCEL = "cancel"  # an event of this name in the log tells contractual churn early


def _cancel_event(ctx) -> str | None:
    """CANCEL when the log has such events (looked up once per report), else None."""
    if "cancel_event" not in ctx.cache:
        ev = ctx.events
        found = "event" in ev.columns and bool((ev["event"] == CANCEL).any())
        ctx.cache["cancel_event"] = CANCEL if found else None
    return ctx.cache["cancel_event"]


def churn_tables(ctx) -> dict:
    """Inactivity (and, with subscriptions, contractual) churn tables, computed once."""
    if "churn_tables" in ctx.cache:
        return ctx.cache["churn_tables"]
    churn = optional("churn")
    out = {}
    if has(churn, "churn_table"):
        out["inactivity"] = churn.churn_table(
            ctx.events, inactivity=ctx.churn_definition, as_of=ctx.as_of, customers=ctx.customers
        )
        if ctx.subscriptions is not None and ctx.subscriptions.height:
            out["subscriptions"] = churn.churn_table(
                ctx.events,
                subscriptions=ctx.subscriptions,
                cancel_event=_cancel_event(ctx),
                as_of=ctx.as_of,
                customers=ctx.customers,
            )
    ctx.cache["churn_tables"] = out
    return out


def _curves_block(
    sec: Section, ctx, survival, tbl: pl.DataFrame, by: str | None, label: str
) -> None:
    curves = survival.churn_curves(tbl, by=by)
    sec.add(figure_of(curves))
    summary = curves.summary
    keep = [
        c
        for c in ([by] if by else []) + ["customers", "churned", "median_days", "rmst_days"]
        if c in summary.columns
    ]
    sec.add(
        table(
            summary.select(keep),
            labels={
                "median_days": "median lifetime (days)",
                "rmst_days": f"mean days retained within {curves.params.get('rmst_horizon', 365):.0f}",
            },
        )
    )
    if by and summary.height > 1:
        test = curves.compare(pairwise=False).row(0, named=True)
        verdict = "differ" if test["p_value"] < 0.05 else "do not differ detectably"
        sec.text(
            f"{esc(label)}: the survival curves by {esc(by)} {verdict} (log-rank "
            f"chi-square {test['statistic']:.2f}, df {test['df']}, p = "
            f"{test['p_value']:.3g})."
        )
    ctx.define("Survival curve (Kaplan-Meier)", survival.KM_DEFINITION, curves.params)
    if hasattr(survival, "LOGRANK_DEFINITION"):
        ctx.define("Log-rank test", survival.LOGRANK_DEFINITION)


COMPARED = {"own_cycle": 2.0, "p_alive_below": 0.3}  # beside the report's inactivity threshold


def _definitions_block(sec: Section, ctx, churn_mod) -> None:
    """Churned shares on the analysis day under the inactivity, own-rhythm and P(alive) rules."""
    compare = optional("churn_compare")
    if not has(compare, "compare_churn_definitions"):
        return
    defs = {"inactivity": ctx.churn_definition, **COMPARED}
    got = compare.compare_churn_definitions(ctx.events, definitions=defs, as_of=ctx.as_of)
    names = {
        "inactivity": f"no event for {ctx.churn_definition}",
        "own_cycle": f"own rhythm: gap > {COMPARED['own_cycle']:g} x typical",
        "p_alive_below": f"P(alive) < {COMPARED['p_alive_below']:g}",
    }
    sec.heading("How many customers count as churned: three definitions")
    sec.add(
        table(
            got.with_columns(pl.col("definition").replace_strict(names)).drop("setting"),
            formats={"churn_share": "pct", "ci_low": "pct", "ci_high": "pct"},
            labels={
                "churn_share": "churned share",
                "median_threshold_days": "median threshold (days)",
                "never_churn": "can never churn",
            },
        )
    )
    rows = {r["definition"]: r for r in got.iter_rows(named=True)}
    sec.text(
        f"Inactivity ({esc(ctx.churn_definition)} without any event), own rhythm (more than "
        f"{COMPARED['own_cycle']:g} times the customer's typical gap between purchases) and "
        f"P(alive) below {COMPARED['p_alive_below']:g} (BG/NBD on purchases) count "
        f"{rows['inactivity']['churn_share']:.0%}, {rows['own_cycle']['churn_share']:.0%} and "
        f"{rows['p_alive_below']['churn_share']:.0%} of customers as churned. Under BG/NBD the "
        f"{rows['p_alive_below']['never_churn']:,} customers without a repeat purchase can "
        f"never churn; churn figures depend on the definition, so compare like with like."
    )
    ctx.define("Own-rhythm churn", churn_mod.CHURN_DEFINITIONS["own_cycle"], COMPARED)
    ctx.define("Probability (P(alive)) churn", churn_mod.CHURN_DEFINITIONS["p_alive_below"])
    ctx.define("Churn definitions compared", compare.COMPARE_DEFINITION)


def churn(ctx) -> Section | None:
    """Kaplan-Meier survival by the breakdown attribute (inactivity churn; contractual by plan)."""
    churn_mod, survival = optional("churn"), optional("survival")
    if not (has(churn_mod, "churn_table") and has(survival, "churn_curves")):
        return None
    sec = Section("churn", "Churn and survival by segment")
    with notes_of(sec):
        tables = churn_tables(ctx)
        tbl = tables["inactivity"]
        by = ctx.by if ctx.by in tbl.columns else None
        sec.heading(f"Customers: inactivity churn ({ctx.churn_definition})")
        _curves_block(sec, ctx, survival, tbl, by, "Inactivity churn")
        ctx.define("Inactivity churn", churn_mod.CHURN_DEFINITIONS["inactivity"])
        ctx.define("Censoring", churn_mod.CENSORING_DEFINITION)
        _definitions_block(sec, ctx, churn_mod)
        subs = tables.get("subscriptions")
        if subs is not None and subs.height:
            plan_by = PLAN if PLAN in subs.columns and subs[PLAN].n_unique() > 1 else None
            sec.heading("Subscriptions: contractual churn")
            _curves_block(sec, ctx, survival, subs, plan_by, "Contractual churn")
            told = {
                "grace": "45d",
                "cancel_event": _cancel_event(ctx),
            }
            ctx.define("Contractual churn", churn_mod.CHURN_DEFINITIONS["subscriptions"], told)
    return sec


def _covariates(tbl: pl.DataFrame, ctx) -> list[str]:
    """Customer attributes usable as Cox covariates: numbers, and text with 2-20 levels."""
    if ctx.customers is None:
        return []
    from ..schema import SIGNUP_TS

    out = []
    for col in ctx.customers.columns:
        if col in (CUSTOMER_ID, SIGNUP_TS) or col not in tbl.columns:
            continue
        dtype = tbl.schema[col]
        if dtype.is_numeric() or dtype == pl.Boolean:
            out.append(col)
        elif dtype == pl.String and 2 <= tbl[col].n_unique() <= 20:
            out.append(col)
    return out


def drivers(ctx) -> Section | None:
    """What goes with staying: Cox hazard ratios, early actions, a churn-propensity model."""
    activation, propensity = optional("activation"), optional("propensity")
    cox = optional("survival_drivers")
    if not (
        has(activation, "activation_effect")
        or has(propensity, "churn_propensity")
        or has(cox, "churn_drivers")
    ):
        return None
    sec = Section("drivers", "Drivers of retention")
    with notes_of(sec):
        tables = churn_tables(ctx) if has(cox, "churn_drivers") else {}
        tbl = tables.get("subscriptions")
        kind = "subscription (contractual) churn"
        if tbl is None or not tbl.height:
            tbl, kind = tables.get("inactivity"), f"inactivity churn ({ctx.churn_definition})"
        covs = _covariates(tbl, ctx) if tbl is not None else []
        if covs and tbl.filter(pl.col("churned")).height >= 10:
            res = cox.churn_drivers(tbl, covariates=covs)
            sec.heading(f"What shortens customer lifetimes: Cox regression of {kind}")
            sec.add(figure_of(res))
            cols = [
                c
                for c in ("covariate", "hazard_ratio", "ci_low", "ci_high", "p_value")
                if c in res.table.columns
            ]
            sec.add(table(res.table.select(cols)))
            ref = res.params.get("reference") or {}
            if ref:
                sec.note(
                    "Reference levels: "
                    + ", ".join(f"{esc(k)} = {esc(v)}" for k, v in ref.items())
                    + "."
                )
            ctx.define("Churn drivers (Cox regression)", cox.COX_DEFINITION, res.params)
        _business_events(sec, ctx)
        if has(activation, "activation_effect"):
            eff = activation.activation_effect(ctx.events, as_of=ctx.as_of)
            if eff.table.height:
                sec.heading("Early actions and later retention (association, not cause)")
                sec.add(figure_of(eff))
                cols = [
                    c
                    for c in (
                        "action",
                        "n_did",
                        "n_not",
                        "retention_did",
                        "retention_not",
                        "lift",
                        "lift_ci_low",
                        "lift_ci_high",
                        "p_adjusted",
                        "significant",
                    )
                    if c in eff.table.columns
                ]
                sec.add(
                    table(
                        eff.table.select(cols),
                        formats={
                            "retention_did": "pct",
                            "retention_not": "pct",
                            "lift": "pct",
                            "lift_ci_low": "pct",
                            "lift_ci_high": "pct",
                        },
                    )
                )
                ctx.define("Activation effect", activation.ACTIVATION_DEFINITION, eff.params)
        if has(propensity, "churn_propensity"):
            cutoff = ctx.as_of - timedelta(days=_gap_days(ctx))
            model = propensity.churn_propensity(
                ctx.events, cutoff=cutoff, horizon=ctx.churn_definition, customers=ctx.customers
            )
            sec.heading("Churn propensity model: what predicts leaving")
            coef = model.coefficients.filter(pl.col("term") != "intercept")
            if "z" in coef.columns:
                coef = coef.sort(pl.col("z").abs(), descending=True)
            cols = [
                c
                for c in ("term", "ratio", "ci_low", "ci_high", "z", "p_value", "ratio_kind")
                if c in coef.columns
            ]
            sec.add(
                table(
                    coef.select(cols),
                    max_rows=12,
                    labels={
                        "ratio": "odds/hazard ratio",
                        "ci_low": "coef ci_low",
                        "ci_high": "coef ci_high",
                    },
                )
            )
            if getattr(model, "auc", None) is not None:
                sec.text(
                    f"Holdout AUC {model.auc:.3f} (0.5 = no better than chance). Features "
                    f"are measured at {cutoff:%Y-%m-%d}; churn = no activity in the "
                    f"following {esc(ctx.churn_definition)}."
                )
            ctx.define(
                "Churn propensity", propensity.PROPENSITY_DEFINITION, getattr(model, "params", None)
            )
    return sec if len(sec.parts) else None


def _business_events(sec: Section, ctx) -> None:
    """Before/after churn tests around each annotated business event (wb.event_impact)."""
    impact = optional("impact")
    ann = ctx.annotations
    if not has(impact, "event_impact") or ann is None or not ann.height:
        return
    ann = ann.filter(pl.col("start") <= ctx.as_of.date())
    if not ann.height:
        return
    rows, verdicts = [], []
    for event in ann.iter_rows(named=True):
        res = measure_event(ctx, event["label"], event["start"])
        rows.append(res.table)
        if res.verdict:
            verdicts.append(esc(res.verdict))
    sec.heading("Business events: did churn change afterwards?")
    sec.add('<ul class="wb-bullets">' + "".join(f"<li>{v}</li>" for v in verdicts) + "</ul>")
    found = pl.concat(rows, how="diagonal_relaxed")
    cols = [
        c
        for c in (
            "label",
            "start",
            "comparison",
            "group",
            "measure",
            "estimate",
            "ci_low",
            "ci_high",
            "p_value",
        )
        if c in found.columns
    ]
    sec.add(table(found.select(cols)))
    ctx.define("Business event impact", impact.EVENT_IMPACT_DEFINITION, res.params)


def leaving(ctx) -> Section | None:
    """How departed customers differed, why they say they left, and the problem segments."""
    patterns = optional("patterns")
    if not has(patterns, "departed_patterns"):
        return None
    sec = Section("leaving", "Leaving customers: patterns and problem segments")
    cutoff = ctx.as_of - timedelta(days=_gap_days(ctx))
    with notes_of(sec):
        dep = patterns.departed_patterns(
            ctx.events,
            cutoff=cutoff,
            horizon=ctx.churn_definition,
            customers=ctx.customers,
            subscriptions=ctx.subscriptions,
            annotations=ctx.annotations,
        )
        p = dep.params
        sec.heading("How departed customers differed from those who stayed")
        sec.text(
            f"Customers active before {cutoff:%Y-%m-%d}, followed for "
            f"{esc(ctx.churn_definition)}: {p.get('n_churned', 0):,} left, "
            f"{p.get('n_retained', 0):,} stayed."
        )
        sec.add(figure_of(dep))
        cols = [
            c
            for c in (
                "feature",
                "kind",
                "test",
                "effect",
                "effect_size",
                "p_adjusted",
                "significant",
            )
            if c in dep.table.columns
        ]
        sec.add(table(dep.table.select(cols), max_rows=12))
        ctx.define("Departed-customer patterns", patterns.PATTERNS_DEFINITION, dep.params)
        if has(patterns, "problem_segments") and ctx.customers is not None:
            seg = patterns.problem_segments(
                ctx.events, cutoff=cutoff, customers=ctx.customers, horizon=ctx.churn_definition
            )
            sec.heading("Problem segments: churn above the base rate")
            sig = seg.significant if hasattr(seg, "significant") else seg.table
            base = seg.params.get("base_rate")
            if base is not None:
                sec.text(
                    f"Base churn rate {base:.1%}; {sig.height} segment(s) churn significantly more."
                )
            sec.add(figure_of(seg))
            shown = sig if sig.height else seg.table
            cols = [
                c
                for c in (
                    "segment",
                    "customers",
                    "churned",
                    "churn_rate",
                    "lift",
                    "p_adjusted",
                    "value_at_risk",
                )
                if c in shown.columns
            ]
            sec.add(
                table(
                    shown.select(cols),
                    max_rows=12,
                    formats={"churn_rate": "pct", "value_at_risk": "money"},
                )
            )
            ctx.define("Problem segments", patterns.PROBLEM_SEGMENTS_DEFINITION, seg.params)
        reasons_mod = optional("reasons")
        if not has(reasons_mod, "churn_reasons"):
            reasons_mod = patterns
        if has(reasons_mod, "churn_reasons") and ctx.feedback is not None and ctx.feedback.height:
            by = ctx.by if _segment_source(ctx) is not None else None
            reasons = reasons_mod.churn_reasons(ctx.feedback, customers=ctx.customers, by=by)
            sec.heading("Why they say they left (survey answers)")
            sec.add(figure_of(reasons))
            if reasons.test:
                t = reasons.test
                sec.text(
                    f"Reasons by {esc(by)}: chi-square {t['statistic']:.2f}, df "
                    f"{t['dof']}, p = {t['p_value']:.3g}."
                )
            ctx.define("Churn reasons", reasons_mod.REASONS_DEFINITION, reasons.params)
    return sec
