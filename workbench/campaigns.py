"""Did the win-back work? Campaign effect with a control group, lift by segment, test planning."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy import stats as sps

from . import _effects as fx
from .errors import (
    BadDataError,
    BadParameterError,
    MissingColumnError,
    WorkbenchWarning,
    bad_choice,
    closest,
    examples,
)
from .schema import (
    AMOUNT,
    CAMPAIGN_ID,
    CONTROL,
    CUSTOMER_ID,
    DEFAULT_EVENT,
    EVENT,
    GROUP,
    SENT_TS,
    TREATMENT,
    TS,
    CampaignSchema,
    CustomerSchema,
    canonical,
)

CAMPAIGN_EFFECT_DEFINITION = (
    "Campaign effect: for each campaign, customers are counted once per group (treatment or "
    "control, at their first send). A customer returned if they had an outcome event (by default "
    "a purchase) strictly after their send time and at most `window` later. Return rate = returned "
    "/ customers in the group. Lift = treatment rate - control rate, with a Newcombe hybrid-score "
    "interval (or Wald); relative lift = treatment rate / control rate - 1, with an interval from "
    "the log risk ratio. The p-value is a pooled two-proportion z-test, or Fisher's exact test "
    "when an expected cell count is below 5, adjusted across rows with Benjamini-Hochberg. Revenue "
    "per recipient = revenue-event amounts in the window / customers in the group; its difference "
    "has a Welch t interval. Incremental customers (revenue) = lift (revenue difference) x "
    "customers treated."
)

_OUTCOME_ANY = "any"
_OUTCOME_RETURN = "return"
_CI_METHODS = ("newcombe", "wald")
_TESTS = ("auto", "z", "fisher")


@dataclass(frozen=True)
class CampaignEffect:
    """Result of `campaign_effect`: one row per campaign (x `by` values); see `.definition`.

    `.heterogeneity` holds, when `by=` was given, one test per campaign of whether the lift
    differs between the `by` segments (None otherwise).
    """

    table: pl.DataFrame
    params: dict = field(default_factory=dict)
    heterogeneity: pl.DataFrame | None = None
    definition: str = CAMPAIGN_EFFECT_DEFINITION

    def plot(self, *, scale: str = "absolute"):
        """Forest plot of lifts with their intervals (`scale`: "absolute" or "relative")."""
        from .plots.campaigns import lift_forest

        return lift_forest(self, scale=scale)

    def _repr_html_(self) -> str:
        return fx.result_html("Campaign effect", self.definition, self.table, self.params)


def _align_ids(a: pl.LazyFrame, b: pl.LazyFrame) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Give customer_id the same dtype in both frames (String when they differ)."""
    da, db = a.collect_schema()[CUSTOMER_ID], b.collect_schema()[CUSTOMER_ID]
    if da == db:
        return a, b
    cast = pl.col(CUSTOMER_ID).cast(pl.String)
    return a.with_columns(cast), b.with_columns(cast)


def _outcome_names(ev: pl.LazyFrame, outcome, caller: str) -> list[str] | None:
    """Event names that count as a return (None = any event)."""
    if outcome == _OUTCOME_ANY:
        return None
    if outcome == _OUTCOME_RETURN:
        return [DEFAULT_EVENT]
    names = fx.as_list(outcome, caller=caller, param="outcome")
    if not names:
        raise BadParameterError(f"{caller}: outcome=[] names no event. Fix: use outcome='return'.")
    present = ev.select(pl.col(EVENT).unique()).collect().to_series().to_list()
    for name in names:
        if name not in present:
            raise bad_choice(
                caller,
                "outcome",
                name,
                [_OUTCOME_RETURN, _OUTCOME_ANY] + sorted(str(p) for p in present if p is not None),
            )
    return names


def _check_groups(cp: pl.LazyFrame, caller: str) -> None:
    values = cp.select(pl.col(GROUP).unique()).collect().to_series().to_list()
    bad = [v for v in values if v not in (TREATMENT, CONTROL)]
    if bad:
        raise BadDataError(
            f"{caller}: campaigns column 'group' has values {bad!r}; only {TREATMENT!r} and "
            f"{CONTROL!r} are allowed. Fix: map them first, e.g. "
            f"campaigns.with_columns(pl.col('group').replace({{{bad[0]!r}: 'control'}}))."
        )


