"""What happened in the market? Before/after tests of churn around business events.

`event_impact` compares the churn hazard (or retention) in a window after an annotated event
with a baseline window before it, in the segment the event applies to and, as a control, in the
other customers (difference in differences). See ``EVENT_IMPACT_DEFINITION`` for the exact
measures and `workbench._impact_fit` for the models.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import polars as pl
from scipy import stats as sps

from . import _effects as fx
from . import _impact_data as D
from . import _impact_text as T
from ._impact_fit import fit_banded, wald
from .annotations import LABEL, SEGMENT_COLUMN, SEGMENT_VALUE, START, annotation_table
from .cycles import parse_days
from .errors import BadParameterError, bad_choice
from .schema import CustomerSchema, EventSchema, SubscriptionSchema

EVENT_IMPACT_DEFINITION = (
    "Event impact: did churn change after a business event? Customer-time is split at the "
    "event's start day into a baseline window (the `before` days before it) and an after window "
    "(the `window` days from it), and compared among customers of the same tenure (tenure bands "
    "0-1, 1-2, 2-3, 3-6, 6-9, 9-12, 12-18, 18-24, 24-36, 36+ months, merged until each holds 10 "
    "churns), so that a base growing older or newer does not pass for an effect. The hazard "
    "ratio is the after-window hazard / the baseline hazard with a Wald interval and p-value "
    "from maximum likelihood. With exact churn days (a churn table, e.g. inactivity churn) the "
    "model is piecewise exponential: churns are Poisson with mean customer-days x hazard (a "
    "Poisson GLM with a log-exposure offset). With subscriptions churn shows only at renewals: "
    "the churn date is the end of the last paid period, up to a month after the customer's "
    "decision, so dating churns by it would smear and delay the effect. Each paid period is "
    "instead one renewal decision that ends in churn with probability 1 - exp(-sum of the daily "
    "hazard over its days), with the baseline hazard before the event, the after-window hazard "
    "inside the window and a separate hazard after it; the ratio thus dates churn by the "
    "decision. Only periods whose renewal is known (period end + grace <= analysis day) are "
    "used. Control: with a segment (e.g. country = DE) the same comparison in the other "
    "customers gives a difference in differences, the ratio of the two hazard ratios, which "
    "removes changes common to both (seasonality, company-wide events). Retention: share of the "
    "customers at risk at a window's start who have not churned by its end, after window vs an "
    "equally long window before it (Newcombe interval; difference in differences with a Wald "
    "interval; with subscriptions a churn counts on the end day of the last paid period). "
    "Evidence: p < 0.001 strong, < 0.01 good, < 0.05 some, < 0.1 weak. Crude rates "
    "(value_before, value_after) are churns per customer-month of 30.4375 days."
)

METRICS = ("churn_hazard", "retention")
MONTH_DAYS = 30.4375
TENURE_MONTHS = (0, 1, 2, 3, 6, 9, 12, 18, 24, 36)  # finest tenure bands of the hazard models


@dataclass(frozen=True)
class EventImpact:
    """Result of `event_impact`: one row per annotation x comparison (segment, control,
    difference in differences); `.verdict` says in plain words how strong the evidence is and
    what could confound it; `.coefficients` holds the fitted log-rates."""

    table: pl.DataFrame
    params: dict = field(default_factory=dict)
    verdict: str = ""
    verdicts: dict = field(default_factory=dict)
    coefficients: pl.DataFrame | None = None
    definition: str = EVENT_IMPACT_DEFINITION

    def plot(self):
        """Forest plot of the estimates with their intervals (one marker per comparison)."""
        from .plots.annotations import impact_forest

        return impact_forest(self)

    def _repr_html_(self) -> str:
        import html

        body = "".join(f"<p>{html.escape(v)}</p>" for v in self.verdicts.values())
        return fx.result_html("Event impact", self.definition, self.table, self.params).replace(
            "</ul>", "</ul>" + body, 1
        )


def event_impact(
    events=None,
    annotation=None,
    *,
    metric: str = "churn_hazard",
    window="90d",
    before=None,
    segment=None,
    control=None,
    customers=None,
    subscriptions=None,
    churn=None,
    grace="45d",
    annotations=None,
    as_of=None,
    level: float = 0.95,
    adjust_tenure: bool = True,
    schema: EventSchema | None = None,
    subscription_schema: SubscriptionSchema | None = None,
    customer_schema: CustomerSchema | None = None,
) -> EventImpact:
    """Did churn or retention change after a business event? (see ``EVENT_IMPACT_DEFINITION``)

    `annotation`: one event (a dict, a row of `wb.load_annotations`, or a date such as a
    placebo '2025-01-15') or a whole annotations table (every row is analysed). The after
    window is [start, start + `window`); the baseline window is the `before` days before the
    start (default: as long as `window`; retention always uses equal lengths).

    Churn, exactly one source: `subscriptions=` (contractual churn at renewals, `grace` as in
    `wb.churn_table`), `churn=` a churn table from `wb.churn_table` (exact churn days), or the
    `events` with `churn=` an inactivity threshold (default "90d").

    `segment`: None uses the annotation's own segment (segment_column = segment_value); a
    {column: value} dict or (column, value) pair overrides it; False compares everyone. The
    attribute comes from `customers` (or else from the churn or subscription table). `control`:
    the control's values of that attribute (default: every other value).
    `annotations`: the full annotations table, used to flag other events inside the windows
    (or in the `window` days before the baseline, whose after-effects could reach into it).

    `metric`: "churn_hazard" (hazard ratio after / before, compared within tenure bands unless
    `adjust_tenure=False`) or "retention" (share still a customer at the end of the window).
    `as_of`: the analysis day (default: the last event, or the last period start); churn known
    only later (grace, inactivity threshold) is left out. `level`: confidence level.

    Returns an `EventImpact`: `.table` (one row per annotation x comparison with estimate,
    ci_low, ci_high, p_value, crude rates before/after, churn counts, exposures, the windows,
    the last observed day and concurrent annotations), `.verdict`, `.params`, `.plot()`.
    """
    caller = "event_impact"
    if annotation is None:
        raise BadParameterError(
            f"{caller}: pass the event to test as annotation=, e.g. a row of "
            f"wb.load_annotations(...) or a date such as '2025-03-01'."
        )
    if metric not in METRICS:
        raise bad_choice(caller, "metric", metric, METRICS)
    level = fx.check_level(level, caller=caller)
    after_days = parse_days(window, caller, "window")
    if (
        metric == "retention"
        and before is not None
        and parse_days(before, caller, "before") != after_days
    ):
        raise BadParameterError(
            f"{caller}: before={before!r} differs from window={window!r}; retention compares "
            f"windows of equal length. Fix: drop before= or use metric='churn_hazard'."
        )
    before_days = after_days if before is None else parse_days(before, caller, "before")
    override = _segment_override(segment, control, caller)
    ctrl = _control_values(control, caller)
    if not isinstance(adjust_tenure, bool):
        raise BadParameterError(f"{caller}: adjust_tenure={adjust_tenure!r} must be True or False.")
    edges = (
        ([m * MONTH_DAYS for m in TENURE_MONTHS] + [math.inf]) if adjust_tenure else [0.0, math.inf]
    )
    ann = annotation_table(annotation, caller=caller)
    context = ann if annotations is None else annotation_table(annotations, caller=caller)
    src = D.churn_source(
        events,
        subscriptions,
        churn,
        metric=metric,
        grace=grace,
        as_of=as_of,
        schema=schema,
        subscription_schema=subscription_schema,
        caller=caller,
    )

    rows, coefs, verdicts = [], [], {}
    for row in ann.iter_rows(named=True):
        col, val = override if override is not None else (row[SEGMENT_COLUMN], row[SEGMENT_VALUE])
        if col is None and ctrl is not None:
            raise BadParameterError(
                f"{caller}: annotation {row[LABEL]!r} applies to everyone, so control= has no "
                f"segment to compare against. Fix: drop control=, or pass segment=."
            )
        st = D.day_num(row[START])
        windows = (st - before_days, st, st + after_days)
        lf = src.lf
        if col is not None:
            lf = D.attach_segment(
                lf, col, customers, customer_schema, caller, row[LABEL], src.where
            )
        lf = D.assign_groups(lf, val, ctrl, caller, row[LABEL], col)
        lo, _, hi = windows
        # Events shortly before the baseline may still act in it: look back one window more.
        others = D.concurrent(context, row, T.num_date(lo - after_days), T.num_date(hi - 1))
        info = {
            "label": row[LABEL],
            "start": row[START],
            "column": col,
            "value": val,
            "control": ctrl,
            "windows": windows,
            "horizon": src.horizon,
            "concurrent": others,
            "window": after_days,
        }
        if metric == "churn_hazard":
            found, cf = _hazard_rows(lf, src, windows, level, edges)
            coefs += [{"label": row[LABEL], **c} for c in cf]
        else:
            found = _retention_rows(lf, src, windows, level)
        table_rows = T.decorate(found, info, metric)
        rows += table_rows
        key = row[LABEL] if row[LABEL] not in verdicts else f"{row[LABEL]} ({row[START]})"
        verdicts[key] = T.verdict(table_rows, found, info, metric, level, src)

    table = pl.DataFrame(rows, schema=T.SCHEMA, orient="row")
    coefficients = pl.DataFrame(coefs, schema=T.COEF_SCHEMA, orient="row") if coefs else None
    params = {
        "metric": metric,
        "measure": T.MEASURES[metric][0],
        "window": window if isinstance(window, str) else f"{after_days}d",
        "before": f"{before_days}d",
        "level": level,
        "churn": src.description,
        "as_of": T.num_date(src.as_of),
        "segment": "annotation"
        if segment is None
        else ("none" if segment is False else f"{override[0]} = {override[1]}"),
        "control": "all other values" if control is None else control,
        "adjust_tenure": adjust_tenure,
        "rate_unit": f"churns per customer-month ({MONTH_DAYS} days)",
        "method": (
            "interval-censored renewal model (paid periods)"
            if src.kind == "periods"
            else "Poisson rates on exact churn days"
        )
        if metric == "churn_hazard"
        else "retention proportions",
    }
    return EventImpact(
        table=table,
        params=params,
        verdict="\n\n".join(verdicts.values()),
        verdicts=verdicts,
        coefficients=coefficients,
    )


# -- inputs ------------------------------------------------------------------------------------


def _segment_override(segment, control, caller):
    if segment is None:
        return None
    if segment is False:
        if control is not None:
            raise BadParameterError(
                f"{caller}: control= needs a segment to compare against, but segment=False. "
                f"Fix: drop control= or pass segment={{'country': 'DE'}}."
            )
        return (None, None)
    if isinstance(segment, dict) and len(segment) == 1:
        segment = next(iter(segment.items()))
    if (
        isinstance(segment, tuple | list)
        and len(segment) == 2
        and isinstance(segment[0], str)
        and segment[1] is not None
    ):
        return (segment[0], str(segment[1]))
    raise BadParameterError(
        f"{caller}: segment={segment!r} is not supported. Fix: pass None (the annotation's own "
        f"segment), a dict such as {{'country': 'DE'}}, a pair ('country', 'DE'), or False."
    )


def _control_values(control, caller) -> list[str] | None:
    if control is None:
        return None
    values = [control] if isinstance(control, str) else control
    if isinstance(values, list | tuple) and values and all(isinstance(v, str) for v in values):
        return list(values)
    raise BadParameterError(
        f"{caller}: control={control!r} must be a value of the segment column or a list of "
        f"values, e.g. control='pro' or control=['UK', 'FR']."
    )


# -- comparisons -------------------------------------------------------------------------------


def _hazard_rows(lf, src: D.Source, windows, level, edges) -> tuple[dict, list[dict]]:
    """Per group g: estimate, interval, p, counts, exposures, crude rates, and the log hazard
    ratio with its variance (for the difference in differences)."""
    lo, st, hi = windows
    cells = (
        D.period_cells(lf, lo, st, hi, edges)
        if src.kind == "periods"
        else D.spell_cells(lf, lo, st, hi, edges)
    )
    out, coefs = {}, []
    names = ("after window", "after the window")
    for g, c in cells.items():
        weight = c.n[:, None] if c.n is not None else 1.0
        totals = (weight * c.days).sum(axis=0)
        used = [j for j in range(c.days.shape[1]) if totals[j] > 0]
        contrast, var = math.nan, math.nan
        if 0 in used and 1 in used and c.y.sum() > 0:
            y = c.y if c.n is not None else c.y[:, used]
            theta, cov, ok = fit_banded(c.days[:, used], c.band, y, c.n)
            bands = int(c.band.max()) + 1
            if ok:
                contrast, var = theta[bands], cov[bands, bands]
                terms = list(c.bands or []) + [names[j - 1] for j in used[1:]]
                coefs += [
                    {
                        "group": g,
                        "term": t,
                        "log_rate": float(theta[i]),
                        "std_error": math.sqrt(cov[i, i]),
                    }
                    for i, t in enumerate(terms)
                ]
        est = wald(contrast, var, level)
        out[g] = {
            "estimate": est[0],
            "ci_low": est[1],
            "ci_high": est[2],
            "p_value": est[3],
            "value_before": _rate(c.events_before, c.exposure_before),
            "value_after": _rate(c.events_after, c.exposure_after),
            "n_before": c.events_before,
            "n_after": c.events_after,
            "e_before": c.exposure_before,
            "e_after": c.exposure_after,
            "contrast": contrast,
            "contrast_var": var,
            "new_share": c.new_share,
        }
    if 1 in out and 0 in out:
        d = out[1]["contrast"] - out[0]["contrast"]
        v = out[1]["contrast_var"] + out[0]["contrast_var"]
        e = wald(d, v, level)
        out["did"] = {"estimate": e[0], "ci_low": e[1], "ci_high": e[2], "p_value": e[3]}
    return out, coefs


def _rate(events: int, exposure: float) -> float:
    return events / exposure * MONTH_DAYS if exposure > 0 else math.nan


def _retention_rows(lf, src: D.Source, windows, level) -> dict:
    _, st, hi = windows
    length = min(hi, src.horizon) - st
    if length <= 0:
        return {}
    before = D.retention_counts(lf, st - length, st)
    after = D.retention_counts(lf, st, st + length)
    out = {}
    for g in (1, 0):
        if g not in before or g not in after:
            continue
        (nb, xb), (na, xa) = before[g], after[g]
        if not (na and nb):
            continue
        ra, rb = (na - xa) / na, (nb - xb) / nb
        low, high = fx.diff_ci([na - xa], [na], [nb - xb], [nb], level)
        p, _ = fx.proportion_test([na - xa], [na], [nb - xb], [nb])
        out[g] = {
            "estimate": ra - rb,
            "ci_low": float(low[0]),
            "ci_high": float(high[0]),
            "p_value": float(p[0]),
            "value_before": rb,
            "value_after": ra,
            "n_before": xb,
            "n_after": xa,
            "e_before": float(nb),
            "e_after": float(na),
            "var": ra * (1 - ra) / na + rb * (1 - rb) / nb,
            "new_share": math.nan,
            "length": length,
        }
    if 1 in out and 0 in out:
        d = out[1]["estimate"] - out[0]["estimate"]
        se = math.sqrt(out[1]["var"] + out[0]["var"])
        z = abs(d) / se if se > 0 else math.nan
        half = sps.norm.ppf(0.5 + level / 2) * se
        out["did"] = {
            "estimate": d,
            "ci_low": d - half,
            "ci_high": d + half,
            "p_value": float(2 * sps.norm.sf(z)) if math.isfinite(z) else math.nan,
        }
    return out


__all__ = ["EVENT_IMPACT_DEFINITION", "EventImpact", "event_impact"]
