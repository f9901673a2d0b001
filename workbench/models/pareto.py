"""Pareto/NBD (Schmittlein, Morrison & Colombo 1987), likelihood as in Fader, Hardie & Lee's note
"A Note on Deriving the Pareto/NBD Model and Related Expressions" (2005).

While active, a customer buys at rate lambda ~ Gamma(r, alpha); the customer's lifetime is
exponential with rate mu ~ Gamma(s, beta), so leaving can happen at any moment.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, gammaln, hyp2f1

from ._base import TransactionModel, as_array, dot, factorize, scalar_or_array

PARETO_DEFINITION = (
    "Pareto/NBD: each customer buys at a personal Poisson rate while active (rates vary as "
    "Gamma(r, alpha)) and stays active for an exponential lifetime whose rate varies as "
    "Gamma(s, beta)."
)


def _log_term(r, alpha, s, beta, x, t):
    """log[ 2F1(r+s+x, b; r+s+x+1; |alpha-beta| / (m+t)) / (m+t)^(r+s+x) ], m = max(alpha, beta).

    The branch (b = s+1 when alpha >= beta, else b = r+x) keeps the argument in [0, 1), which is
    the numerically stable form of the Pareto/NBD likelihood.
    """
    if alpha >= beta:
        m, b = alpha, s + 1.0
    else:
        m, b = beta, r + x
    rsx = r + s + x
    z = abs(alpha - beta) / (m + t)
    with np.errstate(all="ignore"):
        log_h = np.log(hyp2f1(rsx, b, rsx + 1.0, z))
        # Where the series overflows (large x): Euler's transformation,
        # 2F1(a, b; a + 1; z) = (1 - z)^(1 - b) 2F1(1, a + 1 - b; a + 1; z).
        euler = (1.0 - b) * np.log1p(-z) + np.log(hyp2f1(1.0, rsx + 1.0 - b, rsx + 1.0, z))
    return np.where(np.isfinite(log_h), log_h, euler) - rsx * np.log(m + t)


def _log_a0(log_f_tx, log_f_T):
    """log(A0) = log(F(t_x) - F(T)); -inf when t_x = T."""
    return log_f_tx + np.log1p(-np.exp(log_f_T - log_f_tx))


class ParetoNBD(TransactionModel):
    """Pareto/NBD model of repeat purchasing: ``ParetoNBD().fit(rfm)``.

    Parameters r, alpha (purchase rates ~ Gamma(r, alpha)) and s, beta (drop-out rates
    ~ Gamma(s, beta)). The likelihood is flat in beta; expect wide intervals there.
    """

    _PARAMS = ("r", "alpha", "s", "beta")
    _WARM_FACTOR = 0.25

    def _default_start(self, alpha):
        return (1.0, alpha, 1.0, alpha)

    def _prepare(self, cols, w):
        x, tx, T = cols["x"], cols["tx"], cols["T"]
        (ux,), inv = factorize(x)
        (px1, pt1), i1 = factorize(x, tx)
        (px2, pt2), i2 = factorize(x, T)
        return {
            "x": x,
            "tx": tx,
            "T": T,
            "w": w,
            "ux": ux,
            "Wx": np.bincount(inv, weights=w, minlength=len(ux)),
            "pairs_tx": (px1, pt1, i1),
            "pairs_T": (px2, pt2, i2),
        }

    def _loglik(self, p, d):
        r, alpha, s, beta = p
        x, T, ux = d["x"], d["T"], d["ux"]
        head = gammaln(r + ux) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        px1, pt1, i1 = d["pairs_tx"]
        px2, pt2, i2 = d["pairs_T"]
        log_f1 = _log_term(r, alpha, s, beta, px1, pt1)[i1]
        log_f2 = _log_term(r, alpha, s, beta, px2, pt2)[i2]
        b1 = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        b2 = np.log(s) - np.log(r + s + x) + _log_a0(log_f1, log_f2)
        return float(dot(d["Wx"], head) + dot(d["w"], np.logaddexp(b1, b2)))

    # -- predictions ---------------------------------------------------------------------------
    def _log_odds_left(self, x, tx, T):
        r, alpha, s, beta = self._p()
        with np.errstate(divide="ignore", invalid="ignore"):
            log_a0 = _log_a0(
                _log_term(r, alpha, s, beta, x, tx), _log_term(r, alpha, s, beta, x, T)
            )
            return (
                np.log(s)
                - np.log(r + s + x)
                + (r + x) * np.log(alpha + T)
                + s * np.log(beta + T)
                + log_a0
            )

    def conditional_probability_alive(self, frequency, recency, T):
        """P(still active | x, t_x, T) = 1 / (1 + s/(r+s+x) (alpha+T)^(r+x) (beta+T)^s A0)."""
        x, tx, T_ = as_array(frequency, recency, T)
        return scalar_or_array(expit(-self._log_odds_left(x, tx, T_)), frequency, recency, T)

    def expected_number_of_purchases_up_to_time(self, t):
        """E[X(t)] = r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)] for a new customer."""
        r, alpha, s, beta = self._p()
        (t_,) = as_array(t)
        return scalar_or_array(r * beta / alpha * _decay(s, beta / (beta + t_)), t)

    def conditional_expected_number_of_purchases_up_to_time(self, t, frequency, recency, T):
        """E[Y(t) | x, t_x, T] = (r+x)(beta+T) / ((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+t))^(s-1)]
        x P(alive | x, t_x, T)."""
        r, alpha, s, beta = self._p()
        t_, x, tx, T_ = as_array(t, frequency, recency, T)
        p_alive = expit(-self._log_odds_left(x, tx, T_))
        value = (r + x) * (beta + T_) / (alpha + T_) * _decay(s, (beta + T_) / (beta + T_ + t_))
        return scalar_or_array(value * p_alive, t, frequency, recency, T)


def _decay(s, q):
    """(1 - q^(s-1)) / (s-1), with its limit -log(q) at s = 1."""
    log_q = np.log(q)
    if abs(s - 1.0) < 1e-12:
        return -log_q
    return -np.expm1((s - 1.0) * log_q) / (s - 1.0)
