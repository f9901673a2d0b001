"""Customer-value models: the published CDNOW / donations fits, simulation recovery, lifetimes as
an oracle for the prediction formulas, weights, errors and figures."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import polars as pl
import pytest

import workbench as wb
from workbench.errors import (
    BadDataError,
    BadParameterError,
    MissingColumnError,
    NotFittedError,
    WorkbenchWarning,
)
from workbench.plots import clv as clv_plots

# /work/shared/reference/published_fits.md (CDNOW sample, weeks, calibration to 1997-09-30).
BGNBD = {"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259}
BGNBD_SE = {"r": 0.0126, "alpha": 0.378, "a": 0.186, "b": 0.705}
MBGNBD = {"r": 0.5248, "alpha": 6.1830, "a": 0.8914, "b": 1.6140}
PARETO = {"r": 0.5533, "alpha": 10.5776, "s": 0.6062, "beta": 11.6679}
GAMMA_GAMMA = {"p": 6.2488, "q": 3.7446, "gamma": 15.4477}
GAMMA_GAMMA_PRINTED = {"p": 6.25, "q": 3.74, "gamma": 15.44}
BGBB = {"alpha": 1.2035, "beta": 0.7497, "gamma": 0.6567, "delta": 2.7834}


@pytest.fixture(scope="module")
def cdnow() -> pl.DataFrame:
    events = wb.datasets.load_cdnow(sample=True)
    return wb.rfm_summary(events, time_unit="W", calibration_end="1997-09-30")


@pytest.fixture(scope="module")
def bgnbd(cdnow):
    return wb.models.BetaGeoNBD().fit(cdnow)


@pytest.fixture(scope="module")
def pareto(cdnow):
    return wb.models.ParetoNBD().fit(cdnow)


@pytest.fixture(scope="module")
def gamma_gamma(cdnow):
    return wb.models.GammaGamma().fit(cdnow)


def _close(fitted: dict, published: dict, tol: float) -> None:
    for name, value in published.items():
        assert abs(fitted[name] - value) <= tol, (name, fitted[name], value)


# -- published fits -----------------------------------------------------------------------------


def test_bgnbd_reproduces_the_published_cdnow_fit(bgnbd, cdnow):
    _close(bgnbd.params_, BGNBD, 5e-5)
    assert bgnbd.log_likelihood_ == pytest.approx(-9582.43, abs=0.01)
    _close(bgnbd.standard_errors_, {"r": 0.0126, "a": 0.186, "b": 0.705}, 5e-4)
    assert bgnbd.standard_errors_["r"] == pytest.approx(0.0126, abs=5e-5)
    assert bgnbd.standard_errors_["alpha"] == pytest.approx(0.378, abs=5e-4)
    assert bgnbd.converged_ and bgnbd.n_customers_ == 2357


def test_bgnbd_published_spot_checks(bgnbd, cdnow):
    assert bgnbd.conditional_expected_number_of_purchases_up_to_time(
        39, 2, 30.43, 38.86
    ) == pytest.approx(1.226, abs=5e-4)
    # E[X(78)] of a new customer. The closed form, summed as a series to convergence, gives
    # 1.857958 at the fitted parameters; the reference prints 1.8576.
    r, alpha, a, b = (bgnbd.params_[k] for k in ("r", "alpha", "a", "b"))
    z, term, series = 78 / (alpha + 78), 1.0, 0.0
    for k in range(5000):
        series += term
        term *= (r + k) * (b + k) / ((a + b - 1 + k) * (k + 1)) * z
    exact = (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + 78)) ** r * series)
    ex78 = bgnbd.expected_number_of_purchases_up_to_time(78)
    assert ex78 == pytest.approx(exact, rel=1e-10)
    assert ex78 == pytest.approx(1.8576, abs=5e-4)
    predicted = bgnbd.conditional_expected_number_of_purchases_up_to_time(
        cdnow["duration_holdout"], cdnow["frequency"], cdnow["recency"], cdnow["T"]
    )
    corr = np.corrcoef(predicted, cdnow["frequency_holdout"].to_numpy())[0, 1]
    assert round(corr, 3) == 0.626


def test_mbgnbd_reproduces_the_published_fit(cdnow):
    model = wb.models.ModifiedBetaGeoNBD().fit(cdnow)
    _close(model.params_, MBGNBD, 1e-4)
    assert model.log_likelihood_ == pytest.approx(-9582.13, abs=0.01)


def test_pareto_reproduces_the_published_fit(pareto):
    # The likelihood is flat in beta: r, alpha, s to 4 decimals, beta to 2 digits.
    _close(pareto.params_, {k: PARETO[k] for k in ("r", "alpha", "s")}, 1e-4)
    assert pareto.params_["beta"] == pytest.approx(PARETO["beta"], abs=0.005)
    assert pareto.log_likelihood_ == pytest.approx(-9594.97, abs=0.01)
    assert pareto.conditional_expected_number_of_purchases_up_to_time(
        52, 26, 30.86, 31
    ) == pytest.approx(25.46, abs=0.005)
    assert pareto.conditional_probability_alive(26, 30.86, 31) == pytest.approx(0.9979, abs=5e-5)


def test_gamma_gamma_reproduces_the_published_fit(gamma_gamma):
    model = gamma_gamma
    assert model.n_customers_ == 946
    _close(model.params_, GAMMA_GAMMA_PRINTED, 0.005)
    assert model.log_likelihood_ == pytest.approx(-4055.92, abs=0.01)
    assert model.population_mean_spend == pytest.approx(35.17, abs=0.005)
    # The spend likelihood is very flat: the reference's full-precision point lies 2e-6 below
    # our maximum (it stopped a little early); the two agree to 0.03%.
    published = np.array([GAMMA_GAMMA[k] for k in ("p", "q", "gamma")])
    assert model._loglik(published, model._data) < model.log_likelihood_
    for name, value in GAMMA_GAMMA.items():
        assert model.params_[name] == pytest.approx(value, rel=3e-4)


def test_bgbb_reproduces_the_published_donations_fit():
    donations = wb.datasets.load_donations()
    model = wb.models.BetaGeoBetaBinom().fit(donations, weights="weights")
    _close(model.params_, BGBB, 5e-5)
    assert model.log_likelihood_ == pytest.approx(-33225.58, abs=0.01)
    assert model.n_customers_ == 11104


# -- summary and fitted state -------------------------------------------------------------------


def test_summary_frame(bgnbd):
    summary = bgnbd.summary
    assert summary.columns == ["param", "estimate", "se", "ci_low", "ci_high"]
    assert summary["param"].to_list() == ["r", "alpha", "a", "b"]
    assert (summary["ci_low"] < summary["estimate"]).all()
    assert (summary["estimate"] < summary["ci_high"]).all()
    # Wald interval on the log scale: estimate is the geometric mean of the bounds.
    np.testing.assert_allclose(
        np.sqrt(summary["ci_low"] * summary["ci_high"]), summary["estimate"], rtol=1e-12
    )
    assert "r=0.2426" in repr(bgnbd)


def test_not_fitted_errors():
    for model in (
        wb.models.BetaGeoNBD(),
        wb.models.ParetoNBD(),
        wb.models.GammaGamma(),
        wb.models.BetaGeoBetaBinom(),
    ):
        with pytest.raises(NotFittedError, match="not fitted"):
            _ = model.summary
    with pytest.raises(NotFittedError, match=r"call \.fit"):
        wb.models.BetaGeoNBD().conditional_probability_alive(1, 1, 2)
    with pytest.raises(NotFittedError):
        wb.models.ParetoNBD().expected_number_of_purchases_up_to_time(10)
    with pytest.raises(NotFittedError):
        wb.models.GammaGamma().conditional_expected_average_profit(2, 10.0)


def test_input_errors(cdnow):
    with pytest.raises(MissingColumnError, match="'recency'"):
        wb.models.BetaGeoNBD().fit(cdnow.drop("recency"))
    with pytest.raises(MissingColumnError, match="'monetary_value'"):
        wb.models.GammaGamma().fit(cdnow.drop("monetary_value"))
    with pytest.raises(MissingColumnError, match="'periods'"):
        wb.models.BetaGeoBetaBinom().fit(cdnow)
    with pytest.raises(BadDataError, match="recency larger than T"):
        wb.models.ParetoNBD().fit(cdnow.with_columns(pl.col("recency") + 100))
    with pytest.raises(BadDataError, match="non-integer frequency"):
        wb.models.BetaGeoNBD().fit(cdnow.with_columns(pl.col("frequency") + 0.5))
    with pytest.raises(BadDataError, match="missing or infinite"):
        wb.models.BetaGeoNBD().fit(cdnow.with_columns(pl.lit(None, pl.Float64).alias("T")))
    with pytest.raises(BadParameterError, match="penalizer"):
        wb.models.BetaGeoNBD(penalizer=-1)
    with pytest.raises(MissingColumnError, match="frequency_holdout"):
        wb.models.BetaGeoNBD().fit(cdnow).holdout_table(cdnow.drop("frequency_holdout"))


def test_gamma_gamma_leaves_out_non_positive_spend_with_a_warning(cdnow):
    broken = cdnow.with_columns(
        pl.when(pl.col("customer_id") == cdnow.filter(pl.col("frequency") > 0)["customer_id"][0])
        .then(0.0)
        .otherwise(pl.col("monetary_value"))
        .alias("monetary_value")
    )
    with pytest.warns(WorkbenchWarning, match="1 repeat customers"):
        model = wb.models.GammaGamma().fit(broken)
    assert model.n_customers_ == 945


# -- weights: collapsing rows leaves the fit unchanged ------------------------------------------


def test_weighted_rows_give_the_same_fit(cdnow, bgnbd):
    collapsed = cdnow.group_by("frequency", "recency", "T").agg(pl.len().alias("n"))
    assert collapsed.height < cdnow.height
    weighted = wb.models.BetaGeoNBD().fit(collapsed, weights="n")
    for name, value in bgnbd.params_.items():
        assert weighted.params_[name] == pytest.approx(value, rel=1e-9)
        assert weighted.standard_errors_[name] == pytest.approx(
            bgnbd.standard_errors_[name], rel=1e-6
        )
    assert weighted.log_likelihood_ == pytest.approx(bgnbd.log_likelihood_, rel=1e-12)
    doubled = wb.models.BetaGeoNBD().fit(pl.concat([cdnow, cdnow]))
    assert doubled.log_likelihood_ == pytest.approx(2 * bgnbd.log_likelihood_, rel=1e-10)
    assert doubled.params_["r"] == pytest.approx(bgnbd.params_["r"], rel=1e-7)


def test_pareto_weighted_rows_give_the_same_fit(cdnow, pareto):
    collapsed = cdnow.group_by("frequency", "recency", "T").agg(pl.len().alias("n"))
    weighted = wb.models.ParetoNBD().fit(collapsed, weights="n")
    for name, value in pareto.params_.items():
        assert weighted.params_[name] == pytest.approx(value, rel=1e-8)
    assert weighted.log_likelihood_ == pytest.approx(pareto.log_likelihood_, rel=1e-12)


# -- simulation recovery ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "truth",
    [
        {"r": 0.5, "alpha": 6.0, "a": 0.8, "b": 2.5},
        {"r": 1.5, "alpha": 20.0, "a": 0.3, "b": 4.0},
    ],
)
def test_bgnbd_recovers_simulated_parameters(truth):
    rng = np.random.default_rng(7)
    T = rng.uniform(30, 60, size=20_000)
    rfm = wb.models.simulate_bgnbd(**truth, T=T, seed=11)
    model = wb.models.BetaGeoNBD().fit(rfm)
    for name, value in truth.items():
        est, se = model.params_[name], model.standard_errors_[name]
        assert abs(est - value) < 3.5 * se, (name, est, value, se)
    # The purchase-rate distribution is sharply identified; the drop-out one less so.
    for name in ("r", "alpha"):
        assert model.params_[name] == pytest.approx(truth[name], rel=0.05)


def test_large_fit_uses_a_subsample_start_and_agrees(monkeypatch):
    from workbench.models import _base

    rng = np.random.default_rng(3)
    rfm = wb.models.simulate_bgnbd(0.4, 5.0, 0.7, 2.0, T=rng.uniform(20, 40, 3000), seed=5)
    cold = wb.models.BetaGeoNBD().fit(rfm)
    monkeypatch.setattr(_base, "_WARM_ROWS", 1000)
    monkeypatch.setattr(_base, "_WARM_CUSTOMERS", 1500)
    warm = wb.models.BetaGeoNBD().fit(rfm)
    for name, value in cold.params_.items():
        assert warm.params_[name] == pytest.approx(value, rel=1e-6)
    pareto_cold = wb.models.ParetoNBD().fit(rfm)
    monkeypatch.setattr(_base, "_WARM_ROWS", 10**9)
    pareto_warm = wb.models.ParetoNBD().fit(rfm)
    assert pareto_warm.params_["r"] == pytest.approx(pareto_cold.params_["r"], rel=1e-5)


# -- lifetimes as the oracle of the prediction formulas -----------------------------------------


def _grid(rfm: pl.DataFrame):
    x, tx, T = (rfm[c].to_numpy().astype(float) for c in ("frequency", "recency", "T"))
    return x, tx, T


def _lifetimes_model(cls, params: dict, names: tuple[str, ...]):
    model = cls()
    model.params_ = pd.Series([params[n] for n in params], index=list(names))
    return model


def test_predictions_equal_lifetimes_formulas(cdnow, bgnbd, pareto):
    import lifetimes

    x, tx, T = _grid(cdnow)
    cases = [
        (bgnbd, lifetimes.BetaGeoFitter, ("r", "alpha", "a", "b")),
        (pareto, lifetimes.ParetoNBDFitter, ("r", "alpha", "s", "beta")),
        (
            wb.models.ModifiedBetaGeoNBD().fit(cdnow),
            lifetimes.ModifiedBetaGeoFitter,
            ("r", "alpha", "a", "b"),
        ),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ours, cls, names in cases:
            theirs = _lifetimes_model(cls, ours.params_, names)
            np.testing.assert_allclose(
                ours.conditional_probability_alive(x, tx, T),
                theirs.conditional_probability_alive(x, tx, T),
                rtol=1e-10,
            )
            np.testing.assert_allclose(
                ours.conditional_expected_number_of_purchases_up_to_time(39, x, tx, T),
                theirs.conditional_expected_number_of_purchases_up_to_time(39, x, tx, T),
                rtol=1e-9,
            )
            t = np.array([1.0, 10.0, 52.0, 78.0])
            np.testing.assert_allclose(
                ours.expected_number_of_purchases_up_to_time(t),
                theirs.expected_number_of_purchases_up_to_time(t),
                rtol=1e-10,
            )


def test_bgbb_predictions_equal_lifetimes_formulas():
    import lifetimes

    donations = wb.datasets.load_donations()
    ours = wb.models.BetaGeoBetaBinom().fit(donations, weights="weights")
    theirs = _lifetimes_model(
        lifetimes.BetaGeoBetaBinomFitter, ours.params_, ("alpha", "beta", "gamma", "delta")
    )
    x, tx, n = (donations[c].to_numpy() for c in ("frequency", "recency", "periods"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(
            ours.conditional_probability_alive(x, tx, n, m_periods_in_future=2),
            theirs.conditional_probability_alive(2, x, tx, n),
            rtol=1e-9,
        )
        np.testing.assert_allclose(
            ours.conditional_expected_number_of_purchases_up_to_time(5, x, tx, n),
            theirs.conditional_expected_number_of_purchases_up_to_time(5, x, tx, n),
            rtol=1e-9,
        )
    # E[X(n)] of a new donor equals the conditional expectation of a donor with no history.
    assert ours.expected_number_of_purchases_up_to_time(6) == pytest.approx(
        ours.conditional_expected_number_of_purchases_up_to_time(6, 0, 0, 0), rel=1e-10
    )


def test_clv_equals_lifetimes(cdnow, bgnbd, gamma_gamma):
    import lifetimes

    ours = gamma_gamma.customer_lifetime_value(
        bgnbd, cdnow, time=12, discount_rate=0.01, time_unit="W"
    )
    assert ours.columns[-2:] == ["expected_average_spend", "clv"]
    free = wb.customer_lifetime_value(bgnbd, gamma_gamma, cdnow, time=12, time_unit="W")
    assert free["clv"].equals(ours["clv"])
    bg = _lifetimes_model(lifetimes.BetaGeoFitter, bgnbd.params_, ("r", "alpha", "a", "b"))
    bg.predict = bg.conditional_expected_number_of_purchases_up_to_time
    gg = lifetimes.GammaGammaFitter()
    gg.params_ = pd.Series(
        [gamma_gamma.params_[k] for k in ("p", "q", "gamma")], index=["p", "q", "v"]
    )
    pdf = cdnow.to_pandas()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = gg.customer_lifetime_value(
            bg,
            pdf["frequency"],
            pdf["recency"],
            pdf["T"],
            pdf["monetary_value"],
            time=12,
            discount_rate=0.01,
            freq="W",
        )
    np.testing.assert_allclose(ours["clv"].to_numpy(), theirs.to_numpy(), rtol=1e-9)
    with pytest.raises(BadParameterError, match="time_unit='year'"):
        wb.customer_lifetime_value(bgnbd, gamma_gamma, cdnow, time_unit="year")


def test_gamma_gamma_expected_spend_by_hand(gamma_gamma):
    p, q, g = (gamma_gamma.params_[k] for k in ("p", "q", "gamma"))
    # x = 3 repeat purchases at a mean of 40: weight p x / (p x + q - 1) on the own mean.
    w = p * 3 / (p * 3 + q - 1)
    expected = (1 - w) * p * g / (q - 1) + w * 40.0
    assert gamma_gamma.conditional_expected_average_profit(3, 40.0) == pytest.approx(expected)
    assert gamma_gamma.conditional_expected_average_profit(0, 0.0) == pytest.approx(
        gamma_gamma.population_mean_spend
    )


def test_scalar_and_array_predictions(bgnbd):
    assert isinstance(bgnbd.conditional_probability_alive(2, 30.43, 38.86), float)
    arr = bgnbd.conditional_probability_alive([0, 2], [0, 30.43], 38.86)
    assert arr.shape == (2,) and arr[0] == 1.0
    ex = bgnbd.expected_number_of_purchases_up_to_time(np.array([39.0, 78.0]))
    assert np.all(np.diff(ex) > 0)


# -- tables and figures -------------------------------------------------------------------------


def test_holdout_table_and_figure(bgnbd, cdnow):
    table = bgnbd.holdout_table(cdnow, max_frequency=7)
    assert table["label"].to_list() == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert table["n_customers"].sum() == cdnow.height
    assert table.filter(pl.col("frequency") == 0)["n_customers"].item() == 1411
    # The bins' customer-weighted means add back to the totals.
    total_actual = (table["actual"] * table["n_customers"]).sum()
    assert total_actual == pytest.approx(1882)
    fig = clv_plots.holdout_validation(table)
    assert [tr.type for tr in fig.data] == ["scatter", "scatter"]
    assert [tr.name for tr in fig.data] == ["actual", "model"]
    assert fig.layout.xaxis.title.text == "Repeat purchases in the calibration period"
    assert fig.layout.yaxis.title.text == "Mean repeat purchases in the holdout period"


def test_matrices_and_heatmaps(bgnbd, pareto):
    alive = bgnbd.probability_alive_matrix(max_frequency=10, max_recency=38)
    # Frequency 0 only with recency 0; otherwise the full grid.
    assert alive.height == 1 + 10 * 39
    assert alive.filter(pl.col("frequency") == 0)["p_alive"].to_list() == [1.0]
    top = alive.filter((pl.col("frequency") == 10) & (pl.col("recency") == 38))["p_alive"].item()
    # Bought at the very end: only the chance of leaving right after it remains, a / (b + 9).
    a, b = bgnbd.params_["a"], bgnbd.params_["b"]
    assert top == pytest.approx(1 / (1 + a / (b + 9)), rel=1e-12)
    fig = clv_plots.probability_alive_matrix(alive)
    assert fig.data[0].type == "heatmap" and fig.data[0].z.shape == (39, 11)
    assert fig.layout.xaxis.title.text == "Frequency (repeat purchases)"
    expected = pareto.expected_purchases_matrix(t=52, max_frequency=5, max_recency=30)
    assert expected.columns == ["frequency", "recency", "T", "t", "expected_purchases"]
    fig = clv_plots.expected_purchases_matrix(expected)
    assert "52" in fig.layout.title.text
    assert fig.layout.yaxis.title.text == "Recency (age at the last purchase)"


def test_predict_frame(bgnbd, cdnow):
    out = bgnbd.predict(cdnow, t=39)
    assert out.columns[-2:] == ["p_alive", "expected_purchases"]
    row = out.filter(pl.col("customer_id") == 4).row(0, named=True)
    assert row["expected_purchases"] == pytest.approx(1.226, abs=5e-4)


# -- the sample business ------------------------------------------------------------------------


def test_sample_buyers_holdout_and_spend():
    sample = wb.datasets.load_sample()
    buyers = sample.customers.filter(pl.col("plan") == "none")["customer_id"]
    events = sample.events.filter(pl.col("customer_id").is_in(buyers.implode()))
    rfm = wb.rfm_summary(
        events, calibration_end="2025-06-30 23:59:59.999999", observation_end=sample.as_of
    )
    assert rfm["duration_holdout"][0] == 184.0  # days from Jul 1 to Dec 31
    model = wb.models.BetaGeoNBD().fit(rfm)
    predicted = model.conditional_expected_number_of_purchases_up_to_time(
        rfm["duration_holdout"], rfm["frequency"], rfm["recency"], rfm["T"]
    )
    # Buyers follow a BG/NBD (plus comebacks and campaign returns): the aggregate holdout
    # forecast lands within 10% of what happened.
    assert predicted.sum() == pytest.approx(rfm["frequency_holdout"].sum(), rel=0.10)
    spend = wb.models.GammaGamma().fit(rfm)
    assert spend.population_mean_spend == pytest.approx(
        sample.truth["gamma_gamma"]["mean_spend"], rel=0.05
    )


def test_no_repeat_purchases_is_an_error():
    zeros = pl.DataFrame({"frequency": [0, 0], "recency": [0.0, 0.0], "T": [10.0, 20.0]})
    with pytest.raises(BadDataError, match="no customer has a repeat purchase"):
        wb.models.BetaGeoNBD().fit(zeros)


def _with(model, **params):
    model.params_ = params
    return model


def test_bgnbd_expectations_when_a_plus_b_is_below_one():
    """With a + b < 1 the hypergeometric series of a customer without repeat purchases is
    negative (no logarithm); the expectations stay finite and equal FHL (2005) eqs. 9-10
    (values from a 50-digit evaluation of the series)."""
    m = _with(wb.models.BetaGeoNBD(), r=0.2426, alpha=4.4136, a=0.3, b=0.4)
    assert m.expected_number_of_purchases_up_to_time(39) == pytest.approx(1.094146, rel=1e-6)
    assert m.expected_number_of_purchases_up_to_time(78) == pytest.approx(1.789643, rel=1e-6)
    fit = _with(wb.models.BetaGeoNBD(), r=0.4873, alpha=4.9352, a=0.3034, b=0.4034)
    assert fit.expected_number_of_purchases_up_to_time(52) == pytest.approx(2.29304, rel=1e-5)
    got = fit.conditional_expected_number_of_purchases_up_to_time(52, 0, 0, 20)
    assert got == pytest.approx(0.70343, rel=1e-5)


def test_pareto_predictions_at_very_large_frequency():
    """beta > alpha and x = 1000: the series overflows; Euler's transformation keeps P(alive)
    and the expectation finite (values from a 50-digit evaluation)."""
    m = _with(wb.models.ParetoNBD(), r=0.5, alpha=1.0, s=0.6, beta=100.0)
    assert m.conditional_probability_alive(1000, 10, 20) == pytest.approx(1.706e-277, rel=1e-3)
    got = m.conditional_expected_number_of_purchases_up_to_time(10, 1000, 10, 20)
    assert got == pytest.approx(7.93e-275, rel=1e-3)


def test_bgbb_p_alive_for_several_future_periods():
    m = _with(wb.models.BetaGeoBetaBinom(), alpha=1.2035, beta=0.7497, gamma=0.6567, delta=2.7834)
    got = m.conditional_probability_alive(3, 4, 6, m_periods_in_future=[0, 1, 2])
    assert got.shape == (3,)
    assert got[0] == pytest.approx(m.conditional_probability_alive(3, 4, 6))
    assert got[0] > got[1] > got[2]


def test_time_until_p_alive_below_checks_p(bgnbd):
    for p in (0, 1, -0.5, float("nan")):
        with pytest.raises(wb.BadParameterError, match="strictly between 0 and 1"):
            bgnbd.time_until_probability_alive_below(2, 10, p)


@pytest.mark.parametrize(
    ("model", "params", "expected"),
    [
        (
            wb.models.BetaGeoNBD,
            {"r": 0.2426, "alpha": 4.4136, "a": 0.7930, "b": 2.4259},
            [0.5742999197005054, 0.1992008972455298, 0.08532492686227472, 0.023907584317526077],
        ),
        (
            wb.models.ModifiedBetaGeoNBD,
            {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614},
            [0.582473189493289, 0.18278307728754045, 0.08689482567349052, 0.025079157695421024],
        ),
    ],
)
def test_probability_of_n_purchases(model, params, expected):
    """Equals lifetimes' probability_of_n_purchases_up_to_time (values printed by lifetimes
    0.11.3 at these parameters); the distribution sums to 1 and its mean is E[X(t)]."""
    m = _with(model(), **params)
    got = [
        m.probability_of_n_purchases_up_to_time(t, n)
        for t, n in ((39, 0), (39, 1), (39, 2), (78, 5))
    ]
    assert got == pytest.approx(expected, rel=1e-12)
    n = np.arange(3000)
    for t in (1.0, 39.0, 78.0):
        p = m.probability_of_n_purchases_up_to_time(t, n)
        assert p.sum() == pytest.approx(1.0, abs=1e-12)
        assert (n * p).sum() == pytest.approx(
            m.expected_number_of_purchases_up_to_time(t), rel=1e-10
        )
    with pytest.raises(wb.BadParameterError, match="whole"):
        m.probability_of_n_purchases_up_to_time(10, 1.5)