def _segment_columns(cp, seg, by, caller) -> tuple[list[str], list[str]]:
    """Split `by` into campaigns columns and segments-frame columns (refusing ambiguity)."""
    cp_cols = cp.collect_schema().names()
    seg_cols = [] if seg is None else [c for c in seg.collect_schema().names() if c != CUSTOMER_ID]
    from_cp, from_seg = [], []
    for col in by:
        if col in (CAMPAIGN_ID, CUSTOMER_ID, GROUP, SENT_TS):
            raise BadParameterError(
                f"{caller}: by={col!r} is a key of the campaigns table, not a segment. "
                f"Fix: choose among {sorted(set(cp_cols + seg_cols) - {CAMPAIGN_ID, CUSTOMER_ID, GROUP, SENT_TS})}."
            )
        if col in cp_cols and col in seg_cols:
            raise BadParameterError(
                f"{caller}: by={col!r} is a column of both campaigns and segments, so it is "
                f"ambiguous. Fix: rename the one you mean, e.g. "
                f"segments.rename({{{col!r}: 'customer_{col}'}})."
            )
        if col in cp_cols:
            from_cp.append(col)
        elif col in seg_cols:
            from_seg.append(col)
        else:
            options = sorted(set(cp_cols + seg_cols) - {CAMPAIGN_ID, CUSTOMER_ID, GROUP, SENT_TS})
            hint = closest(col, options)
            hint = f" Did you mean {hint!r}?" if hint else ""
            raise MissingColumnError(
                f"{caller}: by={col!r} is not a column of campaigns"
                + ("" if seg is None else " or segments")
                + f". Available: {options}.{hint} Fix: pass segments= a frame with customer_id "
                f"and a {col!r} column, or choose an available column."
            )
    return from_cp, from_seg


def _recipients(cp: pl.LazyFrame, seg, from_cp, from_seg, caller) -> pl.DataFrame:
    """One row per campaign x customer: first send time, group and segment values."""
    sends = (
        cp.group_by(CAMPAIGN_ID, CUSTOMER_ID)
        .agg(
            pl.col(SENT_TS).min(),
            pl.col(GROUP).n_unique().alias("_groups"),
            pl.col(GROUP).sort_by(SENT_TS).first(),
            *[pl.col(c).sort_by(SENT_TS).first() for c in from_cp],
        )
        .collect()
    )
    mixed = sends.filter(pl.col("_groups") > 1)
    if mixed.height:
        ids = mixed.get_column(CUSTOMER_ID).to_list()
        raise BadDataError(
            f"{caller}: {mixed.height} customers are in both treatment and control of the same "
            f"campaign (e.g. campaign {mixed.item(0, CAMPAIGN_ID)!r}, customers "
            f"{examples(ids)}). Fix: keep one group per customer and campaign."
        )
    sends = sends.drop("_groups")
    if from_seg:
        lf, seg = _align_ids(sends.lazy(), seg)
        seg_one = seg.select(CUSTOMER_ID, *from_seg).unique(subset=[CUSTOMER_ID], keep="first")
        sends = lf.join(seg_one, on=CUSTOMER_ID, how="left").collect()
    return sends


