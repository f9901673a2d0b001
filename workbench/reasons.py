"""Churn-reason survey answers by segment: shares with Wilson intervals and a test of independence.

Each customer's latest answer counts once. Within each segment (a customer attribute such as
country or plan), the share of answers per reason gets a Wilson score interval; a chi-square test
(no continuity correction) checks whether reasons and segments are independent.
"""

from __future__ import annotations

import html
import warnings
from dataclasses import dataclass, field

import polars as pl
from scipy import stats as sps

from ._leaving import check_fraction
from .errors import BadParameterError, MissingColumnError, WorkbenchWarning
from .schema import CUSTOMER_ID, REASON, TS, CustomerSchema, FeedbackSchema, canonical
from .stats import wilson_ci

REASONS_DEFINITION = (
    "Churn reasons: each customer's latest survey answer; share of answers per reason within "
    "each segment with a Wilson interval; a chi-square test of independence of reason and segment."
)


@dataclass(frozen=True)
class ChurnReasons:
    """Survey reasons by segment: `.table` (segment, reason, share, CI), `.test`, `.params`."""

    table: pl.DataFrame
    test: dict | None
    params: dict = field(default_factory=dict)
    definition: str = REASONS_DEFINITION

    def plot(self):
        from .plots.leaving import churn_reasons_figure

        return churn_reasons_figure(self)

    def _repr_html_(self) -> str:
        t = self.test
        line = (
            f"<p>Chi-square {t['statistic']:.2f}, df {t['dof']}, p = {t['p_value']:.3g}</p>"
            if t
            else ""
        )
        return f"<h4>Churn reasons</h4><p>{html.escape(self.definition)}</p>{line}" + (
            self.table._repr_html_()
        )


def churn_reasons(
    feedback,
    *,
    customers=None,
    by: str | None = None,
    level: float = 0.95,
    feedback_schema=None,
    customer_schema: CustomerSchema | None = None,
) -> ChurnReasons:
    """Churn-reason answers tabulated by segment with Wilson intervals and a chi-square test.

    Each customer's latest answer counts once. `by` is a column of `feedback` or of `customers`
    (joined on customer_id); None gives one segment "all". ``.table``: segment, reason,
    answers, segment_answers, share, ci_low, ci_high. ``.test``: chi-square test of
    independence of reason and segment (statistic, dof, p_value, min_expected), None without
    `by`. A WorkbenchWarning flags expected counts below 5.
    """
    caller = "churn_reasons"
    level = check_fraction(caller, "level", level)
    fb = canonical(feedback, schema=feedback_schema, caller=caller, default=FeedbackSchema)
    fb = fb.sort(TS).group_by(CUSTOMER_ID).agg(pl.all().last())
    names = fb.collect_schema().names()
    if by is None:
        fb = fb.with_columns(pl.lit("all").alias("__segment"))
    elif by in names and by not in (CUSTOMER_ID, TS, REASON):
        fb = fb.with_columns(pl.col(by).cast(pl.String).alias("__segment"))
    else:
        cnames = []
        if customers is not None:
            cust = canonical(
                customers, schema=customer_schema, caller=caller, default=CustomerSchema
            )
            cnames = cust.collect_schema().names()
        if by not in cnames:
            raise MissingColumnError(
                f"{caller}: by={by!r} is neither a feedback column {names} nor a customers "
                f"column {cnames}. Fix: pass customers=... with that attribute, or another by=."
            )
        fb = fb.join(
            cust.select(CUSTOMER_ID, pl.col(by).cast(pl.String).alias("__segment")),
            on=CUSTOMER_ID,
            how="left",
        )
    counts = (
        fb.with_columns(pl.col("__segment").fill_null("(missing)"))
        .group_by("__segment", REASON)
        .agg(pl.len().cast(pl.Int64).alias("answers"))
        .collect()
    )
    if counts.height == 0:
        raise BadParameterError(f"{caller}: feedback has no answers to tabulate.")
    segs = sorted(counts["__segment"].unique().to_list())
    reasons = sorted(counts[REASON].drop_nulls().unique().to_list())
    grid = pl.DataFrame({"__segment": segs}).join(pl.DataFrame({REASON: reasons}), how="cross")
    full = (
        grid.join(counts, on=["__segment", REASON], how="left")
        .with_columns(pl.col("answers").fill_null(0))
        .with_columns(pl.col("answers").sum().over("__segment").alias("segment_answers"))
        .with_columns((pl.col("answers") / pl.col("segment_answers")).alias("share"))
    )
    low, high = wilson_ci(full["answers"], full["segment_answers"], level)
    table = (
        full.with_columns(pl.Series("ci_low", low), pl.Series("ci_high", high))
        .rename({"__segment": "segment"})
        .select("segment", REASON, "answers", "segment_answers", "share", "ci_low", "ci_high")
    )
    test = None
    if len(segs) > 1 and len(reasons) > 1:
        m = full.pivot(on="__segment", index=REASON, values="answers").drop(REASON).to_numpy()
        m = m[:, m.sum(axis=0) > 0]
        m = m[m.sum(axis=1) > 0]
        chi2, p, dof, expected = sps.chi2_contingency(m, correction=False)
        test = {
            "statistic": float(chi2),
            "dof": int(dof),
            "p_value": float(p),
            "min_expected": float(expected.min()),
        }
        if expected.min() < 5:
            warnings.warn(
                f"{caller}: some expected counts are below 5 (smallest "
                f"{expected.min():.1f}); the chi-square p-value is approximate.",
                WorkbenchWarning,
                stacklevel=2,
            )
    params = {
        "by": by,
        "level": level,
        "segments": len(segs),
        "reasons": len(reasons),
        "customers": int(table["answers"].sum()),
    }
    return ChurnReasons(table=table, test=test, params=params)
