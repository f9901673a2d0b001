"""Comparing two groups' rates: windows, difference and ratio intervals, tests, Welch, tables.

Shared by the campaign, activation and channel analyses. Every function here is vectorised over
rows (numpy arrays) so one call handles a whole table of comparisons; inestimable entries are NaN
and become nulls in the output tables.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
from scipy import stats as sps

from .errors import BadParameterError
from .schema import TS
from .stats import bh_adjust, proportion_diff_ci, two_proportion_test

_WINDOW = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|min|h|hour|hours|d|day|days|w|week|weeks)\s*$", re.IGNORECASE
)
_UNIT_SECONDS = {"s": 1, "sec": 1, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "w": 604800}


def parse_window(value, *, caller: str, param: str) -> timedelta:
    """'30d', '12h', '2w', '90min' or a timedelta -> a positive timedelta.

    Months and years are refused: their length varies, so a window in days is unambiguous.
    """
    if isinstance(value, timedelta):
        out = value
    elif isinstance(value, str) and (m := _WINDOW.match(value)):
        unit = m.group(2).lower()
        unit = unit if unit in _UNIT_SECONDS else unit[0]
        out = timedelta(seconds=float(m.group(1)) * _UNIT_SECONDS[unit])
    else:
        raise BadParameterError(
            f"{caller}: {param}={value!r} is not a window length. Use a number with a unit: "
            f"'30d' (days), '2w' (weeks), '12h' (hours), '90min', or a datetime.timedelta. "
            f"Months are not accepted because their length varies: write '30d' instead."
        )
    if out <= timedelta(0):
        raise BadParameterError(f"{caller}: {param}={value!r} must be a positive length.")
    return out


_LAST_INSTANT = timedelta(days=1, microseconds=-1)


def to_utc(value, *, caller: str, param: str) -> datetime:
    """A datetime, date or ISO string -> an aware UTC datetime (naive values are taken as UTC).

    A bare date (a ``date`` or a 'YYYY-MM-DD' string) means the end of that UTC day, so that
    as_of='2025-06-30' includes everything that happened on 30 June (as in the cohort analyses
    and the churn table).
    """
    if isinstance(value, str):
        text = value.strip()
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                value = date.fromisoformat(text)
            else:
                value = datetime.fromisoformat(text)
        except ValueError:
            raise BadParameterError(
                f"{caller}: {param}={value!r} is not an ISO date or datetime. "
                f"Fix: pass e.g. '2025-06-30' or a datetime."
            ) from None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if hasattr(value, "year") and hasattr(value, "month") and hasattr(value, "day"):
        return datetime(value.year, value.month, value.day, tzinfo=UTC) + _LAST_INSTANT
    raise BadParameterError(
        f"{caller}: {param}={value!r} is not a date. Fix: pass a datetime, a date or an ISO string."
    )


def resolve_as_of(lf: pl.LazyFrame, as_of, *, caller: str) -> datetime | None:
    """The analysis date: `as_of` when given, else the last event timestamp (None if no events)."""
    if as_of is not None:
        return to_utc(as_of, caller=caller, param="as_of")
    last = lf.select(pl.col(TS).max()).collect().item()
    return None if last is None else to_utc(last, caller=caller, param="as_of")


def check_level(level, *, caller: str) -> float:
    if isinstance(level, bool) or not isinstance(level, int | float) or not 0 < level < 1:
        raise BadParameterError(
            f"{caller}: level={level!r} must be a confidence level strictly between 0 and 1, "
            f"e.g. 0.95."
        )
    return float(level)


def check_count(value, *, caller: str, param: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise BadParameterError(f"{caller}: {param}={value!r} must be an integer >= {minimum}.")
    return int(value)


def as_list(value, *, caller: str, param: str) -> list[str]:
    """None -> [], 'a' -> ['a'], ['a', 'b'] -> ['a', 'b']; anything else is an error."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        if len(set(value)) != len(value):
            raise BadParameterError(f"{caller}: {param}={value!r} repeats a name.")
        return list(value)
    raise BadParameterError(
        f"{caller}: {param}={value!r} must be a column name or a list of column names."
    )


# -- two-proportion comparisons (arrays: x1 successes of n1 in group 1, x2 of n2 in group 2) --


def _f(a) -> np.ndarray:
    return np.asarray(a, dtype=float)