def campaign_effect(
    events,
    campaigns,
    *,
    window="30d",
    outcome="return",
    by=None,
    segments=None,
    revenue_event: str = DEFAULT_EVENT,
    level: float = 0.95,
    ci: str = "newcombe",
    test: str = "auto",
    min_group_size: int = 30,
    as_of=None,
    schema=None,
    campaign_schema: CampaignSchema | None = None,
) -> CampaignEffect:
    """Return rate, lift and revenue effect of each campaign against its control group.

    Parameters
    ----------
    events, campaigns : frames
        The event log and the campaign sends (customer_id, campaign_id, sent_ts, group in
        {"treatment", "control"}, optional offer, channel, ...).
    window : str
        How long after the send a return counts: an event with sent_ts < ts <= sent_ts + window.
    outcome : "return" | "any" | event name | list of names
        "return" counts a purchase; "any" counts any event; otherwise the named event(s).
    by : column name(s)
        Split each campaign by campaigns columns (offer, channel) or by columns of `segments`
        (any customer attribute: RFM segment, ABC/XYZ class, risk decile ...). With `by`, the
        result's `.heterogeneity` tests whether the lift differs between segments.
    segments : frame
        customer_id plus segment column(s); a customers table works too.
    revenue_event : str
        Event whose amounts in the window make up revenue per recipient.
    ci, test : str
        Interval for the lift ("newcombe" hybrid score, or "wald"); p-value test ("auto": z-test,
        Fisher's exact when an expected cell count is below 5; or force "z" / "fisher").
    min_group_size : int
        Rows where a group has fewer customers get a WorkbenchWarning and a note.
    as_of : datetime, date or ISO string
        Analysis date (inclusive; default the last event; a bare date means the end of that UTC
        day). Later events are ignored. Sends whose window has not ended by then (including
        sends after as_of, which stay recipients with no return) get a WorkbenchWarning.

    Each customer counts once per campaign, at their first send. Rows without a control group
    (or without a treatment group) are returned with nulls for every comparison.
    """
    caller = "campaign_effect"
    ev = canonical(events, schema=schema, caller=caller)
    cp = canonical(campaigns, schema=campaign_schema, caller=caller, default=CampaignSchema)
    win = fx.parse_window(window, caller=caller, param="window")
    level = fx.check_level(level, caller=caller)
    min_group_size = fx.check_count(min_group_size, caller=caller, param="min_group_size")
    if ci not in _CI_METHODS:
        raise bad_choice(caller, "ci", ci, _CI_METHODS)
    if test not in _TESTS:
        raise bad_choice(caller, "test", test, _TESTS)
    if not isinstance(revenue_event, str) or not revenue_event:
        raise BadParameterError(
            f"{caller}: revenue_event={revenue_event!r} must be an event name. "
            f"Fix: e.g. revenue_event='purchase'."
        )
    by_cols = fx.as_list(by, caller=caller, param="by")
    seg = None
    if segments is not None:
        seg = canonical(segments, caller=caller, default=CustomerSchema)
    from_cp, from_seg = _segment_columns(cp, seg, by_cols, caller)
    _check_groups(cp, caller)
    names = _outcome_names(ev, outcome, caller)
    as_of = fx.resolve_as_of(ev, as_of, caller=caller)
    if as_of is not None:
        ev = ev.filter(pl.col(TS) <= as_of)  # the data as known on the analysis date

    sends = _recipients(cp, seg, from_cp, from_seg, caller)
    per_customer = _per_customer(ev, sends, win, names, revenue_event)
    keys = [CAMPAIGN_ID, *by_cols]
    counts = (
        per_customer.group_by(*keys, GROUP)
        .agg(
            pl.len().alias("n"),
            pl.col("_returned").sum().alias("x"),
            pl.col("_revenue").mean().alias("rev_mean"),
            pl.col("_revenue").var(ddof=1).alias("rev_var"),
        )
        .collect()
    )
    table = _effect_table(counts, keys, level, ci, test)
    has_amount = AMOUNT in ev.collect_schema().names()
    if not has_amount:
        table = table.with_columns(
            pl.lit(None, dtype=pl.Float64).alias(c) for c in table.columns if "revenue" in c
        )
    table = _notes(table, keys, min_group_size, caller)
    _warn_immature(sends, win, as_of, caller)
    hetero = _heterogeneity(counts, by_cols) if by_cols else None
    params = {
        "window": window,
        "outcome": outcome,
        "outcome_events": "any event" if names is None else names,
        "by": by_cols,
        "revenue_event": revenue_event if has_amount else None,
        "level": level,
        "ci": ci,
        "test": test,
        "min_group_size": min_group_size,
        "as_of": as_of,
        "customers": sends.height,
    }
    return CampaignEffect(table=table, params=params, heterogeneity=hetero)


