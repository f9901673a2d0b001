"""BG/NBD (Fader, Hardie & Lee 2005) and MBG/NBD (Batislam, Denizel & Filiztekin 2007).

While active, a customer buys at rate lambda ~ Gamma(r, alpha) (a Poisson process); after each
repeat purchase (BG/NBD) -- or also at the first purchase (MBG/NBD) -- the customer leaves with
probability p ~ Beta(a, b). Time is in the unit of the rfm table (``rfm_summary(time_unit=)``).
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1
from scipy.stats import nbinom

from ..errors import BadParameterError
from ._base import TransactionModel, as_array, dot, factorize, scalar_or_array

BGNBD_DEFINITION = (
    "BG/NBD: each customer buys at a personal Poisson rate while active (rates vary as "
    "Gamma(r, alpha)) and may leave right after each repeat purchase with a personal probability "
    "(varying as Beta(a, b)). P(alive) is the probability that a customer with this purchase "
    "history has not left; expected purchases are the model's mean number of repeat purchases "
    "over the next t time units."
)

MBGNBD_DEFINITION = (
    "MBG/NBD: as BG/NBD, but a customer may also leave right after the first purchase, so even "
    "a customer without repeat purchases is not certainly still active."
)


class BetaGeoNBD(TransactionModel):
    """BG/NBD model of repeat purchasing: ``BetaGeoNBD().fit(rfm)``.

    Parameters r, alpha (purchase rates ~ Gamma(r, alpha)) and a, b (drop-out probability
    ~ Beta(a, b)). Fitted attributes: ``params_``, ``standard_errors_``, ``log_likelihood_``,
    ``variance_matrix_``, ``summary``.
    """

    _PARAMS = ("r", "alpha", "a", "b")
    # 0 for BG/NBD; 1 for MBG/NBD, where a customer may also leave right after the first purchase.
    _SHIFT = 0

    def _default_start(self, alpha):
        return (1.0, alpha, 1.0, 1.0)

    def _prepare(self, cols, w):
        x, tx, T = cols["x"], cols["tx"], cols["T"]
        (ux,), inv = factorize(x)
        (uT,), iT = factorize(T)
        # Only rows that may have left carry a per-row term: repeat customers (all for MBG/NBD).
        rows = x > 0 if self._SHIFT == 0 else np.ones(len(x), dtype=bool)
        (utx,), itx = factorize(tx[rows])
        return {
            "x": x,
            "T": T,
            "w": w,
            "ux": ux,
            "Wx": np.bincount(inv, weights=w, minlength=len(ux)),
            "uT": uT,
            "WT": np.bincount(iT, weights=w),
            "WxT": np.bincount(iT, weights=w * x),
            "utx": utx,
            "row_x": x[rows],
            "row_w": w[rows],
            "row_inv": inv[rows],
            "row_iT": iT[rows],
            "row_itx": itx,
        }

    def _loglik(self, p, d):
        return self._loglik_grad(p, d, gradient=False)[0]

    def _loglik_grad(self, p, d, gradient=True):
        # Per customer: log[(alpha+T)^-(r+x) + [may have left] a/(b+x-1+k) (alpha+t_x)^-(r+x)]
        #   = -(r+x) log(alpha+T) + softplus(odds), odds = log-odds of having left,
        # plus terms in x alone; k = 0 (BG/NBD) or 1 (MBG/NBD).
        r, alpha, a, b = p
        k = self._SHIFT
        ux, Wx, uT, WT, WxT = d["ux"], d["Wx"], d["uT"], d["WT"], d["WxT"]
        x, w, inv = d["row_x"], d["row_w"], d["row_inv"]
        ab_x = a + b + ux + k
        bx = b + np.maximum(ux, 1 - k) - 1 + k
        head = (
            gammaln(r + ux)
            - gammaln(r)
            + r * np.log(alpha)
            + gammaln(a + b)
            + gammaln(b + ux + k)
            - gammaln(b)
            - gammaln(ab_x)
        )
        log_uT = np.log(alpha + uT)
        log_T = log_uT[d["row_iT"]]
        log_tx = np.log(alpha + d["utx"])[d["row_itx"]]
        rx = r + x
        odds = rx * (log_T - log_tx) + (np.log(a) - np.log(bx))[inv]
        ll = float(dot(Wx, head) - dot(r * WT + WxT, log_uT) + dot(w, np.logaddexp(0.0, odds)))
        if not gradient:
            return ll, None
        left = w * expit(odds)  # weight x P(left | history)
        inv_T = 1 / (alpha + d["uT"])
        d_r = dot(Wx, digamma(r + ux) - digamma(r) + np.log(alpha)) - dot(WT, log_uT)
        d_r += dot(left, log_T - log_tx)
        d_alpha = Wx.sum() * r / alpha - dot(r * WT + WxT, inv_T)
        d_alpha += dot(left * rx, inv_T[d["row_iT"]] - (1 / (alpha + d["utx"]))[d["row_itx"]])
        left_x = np.bincount(inv, weights=left, minlength=len(ux))
        d_a = dot(Wx, digamma(a + b) - digamma(ab_x)) + left_x.sum() / a
        d_b = dot(Wx, digamma(a + b) + digamma(b + ux + k) - digamma(b) - digamma(ab_x))
        d_b -= dot(left_x, 1 / bx)
        return ll, np.array([d_r, d_alpha, d_a, d_b])

    # -- predictions ---------------------------------------------------------------------------
    def _log_odds_left(self, x, tx, T):
        """log of P(left) / P(alive) given the history."""
        r, alpha, a, b = self._p()
        k = self._SHIFT
        with np.errstate(divide="ignore", invalid="ignore"):
            out = (r + x) * np.log((alpha + T) / (alpha + tx)) + np.log(
                a / (b + np.maximum(x, 1 - k) - 1 + k)
            )
        return out if k else np.where(x > 0, out, -np.inf)

    def conditional_probability_alive(self, frequency, recency, T):
        """P(the customer is still active | frequency x, recency t_x, age T).

        BG/NBD: 1 / (1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x)).
        """
        x, tx, T_ = as_array(frequency, recency, T)
        return scalar_or_array(expit(-self._log_odds_left(x, tx, T_)), frequency, recency, T)

    def time_until_probability_alive_below(self, frequency, recency, p):
        """Time since the last purchase after which P(alive) is below `p`, if no purchase follows.

        P(alive | x, t_x, T) < p exactly when T - t_x exceeds the returned time: 0 when it is
        below p already at the last purchase; inf when it never falls (BG/NBD, no repeat
        purchase: such a customer is certainly alive).
        """
        r, alpha, a, b = self._p()
        k = self._SHIFT
        x, tx = as_array(frequency, recency)
        p_ = float(p)
        if not 0 < p_ < 1:
            raise BadParameterError(
                f"{type(self).__name__}.time_until_probability_alive_below: p={p!r} must lie "
                f"strictly between 0 and 1."
            )
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            at_last = np.log(a / (b + np.maximum(x, 1 - k) - 1 + k))  # log odds left at T = t_x
            grow = (np.log((1 - p_) / p_) - at_last) / (r + x)
            out = np.maximum((alpha + tx) * np.expm1(grow), 0.0)  # (alpha + t_x)(e^g - 1)
        out = out if k else np.where(x > 0, out, np.inf)
        return scalar_or_array(out, frequency, recency)

    def probability_of_n_purchases_up_to_time(self, t, n):
        """P(X(t) = n): the chance a customer just acquired makes exactly n repeat purchases in
        (0, t] (Fader, Hardie & Lee 2005, eq. 8; with the MBG/NBD shift for MBG/NBD).

        = B(a, b + n + k) / B(a, b) * NBD(n; r, alpha/(alpha + t))
          + [n + k > 0] B(a + 1, b + n - 1 + k) / B(a, b) * P(NBD >= n),
        the customer still active after n purchases, or gone right after the n-th (k = 0 for
        BG/NBD, 1 for MBG/NBD), NBD being the Gamma-Poisson count while active.
        """
        r, alpha, a, b = self._p()
        k = self._SHIFT
        t_, n_ = as_array(t, n)
        if np.any(n_ < 0) or np.any(n_ != np.floor(n_)) or np.any(t_ < 0):
            raise BadParameterError(
                f"{type(self).__name__}.probability_of_n_purchases_up_to_time: n must be whole "
                f"numbers >= 0 and t >= 0."
            )
        q = alpha / (alpha + t_)
        still = np.exp(betaln(a, b + n_ + k) - betaln(a, b)) * nbinom.pmf(n_, r, q)
        with np.errstate(all="ignore"):
            gone = np.exp(betaln(a + 1, b + n_ - 1 + k) - betaln(a, b)) * nbinom.sf(n_ - 1, r, q)
        out = still + np.where(n_ + k > 0, gone, 0.0)
        return scalar_or_array(out, t, n)

    def expected_number_of_purchases_up_to_time(self, t):
        """E[X(t)]: expected repeat purchases in (0, t] of a customer just acquired at time 0."""
        (t_,) = as_array(t)
        zeros = np.zeros_like(t_)
        return scalar_or_array(self._conditional(t_, zeros, zeros, zeros), t)

    def conditional_expected_number_of_purchases_up_to_time(self, t, frequency, recency, T):
        """E[Y(t) | x, t_x, T]: expected repeat purchases in the next t units given the history."""
        t_, x, tx, T_ = as_array(t, frequency, recency, T)
        return scalar_or_array(self._conditional(t_, x, tx, T_), t, frequency, recency, T)

    def _conditional(self, t, x, tx, T):
        r, alpha, a, b = self._p()
        k = self._SHIFT
        ha, hb, hc = r + x, b + x + k, a + b + x - 1 + k
        z = t / (alpha + T + t)
        with np.errstate(all="ignore"):
            h = hyp2f1(ha, hb, hc, z)
            log_h = np.log(h)
            # Euler's transformation where the series overflows.
            alt = np.log(hyp2f1(hc - ha, hc - hb, hc, z)) + (hc - ha - hb) * np.log1p(-z)
            log_h = np.where(np.isfinite(log_h), log_h, alt)
            shrink = (r + x) * np.log((alpha + T) / (alpha + T + t))
            bracket = -np.expm1(log_h + shrink)
            # a + b < 1 and no repeat purchase: the series is negative (no log), but finite
            bracket = np.where(np.isfinite(bracket), bracket, 1.0 - h * np.exp(shrink))
            first = (a + b + x - 1 + k) / (a - 1)
            return first * bracket * expit(-self._log_odds_left(x, tx, T))


class ModifiedBetaGeoNBD(BetaGeoNBD):
    """MBG/NBD: the BG/NBD where a customer may also leave right after the first purchase, so a
    customer without repeat purchases is not certainly alive. Same parameters and API."""

    _SHIFT = 1


def simulate_bgnbd(r: float, alpha: float, a: float, b: float, T, *, seed: int = 0) -> pl.DataFrame:
    """Draw a BG/NBD population: one row per entry of `T` (each customer's age).

    Returns frequency, recency and T in continuous time (the same unit as alpha's inverse).
    """
    rng = np.random.default_rng(seed)
    T = np.asarray(T, dtype=float)
    n = T.shape[0]
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    p = rng.beta(a, b, size=n)
    now = np.zeros(n)
    freq = np.zeros(n, dtype=np.int64)
    last = np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        idx = np.flatnonzero(active)
        now[idx] += rng.exponential(1.0 / lam[idx])
        bought = now[idx] <= T[idx]
        hit = idx[bought]
        freq[hit] += 1
        last[hit] = now[hit]
        leaves = rng.random(hit.size) < p[hit]
        active[idx[~bought]] = False
        active[hit[leaves]] = False
    return pl.DataFrame({"frequency": freq, "recency": last, "T": T})
