"""Patterns of departed customers: how churned customers differed from retained ones.

`departed_patterns` compares churned and retained customers feature by feature, using only
what was known at the cut-off date (`wb.customer_features`) and the churn label observed after
it (`wb.churn_labels`). Numeric features: Mann-Whitney U test, standardised mean difference
(pooled SD) and Cliff's delta. Categorical and boolean features: chi-square test (Fisher's exact
test for a 2 x 2 table with an expected count below 5), Cramér's V, and the difference in
proportions of the level that differs most. P-values are adjusted for the number of features
compared with the Benjamini-Hochberg procedure (false discovery rate).
"""

from __future__ import annotations

import html
import warnings
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy import stats as sps

from ._leaving import check_fraction
from .errors import BadParameterError, MissingColumnError, WorkbenchWarning
from .features import churn_labels, customer_features
from .schema import CUSTOMER_ID, CustomerSchema, EventSchema
from .stats import bh_adjust

PATTERNS_DEFINITION = (
    "Departed vs retained: for each feature known at the cut-off, churned and retained customers "
    "are compared with a Mann-Whitney U test (numeric; effect: standardised mean difference and "
    "Cliff's delta) or a chi-square / Fisher test (categorical; effect: Cramér's V and the largest "
    "difference in a level's share). P-values are Benjamini-Hochberg adjusted across features."
)
MIN_GROUP = 10

_TABLE_SCHEMA = {
    "feature": pl.String,
    "kind": pl.String,
    "test": pl.String,
    "n_churned": pl.Int64,
    "n_retained": pl.Int64,
    "level": pl.String,
    "churned_value": pl.Float64,
    "retained_value": pl.Float64,
    "smd": pl.Float64,
    "cliffs_delta": pl.Float64,
    "prop_diff": pl.Float64,
    "cramers_v": pl.Float64,
    "effect_size": pl.Float64,
    "statistic": pl.Float64,
    "p_value": pl.Float64,
}


def _numeric_row(name: str, x: np.ndarray, y: np.ndarray) -> dict:
    n1, n2 = len(x), len(y)
    row = {
        "feature": name,
        "kind": "numeric",
        "test": "Mann-Whitney U",
        "n_churned": n1,
        "n_retained": n2,
        "level": None,
    }
    if n1 == 0 or n2 == 0:
        return row | {"churned_value": _mean(x), "retained_value": _mean(y)}
    m1, m2 = float(np.mean(x)), float(np.mean(y))
    s1 = float(np.var(x, ddof=1)) if n1 > 1 else 0.0
    s2 = float(np.var(y, ddof=1)) if n2 > 1 else 0.0
    dof = n1 + n2 - 2
    pooled = np.sqrt(((n1 - 1) * s1 + (n2 - 1) * s2) / dof) if dof > 0 else 0.0
    smd = (m1 - m2) / pooled if pooled > 0 else (0.0 if m1 == m2 else np.nan)
    u, p = mann_whitney(x, y)
    delta = 2 * float(u) / (n1 * n2) - 1  # P(X > Y) - P(X < Y)
    return row | {
        "churned_value": m1,
        "retained_value": m2,
        "smd": float(smd),
        "cliffs_delta": delta,
        "effect_size": delta,
        "statistic": float(u),
        "p_value": float(p),
    }


