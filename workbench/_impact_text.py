"""Table rows and plain-words verdicts of `event_impact`."""

from __future__ import annotations

import math
from datetime import date, timedelta

import polars as pl

_EPOCH = date(1970, 1, 1)
MEASURES = {
    "churn_hazard": ("hazard ratio (after / before)", "ratio of hazard ratios (segment / control)"),
    "retention": (
        "retention difference (after - before)",
        "difference in retention differences (segment - control)",
    ),
}


def num_date(n: int) -> date:
    """Day number (days since 1970-01-01) -> date."""
    return _EPOCH + timedelta(days=int(n))


SCHEMA = {
    "label": pl.String,
    "start": pl.Date,
    "comparison": pl.String,
    "group": pl.String,
    "measure": pl.String,
    "estimate": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "p_value": pl.Float64,
    "value_before": pl.Float64,
    "value_after": pl.Float64,
    "n_events_before": pl.Int64,
    "n_events_after": pl.Int64,
    "exposure_before": pl.Float64,
    "exposure_after": pl.Float64,
    "before_start": pl.Date,
    "before_end": pl.Date,
    "window_start": pl.Date,
    "window_end": pl.Date,
    "observed_until": pl.Date,
    "concurrent": pl.String,
}
COEF_SCHEMA = {
    "label": pl.String,
    "group": pl.Int64,
    "term": pl.String,
    "log_rate": pl.Float64,
    "std_error": pl.Float64,
}


def _num(v):
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v


def _group_names(info) -> tuple[str, str]:
    col, val, ctrl = info["column"], info["value"], info["control"]
    if col is None:
        return "everyone", ""
    other = f"{col} != {val}" if ctrl is None else f"{col} in {ctrl}"
    return f"{col} = {val}", other


def decorate(found: dict, info: dict, metric: str) -> list[dict]:
    lo, st, hi = info["windows"]
    seg, other = _group_names(info)
    common = {
        "label": info["label"],
        "start": info["start"],
        "before_start": num_date(lo),
        "before_end": num_date(st - 1),
        "window_start": num_date(st),
        "window_end": num_date(hi - 1),
        "observed_until": num_date(info["horizon"] - 1),
        "concurrent": "; ".join(info["concurrent"]) or None,
    }
    simple, did = MEASURES[metric]
    rows = []
    groups = [(1, "segment" if info["column"] else "everyone", seg)]
    if info["column"]:
        groups.append((0, "control", other))
    for g, comparison, name in groups:
        r = found.get(g, {})
        rows.append(
            {
                **common,
                "comparison": comparison,
                "group": name,
                "measure": simple,
                **{
                    k: _num(r.get(k))
                    for k in (
                        "estimate",
                        "ci_low",
                        "ci_high",
                        "p_value",
                        "value_before",
                        "value_after",
                    )
                },
                "n_events_before": r.get("n_before"),
                "n_events_after": r.get("n_after"),
                "exposure_before": r.get("e_before"),
                "exposure_after": r.get("e_after"),
            }
        )
    if info["column"]:
        r = found.get("did", {})
        rows.append(
            {
                **common,
                "comparison": "difference in differences",
                "group": f"{seg} vs {other}",
                "measure": did,
                **{k: _num(r.get(k)) for k in ("estimate", "ci_low", "ci_high", "p_value")},
                "value_before": None,
                "value_after": None,
                "n_events_before": None,
                "n_events_after": None,
                "exposure_before": None,
                "exposure_after": None,
            }
        )
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


