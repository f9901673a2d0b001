"""Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005, "RFM and CLV"; Fader &
Hardie's note "The Gamma-Gamma Model of Monetary Value", 2013), and the discounted customer
lifetime value built on it."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
from scipy.special import digamma, gammaln

from ..errors import BadDataError, BadParameterError, WorkbenchWarning, bad_choice
from ._base import (
    CustomerModel,
    TransactionModel,
    _as_frame,
    _float_column,
    _require,
    _weights,
    as_array,
    collapse,
    dot,
    factorize,
    scalar_or_array,
)

GAMMA_GAMMA_DEFINITION = (
    "Gamma-Gamma: each transaction's amount varies around the customer's own mean spend, and "
    "customers' mean spends vary across the population; a customer's expected average spend "
    "is a weighted average of the population mean and their own mean repeat spend, with more "
    "weight on their own mean the more repeat purchases they made."
)
CLV_DEFINITION = (
    "Customer lifetime value: expected purchases in each of the next `time` months (from the "
    "purchase model) times the expected average spend (Gamma-Gamma), each month discounted by "
    "(1 + discount_rate)^month, summed."
)

# Time units per month, as lifetimes counts them.
_PER_MONTH = {"h": 30 * 24, "D": 30.0, "W": 4.345, "M": 1.0}
_UNIT_ALIASES = {
    "h": "h",
    "H": "h",
    "hour": "h",
    "D": "D",
    "d": "D",
    "day": "D",
    "W": "W",
    "w": "W",
    "week": "W",
    "M": "M",
    "month": "M",
}


class GammaGamma(CustomerModel):
    """Gamma-Gamma spend model: ``GammaGamma().fit(rfm)``.

    Transaction amounts z ~ Gamma(p, nu) given the customer, nu ~ Gamma(q, gamma) across
    customers. Fitted on customers with at least one repeat purchase (frequency > 0), from their
    frequency and monetary_value (mean repeat spend). Assumes spend and purchase frequency are
    independent.
    """

    _PARAMS = ("p", "q", "gamma")
    _COLUMNS = ("frequency", "monetary_value")

    def fit(self, rfm, *, weights: str | None = None):
        """Fit on an rfm table with columns frequency and monetary_value.

        Customers without repeat purchases carry no spend information and are left out;
        repeat customers with a mean spend <= 0 are left out with a warning.
        """
        caller = f"{type(self).__name__}.fit"
        frame = _as_frame(rfm, caller)
        _require(
            frame,
            self._COLUMNS,
            caller,
            "build the table with wb.rfm_summary(events) from events that have an amount column",
        )
        x = _float_column(frame, "frequency", caller)
        m = _float_column(frame, "monetary_value", caller)
        w = _weights(frame, weights, caller)
        repeat = x > 0
        bad = repeat & (m <= 0)
        if bad.any():
            warnings.warn(
                f"{caller}: {int(bad.sum())} repeat customers have a mean spend <= 0 and are "
                f"left out of the spend model.",
                WorkbenchWarning,
                stacklevel=2,
            )
        keep = repeat & ~bad & (w > 0)
        if keep.sum() < 2:
            raise BadDataError(
                f"{caller}: the spend model needs customers with repeat purchases and a positive "
                f"mean spend; found {int(keep.sum())}. Fix: use a longer observation period."
            )
        cols, wc = collapse({"x": x[keep], "m": m[keep]}, w[keep])
        return self._run_fit(cols, wc)

    def _prepare(self, cols, w):
        x, m = cols["x"], cols["m"]
        (ux,), inv = factorize(x)
        logm, logx = np.log(m), np.log(x)
        return {
            "x": x,
            "m": m,
            "w": w,
            "ux": ux,
            "inv": inv,
            "Wx": np.bincount(inv, weights=w, minlength=len(ux)),
            # parameter-free sums of the log-likelihood
            "s_logm": dot(w, logm),
            "s_xlogm": dot(w * x, logm),
            "s_xlogx": dot(w * x, logx),
        }

    def _start(self, data):
        mean = float(np.average(data["m"], weights=data["w"]))
        return (1.0, 2.0, mean)

    def _loglik(self, params, d):
        return self._loglik_grad(params, d, gradient=False)[0]

    def _loglik_grad(self, params, d, gradient=True):
        # Per customer: lnG(px+q) - lnG(px) - lnG(q) + q ln(gamma) + (px-1) ln(m) + px ln(x)
        #               - (px+q) ln(gamma + m x); the special functions depend on x only.
        p, q, g = params
        x, m, w, ux, Wx = d["x"], d["m"], d["w"], d["ux"], d["Wx"]
        pux = p * ux
        log_gmx = np.log(g + m * x)
        wx_log = dot(w * x, log_gmx)
        w_log = dot(w, log_gmx)
        ll = (
            dot(Wx, gammaln(pux + q) - gammaln(pux) - gammaln(q) + q * np.log(g))
            + p * d["s_xlogm"]
            - d["s_logm"]
            + p * d["s_xlogx"]
            - p * wx_log
            - q * w_log
        )
        if not gradient:
            return float(ll), None
        psi = digamma(pux + q)
        d_p = dot(Wx, ux * (psi - digamma(pux))) + d["s_xlogm"] + d["s_xlogx"] - wx_log
        d_q = dot(Wx, psi - digamma(q) + np.log(g)) - w_log
        d_g = Wx.sum() * q / g - dot(w * (p * x + q), 1 / (g + m * x))
        return float(ll), np.array([d_p, d_q, d_g])

    @property
    def population_mean_spend(self) -> float:
        """Mean spend per transaction across the population: p gamma / (q - 1) (inf if q <= 1)."""
        p, q, g = self._p()
        return p * g / (q - 1) if q > 1 else float("inf")

    def conditional_expected_average_profit(self, frequency, monetary_value):
        """E[mean spend | x, mean repeat spend m_x]:
        (q - 1) / (p x + q - 1) * p gamma / (q - 1) + p x / (p x + q - 1) * m_x."""
        p, q, g = self._p()
        x, m = as_array(frequency, monetary_value)
        weight = p * x / (p * x + q - 1)
        value = (1 - weight) * (p * g / (q - 1)) + weight * m
        return scalar_or_array(value, frequency, monetary_value)

    def customer_lifetime_value(
        self,
        transaction_model,
        rfm,
        *,
        time: int = 12,
        discount_rate: float = 0.01,
        time_unit: str = "D",
    ) -> pl.DataFrame:
        """Discounted CLV of each customer; see ``customer_lifetime_value``."""
        return customer_lifetime_value(
            transaction_model,
            self,
            rfm,
            time=time,
            discount_rate=discount_rate,
            time_unit=time_unit,
        )


def customer_lifetime_value(
    transaction_model: TransactionModel,
    spend_model: GammaGamma,
    rfm,
    *,
    time: int = 12,
    discount_rate: float = 0.01,
    time_unit: str = "D",
) -> pl.DataFrame:
    """Discounted customer lifetime value over the next `time` months, per customer.

    CLV = sum over months k = 1..time of E[purchases in month k | history] x E[mean spend |
    history] / (1 + discount_rate)^k, where a month is 30 days (4.345 weeks, 720 hours) in the
    rfm table's `time_unit`, as in lifetimes. Returns the rfm table with
    ``expected_average_spend`` and ``clv`` added.
    """
    caller = "customer_lifetime_value"
    unit = _UNIT_ALIASES.get(time_unit) if isinstance(time_unit, str) else None
    if unit is None:
        raise bad_choice(caller, "time_unit", time_unit, list(_PER_MONTH))
    if not (isinstance(time, int | np.integer) and time >= 1):
        raise BadParameterError(f"{caller}: time={time!r} must be a whole number of months >= 1.")
    if not discount_rate > -1:
        raise BadParameterError(
            f"{caller}: discount_rate={discount_rate!r} must be > -1 (a monthly rate such as 0.01)."
        )
    if not isinstance(transaction_model, TransactionModel):
        raise BadParameterError(
            f"{caller}: transaction_model must be a fitted BetaGeoNBD, ModifiedBetaGeoNBD or "
            f"ParetoNBD, got {type(transaction_model).__name__}."
        )
    if not isinstance(spend_model, GammaGamma):
        raise BadParameterError(
            f"{caller}: spend_model must be a fitted GammaGamma, got {type(spend_model).__name__}."
        )
    transaction_model._check_fitted()
    spend_model._check_fitted()
    frame = _as_frame(rfm, caller)
    _require(
        frame,
        ("frequency", "recency", "T", "monetary_value"),
        caller,
        "build the table with wb.rfm_summary(events) from events with amounts",
    )
    x, tx, T, m = (
        _float_column(frame, c, caller) for c in ("frequency", "recency", "T", "monetary_value")
    )
    spend = spend_model.conditional_expected_average_profit(x, m)
    factor = _PER_MONTH[unit]
    clv = np.zeros(len(x))
    predict = transaction_model.conditional_expected_number_of_purchases_up_to_time
    previous = predict(0.0, x, tx, T)
    for month in range(1, time + 1):
        current = predict(month * factor, x, tx, T)
        clv += spend * (current - previous) / (1 + discount_rate) ** month
        previous = current
    return frame.with_columns(
        pl.Series("expected_average_spend", np.asarray(spend, dtype=float)),
        pl.Series("clv", clv),
    )
