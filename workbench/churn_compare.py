"""How many customers count as churned under each churn definition, side by side.

The definitions disagree most about customers with few purchases: a fixed inactivity threshold
treats everyone alike, the own-rhythm rule scales it to each customer's purchase gaps, and the
P(alive) rule asks a BG/NBD model (under which a customer without a repeat purchase never
churns). Seeing the three shares together shows how much a churn figure owes to its definition.
"""

from __future__ import annotations

import polars as pl

from .churn import CHURN_MODES, churn_table
from .errors import BadParameterError
from .stats import wilson_exprs

DEFAULT_DEFINITIONS = {"inactivity": "90d", "own_cycle": 2.0, "p_alive_below": 0.3}

COMPARE_DEFINITION = (
    "Churn definitions compared: for each definition, the customers with activity up to the "
    "analysis day, how many of them count as churned on that day (their latest spell has "
    "churned), the share with a Wilson interval, and the median threshold in days (the "
    "inactivity threshold, k times the customer's typical gap, or the days after the last "
    "purchase at which P(alive) falls below the cut-off; customers that can never churn under "
    "a definition have no threshold)."
)


def compare_churn_definitions(
    events,
    *,
    definitions: dict | None = None,
    as_of=None,
    event=None,
    level: float = 0.95,
    schema=None,
) -> pl.DataFrame:
    """One row per churn definition: customers, churned, share with its interval.

    definitions : {mode: value} of `wb.churn_table` modes other than subscriptions (default
        inactivity "90d", own_cycle 2, p_alive_below 0.3); each is run on `events` as
        `churn_table(events, mode=value, as_of=as_of, event=event)`, so with event=None each
        uses its own activity (inactivity: any event; own_cycle, p_alive_below: purchases).
    Returns definition, setting, customers, churned, censored, churn_share, ci_low, ci_high,
    median_threshold_days, never_churn (customers with no threshold).
    """
    caller = "compare_churn_definitions"
    definitions = DEFAULT_DEFINITIONS if definitions is None else definitions
    allowed = [m for m in CHURN_MODES if m != "subscriptions"]
    if not isinstance(definitions, dict) or not definitions:
        raise BadParameterError(
            f"{caller}: definitions={definitions!r} must be a non-empty dict of churn modes. "
            f"Fix: e.g. definitions={DEFAULT_DEFINITIONS!r}."
        )
    for mode in definitions:
        if mode not in allowed:
            raise BadParameterError(
                f"{caller}: {mode!r} is not a churn mode of events. Fix: use one of {allowed}."
            )
    low, high = wilson_exprs("churned", "customers", level)
    rows = []
    for mode, value in definitions.items():
        table = churn_table(events, **{mode: value}, as_of=as_of, event=event, schema=schema)
        rows.append(
            table.select(
                pl.lit(mode).alias("definition"),
                pl.lit(str(value)).alias("setting"),
                pl.len().cast(pl.Int64).alias("customers"),
                pl.col("churned").sum().cast(pl.Int64).alias("churned"),
                pl.col("threshold_days").median().alias("median_threshold_days"),
                pl.col("threshold_days").null_count().cast(pl.Int64).alias("never_churn"),
            )
        )
    return (
        pl.concat(rows)
        .with_columns(
            (pl.col("customers") - pl.col("churned")).alias("censored"),
            (pl.col("churned") / pl.col("customers")).alias("churn_share"),
            low.alias("ci_low"),
            high.alias("ci_high"),
        )
        .select(
            "definition",
            "setting",
            "customers",
            "churned",
            "censored",
            "churn_share",
            "ci_low",
            "ci_high",
            "median_threshold_days",
            "never_churn",
        )
    )
