"""What makes customers churn sooner: Cox proportional-hazards regression on a churn table."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from .errors import BadDataError, BadParameterError, WorkbenchWarning
from .stats import z_value
from .survival import CHURNED, DURATION, as_list, check_columns, to_lazy

COX_DEFINITION = (
    "Cox proportional hazards: the churn hazard (the chance of churning on a given day among "
    "customers not yet churned) is a baseline hazard times exp(sum of coefficient x covariate). "
    "A hazard ratio of 1.6 for 'channel[paid_search]' means paid-search customers churn at 1.6 "
    "times the rate of the reference channel at every point of their lifetime, other covariates "
    "held equal; for a number it is the ratio per one-unit increase. Ties use Efron's method. "
    "The proportional-hazards check tests whether each ratio drifts over lifetime (scaled "
    "Schoenfeld residuals against the rank of time)."
)


@dataclass(frozen=True)
class ChurnDrivers:
    """Cox regression of a churn table.

    - ``table``: ``covariate`` (a number column by name, a category as "column[level]"),
      ``hazard_ratio``, ``ci_low``, ``ci_high``, ``p_value``, ``coef`` (log hazard ratio),
      ``se`` (its standard error);
    - ``ph_test``: ``covariate``, ``statistic``, ``p_value``, ``violated`` (p < ph_alpha);
    - ``params``: covariates, reference level of each category, strata, level, rows used;
    - ``model``: the fitted lifelines ``CoxPHFitter``.
    """

    table: pl.DataFrame
    ph_test: pl.DataFrame
    params: dict = field(default_factory=dict)
    model: object = field(default=None, repr=False)
    definition: str = COX_DEFINITION

    @property
    def concordance(self) -> float:
        return float(self.model.concordance_index_)

    def plot(self):
        """Forest plot of the hazard ratios with their intervals."""
        from .plots.survival import hazard_forest

        return hazard_forest(self)

    def _repr_html_(self) -> str:
        from html import escape

        params = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return (
            f"<div><b>Churn drivers (Cox regression)</b><p>{escape(self.definition)}</p>"
            f"<p><small>{escape(params)}</small></p>{self.table._repr_html_()}</div>"
        )


def churn_drivers(
    table,
    *,
    covariates,
    strata=None,
    reference: dict | None = None,
    level: float = 0.95,
    penalizer: float = 0.0,
    ph_alpha: float = 0.01,
    duration: str = DURATION,
    churned: str = CHURNED,
) -> ChurnDrivers:
    """Hazard ratios of churn for each covariate, from lifelines' ``CoxPHFitter``.

    ``covariates``: columns of ``table`` (e.g. ``churn_table(..., customers=customers)``).
    Number and boolean columns enter as they are (per unit); text columns are expanded into
    one indicator per level except the reference, named "column[level]". The reference level is
    the first in sorted order unless given in ``reference={"channel": "organic"}``; it is stated
    in ``params["reference"]``. ``strata``: columns whose levels get their own baseline hazard
    (no ratio is estimated for them). Rows with a missing value in a used column are dropped
    (with a WorkbenchWarning). A covariate whose proportional-hazards test has
    p < ``ph_alpha`` draws a WorkbenchWarning in plain words.
    """
    caller = "churn_drivers"
    covs = as_list(covariates, caller, "covariates")
    strata_cols = as_list(strata, caller, "strata")
    if not covs:
        raise BadParameterError(
            f"{caller}: covariates is empty. Fix: e.g. covariates=['channel', 'plan']."
        )
    z_value(level, caller=caller)
    if not isinstance(ph_alpha, int | float) or not 0 < ph_alpha < 1:
        raise BadParameterError(f"{caller}: ph_alpha={ph_alpha!r} must lie in (0, 1), e.g. 0.01.")
    if not isinstance(penalizer, int | float) or penalizer < 0:
        raise BadParameterError(f"{caller}: penalizer={penalizer!r} must be a number >= 0.")
    overlap = set(covs) & set(strata_cols)
    if overlap:
        raise BadParameterError(
            f"{caller}: {sorted(overlap)} are both covariates and strata. Fix: use each column "
            f"in one role only."
        )
    reference = dict(reference or {})
    lf = to_lazy(table, caller)
    used = [duration, churned, *covs, *strata_cols]
    check_columns(lf, used, caller)
    unknown = sorted(set(reference) - set(covs))
    if unknown:
        raise BadParameterError(
            f"{caller}: reference names {unknown}, which are not covariates {covs}. "
            f"Fix: give reference levels only for categorical covariates."
        )
    df = lf.select(used).collect()
    n_all = df.height
    df = df.drop_nulls()
    if df.height < n_all:
        warnings.warn(
            f"{caller}: {n_all - df.height} of {n_all} rows have a missing value in "
            f"{used} and were left out of the regression.",
            WorkbenchWarning,
            stacklevel=2,
        )
    if df.height == 0 or not df[churned].cast(pl.Boolean).any():
        raise BadDataError(
            f"{caller}: no churned customers among the {df.height} usable rows, so there is "
            f"nothing to explain. Fix: check the churn definition or the as_of date."
        )
    design, refs, numeric = _design(df, covs, reference, caller)
    pdf = design.with_columns(
        df[duration].cast(pl.Float64).alias(DURATION),
        df[churned].cast(pl.Int64).alias(CHURNED),
        *[df[c] for c in strata_cols],
    ).to_pandas()

    cph = _fit(pdf, strata_cols, level, penalizer, caller)
    out = _tidy(cph, level)
    ph = _ph_test(cph, pdf, ph_alpha, caller)
    params = {
        "covariates": covs,
        "numeric": numeric,
        "reference": refs,
        "strata": strata_cols,
        "level": level,
        "penalizer": penalizer,
        "ties": "Efron",
        "ph_alpha": ph_alpha,
        "rows": int(df.height),
        "churned": int(df[churned].cast(pl.Int64).sum()),
        "duration": duration,
    }
    return ChurnDrivers(table=out, ph_test=ph, params=params, model=cph)


def _design(df: pl.DataFrame, covs, reference, caller):
    cols, refs, numeric = [], {}, []
    for c in covs:
        dtype = df.schema[c]
        if dtype == pl.Boolean or dtype.is_numeric():
            cols.append(df[c].cast(pl.Float64))
            numeric.append(c)
            continue
        levels = sorted(df[c].cast(pl.String).unique().to_list())
        if len(levels) < 2:
            raise BadDataError(
                f"{caller}: covariate {c!r} takes a single value {levels} among the rows used, "
                f"so it cannot explain anything. Fix: drop it from covariates."
            )
        ref = reference.get(c, levels[0])
        if str(ref) not in levels:
            raise BadParameterError(
                f"{caller}: reference[{c!r}]={ref!r} is not a level of {c!r}. "
                f"Choose one of {levels}."
            )
        refs[c] = str(ref)
        values = df[c].cast(pl.String)
        for lev in levels:
            if lev != str(ref):
                cols.append((values == lev).cast(pl.Float64).alias(f"{c}[{lev}]"))
    return pl.DataFrame(cols), refs, numeric


def _fit(pdf, strata_cols, level, penalizer, caller):
    from lifelines import CoxPHFitter

    cph = CoxPHFitter(alpha=1 - level, penalizer=penalizer, strata=strata_cols or None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            cph.fit(pdf, duration_col=DURATION, event_col=CHURNED)
        except Exception as exc:  # lifelines raises ConvergenceError and friends
            raise BadDataError(
                f"{caller}: the Cox regression could not be fitted ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0]}). Fix: drop covariates that (almost) separate "
                f"churned from not churned customers, merge rare levels, or set penalizer=0.1."
            ) from None
    notes = [
        str(w.message).strip().splitlines()[0]
        for w in caught
        if not issubclass(w.category, FutureWarning | DeprecationWarning)
    ]
    if notes:
        warnings.warn(
            f"{caller}: the Cox fit reported numerical trouble, so read the ratios with care: "
            f"{notes[0]}",
            WorkbenchWarning,
            stacklevel=3,
        )
    return cph


def _tidy(cph, level) -> pl.DataFrame:
    s = cph.summary
    z = z_value(level)
    coef = s["coef"].to_numpy(dtype=float)
    se = s["se(coef)"].to_numpy(dtype=float)
    return pl.DataFrame(
        {
            "covariate": [str(i) for i in s.index],
            "hazard_ratio": np.exp(coef),
            "ci_low": np.exp(coef - z * se),
            "ci_high": np.exp(coef + z * se),
            "p_value": s["p"].to_numpy(dtype=float),
            "coef": coef,
            "se": se,
        }
    )


def _ph_test(cph, pdf, ph_alpha, caller) -> pl.DataFrame:
    from lifelines.statistics import proportional_hazard_test

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = proportional_hazard_test(cph, pdf, time_transform="rank")
    s = res.summary
    names = [str(i[0] if isinstance(i, tuple) else i) for i in s.index]
    p = s["p"].to_numpy(dtype=float)
    out = pl.DataFrame(
        {
            "covariate": names,
            "statistic": s["test_statistic"].to_numpy(dtype=float),
            "p_value": p,
            "violated": [bool(math.isfinite(x) and x < ph_alpha) for x in p],
        }
    )
    bad = out.filter(pl.col("violated"))
    if bad.height:
        listing = ", ".join(
            f"{r['covariate']!r} (p = {r['p_value']:.2g})" for r in bad.iter_rows(named=True)
        )
        warnings.warn(
            f"{caller}: the effect of {listing} changes over the customer lifetime "
            f"(proportional-hazards test), so its hazard ratio is only an average over "
            f"follow-up. Consider strata=[...] for that column, or compare survival curves "
            f"by it instead.",
            WorkbenchWarning,
            stacklevel=3,
        )
    return out
