"""BG/BB model for discrete-time, non-contractual repeat behaviour (Fader, Hardie & Shang 2010,
"Customer-Base Analysis in a Discrete-Time Noncontractual Setting")."""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, gammaln

from ..errors import BadDataError
from ._base import (
    CustomerModel,
    _as_frame,
    _float_column,
    _require,
    _weights,
    as_array,
    check_rfm,
    collapse,
    dot,
    scalar_or_array,
)

BGBB_DEFINITION = (
    "BG/BB: at each of n transaction opportunities an active customer transacts with a personal "
    "probability (varying as Beta(alpha, beta)) and may leave before the next opportunity with a "
    "personal probability (varying as Beta(gamma, delta))."
)


def _loglik_rows(params, x, tx, n):
    """Per-row log-likelihood of (x transactions, last at opportunity t_x, n opportunities)."""
    alpha, beta, gamma, delta = params
    base = betaln(alpha, beta) + betaln(gamma, delta)
    alive = betaln(alpha + x, beta + n - x) + betaln(gamma, delta + n) - base
    gaps = (n - tx).astype(int)  # opportunities after the last transaction
    j = np.arange(max(int(gaps.max()), 1))[None, :]
    left = (
        betaln(alpha + x[:, None], beta + tx[:, None] - x[:, None] + j)
        + betaln(gamma + 1, delta + tx[:, None] + j)
        - base
    )
    left = np.where(j < gaps[:, None], left, -np.inf)
    terms = np.column_stack([alive, left])
    top = terms.max(axis=1)
    return top + np.log(np.exp(terms - top[:, None]).sum(axis=1))


class BetaGeoBetaBinom(CustomerModel):
    """BG/BB model: ``BetaGeoBetaBinom().fit(table)`` with columns frequency (x: opportunities
    with a transaction), recency (t_x: the last such opportunity, 0 if none) and periods (n:
    opportunities observed); ``weights=`` names a column counting the customers per row."""

    _PARAMS = ("alpha", "beta", "gamma", "delta")
    _COLUMNS = ("frequency", "recency", "periods")

    def fit(self, rfm, *, weights: str | None = None):
        caller = f"{type(self).__name__}.fit"
        frame = _as_frame(rfm, caller)
        _require(
            frame,
            self._COLUMNS,
            caller,
            "pass one row per customer (or pattern) with frequency, recency and periods",
        )
        x, tx, n = (_float_column(frame, c, caller) for c in self._COLUMNS)
        w = _weights(frame, weights, caller)
        if frame.height == 0 or w.sum() <= 0:
            raise BadDataError(f"{caller}: the table has no customers.")
        check_rfm(x, tx, n, caller, discrete=True)
        for col, values in (("recency", tx), ("periods", n)):
            if (values != np.round(values)).any():
                raise BadDataError(
                    f"{caller}: {col} must count whole transaction opportunities. Fix: round "
                    f"or rebuild the table."
                )
        cols, w = collapse({"x": x, "tx": tx, "n": n}, w)
        return self._run_fit(cols, w)

    def _prepare(self, cols, w):
        return {**cols, "w": w}

    def _start(self, data):
        return (1.0, 1.0, 1.0, 1.0)

    def _loglik(self, params, d):
        return float(dot(d["w"], _loglik_rows(params, d["x"], d["tx"], d["n"])))

    # -- predictions ---------------------------------------------------------------------------
    def conditional_probability_alive(self, frequency, recency, periods, *, m_periods_in_future=0):
        """P(alive at opportunity n + m | x, t_x, n)."""
        alpha, beta, gamma, delta = params = self._p()
        x, tx, n, m = as_array(frequency, recency, periods, m_periods_in_future)
        log_alive = (
            betaln(alpha + x, beta + n - x)
            - betaln(alpha, beta)
            + betaln(gamma, delta + n + m)
            - betaln(gamma, delta)
        )
        value = np.exp(
            log_alive - _loglik_rows(params, x.ravel(), tx.ravel(), n.ravel()).reshape(x.shape)
        )
        return scalar_or_array(value, frequency, recency, periods, m_periods_in_future)

    def expected_number_of_purchases_up_to_time(self, n):
        """E[X(n)]: expected transactions in the first n opportunities of a new customer."""
        alpha, beta, gamma, delta = self._p()
        (n_,) = as_array(n)
        ratio = np.exp(
            gammaln(gamma + delta)
            - gammaln(gamma + delta + n_)
            + gammaln(1 + delta + n_)
            - gammaln(1 + delta)
        )
        value = alpha / (alpha + beta) * delta / (gamma - 1) * (1 - ratio)
        return scalar_or_array(value, n)

    def conditional_expected_number_of_purchases_up_to_time(
        self, m_periods_in_future, frequency, recency, periods
    ):
        """E[X(n, n + n*) | x, t_x, n]: expected transactions in the next n* opportunities."""
        alpha, beta, gamma, delta = params = self._p()
        m, x, tx, n = as_array(m_periods_in_future, frequency, recency, periods)
        ll = _loglik_rows(params, x.ravel(), tx.ravel(), n.ravel()).reshape(x.shape)
        log_front = (
            betaln(alpha + x + 1, beta + n - x)
            - betaln(alpha, beta)
            + gammaln(gamma + delta)
            - gammaln(1 + delta)
            - ll
        )
        diff = np.exp(gammaln(1 + delta + n) - gammaln(gamma + delta + n)) - np.exp(
            gammaln(1 + delta + n + m) - gammaln(gamma + delta + n + m)
        )
        value = np.exp(log_front) * delta / (gamma - 1) * diff
        return scalar_or_array(value, m_periods_in_future, frequency, recency, periods)
