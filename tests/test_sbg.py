"""Shifted-beta-geometric model: published fits, simulation recovery, DEL/DERL, cohort helper."""

import math

import numpy as np
import polars as pl
import pytest
from scipy import optimize

import workbench as wb
from workbench.models import ShiftedBetaGeometric, fit_sbg_cohorts
from workbench.models.sbg import _loglik

# Fader & Hardie (2007), "How to project customer retention", Table 1 and section 4.
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]


@pytest.mark.parametrize(
    ("alive", "alpha", "beta", "ll"),
    [(REGULAR, 0.704, 1.182, -1680.27), (HIGH_END, 0.668, 3.806, -1611.16)],
)
def test_published_fits(alive, alpha, beta, ll):
    m = ShiftedBetaGeometric().fit(alive)
    assert round(m.params_["alpha"], 3) == alpha
    assert round(m.params_["beta"], 3) == beta
    assert m.log_likelihood_ == pytest.approx(ll, abs=0.01)
    assert m.n_customers_ == 1000 and m.converged_


def test_published_projection_of_the_regular_segment():
    m = ShiftedBetaGeometric().fit(REGULAR)
    # retention rises with tenure: r_1 = beta / (alpha + beta)
    r = m.retention([1, 2, 12])
    assert r[0] == pytest.approx(1.182 / (0.704 + 1.182), abs=1e-3)
    assert r[0] < r[1] < r[2]
    proj = m.projection(12)
    assert proj["period"].to_list() == list(range(13))
    assert proj["retention"][0] is None
    assert proj["expected_alive"][7] == pytest.approx(241, abs=5)  # fitted vs observed 241


def test_survival_churn_and_retention_are_consistent():
    m = ShiftedBetaGeometric().fit(HIGH_END)
    t = np.arange(1, 30)
    s = m.survival(np.arange(0, 30))
    assert s[0] == 1.0
    np.testing.assert_allclose(s[:-1] - s[1:], m.churn_probability(t), rtol=1e-10)
    np.testing.assert_allclose(s[1:] / s[:-1], m.retention(t), rtol=1e-10)


def test_standard_errors_match_numerical_hessian():
    m = ShiftedBetaGeometric().fit(REGULAR)
    t, e, w = m._data
    a, b = m.params_["alpha"], m.params_["beta"]

    def f(x):
        return _loglik(x[0], x[1], t, e, w)

    h = np.zeros((2, 2))
    eps = 1e-4
    x0 = np.array([a, b])
    for i in range(2):
        for j in range(2):
            di, dj = np.eye(2)[i] * eps, np.eye(2)[j] * eps
            h[i, j] = (f(x0 + di + dj) - f(x0 + di - dj) - f(x0 - di + dj) + f(x0 - di - dj)) / (
                4 * eps * eps
            )
    se = np.sqrt(np.diag(np.linalg.inv(-h)))
    assert m.standard_errors_["alpha"] == pytest.approx(se[0], rel=1e-4)
    assert m.standard_errors_["beta"] == pytest.approx(se[1], rel=1e-4)
    # the MLE is a maximum: a generic optimiser does not improve on it
    res = optimize.minimize(
        lambda x: -f(np.exp(x)),
        np.log(x0) + 0.3,
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-10, "maxiter": 4000},
    )
    assert -res.fun <= m.log_likelihood_ + 1e-6
    summ = m.summary
    assert summ["param"].to_list() == ["alpha", "beta"]
    assert (summ["ci_low"] < summ["estimate"]).all() and (summ["estimate"] < summ["ci_high"]).all()


def test_alive_counts_equal_per_customer_durations():
    alive = np.array(REGULAR)
    churn_t = np.repeat(np.arange(1, 8), alive[:-1] - alive[1:])
    durations = np.concatenate([churn_t, np.full(alive[-1], 7)])
    events = np.concatenate([np.ones(churn_t.size), np.zeros(alive[-1])])
    a = ShiftedBetaGeometric().fit(alive)
    b = ShiftedBetaGeometric().fit(durations=durations, event_observed=events)
    assert a.params_["alpha"] == pytest.approx(b.params_["alpha"], rel=1e-6)
    assert a.log_likelihood_ == pytest.approx(b.log_likelihood_, rel=1e-10)


def simulate(alpha, beta, n, max_periods, rng):
    """theta ~ Beta(alpha, beta); T geometric with churn probability theta; staggered censoring."""
    theta = rng.beta(alpha, beta, n)
    life = rng.geometric(theta)  # periods paid, >= 1
    seen = rng.integers(1, max_periods + 1, n)  # renewals observable for each customer
    churned = life <= seen
    return np.where(churned, life, seen), churned


def test_simulation_recovers_known_parameters():
    rng = np.random.default_rng(7)
    hits = 0
    for alpha, beta in ((0.7, 1.2), (1.5, 6.0), (0.4, 3.0)):
        d, e = simulate(alpha, beta, 20_000, 24, rng)
        m = ShiftedBetaGeometric().fit(durations=d, event_observed=e)
        for name, true in (("alpha", alpha), ("beta", beta)):
            est, se = m.params_[name], m.standard_errors_[name]
            assert abs(est - true) < 3.5 * se, (name, est, true, se)
            hits += abs(est - true) < 1.96 * se
    assert hits >= 5  # of 6 intervals


