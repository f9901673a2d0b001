"""Options of the cohort queries: validation of every parameter in one place."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .errors import BadParameterError, bad_choice
from .periods import check_period, check_window
from .schema import CUSTOMER_ID, TS
from .stats import z_value

MODES = ("on", "on_or_after")
REFERENCES = ("total", "previous")
COHORTINGS = ("first_time", "recurring")
OTHER = "other"
MISSING = "(missing)"

# Internal column names (prefixed so they never clash with user attributes).
START = "_wb_start"  # start timestamp of the entry
S = "_wb_s"  # start period index (calendar)
C = "_wb_c"  # cohort period index
E = "_wb_e"  # last elapsed unit (rolling)
L = "_wb_l"  # last active period
K = "_wb_k"  # unit index (period or bracket)
P = "_wb_p"  # calendar period index of an event
W = "_wb_w"  # event weight
TOP = "_wb_top"
N = "_wb_n"

OUTPUT_COLUMNS = (
    "cohort",
    "period",
    "period_end",
    "bracket",
    "cohort_size",
    "base",
    "retained",
    "retention",
    "ci_low",
    "ci_high",
    "complete",
    "small",
)


@dataclass(frozen=True)
class CohortSpec:
    """Validated options of one cohort query (see `retention_matrix` for their meaning)."""

    caller: str
    period: str
    window: str
    cohort_period: str
    mode: str
    brackets: tuple[tuple[int, int], ...] | None
    min_events: int
    reference: str
    cohorting: str
    start_events: tuple[str, ...] | None
    return_events: tuple[str, ...] | None
    by: tuple[str, ...]
    top_n: int | None
    level: float
    min_cohort_size: int
    max_period: int | None

    @property
    def rolling(self) -> bool:
        return self.window == "rolling"

    @property
    def key(self) -> list[str]:
        """Columns identifying an entry."""
        return [CUSTOMER_ID] if self.cohorting == "first_time" else [CUSTOMER_ID, C]

    def params(self) -> dict:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "caller"}
        out["by"] = list(self.by)
        return out


def _event_list(caller: str, param: str, value) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise BadParameterError(
        f"{caller}: {param}={value!r} must be an event name or a list of event names. "
        f"Fix: pass e.g. {param}='purchase', or None for any event."
    )


def _int_param(caller: str, param: str, value, minimum: int, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise BadParameterError(
            f"{caller}: {param}={value!r} must be an integer >= {minimum}."
            + (" Or None." if allow_none else "")
        )
    return value


def _parse_brackets(caller: str, brackets) -> tuple[tuple[int, int], ...]:
    fix = "Fix: pass ascending, non-overlapping brackets such as brackets=[[1], [2, 7], [8, 30]]."
    try:
        items = [list(b) if isinstance(b, list | tuple) else [b] for b in brackets]
    except TypeError:
        raise BadParameterError(f"{caller}: brackets={brackets!r} is not a list. {fix}") from None
    out = []
    for item in items:
        if len(item) not in (1, 2) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in item
        ):
            raise BadParameterError(
                f"{caller}: bracket {item!r} must be [k] or [first, last] with integers >= 0. "
                + fix
            )
        lo, hi = item[0], item[-1]
        if hi < lo or (out and lo <= out[-1][1]):
            raise BadParameterError(
                f"{caller}: brackets {brackets!r} overlap or are unsorted. {fix}"
            )
        out.append((lo, hi))
    if not out:
        raise BadParameterError(f"{caller}: brackets is empty. {fix}")
    return tuple(out)


def make_spec(
    caller: str,
    *,
    period: str = "month",
    window: str = "calendar",
    cohort_period: str | None = None,
    mode: str = "on",
    brackets=None,
    min_events: int = 1,
    reference: str = "total",
    cohorting: str = "first_time",
    start_event=None,
    return_event=None,
    by=None,
    top_n: int | None = 10,
    level: float = 0.95,
    min_cohort_size: int = 30,
    max_period: int | None = None,
) -> CohortSpec:
    """Validate the options shared by the cohort functions; raise BadParameterError on misuse."""
    check_period(caller, period)
    check_window(caller, window)
    if cohort_period is None:
        cohort_period = period
    check_period(caller, cohort_period, "cohort_period")
    if window == "calendar" and cohort_period != period:
        raise BadParameterError(
            f"{caller}: cohort_period={cohort_period!r} differs from period={period!r}, which "
            f"needs rolling windows. Fix: pass window='rolling', or drop cohort_period."
        )
    if mode not in MODES:
        raise bad_choice(caller, "mode", mode, MODES)
    if reference not in REFERENCES:
        raise bad_choice(caller, "reference", reference, REFERENCES)
    if cohorting not in COHORTINGS:
        raise bad_choice(caller, "cohorting", cohorting, COHORTINGS)
    if brackets is not None:
        if mode != "on":
            raise BadParameterError(
                f"{caller}: brackets and mode={mode!r} are two different return criteria. "
                f"Fix: pass either brackets= (active in any period of each bracket) or mode=."
            )
        if max_period is not None:
            raise BadParameterError(
                f"{caller}: brackets and max_period both limit the periods shown. "
                f"Fix: pass only one of them."
            )
        brackets = _parse_brackets(caller, brackets)
    by_cols = (by,) if isinstance(by, str) else tuple(by or ())
    for b in by_cols:
        if not isinstance(b, str):
            raise BadParameterError(f"{caller}: by={by!r} must be a column name or a list of them.")
        if b in OUTPUT_COLUMNS or b in (CUSTOMER_ID, TS) or b.startswith("_wb_"):
            raise BadParameterError(
                f"{caller}: by={b!r} is a reserved column name. Fix: rename that attribute first."
            )
    z_value(level, caller=caller)
    return CohortSpec(
        caller=caller,
        period=period,
        window=window,
        cohort_period=cohort_period,
        mode=mode,
        brackets=brackets,
        min_events=_int_param(caller, "min_events", min_events, 1),
        reference=reference,
        cohorting=cohorting,
        start_events=_event_list(caller, "start_event", start_event),
        return_events=_event_list(caller, "return_event", return_event),
        by=by_cols,
        top_n=_int_param(caller, "top_n", top_n, 1, allow_none=True),
        level=level,
        min_cohort_size=_int_param(caller, "min_cohort_size", min_cohort_size, 0),
        max_period=_int_param(caller, "max_period", max_period, 0, allow_none=True),
    )
