"""Figures for the customer-value models: holdout validation and the frequency/recency matrices
(tables from the models' ``holdout_table``, ``probability_alive_matrix`` and
``expected_purchases_matrix`` in, go.Figure out)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import polars as pl


def holdout_validation(table: pl.DataFrame, *, title: str | None = None) -> go.Figure:
    """Mean actual vs predicted holdout purchases by calibration frequency (a model check).

    `table` is ``model.holdout_table(rfm)``: frequency, label, n_customers, actual, predicted.
    """
    hover = (
        "calibration repeat purchases %{x}<br>%{meta}: %{y:.3f}<br>"
        "customers %{customdata:,}<extra></extra>"
    )
    fig = go.Figure()
    for col, name, dash in (("actual", "actual", "solid"), ("predicted", "model", "dash")):
        fig.add_trace(
            go.Scatter(
                x=table["label"].to_list(),
                y=table[col].to_list(),
                mode="lines+markers",
                name=name,
                line={"dash": dash},
                meta=name,
                customdata=table["n_customers"].to_list(),
                hovertemplate=hover,
            )
        )
    fig.update_layout(
        title=title or "Holdout purchases: actual vs model, by calibration frequency",
        xaxis_title="Repeat purchases in the calibration period",
        yaxis_title="Mean repeat purchases in the holdout period",
        hovermode="x unified",
    )
    fig.update_xaxes(type="category")
    return fig


def _matrix(table: pl.DataFrame, value: str, colorbar: str, title: str, zmax=None) -> go.Figure:
    freqs = np.sort(table["frequency"].unique().to_numpy())
    recs = np.sort(table["recency"].unique().to_numpy())
    z = np.full((len(recs), len(freqs)), np.nan)
    fi = np.searchsorted(freqs, table["frequency"].to_numpy())
    ri = np.searchsorted(recs, table["recency"].to_numpy())
    z[ri, fi] = table[value].to_numpy()
    age = float(table["T"][0]) if table.height else float("nan")
    fig = go.Figure(
        go.Heatmap(
            x=freqs,
            y=recs,
            z=z,
            zmin=0,
            zmax=zmax,
            colorscale="Viridis",
            colorbar={"title": {"text": colorbar}},
            hovertemplate=(
                "frequency %{x}<br>recency %{y}<br>" + colorbar + " %{z:.3f}<extra></extra>"
            ),
        )
    )
    fig.update_layout(
        title=f"{title} (customers of age T = {age:g})",
        xaxis_title="Frequency (repeat purchases)",
        yaxis_title="Recency (age at the last purchase)",
    )
    return fig


def probability_alive_matrix(table: pl.DataFrame) -> go.Figure:
    """Heatmap of P(alive) by frequency and recency (``model.probability_alive_matrix()``)."""
    return _matrix(table, "p_alive", "P(alive)", "Probability of being active", zmax=1)


def expected_purchases_matrix(table: pl.DataFrame) -> go.Figure:
    """Heatmap of expected purchases by frequency and recency (``model.expected_purchases_matrix``)."""
    t = float(table["t"][0]) if table.height else float("nan")
    return _matrix(
        table,
        "expected_purchases",
        "expected purchases",
        f"Expected purchases over the next {t:g} time units",
    )