def test_discounted_lifetimes_equal_their_sums():
    m = ShiftedBetaGeometric().fit(REGULAR)
    d = 0.1
    t = np.arange(0, 3000)
    s = m.survival(t)
    x = np.exp(-t * math.log1p(d))
    assert m.discounted_expected_lifetime(d) == pytest.approx(np.sum(s * x), rel=1e-9)
    for renewals in (0, 1, 4, 10):
        n = renewals + 1
        direct = np.sum(s[n:] / s[n - 1] * x[: s.size - n])
        assert m.discounted_expected_residual_lifetime(d, renewals) == pytest.approx(
            direct, rel=1e-9
        )
    derl = m.discounted_expected_residual_lifetime(d, [0, 1, 2, 5])
    assert np.all(np.diff(derl) > 0)  # loyal survivors are worth more
    # a homogeneous cohort (huge alpha, beta) is geometric with r = 0.9: DEL = 1 / (1 - r x),
    # DERL = r / (1 - r x) at any tenure
    g = ShiftedBetaGeometric()
    g.params_ = {"alpha": 1e6, "beta": 9e6}
    g.log_likelihood_, g.n_customers_ = 0.0, 1.0
    r = 0.9
    assert g.discounted_expected_lifetime(d) == pytest.approx(1 / (1 - r / 1.1), rel=1e-4)
    assert g.discounted_expected_residual_lifetime(d, 3) == pytest.approx(
        r / (1 - r / 1.1), rel=1e-4
    )


def test_errors():
    m = ShiftedBetaGeometric()
    with pytest.raises(wb.NotFittedError, match="not fitted"):
        m.survival([1])
    with pytest.raises(wb.BadParameterError, match="either alive counts"):
        m.fit()
    with pytest.raises(wb.BadDataError, match="must not increase"):
        m.fit([100, 80, 90])
    with pytest.raises(wb.BadDataError, match="whole numbers"):
        m.fit(durations=[1.5, 2], event_observed=[1, 0])
    with pytest.raises(wb.BadDataError, match="no churned customers"):
        m.fit(durations=[3, 4], event_observed=[0, 0])
    m.fit(REGULAR)
    with pytest.raises(wb.BadParameterError, match="discount_rate"):
        m.discounted_expected_lifetime(-0.1)
    assert "alpha=0.704" in repr(m)


# -- cohorts -----------------------------------------------------------------------------------


def test_fit_sbg_cohorts_from_a_survivors_table():
    alive = pl.DataFrame(
        {
            "cohort": ["regular"] * 8 + ["high_end"] * 8,
            "period": list(range(8)) * 2,
            "alive": REGULAR + HIGH_END,
        }
    )
    res = fit_sbg_cohorts(alive, horizon=12)
    t = res.table.sort("cohort")
    assert t["cohort"].to_list() == ["high_end", "regular"]
    assert [round(x, 3) for x in t["alpha"]] == [0.668, 0.704]
    assert [round(x, 3) for x in t["beta"]] == [3.806, 1.182]
    reg = res.projection.filter(pl.col("cohort") == "regular")
    np.testing.assert_allclose(reg["observed"].to_numpy()[:8], np.array(REGULAR) / 1000)
    assert reg["observed"][8] is None and reg["projected"][12] > 0
    fig = res.plot()
    assert len(fig.data) == 4
    assert fig.layout.yaxis.title.text == "Share still subscribed"
    assert fig.layout.xaxis.title.text == "Period (renewals since start)"


def test_fit_sbg_cohorts_from_a_churn_table():
    s = wb.datasets.load_sample()
    table = wb.churn_table(s.events, subscriptions=s.subscriptions, as_of=s.as_of, episodes=True)
    first = table.filter(pl.col("episode") == 1).with_columns(
        pl.col("start").dt.year().cast(pl.String).alias("cohort")
    )
    res = fit_sbg_cohorts(first, horizon=24)
    assert res.table["cohort"].sort().to_list() == ["2024", "2025"]
    y24 = res.table.filter(pl.col("cohort") == "2024").row(0, named=True)
    # monthly hazard about 0.05 -> retention per renewal about 0.95
    assert 0.9 < y24["retention_next"] < 0.98
    proj = res.projection.filter(pl.col("cohort") == "2024")
    obs = proj.filter(pl.col("period").is_between(1, 12))
    assert np.max(np.abs(obs["observed"].to_numpy() - obs["projected"].to_numpy())) < 0.05
    with pytest.raises(wb.BadDataError, match="neither"):
        fit_sbg_cohorts(pl.DataFrame({"x": [1]}))


def test_sbg_published_numbers_match_projection_of_high_end():
    m = ShiftedBetaGeometric().fit(HIGH_END)
    # Fader & Hardie's high-end segment: S(7) fitted close to the observed 491 / 1000
    assert m.survival(7) * 1000 == pytest.approx(491, abs=5)
    assert math.isclose(m.retention(1), 3.806 / (0.668 + 3.806), abs_tol=1e-3)
