"""A log of every hypothesis tested while exploring, with false-discovery-rate control over all.

Looking at many comparisons and keeping the ones with p < 0.05 finds "patterns" in noise. The
log records each comparison run (feature x churned, in a segment, on a given data setting) and
after every addition recomputes Benjamini-Hochberg adjusted p-values over *all* records so far,
so the adjusted p-value of an early finding rises as more hypotheses are tried.

    log = wb.explore.HypothesisLog(alpha=0.05)
    log.record(wb.compare_groups(data, group="churned", features=["tenure_days"]))
    log.table; log.to_csv("hypotheses.csv")
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from ..errors import BadParameterError, DataSourceError
from ..stats import bh_adjust

HYPOTHESIS_LOG_DEFINITION = (
    "Hypothesis log: every comparison tested while exploring is recorded with its raw p-value. "
    "The adjusted p-value is the Benjamini-Hochberg value computed over all hypotheses in the "
    "log (recomputed at each addition); a hypothesis is significant when its adjusted p-value "
    "is at most alpha, which bounds the expected share of false discoveries among the "
    "significant ones by alpha."
)

_RESULT_COLUMNS = {
    "feature": pl.String,
    "kind": pl.String,
    "test": pl.String,
    "level": pl.String,
    "n_churned": pl.Int64,
    "n_retained": pl.Int64,
    "churned_value": pl.Float64,
    "retained_value": pl.Float64,
    "effect_size": pl.Float64,
    "statistic": pl.Float64,
    "p_value": pl.Float64,
}
_CONTEXT_COLUMNS = {
    "segment": pl.String,
    "cutoff": pl.String,
    "horizon": pl.String,
    "active_within": pl.String,
    "activity": pl.String,
    "min_value_quantile": pl.Float64,
}


class HypothesisLog:
    """Recorded comparisons with p-values adjusted over the whole log (Benjamini-Hochberg).

    ``table`` columns: hypothesis (1, 2, ...), recorded_at (UTC), the context (segment,
    cutoff, horizon, active_within, activity, min_value_quantile), the comparison (feature,
    kind, test, level, n_churned, n_retained, churned_value, retained_value, effect_size,
    statistic, p_value), then p_adjusted (BH over all rows), significant (p_adjusted <=
    alpha) and hypotheses (how many were in the log when this one was added).
    """

    definition = HYPOTHESIS_LOG_DEFINITION

    def __init__(self, *, alpha: float = 0.05):
        if not isinstance(alpha, int | float) or isinstance(alpha, bool) or not 0 < alpha < 1:
            raise BadParameterError(
                f"HypothesisLog: alpha={alpha!r} must be a number strictly between 0 and 1. "
                f"Fix: pass e.g. alpha=0.05."
            )
        self.alpha = float(alpha)
        self._rows: list[dict] = []

    def __len__(self) -> int:
        return len(self._rows)

    def record(self, comparison: pl.DataFrame, **context) -> pl.DataFrame:
        """Add the rows of a `wb.compare_groups` table (one per feature); return the log.

        ``context`` names the data setting (segment, cutoff, horizon, ...); unknown keys are
        rejected so that the exported columns stay stable.
        """
        unknown = sorted(set(context) - set(_CONTEXT_COLUMNS))
        if unknown:
            raise BadParameterError(
                f"HypothesisLog.record: unknown context {unknown}. "
                f"Allowed: {sorted(_CONTEXT_COLUMNS)}."
            )
        missing = [c for c in ("feature", "p_value") if c not in comparison.columns]
        if missing:
            raise BadParameterError(
                f"HypothesisLog.record: the comparison has no column {missing[0]!r}. "
                f"Fix: pass the output of wb.compare_groups(...)."
            )
        now = datetime.now(UTC).replace(microsecond=0)
        for row in comparison.iter_rows(named=True):
            ctx = {k: _cast(context.get(k), t) for k, t in _CONTEXT_COLUMNS.items()}
            self._rows.append(
                {
                    "hypothesis": len(self._rows) + 1,
                    "recorded_at": now,
                    **ctx,
                    **{k: row.get(k) for k in _RESULT_COLUMNS},
                    "hypotheses": len(self._rows) + 1,
                }
            )
        return self.table

    @property
    def table(self) -> pl.DataFrame:
        """The log with p-values adjusted over every hypothesis recorded so far."""
        schema = {
            "hypothesis": pl.Int64,
            "recorded_at": pl.Datetime("us", "UTC"),
            **_CONTEXT_COLUMNS,
            **_RESULT_COLUMNS,
            "hypotheses": pl.Int64,
        }
        frame = pl.DataFrame(self._rows, schema=schema, orient="row")
        p = frame["p_value"].fill_null(np.nan).to_numpy()
        adjusted = bh_adjust(p) if len(p) else np.array([])
        return (
            frame.with_columns(
                pl.Series("p_adjusted", adjusted, dtype=pl.Float64).fill_nan(None),
            )
            .with_columns(
                (pl.col("p_adjusted") <= self.alpha).fill_null(False).alias("significant"),
            )
            .select(
                *[c for c in schema if c != "hypotheses"], "p_adjusted", "significant", "hypotheses"
            )
        )

    def to_csv(self, path, *, overwrite: bool = True) -> Path:
        """Write the log (with current adjusted p-values) to a CSV file; return its path."""
        path = Path(path)
        if path.exists() and not overwrite:
            raise DataSourceError(
                f"HypothesisLog.to_csv: {path} exists. Fix: pass overwrite=True or another path."
            )
        if not path.parent.exists():
            raise DataSourceError(
                f"HypothesisLog.to_csv: folder {path.parent} does not exist. Fix: create it first."
            )
        self.table.write_csv(path)
        return path

    def clear(self) -> None:
        self._rows.clear()

    def _repr_html_(self) -> str:
        return (
            f"<h4>Hypothesis log</h4><p>{html.escape(self.definition)}</p>"
            f"<p>{len(self)} hypotheses, alpha {self.alpha:g}.</p>" + self.table._repr_html_()
        )


def _cast(value, dtype):
    if value is None:
        return None
    if dtype == pl.Float64:
        return float(value)
    return str(value)