def diff_ci(
    x1, n1, x2, n2, level: float, method: str = "newcombe"
) -> tuple[np.ndarray, np.ndarray]:
    """CI of p1 - p2: Newcombe's hybrid score interval (from Wilson intervals) or Wald."""
    x1, n1, x2, n2 = map(_f, (x1, n1, x2, n2))
    bad = (n1 <= 0) | (n2 <= 0)
    if method == "wald":
        z = sps.norm.ppf(0.5 + level / 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            p1, p2 = x1 / n1, x2 / n2
            se = np.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
            low, high = p1 - p2 - z * se, p1 - p2 + z * se
    else:
        low, high = map(_f, proportion_diff_ci(x1, n1, x2, n2, level))
        # Rounding can put a bound a hair past the estimate when a group is all 0 or all 1.
        with np.errstate(divide="ignore", invalid="ignore"):
            d = x1 / n1 - x2 / n2
        low, high = np.fmin(low, d), np.fmax(high, d)
    return np.where(bad, np.nan, low), np.where(bad, np.nan, high)


def ratio_ci(x1, n1, x2, n2, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Risk ratio p1 / p2 (NaN when p2 is 0 or a group is empty; 0 when x1 is 0) and its CI
    from the log risk ratio (Katz; NaN when x1 or x2 is 0)."""
    x1, n1, x2, n2 = map(_f, (x1, n1, x2, n2))
    z = sps.norm.ppf(0.5 + level / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        rr = (x1 / n1) / (x2 / n2)
        se = np.sqrt(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2)
        low, high = rr * np.exp(-z * se), rr * np.exp(z * se)
    defined = (x2 > 0) & (n1 > 0) & (n2 > 0)
    ok = defined & (x1 > 0)
    nan = np.full_like(rr, np.nan)
    return np.where(defined, rr, nan), np.where(ok, low, nan), np.where(ok, high, nan)


def proportion_test(x1, n1, x2, n2, test: str = "auto") -> tuple[np.ndarray, list[str | None]]:
    """Two-sided p-value of p1 = p2 and the test used per row.

    "z": pooled two-proportion z-test. "fisher": Fisher's exact test. "auto": Fisher when any
    expected cell count of the 2x2 table is below 5, else z. When both groups are all 0 (or all
    1) the z-test has no variance and the p-value is 1.
    """
    x1, n1, x2, n2 = map(_f, (x1, n1, x2, n2))
    _, p_z = two_proportion_test(x1, n1, x2, n2)
    p_z = _f(p_z)
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (x1 + x2) / (n1 + n2)
        expected = np.minimum.reduce(
            [n1 * pooled, n1 * (1 - pooled), n2 * pooled, n2 * (1 - pooled)]
        )
    pvals = np.full(x1.shape, np.nan)
    used: list[str | None] = [None] * len(x1)
    for i in range(len(x1)):
        if not (n1[i] > 0 and n2[i] > 0):
            continue
        small = not expected[i] >= 5
        if test == "fisher" or (test == "auto" and small):
            table = [[x1[i], n1[i] - x1[i]], [x2[i], n2[i] - x2[i]]]
            pvals[i] = sps.fisher_exact(np.asarray(table, dtype=np.int64)).pvalue
            used[i] = "fisher"
        else:
            pvals[i] = p_z[i] if np.isfinite(p_z[i]) else 1.0
            used[i] = "z"
    return pvals, used


def phi(x1, n1, x2, n2) -> np.ndarray:
    """Phi coefficient of the 2x2 table (group 1 vs 2) x (success vs failure)."""
    a, b = _f(x1), _f(n1) - _f(x1)
    c, d = _f(x2), _f(n2) - _f(x2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (a * d - b * c) / np.sqrt((a + b) * (c + d) * (a + c) * (b + d))


def welch_ci(m1, v1, n1, m2, v2, n2, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean difference m1 - m2 with a Welch t interval (unequal variances).

    NaN when a group has fewer than two members; a zero-width interval when both variances are 0.
    """
    m1, v1, n1, m2, v2, n2 = map(_f, (m1, v1, n1, m2, v2, n2))
    with np.errstate(divide="ignore", invalid="ignore"):
        a, b = v1 / n1, v2 / n2
        se = np.sqrt(a + b)
        dof = (a + b) ** 2 / (a**2 / (n1 - 1) + b**2 / (n2 - 1))
        half = np.where(se > 0, sps.t.ppf(0.5 + level / 2, dof) * se, 0.0)
        d = m1 - m2
    ok = (n1 >= 2) & (n2 >= 2) & np.isfinite(v1) & np.isfinite(v2)
    nan = np.full_like(d, np.nan)
    return np.where(n1 * n2 > 0, d, nan), np.where(ok, d - half, nan), np.where(ok, d + half, nan)


def adjust(pvalues) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values over the non-missing entries."""
    p = _f(pvalues)
    # p * m / rank can round a hair below p itself; an adjusted p-value is never smaller.
    return np.fmax(_f(bh_adjust(p)), p)


def column(values) -> pl.Series:
    """Float array -> polars Float64 values with NaN as null."""
    return pl.Series(_f(values)).fill_nan(None)


def result_html(title: str, note: str, table: pl.DataFrame, params: dict) -> str:
    """Notebook rendering shared by the result objects of this topic."""
    shown = {k: v for k, v in params.items() if not isinstance(v, list | dict) or len(v) < 12}
    items = "".join(
        f"<li><b>{html.escape(str(k))}</b>: {html.escape(str(v))}</li>" for k, v in shown.items()
    )
    return (
        f"<div><h4>{html.escape(title)}</h4><p><i>{html.escape(note)}</i></p>"
        f"<ul style='columns:2'>{items}</ul>{table._repr_html_()}</div>"
    )
