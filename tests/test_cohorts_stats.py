"""Shared statistics helpers against statsmodels as the oracle."""

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
)

from workbench.errors import BadParameterError
from workbench.stats import (
    bh_adjust,
    holm_adjust,
    normal_ci,
    proportion_diff_ci,
    two_proportion_test,
    wilson_ci,
    wilson_exprs,
    z_value,
)


@pytest.mark.parametrize("level", [0.8, 0.9, 0.95, 0.99])
def test_wilson_matches_statsmodels(level):
    x = np.array([0, 1, 5, 17, 50, 99, 100])
    n = np.array([10, 10, 20, 40, 100, 100, 100])
    lo, hi = wilson_ci(x, n, level)
    slo, shi = proportion_confint(x, n, alpha=1 - level, method="wilson")
    np.testing.assert_allclose(lo, slo, atol=1e-12)
    np.testing.assert_allclose(hi, shi, atol=1e-12)


def test_wilson_scalar_series_and_edge_cases():
    lo, hi = wilson_ci(3, 10)
    assert isinstance(lo, float) and 0 < lo < 0.3 < hi < 1
    lo, hi = wilson_ci(pl.Series([0, 4]), pl.Series([4, 4]))
    assert lo[0] == 0.0 and hi[1] == 1.0  # exact ends
    lo, hi = wilson_ci([0], [0])
    assert np.isnan(lo[0]) and np.isnan(hi[0])
    with pytest.raises(BadParameterError, match="successes must lie between 0 and trials"):
        wilson_ci(5, 3)
    with pytest.raises(BadParameterError, match="level=95"):
        wilson_ci(1, 2, 95)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 500), st.integers(0, 500)), min_size=1, max_size=20),
    st.floats(0.5, 0.999),
)
def test_wilson_exprs_equal_numpy_and_contain_the_rate(pairs, level):
    n = [max(a, b) for a, b in pairs]
    x = [min(a, b) for a, b in pairs]
    df = pl.DataFrame({"x": x, "n": n})
    low, high = wilson_exprs("x", "n", level)
    out = df.select(low.alias("lo"), high.alias("hi"))
    lo, hi = wilson_ci(x, n, level)
    np.testing.assert_allclose(
        out["lo"].fill_null(np.nan).to_numpy(), lo, equal_nan=True, atol=1e-12
    )
    np.testing.assert_allclose(
        out["hi"].fill_null(np.nan).to_numpy(), hi, equal_nan=True, atol=1e-12
    )
    ok = np.array(n) > 0
    p = np.array(x)[ok] / np.array(n)[ok]
    assert np.all(lo[ok] <= p) and np.all(p <= hi[ok])


def test_bh_and_holm_match_statsmodels():
    p = np.array([0.01, 0.04, 0.03, 0.2, 0.0001, 0.5, 0.049])
    np.testing.assert_allclose(bh_adjust(p), multipletests(p, method="fdr_bh")[1])
    np.testing.assert_allclose(holm_adjust(p), multipletests(p, method="holm")[1])
    with_nan = bh_adjust([0.01, np.nan, 0.02])
    assert np.isnan(with_nan[1])
    np.testing.assert_allclose(with_nan[[0, 2]], multipletests([0.01, 0.02], method="fdr_bh")[1])
    assert bh_adjust([]).size == 0
    with pytest.raises(BadParameterError, match="p-values must lie in"):
        bh_adjust([1.5])


@pytest.mark.parametrize("alternative", ["two-sided", "larger", "smaller"])
def test_two_proportion_test_matches_statsmodels(alternative):
    z, p = two_proportion_test(45, 100, 30, 110, alternative=alternative)
    sz, sp = proportions_ztest([45, 30], [100, 110], alternative=alternative)
    assert z == pytest.approx(sz) and p == pytest.approx(sp)
    zs, ps = two_proportion_test(
        np.array([45, 0]), np.array([100, 10]), np.array([30, 0]), np.array([110, 10])
    )
    assert zs[0] == pytest.approx(proportions_ztest([45, 30], [100, 110])[0])
    assert np.isnan(zs[1])  # pooled rate 0: undefined
    with pytest.raises(BadParameterError, match="alternative='bigger'"):
        two_proportion_test(1, 2, 1, 2, alternative="bigger")


def test_newcombe_difference_interval_matches_statsmodels():
    lo, hi = proportion_diff_ci(45, 100, 30, 110, 0.95)
    slo, shi = confint_proportions_2indep(45, 100, 30, 110, method="newcomb", compare="diff")
    assert lo == pytest.approx(slo) and hi == pytest.approx(shi)


def test_normal_ci_and_z_value():
    assert z_value(0.95) == pytest.approx(1.959963984540054)
    lo, hi = normal_ci(np.array([1.0]), np.array([0.5]), 0.95)
    assert lo[0] == pytest.approx(1 - 0.5 * 1.959963984540054)
    with pytest.raises(BadParameterError, match="strictly between 0 and 1"):
        z_value(0)
