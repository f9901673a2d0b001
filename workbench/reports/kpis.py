"""Headline numbers of a report month against its comparison month, with honest change flags.

A change is flagged only when it is statistically real at ``ALPHA``: rates (share of a group) use
the pooled two-proportion z-test; counts use the exact conditional Poisson test (given the two
counts' total, the current one is binomial with p = its share of the exposure, here the number
of days in each month). Money ratios (NRR, GRR) and sums carry no test and are never flagged.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from scipy import stats as _st

from ..stats import two_proportion_test

ALPHA = 0.05
RATE_TEST = "two-proportion z-test (pooled), two-sided"
COUNT_TEST = "exact Poisson test (conditional binomial, exposure = days in month), two-sided"
NO_TEST = "no test (ratio of sums)"


@dataclass(frozen=True)
class Kpi:
    """One headline number, its previous value and whether the change is statistically real."""

    key: str
    label: str
    kind: str  # "count" | "rate" | "money" | "ratio"
    value: float | None
    previous: float | None
    display: str
    previous_display: str
    change_display: str
    direction: str  # "up" | "down" | "flat" | ""
    flag: bool
    p_value: float | None
    test: str
    good_when: str  # "up" | "down" | ""
    note: str = ""

    def to_dict(self) -> dict:
        out = asdict(self)
        for k in ("value", "previous", "p_value"):
            v = out[k]
            out[k] = None if v is None or (isinstance(v, float) and math.isnan(v)) else v
        return out

    @property
    def judgement(self) -> str:
        """'better' / 'worse' / '' for a flagged change, from `good_when`."""
        if not self.flag or not self.good_when or self.direction in ("", "flat"):
            return ""
        return "better" if self.direction == self.good_when else "worse"


def fmt(value, kind: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if kind == "count":
        return f"{int(round(value)):,}"
    if kind in ("rate", "ratio"):
        return f"{value:.1%}"
    if kind == "money":
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def _direction(value, previous) -> str:
    if value is None or previous is None:
        return ""
    if value > previous:
        return "up"
    if value < previous:
        return "down"
    return "flat"


def _change(value, previous, kind: str) -> str:
    if value is None or previous is None:
        return ""
    if kind in ("rate", "ratio"):
        return f"{(value - previous) * 100:+.1f} pp"
    diff = value - previous
    rel = f" ({diff / previous:+.1%})" if previous else ""
    body = f"{int(round(diff)):+,}" if kind == "count" else f"{diff:+,.0f}"
    return body + rel


def count_pvalue(current: int, previous: int, days_current: float, days_previous: float) -> float:
    """Exact conditional Poisson test of equal daily rates (two-sided)."""
    total = int(current) + int(previous)
    if total == 0:
        return float("nan")
    share = days_current / (days_current + days_previous)
    return float(_st.binomtest(int(current), total, share).pvalue)


def count_kpi(
    key, label, current, previous, *, days_current, days_previous, good_when="up", note=""
) -> Kpi:
    p = (
        count_pvalue(current, previous, days_current, days_previous)
        if current is not None and previous is not None
        else None
    )
    return _make(key, label, "count", current, previous, p, COUNT_TEST, good_when, note)


def rate_kpi(key, label, x, n, x_prev, n_prev, *, good_when="up", note="") -> Kpi:
    value = x / n if n else None
    previous = x_prev / n_prev if (n_prev and x_prev is not None) else None
    p = None
    if value is not None and previous is not None:
        _, p = two_proportion_test(x, n, x_prev, n_prev)
        p = float(p)
    return _make(key, label, "rate", value, previous, p, RATE_TEST, good_when, note)


def plain_kpi(key, label, kind, value, previous, *, good_when="up", note="", test=NO_TEST) -> Kpi:
    return _make(key, label, kind, value, previous, None, test, good_when, note)


def _make(key, label, kind, value, previous, p, test, good_when, note) -> Kpi:
    flag = p is not None and not math.isnan(p) and p < ALPHA and value != previous
    return Kpi(
        key=key,
        label=label,
        kind=kind,
        value=None if value is None else float(value),
        previous=None if previous is None else float(previous),
        display=fmt(value, kind),
        previous_display=fmt(previous, kind),
        change_display=_change(value, previous, kind),
        direction=_direction(value, previous),
        flag=bool(flag),
        p_value=p,
        test=test,
        good_when=good_when,
        note=note,
    )


def sentence(k: Kpi, compare: str) -> str:
    """Plain words for one KPI: value, change against `compare`, and what the test says."""
    if k.value is None:
        return f"{k.label}: not available ({k.note or 'no data'})."
    text = f"{k.label}: {k.display}"
    if k.previous is None:
        return text + f" ({k.note or 'no comparison value'})."
    text += f", {k.change_display} against {compare} ({k.previous_display})"
    if k.p_value is None:
        return text + "."
    verdict = "a statistically real change" if k.flag else "within normal variation"
    return text + f"; {verdict} (p = {k.p_value:.3g})."