def _per_customer(ev, sends, win, names, revenue_event) -> pl.LazyFrame:
    """Per recipient: returned within the window (bool) and revenue in the window."""
    names_ev = ev.collect_schema().names()
    has_amount = AMOUNT in names_ev
    is_outcome = pl.lit(True) if names is None else pl.col(EVENT).is_in(names)
    keep = is_outcome | (pl.col(EVENT) == revenue_event)
    cols = [CUSTOMER_ID, TS, EVENT] + ([AMOUNT] if has_amount else [])
    hits = ev.filter(keep).select(cols)
    base, hits = _align_ids(sends.lazy(), hits)
    revenue = (
        pl.when(pl.col(EVENT) == revenue_event).then(pl.col(AMOUNT).fill_null(0.0)).otherwise(0.0)
        if has_amount
        else pl.lit(0.0)
    )
    in_window = (
        base.select(CAMPAIGN_ID, CUSTOMER_ID, SENT_TS)
        .join(hits, on=CUSTOMER_ID, how="inner")
        .filter((pl.col(TS) > pl.col(SENT_TS)) & (pl.col(TS) <= pl.col(SENT_TS) + win))
        .group_by(CAMPAIGN_ID, CUSTOMER_ID)
        .agg(is_outcome.any().alias("_returned"), revenue.sum().alias("_revenue"))
    )
    return base.join(in_window, on=[CAMPAIGN_ID, CUSTOMER_ID], how="left").with_columns(
        pl.col("_returned").fill_null(False).cast(pl.Int64),
        pl.col("_revenue").fill_null(0.0),
    )


