"""Normality diagnostics (LOL paper section 4): samples pass, a constant vector with a likely norm fails."""

import numpy as np
import pytest
import scipy.stats
import torch

import latentcore as lc
from latentcore.diagnostics import SHORT_TESTS, anderson_darling_normal, latent_summary


def test_samples_of_the_prior_pass():
    for prior in (lc.StandardNormal((4, 8, 8)), lc.Gaussian(torch.full((256,), 3.0), 2.0),
                  lc.Independent(256, scipy.stats.logistic())):
        p = lc.normality_tests(prior.sample(20, seed=1), prior=prior)
        assert set(p) == set(lc.TESTS)
        for name, values in p.items():
            assert values.shape == (20,)
            assert values.min() > 1e-3, (name, values)


def test_a_constant_vector_with_a_likely_norm_fails():
    d = 1024
    constant = torch.ones(1, d)  # norm sqrt(D): the most likely squared norm of N(0, I)
    p = lc.normality_tests(constant)
    assert p["chi2_norm"][0] > 0.5
    for name in ("ks", "cvm", "ad"):
        assert p[name][0] < 1e-6, name


def test_shrunken_latents_fail():
    prior = lc.StandardNormal(4096)  # std 0.8, like the DDIM-inverted latents of the built-in model
    p = lc.normality_tests(0.8 * prior.sample(5, seed=2), prior=prior)
    for name in lc.TESTS:
        assert (p[name] < 1e-3).all(), name


def test_anderson_darling_p_values_are_uniform_under_the_null():
    rng = np.random.default_rng(0)
    for n in (16, 256):
        _, p = anderson_darling_normal(rng.standard_normal((4000, n)))
        assert scipy.stats.kstest(p, "uniform").pvalue > 1e-3
        assert abs(np.mean(p < 0.05) - 0.05) < 0.015


def test_anderson_darling_statistic_matches_scipy_for_known_parameters():
    x = np.random.default_rng(1).standard_normal((3, 40))
    stat, _ = anderson_darling_normal(x)
    for row, s in zip(x, stat):
        ref = scipy.stats.goodness_of_fit(scipy.stats.norm, row, known_params={"loc": 0, "scale": 1},
                                          statistic="ad", n_mc_samples=99, rng=0).statistic
        assert np.isclose(s, ref, rtol=1e-10)


def test_statistics_have_their_own_function():
    from latentcore.diagnostics import normality_statistics

    z = torch.randn(3, 64)
    stat, p = normality_statistics(z)["chi2_norm"], lc.normality_tests(z)["chi2_norm"]
    assert stat.shape == p.shape == (3,)
    np.testing.assert_allclose(stat, (z.double() ** 2).sum(1).numpy(), rtol=1e-12)


def test_the_badge_says_normal_when_every_test_passes_at_the_one_level():
    prior = lc.StandardNormal(256)
    latents = torch.cat([prior.sample(3, seed=2), torch.ones(1, 256)])  # the constant vector fails
    summary = latent_summary(latents, prior=prior)
    assert list(summary.verdicts[:3]) == ["normal"] * 3
    p = lc.normality_tests(latents, prior=prior)
    assert list(summary.passes) == [min(p[t][i] for t in p) >= lc.NORMALITY_LEVEL for i in range(4)]
    # the badge names the test that rejects the constant vector (its norm is typical: not the chi-square test)
    decider = min(p, key=lambda t: p[t][3])
    assert decider != "chi2_norm" and summary.decided_by[3] == decider
    assert summary.verdicts[3] == f"atypical ({SHORT_TESTS[decider]}, p {p[decider][3]:.2g})"


def test_the_badge_names_the_chi_square_test_when_only_the_norm_is_atypical():
    prior = lc.StandardNormal(256)
    short = prior.sample(1, seed=3) * 0.8  # the shape of a sample, 80% of its norm
    p = lc.normality_tests(short, prior=prior)
    assert p["chi2_norm"][0] < 1e-3 and min(p[t][0] for t in ("ks", "cvm", "ad")) > lc.NORMALITY_LEVEL
    assert latent_summary(short, prior=prior).verdicts[0] == f"atypical (χ² of the norm, p {p['chi2_norm'][0]:.2g})"


def test_the_shared_sort_gives_scipys_statistics_and_p_values():
    from latentcore.diagnostics import normality_statistics

    rng = np.random.default_rng(5)
    x = np.concatenate([rng.standard_normal((3, 300)), 1.3 * rng.standard_normal((2, 300)) + 0.2])
    p, stat = lc.normality_tests(torch.from_numpy(x)), normality_statistics(torch.from_numpy(x))
    ks, cvm = scipy.stats.kstest(x, "norm", axis=1), scipy.stats.cramervonmises(x, "norm", axis=1)
    np.testing.assert_allclose(stat["ks"], ks.statistic, rtol=1e-12)
    np.testing.assert_allclose(p["ks"], ks.pvalue, rtol=1e-9)
    np.testing.assert_allclose(stat["cvm"], cvm.statistic, rtol=1e-12)
    np.testing.assert_allclose(p["cvm"], np.clip(cvm.pvalue, 0, 1), rtol=1e-9, atol=1e-15)
    assert (p["ad"][3:] < 1e-3).all() and (p["ad"][:3] > 1e-3).all()


def test_anderson_darling_p_values_stop_at_the_stated_floor():
    from latentcore.diagnostics import ad_p_floor

    assert ad_p_floor(16384) == pytest.approx(3.7e-8, rel=0.02)  # the floor the page states
    for n in (64, 16384):
        x = np.random.default_rng(6).standard_normal((3, n))
        _, p = anderson_darling_normal(np.stack([x[0], x[1] + 3.0, 0.1 * x[2]]))
        assert p[0] > 1e-3 and p[1] == p[2] == ad_p_floor(n)
