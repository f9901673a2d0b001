"""What happened in the market? Before/after tests of churn around business events.

`event_impact` compares the churn hazard (or retention) in a window after an annotated event
with a baseline window before it, in the segment the event applies to and, as a control, in the
other customers (difference in differences). See ``EVENT_IMPACT_DEFINITION`` for the exact
measures and `workbench._impact_fit` for the models.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import polars as pl

from . import _effects as fx
from . import _impact_data as D
from ._impact_fit import exact_rate_ratio, fit_interval, poisson_log_rates, wald
from .annotations import LABEL, SEGMENT_COLUMN, SEGMENT_VALUE, START, annotation_table
from .churn import churn_table
from .cycles import parse_days, to_day
from .errors import BadParameterError, MissingColumnError, bad_choice
from .schema import (
    CustomerSchema,
    EventSchema,
    SubscriptionSchema,
    canonical,
)

EVENT_IMPACT_DEFINITION = (
    "Event impact: did churn change after a business event? Customer-time is split at the "
    "event's start day into a baseline window (the `before` days before it) and an after window "
    "(the `window` days from it). Churn hazard with exact churn days (a churn table, e.g. "
    "inactivity churn): the rate of a window is churns / customer-days at risk (a Poisson model "
    "with a log-exposure offset); the hazard ratio after / before has the exact conditional "
    "(binomial) interval and test. Churn hazard with subscriptions: churn shows only at renewals "
    "(the churn date is the end of the last paid period, up to a month after the customer's "
    "decision), so each paid period is one renewal decision that ends in churn with probability "
    "1 - exp(-sum of the daily hazard over its days), with a baseline hazard before the event, "
    "the after-window hazard inside the window and a separate hazard after it; the hazards are "
    "fitted by maximum likelihood (Wald interval). The ratio thus dates churn by the decision, "
    "not by the end of the paid period. Only periods whose renewal is known (period end + grace "
    "<= analysis day) are used. Control: with a segment (e.g. country = DE), the same comparison "
    "in the other customers gives a difference in differences, the ratio of the two hazard "
    "ratios, which removes changes common to both (seasonality, company-wide events). "
    "Retention: share of customers at risk at a window's start who have not churned by its end, "
    "after window vs an equally long window before it (Newcombe interval; difference in "
    "differences with a Wald interval). Evidence: p < 0.001 strong, < 0.01 good, < 0.05 some, "
    "< 0.1 weak. Rates are churns per customer-month of 30.4375 days."
)

METRICS = ("churn_hazard", "retention")
MONTH_DAYS = 30.4375
_EPOCH = date(1970, 1, 1)
_MEASURES = {
    "churn_hazard": ("hazard ratio (after / before)", "ratio of hazard ratios (segment / control)"),
    "retention": ("retention difference (after - before)",
                  "difference in retention differences (segment - control)"),
}


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
            "</ul>", "</ul>" + body, 1)


@dataclass
class _Source:
    kind: str  # "periods" (renewal units) or "spells" (exact churn days)
    lf: pl.LazyFrame
    as_of: int
    horizon: int  # first day whose churn is not yet known
    where: str
    description: str


def _day_num(d: date) -> int:
    return (d - _EPOCH).days


def _num_date(n: int) -> date:
    return _EPOCH + timedelta(days=int(n))


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
    `annotations`: the full annotations table, used to flag other events inside the windows.
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
    if metric == "retention" and before is not None and parse_days(before, caller, "before") != \
            after_days:
        raise BadParameterError(
            f"{caller}: before={before!r} differs from window={window!r}; retention compares "
            f"windows of equal length. Fix: drop before= or use metric='churn_hazard'."
        )
    before_days = after_days if before is None else parse_days(before, caller, "before")
    override = _segment_override(segment, control, caller)
    ann = annotation_table(annotation, caller=caller)
    context = ann if annotations is None else annotation_table(annotations, caller=caller)
    src = _source(events, subscriptions, churn, metric=metric, grace=grace, as_of=as_of,
                  schema=schema, subscription_schema=subscription_schema, caller=caller)

    rows, coefs, verdicts = [], [], {}
    for row in ann.iter_rows(named=True):
        col, val = override if override is not None else (row[SEGMENT_COLUMN], row[SEGMENT_VALUE])
        ctrl = None if control is None else ([control] if isinstance(control, str) else control)
        st = _day_num(row[START])
        windows = (st - before_days, st, st + after_days)
        lf = src.lf
        if col is not None:
            lf = D.attach_segment(lf, col, customers, customer_schema, caller, row[LABEL],
                                  src.where)
        lf = D.assign_groups(lf, val, ctrl, caller, row[LABEL], col)
        lo, _, hi = windows
        others = D.concurrent(context, row, _num_date(lo), _num_date(hi - 1))
        info = {"label": row[LABEL], "start": row[START], "column": col, "value": val,
                "control": ctrl, "windows": windows, "horizon": src.horizon,
                "concurrent": others, "window": after_days}
        if metric == "churn_hazard":
            found, cf = _hazard_rows(lf, src, windows, level)
            coefs += [{"label": row[LABEL], **c} for c in cf]
        else:
            found = _retention_rows(lf, src, windows, level)
        table_rows = _decorate(found, info, metric)
        rows += table_rows
        verdicts[row[LABEL]] = _verdict(table_rows, found, info, metric, level, src)

    table = pl.DataFrame(rows, schema=_SCHEMA, orient="row")
    coefficients = pl.DataFrame(coefs, schema=_COEF_SCHEMA, orient="row") if coefs else None
    params = {
        "metric": metric,
        "measure": _MEASURES[metric][0],
        "window": window if isinstance(window, str) else f"{after_days}d",
        "before": f"{before_days}d",
        "level": level,
        "churn": src.description,
        "as_of": _num_date(src.as_of),
        "segment": "annotation" if segment is None else ("none" if segment is False else
                                                         f"{override[0]} = {override[1]}"),
        "control": "all other values" if control is None else control,
        "rate_unit": f"churns per customer-month ({MONTH_DAYS} days)",
        "method": ("interval-censored renewal model (paid periods)" if src.kind == "periods"
                   else "Poisson rates on exact churn days") if metric == "churn_hazard"
        else "retention proportions",
    }
    return EventImpact(table=table, params=params, verdict="\n\n".join(verdicts.values()),
                       verdicts=verdicts, coefficients=coefficients)


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
    if (isinstance(segment, tuple | list) and len(segment) == 2
            and isinstance(segment[0], str) and segment[1] is not None):
        return (segment[0], str(segment[1]))
    raise BadParameterError(
        f"{caller}: segment={segment!r} is not supported. Fix: pass None (the annotation's own "
        f"segment), a dict such as {{'country': 'DE'}}, a pair ('country', 'DE'), or False."
    )


def _source(events, subscriptions, churn, *, metric, grace, as_of, schema, subscription_schema,
            caller) -> _Source:
    is_table = churn is not None and not isinstance(churn, str | int | timedelta)
    if subscriptions is not None and churn is not None:
        raise BadParameterError(
            f"{caller}: pass either subscriptions= (contractual churn) or churn=, not both."
        )
    if subscriptions is not None:
        lag = parse_days(grace, caller, "grace", allow_zero=True)
        subs = canonical(subscriptions, schema=subscription_schema, caller=caller,
                         default=SubscriptionSchema)
        if as_of is not None:
            day = to_day(as_of, caller)
        elif events is not None:
            day = _last_day(canonical(events, schema=schema, caller=caller), "ts", caller)
        else:
            day = _last_day(subs, "period_start", caller)
        d = _day_num(day)
        desc = f"subscriptions (renewal within {lag} days)"
        if metric == "churn_hazard":
            extra = [c for c in subs.collect_schema().names()
                     if c not in ("customer_id", "period_start", "period_end")]
            units = D.period_units(subs, grace=lag, as_of=d, keep=extra).collect().lazy()
            return _Source("periods", units, d, d - lag, "subscriptions table", desc)
        tbl = churn_table(subscriptions=subs, episodes=True, as_of=day, grace=grace)
        return _Source("spells", D.churn_spells(tbl.lazy()), d, d - lag, "churn table", desc)
    if is_table:
        tbl = fx_table(churn, caller)
        names = tbl.collect_schema().names()
        if as_of is not None:
            d = _day_num(to_day(as_of, caller))
        elif "days_since_last" in names and "last_active" in names:
            d = tbl.select((pl.col("last_active").cast(pl.Date).cast(pl.Int64)
                            + pl.col("days_since_last")).max()).collect().item()
        else:
            d = None
        spells = D.churn_spells(tbl).collect().lazy()
        lag = (tbl.select(pl.col("threshold_days").max()).collect().item()
               if "threshold_days" in names else 0) or 0
        last = spells.select(pl.col("a1").max()).collect().item()
        d = int(d if d is not None else last)
        return _Source("spells", spells, d, d - int(lag), "churn table", "churn table")
    if events is None:
        raise BadParameterError(
            f"{caller}: no churn data. Fix: pass subscriptions=, churn=<a wb.churn_table>, or "
            f"the events (with churn='90d' for inactivity churn)."
        )
    threshold = "90d" if churn is None else churn
    tbl = churn_table(events, inactivity=threshold, episodes=True, as_of=as_of, schema=schema)
    d = tbl.select((pl.col("last_active").cast(pl.Int64) + pl.col("days_since_last")).max()).item()
    if d is None:
        d = _day_num(to_day(as_of, caller)) if as_of is not None else 0
    lag = parse_days(threshold, caller, "churn")
    return _Source("spells", D.churn_spells(tbl.lazy()), int(d), int(d) - lag, "churn table",
                   f"inactivity churn ({lag} days)")


def fx_table(tbl, caller: str) -> pl.LazyFrame:
    """A churn table (polars or pandas) as a LazyFrame with the columns event_impact needs."""
    from .survival import to_lazy

    lf = to_lazy(tbl, caller)
    names = lf.collect_schema().names()
    for col in ("customer_id", "start", "churn_date", "churned", "duration_days"):
        if col not in names:
            raise MissingColumnError(
                f"{caller}: churn table has no column {col!r}. Available: {names}. Fix: pass "
                f"the output of wb.churn_table(...) as churn=."
            )
    return lf


def _last_day(lf: pl.LazyFrame, column: str, caller: str) -> date:
    from .cycles import last_day

    return last_day(lf, column, caller)


# -- comparisons -------------------------------------------------------------------------------


def _hazard_rows(lf, src: _Source, windows, level) -> tuple[dict, list[dict]]:
    """Per group g: dict with estimate, interval, p, counts, exposures, rates, log-rate
    contrast (est, var) for the difference in differences."""
    lo, st, hi = windows
    cells = (D.period_cells(lf, lo, st, hi) if src.kind == "periods"
             else D.spell_cells(lf, lo, st, hi))
    out, coefs = {}, []
    for g, c in cells.items():
        rec = {"cells": c, "n_before": c.events_before, "n_after": c.events_after,
               "e_before": c.exposure_before, "e_after": c.exposure_after}
        if src.kind == "periods":
            days, n, y = c.parts
            used = [j for j in range(3) if (n * days[:, j]).sum() > 0]
            theta = dict.fromkeys(range(3), math.nan)
            var = dict.fromkeys(range(3), math.nan)
            cov = None
            if 0 in used and 1 in used and y.sum() > 0:
                th, cov, ok = fit_interval(days[:, used], n, y)
                if ok:
                    for k, j in enumerate(used):
                        theta[j], var[j] = th[k], cov[k, k]
            contrast = theta[1] - theta[0]
            cvar = math.nan
            if cov is not None and math.isfinite(contrast):
                i0, i1 = used.index(0), used.index(1)
                cvar = cov[i0, i0] + cov[i1, i1] - 2 * cov[i0, i1]
            est = wald(contrast, cvar, level)
            parts = ("baseline", "after", "post-window")
            coefs += [{"group": g, "part": parts[j], "log_rate_per_day": theta[j],
                       "std_error": math.sqrt(var[j]) if math.isfinite(var[j]) else math.nan}
                      for j in used]
        else:
            tb, vb = poisson_log_rates(c.events_before, c.exposure_before)
            ta, va = poisson_log_rates(c.events_after, c.exposure_after)
            theta = {0: tb, 1: ta}
            contrast, cvar = ta - tb, va + vb
            est = exact_rate_ratio(c.events_after, c.exposure_after, c.events_before,
                                   c.exposure_before, level)
            if c.events_after == 0 and c.exposure_after > 0 and c.events_before > 0:
                theta[1] = -math.inf
            coefs += [{"group": g, "part": p, "log_rate_per_day": t,
                       "std_error": math.sqrt(v) if math.isfinite(v) else math.nan}
                      for p, t, v in (("baseline", tb, vb), ("after", ta, va))]
        rec.update(estimate=est[0], ci_low=est[1], ci_high=est[2], p_value=est[3],
                   value_before=math.exp(theta[0]) * MONTH_DAYS if math.isfinite(theta[0])
                   else math.nan,
                   value_after=math.exp(theta[1]) * MONTH_DAYS if theta[1] > -math.inf
                   and math.isfinite(theta[1]) else (0.0 if theta[1] == -math.inf else math.nan),
                   contrast=contrast, contrast_var=cvar, new_share=c.new_share)
        out[g] = rec
    if 1 in out and 0 in out:
        d = out[1]["contrast"] - out[0]["contrast"]
        v = out[1]["contrast_var"] + out[0]["contrast_var"]
        e = wald(d, v, level)
        out["did"] = {"estimate": e[0], "ci_low": e[1], "ci_high": e[2], "p_value": e[3]}
    return out, coefs


def _retention_rows(lf, src: _Source, windows, level) -> dict:
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
        ra, rb = (na - xa) / na, (nb - xb) / nb
        low, high = fx.diff_ci([na - xa], [na], [nb - xb], [nb], level)
        p, _ = fx.proportion_test([na - xa], [na], [nb - xb], [nb])
        out[g] = {"estimate": ra - rb, "ci_low": float(low[0]), "ci_high": float(high[0]),
                  "p_value": float(p[0]), "value_before": rb, "value_after": ra,
                  "n_before": xb, "n_after": xa, "e_before": float(nb), "e_after": float(na),
                  "var": ra * (1 - ra) / na + rb * (1 - rb) / nb, "new_share": math.nan,
                  "length": length}
    if 1 in out and 0 in out:
        d = out[1]["estimate"] - out[0]["estimate"]
        se = math.sqrt(out[1]["var"] + out[0]["var"])
        z = float(np.abs(d) / se) if se > 0 else math.nan
        from scipy import stats as sps

        half = sps.norm.ppf(0.5 + level / 2) * se
        out["did"] = {"estimate": d, "ci_low": d - half, "ci_high": d + half,
                      "p_value": float(2 * sps.norm.sf(z)) if math.isfinite(z) else math.nan}
    return out


# -- table and verdict -------------------------------------------------------------------------

_SCHEMA = {
    "label": pl.String, "start": pl.Date, "comparison": pl.String, "group": pl.String,
    "measure": pl.String, "estimate": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64,
    "p_value": pl.Float64, "value_before": pl.Float64, "value_after": pl.Float64,
    "n_events_before": pl.Int64, "n_events_after": pl.Int64, "exposure_before": pl.Float64,
    "exposure_after": pl.Float64, "before_start": pl.Date, "before_end": pl.Date,
    "window_start": pl.Date, "window_end": pl.Date, "observed_until": pl.Date,
    "concurrent": pl.String,
}
_COEF_SCHEMA = {"label": pl.String, "group": pl.Int64, "part": pl.String,
                "log_rate_per_day": pl.Float64, "std_error": pl.Float64}


def _num(v):
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v


def _group_names(info) -> tuple[str, str]:
    col, val, ctrl = info["column"], info["value"], info["control"]
    if col is None:
        return "everyone", ""
    other = f"{col} != {val}" if ctrl is None else f"{col} in {ctrl}"
    return f"{col} = {val}", other


def _decorate(found: dict, info: dict, metric: str) -> list[dict]:
    lo, st, hi = info["windows"]
    seg, other = _group_names(info)
    common = {
        "label": info["label"], "start": info["start"], "before_start": _num_date(lo),
        "before_end": _num_date(st - 1), "window_start": _num_date(st),
        "window_end": _num_date(hi - 1), "observed_until": _num_date(info["horizon"] - 1),
        "concurrent": "; ".join(info["concurrent"]) or None,
    }
    simple, did = _MEASURES[metric]
    rows = []
    groups = [(1, "segment" if info["column"] else "everyone", seg)]
    if info["column"]:
        groups.append((0, "control", other))
    for g, comparison, name in groups:
        r = found.get(g, {})
        rows.append({**common, "comparison": comparison, "group": name, "measure": simple,
                     **{k: _num(r.get(k)) for k in ("estimate", "ci_low", "ci_high", "p_value",
                                                    "value_before", "value_after")},
                     "n_events_before": r.get("n_before"), "n_events_after": r.get("n_after"),
                     "exposure_before": r.get("e_before"), "exposure_after": r.get("e_after")})
    if info["column"]:
        r = found.get("did", {})
        rows.append({**common, "comparison": "difference in differences",
                     "group": f"{seg} vs {other}", "measure": did,
                     **{k: _num(r.get(k)) for k in ("estimate", "ci_low", "ci_high",
                                                    "p_value")},
                     "value_before": None, "value_after": None, "n_events_before": None,
                     "n_events_after": None, "exposure_before": None, "exposure_after": None})
    return rows


def _strength(p: float) -> str:
    if p < 0.001:
        return "strong evidence"
    if p < 0.01:
        return "good evidence"
    if p < 0.05:
        return "some evidence"
    if p < 0.1:
        return "weak evidence"
    return "no clear evidence"


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}"


def _fmt(metric: str, v) -> str:
    if v is None:
        return "n/a"
    return f"{v:.2f}x" if metric == "churn_hazard" else f"{v * 100:+.1f} points"


def _verdict(rows: list[dict], found: dict, info: dict, metric: str, level: float,
             src: _Source) -> str:
    lo, st, hi = info["windows"]
    head = f"{info['label']} ({info['start']:%Y-%m-%d}, {_group_names(info)[0]})"
    if st >= src.horizon:
        return (f"{head}: not measurable yet. Churn is known up to {_num_date(src.horizon - 1)} "
                f"(the analysis day minus the delay before a churn shows), and the event starts "
                f"after that.")
    primary = rows[-1]
    if primary["estimate"] is None:
        return (f"{head}: cannot be estimated: too few churns or too little customer-time in "
                f"the compared windows (churns before/after: {rows[0]['n_events_before']}/"
                f"{rows[0]['n_events_after']}).")
    what = "the churn hazard" if metric == "churn_hazard" else "retention"
    span = f"{info['window']} days from the start"
    g = rows[0]
    ci = f"{level:.0%} CI {_fmt(metric, g['ci_low'])} to {_fmt(metric, g['ci_high'])}"
    text = [f"{head}: in the {span}, {what} of {g['group']} changed by {_fmt(metric, g['estimate'])}"
            f" against the baseline window ({ci}"
            + (f", {_p(g['p_value'])})." if g["p_value"] is not None else ").")]
    if len(rows) == 3:
        c, d = rows[1], rows[2]
        if c["estimate"] is not None:
            text.append(f"In the control ({c['group']}) it changed by "
                        f"{_fmt(metric, c['estimate'])} ({_fmt(metric, c['ci_low'])} to "
                        f"{_fmt(metric, c['ci_high'])}).")
        text.append(f"Relative to the control: {_fmt(metric, d['estimate'])} "
                    f"({_fmt(metric, d['ci_low'])} to {_fmt(metric, d['ci_high'])}, "
                    f"{_p(d['p_value'])}).")
    p, est = primary["p_value"], primary["estimate"]
    up = est > 1 if metric == "churn_hazard" else est < 0
    worse = "churn rose" if up else "churn fell"
    strength = _strength(p)
    if strength == "no clear evidence":
        text.append("No clear evidence of a change; the interval shows which changes remain "
                    "compatible with the data.")
    else:
        text.append(f"Verdict: {strength} that {worse} after the event.")
    text.append("What could confound it: " + " ".join(_caveats(rows, found, info, src)))
    return " ".join(text)


def _caveats(rows, found, info, src) -> list[str]:
    lo, st, hi = info["windows"]
    out = []
    if info["column"] and len(rows) == 3 and rows[1]["estimate"] is not None:
        out.append(f"the control ({rows[1]['group']}) absorbs changes common to both groups "
                   f"(seasonality, company-wide events) but not changes specific to "
                   f"{rows[0]['group']};")
    else:
        out.append("there is no control group, so seasonality or anything else that changed "
                   "at the same time would look the same;")
    if info["concurrent"]:
        out.append("other annotated events overlap the compared windows (" +
                   "; ".join(info["concurrent"]) + ");")
    share = found.get(1, {}).get("new_share", math.nan)
    if isinstance(share, float) and math.isfinite(share) and share >= 0.2:
        out.append(f"{share:.0%} of the customer-time after the event comes from customers who "
                   f"started after it, so a change in who was at risk (composition) can move "
                   f"the rate;")
    counts = [r["n_events_before"] for r in rows[:2] if r["n_events_before"] is not None]
    counts += [r["n_events_after"] for r in rows[:2] if r["n_events_after"] is not None]
    if counts and min(counts) < 20:
        out.append(f"small counts (as few as {min(counts)} churns in a window) make the "
                   f"interval wide and sensitive to one-off clusters;")
    if hi > src.horizon:
        seen = max(src.horizon - st, 0)
        out.append(f"churn is known only up to {_num_date(src.horizon - 1)}, so {seen} of the "
                   f"{info['window']} days after the start are observed;")
    out[-1] = out[-1].rstrip(";") + "."
    return out


__all__ = ["EVENT_IMPACT_DEFINITION", "EventImpact", "event_impact"]