def _wide(counts: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Treatment and control counts side by side (full join: a missing group stays null)."""
    t = counts.filter(pl.col(GROUP) == TREATMENT).drop(GROUP)
    c = counts.filter(pl.col(GROUP) == CONTROL).drop(GROUP)
    t = t.rename({k: f"{k}_t" for k in ("n", "x", "rev_mean", "rev_var")})
    c = c.rename({k: f"{k}_c" for k in ("n", "x", "rev_mean", "rev_var")})
    wide = t.join(c, on=keys, how="full", nulls_equal=True, coalesce=True)
    return wide.with_columns(pl.col("n_t", "x_t", "n_c", "x_c").fill_null(0)).sort(
        keys, nulls_last=True
    )


def _effect_table(counts, keys, level, ci, test) -> pl.DataFrame:
    w = _wide(counts, keys)
    nt, xt, nc, xc = (
        w.get_column(c).to_numpy().astype(float) for c in ("n_t", "x_t", "n_c", "x_c")
    )
    mt = w.get_column("rev_mean_t").to_numpy().astype(float)
    mc = w.get_column("rev_mean_c").to_numpy().astype(float)
    vt = w.get_column("rev_var_t").to_numpy().astype(float)
    vc = w.get_column("rev_var_c").to_numpy().astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rt, rc = xt / nt, xc / nc
    lo, hi = fx.diff_ci(xt, nt, xc, nc, level, method=ci)
    rr, rr_lo, rr_hi = fx.ratio_ci(xt, nt, xc, nc, level)
    p, used = fx.proportion_test(xt, nt, xc, nc, test=test)
    dm, dm_lo, dm_hi = fx.welch_ci(mt, vt, nt, mc, vc, nc, level)
    both = (nt > 0) & (nc > 0)
    lift = np.where(both, rt - rc, np.nan)
    col = fx.column
    return w.select(keys).with_columns(
        pl.Series("n_treatment", nt.astype(np.int64)),
        pl.Series("n_control", nc.astype(np.int64)),
        pl.Series("returned_treatment", xt.astype(np.int64)),
        pl.Series("returned_control", xc.astype(np.int64)),
        col(rt).alias("rate_treatment"),
        col(rc).alias("rate_control"),
        col(lift).alias("lift"),
        col(lo).alias("lift_ci_low"),
        col(hi).alias("lift_ci_high"),
        col(rr - 1).alias("rel_lift"),
        col(rr_lo - 1).alias("rel_lift_ci_low"),
        col(rr_hi - 1).alias("rel_lift_ci_high"),
        col(p).alias("p_value"),
        pl.Series("test", used, dtype=pl.String),
        col(fx.adjust(p)).alias("p_adjusted"),
        col(np.where(nt > 0, mt, np.nan)).alias("revenue_per_recipient_treatment"),
        col(np.where(nc > 0, mc, np.nan)).alias("revenue_per_recipient_control"),
        col(dm).alias("revenue_diff"),
        col(dm_lo).alias("revenue_diff_ci_low"),
        col(dm_hi).alias("revenue_diff_ci_high"),
        col(lift * nt).alias("incremental_customers"),
        col(lo * nt).alias("incremental_customers_ci_low"),
        col(hi * nt).alias("incremental_customers_ci_high"),
        col(dm * nt).alias("incremental_revenue"),
        col(dm_lo * nt).alias("incremental_revenue_ci_low"),
        col(dm_hi * nt).alias("incremental_revenue_ci_high"),
    )


def _label(row: dict, keys: list[str]) -> str:
    return " / ".join(f"{row[k]}" for k in keys)


def _notes(table: pl.DataFrame, keys, min_group_size, caller) -> pl.DataFrame:
    notes, no_control, no_treatment, small = [], [], [], []
    for row in table.iter_rows(named=True):
        label = _label(row, keys)
        if row["n_control"] == 0:
            notes.append("no control group: lift not estimable")
            no_control.append(label)
        elif row["n_treatment"] == 0:
            notes.append("no treatment group: lift not estimable")
            no_treatment.append(label)
        elif min(row["n_control"], row["n_treatment"]) < min_group_size:
            notes.append(f"a group has fewer than {min_group_size} customers: read with care")
            small.append(label)
        else:
            notes.append(None)
    if no_control:
        warnings.warn(
            f"{caller}: no control group for {examples(no_control)}"
            f"{' and others' if len(no_control) > 3 else ''}, so the campaign's effect cannot be "
            f"measured there; those rows have empty lifts.",
            WorkbenchWarning,
            stacklevel=3,
        )
    if no_treatment:
        warnings.warn(
            f"{caller}: no treatment group for {examples(no_treatment)}; those rows have "
            f"empty lifts.",
            WorkbenchWarning,
            stacklevel=3,
        )
    if small:
        warnings.warn(
            f"{caller}: {len(small)} row(s) have a treatment or control group smaller than "
            f"{min_group_size} customers (e.g. {examples(small)}); their lifts are very "
            f"uncertain.",
            WorkbenchWarning,
            stacklevel=3,
        )
    return table.with_columns(pl.Series("note", notes, dtype=pl.String))


def _warn_immature(sends: pl.DataFrame, win, as_of, caller) -> None:
    if as_of is None or sends.height == 0:
        return
    late = sends.filter(pl.col(SENT_TS) + win > as_of)
    if late.height:
        camps = late.get_column(CAMPAIGN_ID).unique().sort().to_list()
        warnings.warn(
            f"{caller}: for {late.height} recipient(s) of campaign(s) {examples(camps)} the "
            f"return window has not fully elapsed by {as_of:%Y-%m-%d}; their returns are "
            f"counted only up to then, which understates both groups' rates.",
            WorkbenchWarning,
            stacklevel=3,
        )


def _heterogeneity(counts: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Per campaign: does the lift differ between segments? Likelihood-ratio test of the
    treatment x segment interaction in a logistic regression of return on treatment and segment.

    With cells = segment x group the interaction model is saturated, so the statistic is the
    deviance of the main-effects model, on (segments - 1) degrees of freedom.
    """
    import statsmodels.api as sm

    rows = []
    for (camp,), part in counts.group_by(CAMPAIGN_ID, maintain_order=True):
        part = part.with_columns(
            pl.concat_str(
                [pl.col(c).cast(pl.String).fill_null("(missing)") for c in by], separator=" / "
            ).alias("_seg")
        )
        both = (
            part.group_by("_seg").agg(pl.col(GROUP).n_unique().alias("k")).filter(pl.col("k") == 2)
        )
        part = part.filter(
            pl.col("_seg").is_in(both.get_column("_seg").implode()) & (pl.col("n") > 0)
        )
        segs = sorted(part.get_column("_seg").unique().to_list())
        row = {
            CAMPAIGN_ID: camp,
            "by": " / ".join(by),
            "n_segments": len(segs),
            "statistic": None,
            "df": None,
            "p_value": None,
            "test": "logistic LR: treatment x segment",
        }
        if len(segs) >= 2:
            x = part.get_column("x").to_numpy().astype(float)
            n = part.get_column("n").to_numpy().astype(float)
            treated = (part.get_column(GROUP) == TREATMENT).to_numpy().astype(float)
            seg_idx = np.array([segs.index(s) for s in part.get_column("_seg").to_list()])
            dummies = np.eye(len(segs))[seg_idx][:, 1:]
            exog = np.column_stack([np.ones_like(x), treated, dummies])
            endog = np.column_stack([x, n - x])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = sm.GLM(endog, exog, family=sm.families.Binomial()).fit()
            stat = max(float(fit.deviance), 0.0)
            dof = len(segs) - 1
            row.update(statistic=stat, df=dof, p_value=float(sps.chi2.sf(stat, dof)))
        rows.append(row)
    schema = {
        CAMPAIGN_ID: counts.schema[CAMPAIGN_ID],
        "by": pl.String,
        "n_segments": pl.Int64,
        "statistic": pl.Float64,
        "df": pl.Int64,
        "p_value": pl.Float64,
        "test": pl.String,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


# -- planning --

WINBACK_TEST_PLAN_DEFINITION = (
    "Test plan: sample size per group (or minimum detectable effect) for a two-sided "
    "two-proportion test of the return rate, with Cohen's h = 2 asin(sqrt(p_treatment)) - "
    "2 asin(sqrt(p_control)) and the normal power approximation (statsmodels NormalIndPower). "
    "ratio = control size / treatment size."
)


def winback_test_plan(
    *,
    baseline_rate: float,
    mde=None,
    n_per_group=None,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
) -> pl.DataFrame:
    """Sample size or minimum detectable effect (MDE) of a planned win-back test.

    Give exactly one of `mde` (absolute lift in the return rate, e.g. 0.02 for +2 points; a
    number or a list) or `n_per_group` (customers in the treatment group; a number or a list).
    The control group has `ratio` x that many customers. `baseline_rate` is the expected
    control return rate. One row per `mde` / `n_per_group` value: n_treatment, n_control
    (rounded up), n_total, the MDE (absolute and relative), effect size h, alpha and power.
    """
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    caller = "winback_test_plan"
    if (mde is None) == (n_per_group is None):
        raise BadParameterError(
            f"{caller}: give exactly one of mde= (to get a sample size) or n_per_group= (to get "
            f"the minimum detectable effect); got "
            f"{'both' if mde is not None else 'neither'}."
        )
    for name, value in (("baseline_rate", baseline_rate), ("alpha", alpha), ("power", power)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
            raise BadParameterError(
                f"{caller}: {name}={value!r} must be a number strictly between 0 and 1."
            )
    if isinstance(ratio, bool) or not isinstance(ratio, int | float) or ratio <= 0:
        raise BadParameterError(f"{caller}: ratio={ratio!r} must be a positive number.")
    engine = NormalIndPower()
    rows = []
    given = mde if mde is not None else n_per_group
    values = list(given) if isinstance(given, list | tuple) else [given]
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise BadParameterError(f"{caller}: {v!r} is not a number.")
        if mde is not None:
            if not 0 < baseline_rate + v < 1 or v == 0:
                raise BadParameterError(
                    f"{caller}: mde={v!r} must be non-zero with 0 < baseline_rate + mde < 1."
                )
            h = abs(float(proportion_effectsize(baseline_rate + v, baseline_rate)))
            n1 = float(engine.solve_power(effect_size=h, alpha=alpha, power=power, ratio=ratio))
            n_t = math.ceil(n1)
            effect = float(v)
        else:
            if v < 2:
                raise BadParameterError(f"{caller}: n_per_group={v!r} must be at least 2.")
            n_t = math.ceil(v)
            h = float(
                engine.solve_power(
                    effect_size=None, nobs1=n_t, alpha=alpha, power=power, ratio=ratio
                )
            )
            phi0 = math.asin(math.sqrt(baseline_rate))
            target = math.sin(min(phi0 + h / 2, math.pi / 2)) ** 2
            effect = target - baseline_rate
        n_c = math.ceil(n_t * ratio)
        rows.append(
            {
                "baseline_rate": float(baseline_rate),
                "target_rate": float(baseline_rate + effect),
                "mde": effect,
                "mde_relative": effect / baseline_rate,
                "effect_size_h": h,
                "n_treatment": n_t,
                "n_control": n_c,
                "n_total": n_t + n_c,
                "alpha": float(alpha),
                "power": float(power),
                "ratio": float(ratio),
            }
        )
    return pl.DataFrame(rows)