def mann_whitney(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Two-sided Mann-Whitney U test: (U of x, p-value), as scipy's ``mannwhitneyu``.

    Small samples without ties (either group of 8 or fewer) use scipy's exact distribution;
    otherwise the normal approximation with tie correction and continuity correction.
    """
    n1, n2 = len(x), len(y)
    both = np.concatenate([x, y])
    ranks = sps.rankdata(both)
    u1 = float(ranks[:n1].sum() - n1 * (n1 + 1) / 2)
    _, counts = np.unique(both, return_counts=True)
    ties = counts.size < both.size
    if counts.size == 1:
        return u1, 1.0
    if min(n1, n2) <= 8 and not ties:
        res = sps.mannwhitneyu(x, y, alternative="two-sided")
        return float(res.statistic), float(res.pvalue)
    n = n1 + n2
    mu = n1 * n2 / 2
    tie_term = float(np.sum(counts.astype(float) ** 3 - counts)) / (n * (n - 1))
    sd = np.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term))
    z = (max(u1, n1 * n2 - u1) - mu - 0.5) / sd
    return u1, float(min(1.0, 2 * sps.norm.sf(z)))


def _mean(a: np.ndarray):
    return float(np.mean(a)) if len(a) else None


def _categorical_row(name: str, values: pl.Series, churned: np.ndarray) -> dict | None:
    vals = np.array(["(missing)" if v is None else str(v) for v in values.to_list()])
    levels, code = np.unique(vals, return_inverse=True)
    levels = levels.tolist()
    n1, n2 = int(churned.sum()), int((~churned).sum())
    row = {"feature": name, "kind": "categorical", "n_churned": n1, "n_retained": n2}
    table = np.column_stack(
        [
            np.bincount(code[churned], minlength=len(levels)),
            np.bincount(code[~churned], minlength=len(levels)),
        ]
    ).astype(float)
    if len(levels) < 2:
        return None  # no variation
    if n1 == 0 or n2 == 0:
        return row | {"test": "chi-square", "level": levels[0]}
    share1, share2 = table[:, 0] / n1, table[:, 1] / n2
    diffs = share1 - share2
    top = int(np.argmax(np.round(np.abs(diffs), 12)))  # ties: the first level
    n = n1 + n2
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / n
    chi2 = float(np.sum((table - expected) ** 2 / expected))
    if table.shape == (2, 2) and expected.min() < 5:
        test = "Fisher exact"
        _, p = sps.fisher_exact(table.astype(int))
    else:
        test = "chi-square"
        p = float(sps.chi2.sf(chi2, df=len(levels) - 1))
    v = float(np.sqrt(chi2 / n))  # Cramér's V with two groups: sqrt(chi2 / (n * (2 - 1)))
    return row | {
        "test": test,
        "level": levels[top],
        "churned_value": float(share1[top]),
        "retained_value": float(share2[top]),
        "prop_diff": float(diffs[top]),
        "cramers_v": v,
        "effect_size": v,
        "statistic": chi2,
        "p_value": float(p),
    }


def compare_groups(
    frame: pl.DataFrame, *, group: str, features: list[str] | None = None, alpha: float = 0.05
) -> pl.DataFrame:
    """Compare rows with ``group`` True against False, feature by feature, BH-adjusted.

    Numeric (non-boolean) columns are compared with Mann-Whitney U; string, categorical and
    boolean columns with chi-square / Fisher. Nulls are left out of numeric comparisons and
    form their own "(missing)" level in categorical ones. Columns without variation are left
    out. Sorted by adjusted p-value, then by absolute effect size.
    """
    caller = "compare_groups"
    alpha = check_fraction(caller, "alpha", alpha)
    if group not in frame.columns:
        raise MissingColumnError(
            f"{caller}: no group column {group!r}. Available: {frame.columns}."
        )
    g = frame[group].cast(pl.Boolean).fill_null(False).to_numpy()
    names = (
        features
        if features is not None
        else [c for c in frame.columns if c not in (group, CUSTOMER_ID)]
    )
    rows = []
    for name in names:
        s = frame[name]
        if s.dtype.is_numeric() and s.dtype != pl.Boolean:
            a = s.cast(pl.Float64).to_numpy()
            ok = ~np.isnan(a)
            if ok.sum() == 0 or np.nanmin(a) == np.nanmax(a):
                continue
            rows.append(_numeric_row(name, a[ok & g], a[ok & ~g]))
        elif s.dtype in (pl.String, pl.Boolean, pl.Categorical) or isinstance(s.dtype, pl.Enum):
            row = _categorical_row(name, s, g)
            if row is not None:
                rows.append(row)
    table = pl.DataFrame(rows, schema=_TABLE_SCHEMA) if rows else pl.DataFrame(schema=_TABLE_SCHEMA)
    p = table["p_value"].fill_null(np.nan).to_numpy()
    adj = bh_adjust(p) if len(p) else np.array([])
    return (
        table.with_columns(
            pl.Series("p_adjusted", adj, dtype=pl.Float64).fill_nan(None),
        )
        .with_columns(
            (pl.col("p_adjusted") <= alpha).fill_null(False).alias("significant"),
            pl.col("effect_size").abs().alias("__abs"),
        )
        .sort(["p_adjusted", "__abs"], descending=[False, True], nulls_last=True)
        .drop("__abs")
        .with_row_index("rank", offset=1)
        .with_columns(pl.col("rank").cast(pl.Int64))
    )


@dataclass(frozen=True)
class DepartedPatterns:
    """Departed vs retained comparison: `.table` one row per feature, ranked; `.params`."""

    table: pl.DataFrame
    params: dict = field(default_factory=dict)
    data: pl.DataFrame | None = field(default=None, repr=False)
    definition: str = PATTERNS_DEFINITION

    @property
    def significant(self) -> pl.DataFrame:
        return self.table.filter(pl.col("significant"))

    def plot(self, top: int = 15):
        from .plots.leaving import departed_patterns_figure

        return departed_patterns_figure(self, top=top)

    def _repr_html_(self) -> str:
        p = self.params
        head = (
            f"<h4>Departed vs retained customers</h4><p>{html.escape(self.definition)}</p>"
            f"<p>{p.get('n_churned')} churned, {p.get('n_retained')} retained; cutoff "
            f"{p.get('cutoff')}, horizon {p.get('horizon')}.</p>"
        )
        return head + self.table._repr_html_()


def _value_frame(value, features: pl.DataFrame, customers, events, cut, horizon, caller):
    """customer_id, __value from a column name, a frame or (None) the prospective value."""
    if value is None:
        from .overdue import value_at_stake

        v = value_at_stake(events, as_of=cut, horizon=horizon, before=True)
        return v.select(CUSTOMER_ID, pl.col("value_at_stake").alias("__value")), "value_at_stake"
    if isinstance(value, str):
        for src in (features, customers):
            if isinstance(src, pl.DataFrame) and value in src.columns:
                return src.select(
                    CUSTOMER_ID, pl.col(value).cast(pl.Float64).alias("__value")
                ), value
        raise MissingColumnError(
            f"{caller}: value={value!r} is not a column of the features or customers. "
            f"Fix: pass a column name, a frame (customer_id, value) or None for the predicted "
            f"value at the cutoff."
        )
    if isinstance(value, pl.DataFrame) and CUSTOMER_ID in value.columns and value.width == 2:
        col = next(c for c in value.columns if c != CUSTOMER_ID)
        return value.select(CUSTOMER_ID, pl.col(col).cast(pl.Float64).alias("__value")), col
    raise BadParameterError(
        f"{caller}: value must be None, a column name or a polars frame with customer_id and "
        f"one value column; got {type(value).__name__}."
    )


def departed_patterns(
    events,
    *,
    cutoff,
    horizon="90d",
    customers=None,
    subscriptions=None,
    annotations=None,
    labels: pl.DataFrame | None = None,
    features: pl.DataFrame | None = None,
    active_within=None,
    activity: str = "any",
    min_value_quantile: float | None = None,
    value=None,
    exclude: tuple[str, ...] = (),
    alpha: float = 0.05,
    schema: EventSchema | None = None,
    customer_schema: CustomerSchema | None = None,
) -> DepartedPatterns:
    """Compare churned and retained customers over point-in-time features, ranked by evidence.

    Features come from ``wb.customer_features(events, cutoff=...)`` (or `features`); labels from
    ``wb.churn_labels(events, cutoff=..., horizon=...)`` (or `labels`: any frame with
    customer_id and a boolean churned, such as ``wb.churn_table(...)`` for contractual churn).
    With `min_value_quantile` (e.g. 0.8) both groups are restricted to customers whose value at
    the cutoff is at or above that quantile; `value` is a feature/customer column, a frame
    (customer_id, value) or None for the expected value at stake over the horizon predicted at
    the cutoff from earlier events (BG/NBD x Gamma-Gamma, see `wb.value_at_stake`).
    """
    caller = "departed_patterns"
    alpha = check_fraction(caller, "alpha", alpha)
    if min_value_quantile is not None:
        check_fraction(caller, "min_value_quantile", min_value_quantile, closed=False)
    if features is None:
        features = customer_features(
            events,
            cutoff=cutoff,
            customers=customers,
            subscriptions=subscriptions,
            annotations=annotations,
            schema=schema,
            customer_schema=customer_schema,
        )
    if labels is None:
        labels = churn_labels(
            events,
            cutoff=cutoff,
            horizon=horizon,
            active_within=active_within,
            activity=activity,
            schema=schema,
        )
    for name, frame, col in (("labels", labels, "churned"), ("features", features, CUSTOMER_ID)):
        if not isinstance(frame, pl.DataFrame) or col not in frame.columns:
            raise MissingColumnError(
                f"{caller}: {name} must be a polars DataFrame with a {col!r} column."
            )
    data = features.join(labels.select(CUSTOMER_ID, "churned"), on=CUSTOMER_ID, how="inner")
    params = {
        "cutoff": str(cutoff),
        "horizon": str(horizon),
        "alpha": alpha,
        "active_within": active_within,
        "activity": activity,
        "min_value_quantile": min_value_quantile,
    }
    if min_value_quantile is not None:
        vals, vname = _value_frame(value, features, customers, events, cutoff, horizon, caller)
        data = data.join(vals, on=CUSTOMER_ID, how="left")
        threshold = data["__value"].quantile(min_value_quantile, interpolation="linear")
        data = data.filter(pl.col("__value") >= threshold).drop("__value")
        params |= {"value": vname, "value_threshold": threshold}
    n1, n2 = int(data["churned"].sum()), int((~data["churned"]).sum())
    params |= {"n_churned": n1, "n_retained": n2}
    if min(n1, n2) < MIN_GROUP:
        warnings.warn(
            f"{caller}: only {n1} churned and {n2} retained customers are compared; "
            f"the tests have little power.",
            WorkbenchWarning,
            stacklevel=2,
        )
    cols = [c for c in data.columns if c not in (CUSTOMER_ID, "churned", *exclude)]
    table = compare_groups(data, group="churned", features=cols, alpha=alpha)
    return DepartedPatterns(table=table, params=params, data=data)


# ----------------------------------------------------------------------------- problem segments
PROBLEM_SEGMENTS_DEFINITION = (
    "Problem segments: groups of customers (one attribute value, or a pair of values) whose churn "
    "rate is above the base rate of all customers, by a one-sided exact binomial test, with "
    "Benjamini-Hochberg adjusted p-values; ranked by value at risk = customers x mean prospective "
    "value at the cut-off (the sum of their expected value over the horizon)."
)


@dataclass(frozen=True)
class ProblemSegments:
    """Segments churning above the base rate: `.table` ranked by value at risk; `.params`."""

    table: pl.DataFrame
    params: dict = field(default_factory=dict)
    definition: str = PROBLEM_SEGMENTS_DEFINITION

    @property
    def significant(self) -> pl.DataFrame:
        return self.table.filter(pl.col("significant"))

    def plot(self, top: int = 15):
        from .plots.leaving import problem_segments_figure

        return problem_segments_figure(self, top=top)

    def _repr_html_(self) -> str:
        p = self.params
        return (
            f"<h4>Problem segments</h4><p>{html.escape(self.definition)}</p>"
            f"<p>Base churn rate {p['base_rate']:.1%} of {p['customers']} customers.</p>"
            + self.table._repr_html_()
        )


def problem_segments(
    events,
    *,
    cutoff,
    customers,
    horizon="90d",
    by: list[str] | None = None,
    pairs: bool = True,
    min_customers: int = 30,
    alpha: float = 0.05,
    level: float = 0.95,
    labels: pl.DataFrame | None = None,
    value=None,
    active_within=None,
    activity: str = "any",
    schema: EventSchema | None = None,
    customer_schema: CustomerSchema | None = None,
) -> ProblemSegments:
    """Segments (an attribute value, or two) whose churn is significantly above the base rate.

    Churn labels as in `wb.churn_labels` (or `labels`). `by`: customer attributes to segment
    on (default: every text or boolean column of `customers`); `pairs` adds every combination
    of two of them. Segments with fewer than `min_customers` are not tested. `value` as in
    `departed_patterns` (None: expected value at stake over the horizon, predicted at the cutoff).
    ``.table``: dimension, segment, customers, churned, churn_rate, ci_low, ci_high, base_rate,
    lift, excess_churned, p_value, p_adjusted, significant, mean_value, value_at_risk.
    """
    from .schema import SIGNUP_TS, canonical
    from .stats import wilson_ci

    caller = "problem_segments"
    alpha = check_fraction(caller, "alpha", alpha)
    level = check_fraction(caller, "level", level)
    if not isinstance(min_customers, int) or isinstance(min_customers, bool) or min_customers < 1:
        raise BadParameterError(
            f"{caller}: min_customers={min_customers!r} must be an integer >= 1."
        )
    cust = canonical(
        customers, schema=customer_schema, caller=caller, default=CustomerSchema
    ).collect()
    if by is None:
        by = [
            c
            for c, t in cust.schema.items()
            if c not in (CUSTOMER_ID, SIGNUP_TS)
            and (t in (pl.String, pl.Boolean, pl.Categorical) or isinstance(t, pl.Enum))
        ]
    elif isinstance(by, str):
        by = [by]
    missing = [b for b in by if b not in cust.columns]
    if missing or not by:
        raise MissingColumnError(
            f"{caller}: by={by!r} names no usable customers column (missing {missing}). "
            f"Available: {cust.columns}."
        )
    if labels is None:
        labels = churn_labels(
            events,
            cutoff=cutoff,
            horizon=horizon,
            active_within=active_within,
            activity=activity,
            schema=schema,
        )
    data = (
        labels.select(CUSTOMER_ID, "churned")
        .join(
            cust.select(
                CUSTOMER_ID, *[pl.col(b).cast(pl.String).fill_null("(missing)") for b in by]
            ),
            on=CUSTOMER_ID,
            how="left",
        )
        .with_columns(pl.col(by).fill_null("(missing)"))
    )
    vals, vname = _value_frame(value, cust, cust, events, cutoff, horizon, caller)
    data = data.join(vals, on=CUSTOMER_ID, how="left").with_columns(
        pl.col("__value").fill_null(0.0)
    )
    n_all = data.height
    if n_all == 0:
        raise BadParameterError(f"{caller}: no customers were active before the cutoff {cutoff}.")
    base = float(data["churned"].mean())
    dims = [[b] for b in by]
    if pairs:
        dims += [[a, b] for i, a in enumerate(by) for b in by[i + 1 :]]
    parts = []
    for dim in dims:
        seg = pl.concat_str([pl.lit(f"{d}=") + pl.col(d) for d in dim], separator=" & ")
        parts.append(
            data.group_by(dim)
            .agg(
                pl.len().cast(pl.Int64).alias("customers"),
                pl.col("churned").sum().cast(pl.Int64).alias("churned"),
                pl.col("__value").mean().alias("mean_value"),
                pl.col("__value").sum().alias("value_at_risk"),
                seg.first().alias("segment"),
            )
            .select(
                pl.lit(" x ".join(dim)).alias("dimension"),
                "segment",
                "customers",
                "churned",
                "mean_value",
                "value_at_risk",
            )
        )
    table = pl.concat(parts).filter(pl.col("customers") >= min_customers)
    k, n = table["churned"].to_numpy(), table["customers"].to_numpy()
    p = (
        np.array(
            [
                sps.binomtest(int(a), int(b), base, alternative="greater").pvalue
                for a, b in zip(k, n, strict=True)
            ]
        )
        if len(k)
        else np.array([])
    )
    low, high = wilson_ci(k, n, level) if len(k) else (np.array([]), np.array([]))
    table = (
        table.with_columns(
            (pl.col("churned") / pl.col("customers")).alias("churn_rate"),
            pl.Series("ci_low", low, dtype=pl.Float64),
            pl.Series("ci_high", high, dtype=pl.Float64),
            pl.lit(base).alias("base_rate"),
            pl.Series("p_value", p, dtype=pl.Float64),
            pl.Series("p_adjusted", bh_adjust(p) if len(p) else p, dtype=pl.Float64),
        )
        .with_columns(
            (pl.col("churn_rate") / pl.col("base_rate")).alias("lift"),
            (pl.col("churned") - pl.col("customers") * base).alias("excess_churned"),
            (pl.col("p_adjusted") <= alpha).alias("significant"),
        )
        .sort(["significant", "value_at_risk", "segment"], descending=[True, True, False])
        .select(
            "dimension",
            "segment",
            "customers",
            "churned",
            "churn_rate",
            "ci_low",
            "ci_high",
            "base_rate",
            "lift",
            "excess_churned",
            "p_value",
            "p_adjusted",
            "significant",
            "mean_value",
            "value_at_risk",
        )
    )
    params = {
        "cutoff": str(cutoff),
        "horizon": str(horizon),
        "by": list(by),
        "pairs": pairs,
        "min_customers": min_customers,
        "alpha": alpha,
        "level": level,
        "base_rate": base,
        "customers": n_all,
        "value": vname,
        "segments_tested": table.height,
    }
    return ProblemSegments(table=table, params=params)