def verdict(rows: list[dict], found: dict, info: dict, metric: str, level: float, src) -> str:
    lo, st, hi = info["windows"]
    head = f"{info['label']} ({info['start']:%Y-%m-%d}, {_group_names(info)[0]})"
    if st >= src.horizon:
        return (
            f"{head}: not measurable yet. Churn is known up to {num_date(src.horizon - 1)} "
            f"(the analysis day minus the delay before a churn shows), and the event starts "
            f"after that."
        )
    g = rows[0]
    if g["estimate"] is None and hi > src.horizon:
        return (
            f"{head}: not measurable yet. Churn is known up to {num_date(src.horizon - 1)}, "
            f"{src.horizon - st} of the {info['window']} days after the start, and they do "
            f"not hold enough churn yet (churns before/after: {g['n_events_before']}/"
            f"{g['n_events_after']})."
        )
    if g["estimate"] is None:
        return (
            f"{head}: cannot be estimated: too few churns or too little customer-time in "
            f"the compared windows (churns before/after: {g['n_events_before']}/"
            f"{g['n_events_after']})."
        )
    ci = f"{level:.0%} CI {_fmt(metric, g['ci_low'])} to {_fmt(metric, g['ci_high'])}"
    if metric == "churn_hazard":
        text = [
            f"{head}: in the {info['window']} days from the start, the churn hazard of "
            f"{g['group']} was {_fmt(metric, g['estimate'])} its level in the "
            f"{st - lo} days before ({ci}, {_p(g['p_value'])})."
        ]
    else:
        text = [
            f"{head}: over {found[1]['length']} days from the start, {g['value_after']:.1%} of "
            f"{g['group']} stayed, against {g['value_before']:.1%} over the same length "
            f"before ({_fmt(metric, g['estimate'])}, {ci}, {_p(g['p_value'])})."
        ]
    did = rows[2] if len(rows) == 3 and rows[2]["estimate"] is not None else None
    if did is not None:
        c = rows[1]
        text.append(
            f"In the control ({c['group']}): {_fmt(metric, c['estimate'])} "
            f"({_fmt(metric, c['ci_low'])} to {_fmt(metric, c['ci_high'])}). Relative "
            f"to the control: {_fmt(metric, did['estimate'])} ({_fmt(metric, did['ci_low'])}"
            f" to {_fmt(metric, did['ci_high'])}, {_p(did['p_value'])})."
        )
    text.append(_judgement(g, did, metric))
    text.append("What could confound it: " + " ".join(_caveats(rows, found, info, src)))
    return " ".join(text)


def _judgement(g: dict, did: dict | None, metric: str) -> str:
    def rose(est: float) -> bool:
        return est > 1 if metric == "churn_hazard" else est < 0

    alone = _strength(g["p_value"])
    moved = "churn rose" if rose(g["estimate"]) else "churn fell"
    if did is None:
        if alone == "no clear evidence":
            return (
                "Verdict: no clear evidence of a change; the interval shows the changes that "
                "remain compatible with the data."
            )
        return f"Verdict: {alone} that {moved} after the event."
    rel = _strength(did["p_value"])
    more = "more" if rose(did["estimate"]) else "less"
    if alone != "no clear evidence" and rel != "no clear evidence":
        return (
            f"Verdict: {alone} that {moved} in {g['group']} after the event, and {rel} "
            f"that it rose {more} than in the control."
        )
    if alone != "no clear evidence":
        return (
            f"Verdict: {alone} that {moved} in {g['group']} after the event, but the "
            f"comparison with the control is inconclusive, so part of it may be a change "
            f"common to both groups."
        )
    if rel != "no clear evidence":
        return (
            f"Verdict: no clear change in {g['group']} alone, but {rel} that churn moved "
            f"differently from the control (it rose {more} than there)."
        )
    return (
        "Verdict: no clear evidence of a change, alone or relative to the control; the "
        "intervals show the changes that remain compatible with the data."
    )


def _caveats(rows, found, info, src) -> list[str]:
    lo, st, hi = info["windows"]
    out = []
    if info["column"] and len(rows) == 3 and rows[1]["estimate"] is not None:
        out.append(
            f"the control ({rows[1]['group']}) absorbs changes common to both groups "
            f"(seasonality, company-wide events) but not changes specific to "
            f"{rows[0]['group']};"
        )
    else:
        out.append(
            "there is no control group, so seasonality or anything else that changed "
            "at the same time would look the same;"
        )
    if info["concurrent"]:
        out.append(
            "other annotated events overlap the compared windows ("
            + "; ".join(info["concurrent"])
            + ");"
        )
    share = found.get(1, {}).get("new_share", math.nan)
    if isinstance(share, float) and math.isfinite(share) and share >= 0.2:
        out.append(
            f"{share:.0%} of the customer-time after the event comes from customers who "
            f"started after it, so a change in who was at risk (composition) can move "
            f"the rate;"
        )
    counts = [r["n_events_before"] for r in rows[:2] if r["n_events_before"] is not None]
    counts += [r["n_events_after"] for r in rows[:2] if r["n_events_after"] is not None]
    if counts and min(counts) < 20:
        out.append(
            f"small counts (as few as {min(counts)} churns in a window) make the "
            f"interval wide and sensitive to one-off clusters;"
        )
    if hi > src.horizon:
        seen = max(src.horizon - st, 0)
        out.append(
            f"churn is known only up to {num_date(src.horizon - 1)}, so {seen} of the "
            f"{info['window']} days after the start are observed;"
        )
    out[-1] = out[-1].rstrip(";") + "."
    return out
