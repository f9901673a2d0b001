"""Activation: which early actions go with better retention (an association, not a cause)."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import polars as pl

from . import _effects as fx
from .errors import BadParameterError, WorkbenchWarning, bad_choice, examples
from .schema import CUSTOMER_ID, DEFAULT_EVENT, EVENT, TS, canonical

ACTIVATION_DEFINITION = (
    "Activation (association, not causation): each customer starts at their first start event "
    "(t0; by default their first event of any kind). They did action X if X occurred in "
    "[t0, t0 + within]. They are retained if the return event occurred in the outcome window: "
    "'dN' = day N, i.e. [t0 + N days, t0 + N+1 days); 'dA-B' = days A to B; 'weekN' = "
    "[t0 + 7N days, t0 + 7N+7 days); 'monthN' = [t0 + 30N days, t0 + 30N+30 days); the prefix "
    "'on_or_after_' extends the window to the end of the data. Only customers whose action and "
    "outcome windows have ended by as_of are counted (the rest are censored). Lift = retention "
    "of doers - retention of non-doers (Newcombe interval), ratio = doers / non-doers (log "
    "interval), phi = correlation of the two yes/no variables, p-value from a z-test (Fisher's "
    "exact test for small counts), adjusted across actions with Benjamini-Hochberg. Customers "
    "who choose an action differ in other ways too, so a lift here is a lead to test, not an "
    "effect of the action."
)

_OUTCOME = re.compile(r"^(on_or_after_)?(d|day|w|week|m|month)(\d+)(?:-(\d+))?$")
_UNIT_DAYS = {"d": 1, "day": 1, "w": 7, "week": 7, "m": 30, "month": 30}
_OUTCOME_CHOICES = ["d30", "d8-30", "week1", "month1", "on_or_after_month1", "on_or_after_d30"]


@dataclass(frozen=True)
class ActivationEffect:
    """Result of `activation_effect`: one row per candidate action, best lift first."""

    table: pl.DataFrame
    params: dict = field(default_factory=dict)
    definition: str = ACTIVATION_DEFINITION

    def plot(self):
        """Retention lift of each action with its interval (association, not causation)."""
        from .plots.campaigns import activation_lift

        return activation_lift(self)

    def _repr_html_(self) -> str:
        return fx.result_html(
            "Activation actions (association, not causation)",
            self.definition,
            self.table,
            self.params,
        )


def parse_outcome(outcome, *, caller: str) -> tuple[timedelta, timedelta, bool]:
    """'d30', 'd8-30', 'week2', 'month1', 'on_or_after_month1' -> (start, end, unbounded).

    The outcome window is [t0 + start, t0 + end), or [t0 + start, as_of] when unbounded; end
    is still returned for unbounded windows since maturity needs the first period to be over.
    """
    m = _OUTCOME.match(outcome) if isinstance(outcome, str) else None
    if m is None:
        raise BadParameterError(
            f"{caller}: outcome={outcome!r} is not an outcome window. Use 'dN' (day N), "
            f"'dA-B' (days A to B), 'weekN', 'monthN' (30-day months), optionally prefixed with "
            f"'on_or_after_', e.g. {_OUTCOME_CHOICES}."
        )
    unit = _UNIT_DAYS[m.group(2)]
    first = int(m.group(3))
    last = int(m.group(4)) if m.group(4) is not None else first
    if last < first:
        raise BadParameterError(
            f"{caller}: outcome={outcome!r} ends before it starts. Fix: write the smaller "
            f"number first, e.g. 'd8-30'."
        )
    return timedelta(days=first * unit), timedelta(days=(last + 1) * unit), bool(m.group(1))


def activation_effect(
    events,
    *,
    actions=None,
    within="7d",
    outcome: str = "d30",
    start_event: str | None = None,
    return_event: str = DEFAULT_EVENT,
    as_of=None,
    level: float = 0.95,
    alpha: float = 0.05,
    test: str = "auto",
    min_group_size: int = 30,
    schema=None,
) -> ActivationEffect:
    """Retention of customers who did each action within `within` of starting vs those who did not.

    `actions`: event names to compare (default: every event name except the start and return
    events; actions that all or none of the customers did are skipped). `outcome`: when a
    customer counts as retained (see `parse_outcome`): a `return_event` in that window after
    their start. Customers whose windows have not ended by `as_of` (default: the last event; a
    bare date means the end of that UTC day) are left out: a customer counts only when
    t0 + max(within, end of the outcome window) <= as_of (for 'on_or_after_' outcomes, the end
    of their first window). Action window [t0, t0 + within] is closed; the outcome window
    [t0 + start, t0 + end) is half-open, and no event after as_of counts. Rows are ranked by the strength of evidence: significant actions first, then
    by adjusted p-value, then by the size of the lift (so a tiny group with a large but noisy lift
    does not top the list); `significant` marks a Benjamini-Hochberg adjusted p-value below
    `alpha`. This is an association: doers differ from non-doers in other ways.
    """
    caller = "activation_effect"
    ev = canonical(events, schema=schema, caller=caller)
    within_td = fx.parse_window(within, caller=caller, param="within")
    start, end, unbounded = parse_outcome(outcome, caller=caller)
    if within_td > start:
        raise BadParameterError(
            f"{caller}: within={within!r} ends after the outcome window {outcome!r} starts, so "
            f"the action could happen after the return it is meant to predict. Fix: use a "
            f"shorter within= or a later outcome, e.g. outcome='month1'."
        )
    level = fx.check_level(level, caller=caller)
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise BadParameterError(f"{caller}: alpha={alpha!r} must lie strictly between 0 and 1.")
    if test not in ("auto", "z", "fisher"):
        raise bad_choice(caller, "test", test, ("auto", "z", "fisher"))
    min_group_size = fx.check_count(min_group_size, caller=caller, param="min_group_size")
    present = ev.select(pl.col(EVENT).unique()).collect().to_series().drop_nulls().to_list()
    for name, param in ((start_event, "start_event"), (return_event, "return_event")):
        if name is not None and name not in present:
            raise bad_choice(caller, param, name, sorted(present))
    explicit = actions is not None
    if explicit:
        candidates = fx.as_list(actions, caller=caller, param="actions")
        for a in candidates:
            if a not in present:
                raise bad_choice(caller, "actions", a, sorted(present))
    else:
        candidates = sorted(set(present) - {start_event, return_event})
    if not candidates:
        raise BadParameterError(
            f"{caller}: no candidate actions: events only has {sorted(present)}. Fix: pass "
            f"actions= with the event names to compare."
        )
    as_of = fx.resolve_as_of(ev, as_of, caller=caller)

    starts_src = ev if start_event is None else ev.filter(pl.col(EVENT) == start_event)
    starts = starts_src.group_by(CUSTOMER_ID).agg(pl.col(TS).min().alias("_t0"))
    n_started = starts.select(pl.len())
    mature = starts.filter(pl.col("_t0") + max(within_td, end) <= as_of)
    hi = pl.col("_t0") + end
    outcome_ok = (pl.col(TS) >= pl.col("_t0") + start) & (pl.col(TS) <= as_of)
    if not unbounded:
        outcome_ok = outcome_ok & (pl.col(TS) < hi)
    retained = (
        mature.join(
            ev.filter(pl.col(EVENT) == return_event).select(CUSTOMER_ID, TS),
            on=CUSTOMER_ID,
            how="inner",
        )
        .filter(outcome_ok)
        .select(CUSTOMER_ID)
        .unique()
        .with_columns(pl.lit(1, dtype=pl.Int64).alias("_kept"))
    )
    cust = mature.join(retained, on=CUSTOMER_ID, how="left").with_columns(
        pl.col("_kept").fill_null(0)
    )
    did = (
        cust.join(
            ev.filter(pl.col(EVENT).is_in(candidates)).select(CUSTOMER_ID, TS, EVENT),
            on=CUSTOMER_ID,
            how="inner",
        )
        .filter((pl.col(TS) >= pl.col("_t0")) & (pl.col(TS) <= pl.col("_t0") + within_td))
        .unique(subset=[CUSTOMER_ID, EVENT])
        .group_by(EVENT)
        .agg(pl.len().alias("n_did"), pl.col("_kept").sum().alias("x_did"))
    )
    totals = cust.select(pl.len().alias("n"), pl.col("_kept").sum().alias("x"))
    did, totals, n_started = pl.collect_all([did, totals, n_started])
    n_all, x_all = int(totals.item(0, "n")), int(totals.item(0, "x") or 0)
    counts = (
        pl.DataFrame({EVENT: candidates}, schema={EVENT: pl.String})
        .join(did, on=EVENT, how="left")
        .with_columns(pl.col("n_did", "x_did").fill_null(0).cast(pl.Int64))
    )
    skipped: list[str] = []
    if not explicit:
        one_sided = (pl.col("n_did") == 0) | (pl.col("n_did") == n_all)
        skipped = counts.filter(one_sided).get_column(EVENT).to_list()
        counts = counts.filter(~one_sided)
    table = _table(counts, n_all, x_all, level, alpha, test)
    table = _notes(table, min_group_size, caller)
    params = {
        "actions": candidates if explicit else counts.get_column(EVENT).to_list(),
        "skipped_actions": skipped,
        "within": within,
        "outcome": outcome,
        "start_event": start_event or "first event of any kind",
        "return_event": return_event,
        "as_of": as_of,
        "customers": n_all,
        "censored": int(n_started.item()) - n_all,
        "level": level,
        "alpha": alpha,
        "test": test,
        "note": "association, not causation",
    }
    return ActivationEffect(table=table, params=params)


def _table(counts: pl.DataFrame, n_all, x_all, level, alpha, test) -> pl.DataFrame:
    n1 = counts.get_column("n_did").to_numpy().astype(float)
    x1 = counts.get_column("x_did").to_numpy().astype(float)
    n2, x2 = n_all - n1, x_all - x1
    with np.errstate(divide="ignore", invalid="ignore"):
        r1, r2 = x1 / n1, x2 / n2
    both = (n1 > 0) & (n2 > 0)
    lo, hi = fx.diff_ci(x1, n1, x2, n2, level)
    rr, rr_lo, rr_hi = fx.ratio_ci(x1, n1, x2, n2, level)
    p, used = fx.proportion_test(x1, n1, x2, n2, test=test)
    padj = fx.adjust(p)
    col = fx.column
    lift = np.where(both, r1 - r2, np.nan)
    out = pl.DataFrame(
        {
            "action": counts.get_column(EVENT),
            "n_did": n1.astype(np.int64),
            "n_not": n2.astype(np.int64),
            "retained_did": x1.astype(np.int64),
            "retained_not": x2.astype(np.int64),
        }
    ).with_columns(
        col(r1).alias("retention_did"),
        col(r2).alias("retention_not"),
        col(lift).alias("lift"),
        col(lo).alias("lift_ci_low"),
        col(hi).alias("lift_ci_high"),
        col(rr).alias("ratio"),
        col(rr_lo).alias("ratio_ci_low"),
        col(rr_hi).alias("ratio_ci_high"),
        col(np.where(both, fx.phi(x1, n1, x2, n2), np.nan)).alias("phi"),
        col(p).alias("p_value"),
        pl.Series("test", used, dtype=pl.String),
        col(padj).alias("p_adjusted"),
    )
    out = out.with_columns(
        (pl.col("p_adjusted") < alpha).fill_null(False).alias("significant")
    ).sort(
        [pl.col("significant"), pl.col("p_adjusted"), pl.col("lift").abs()],
        descending=[True, False, True],
        nulls_last=True,
    )
    return out.with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("rank"))


def _notes(table: pl.DataFrame, min_group_size, caller) -> pl.DataFrame:
    small = table.filter(pl.min_horizontal("n_did", "n_not") < min_group_size)
    if small.height:
        warnings.warn(
            f"{caller}: for {small.height} action(s) ({examples(small.get_column('action'))}) "
            f"the doers or the non-doers number fewer than {min_group_size} customers; their "
            f"lifts are very uncertain.",
            WorkbenchWarning,
            stacklevel=3,
        )
    note = (
        pl.when(pl.min_horizontal("n_did", "n_not") == 0)
        .then(pl.lit("one group is empty: not estimable"))
        .when(pl.min_horizontal("n_did", "n_not") < min_group_size)
        .then(pl.lit(f"fewer than {min_group_size} customers in a group: read with care"))
    )
    return table.with_columns(note.alias("note"))
