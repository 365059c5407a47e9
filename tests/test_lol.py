"""LOL (arXiv 2408.08558): outputs distributed as the prior, agreement with the reference package."""

import numpy as np
import pytest
import scipy.stats
import torch
from lolatents.lol_torch import lol_gaussian, lol_iid

import latentcore as lc
from latentcore.combine import unit_weights

D = 100_000  # elements per latent: each output element is one independent draw of its marginal


def _weights():
    g = torch.Generator().manual_seed(7)
    return {
        "positive": torch.tensor([0.3, 0.7]),
        "negative": torch.tensor([1.5, -0.8, 0.4]),
        "sum-to-zero": torch.tensor([1.0, -1.0]),
        "analogy": torch.tensor([1.0, -1.0, 1.0]),
        "random-batch": torch.randn(3, 4, generator=g),
        "all-zero": torch.zeros(3),
    }


PRIORS = {
    "standard-normal": lambda: lc.StandardNormal(D),
    "gaussian-mean": lambda: lc.Gaussian(torch.linspace(-3, 5, D), torch.linspace(0.5, 2.0, D)),
    "laplace": lambda: lc.Independent(D, scipy.stats.laplace(loc=1.0, scale=2.0)),
    "uniform": lambda: lc.Independent(D, scipy.stats.uniform(-1.0, 3.0)),
}


def _ks_pvalues(prior, latents):
    """KS p-value of each latent's elements against the prior's marginals."""
    flat = latents.reshape(-1, D)
    if isinstance(prior, lc.Independent):
        return [scipy.stats.kstest(row.double().numpy(), prior.marginal.frozen.cdf).pvalue for row in flat]
    white = prior.standardize(flat).double().numpy()
    return [scipy.stats.kstest(row, "norm").pvalue for row in white]


@pytest.mark.parametrize("prior_name", PRIORS)
def test_lol_outputs_follow_the_prior(prior_name):
    prior = PRIORS[prior_name]()
    for label, w in _weights().items():
        seeds = prior.sample(w.shape[-1], seed=11)
        out = lc.lol_combine(seeds, w, prior=prior)
        assert out.shape == (*w.shape[:-1], D)
        pvalues = _ks_pvalues(prior, out)
        assert min(pvalues) >= 1e-3, f"{prior_name}, {label} weights: KS p-values {pvalues}"


@pytest.mark.parametrize("prior_name", PRIORS)
def test_linear_midpoints_fail_the_same_test(prior_name):
    prior = PRIORS[prior_name]()
    seeds = prior.sample(2, seed=11)
    midpoint = seeds.mean(0)
    assert max(_ks_pvalues(prior, midpoint[None])) < 1e-3


def test_agrees_with_reference_gaussian():
    g = torch.Generator().manual_seed(3)
    seeds = torch.randn(4, 64, generator=g, dtype=torch.float64)
    mean = torch.randn(64, generator=g, dtype=torch.float64)
    w = torch.randn(10, 4, generator=g, dtype=torch.float64)
    w[3] = 0.0  # the all-zero rule must agree too
    prior = lc.Gaussian(mean.float(), 1.0)
    ours = lc.lol_combine(seeds.float(), w.float(), prior=prior).double()
    ref = lol_gaussian(w=w, X=seeds, mean=mean)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)
    ours_std = lc.lol_combine(seeds.float(), w.float()).double()
    torch.testing.assert_close(ours_std, lol_gaussian(w=w, X=seeds), atol=1e-5, rtol=1e-5)


def test_agrees_with_reference_independent_laplace():
    marginal = scipy.stats.laplace(loc=0.5, scale=1.5)
    prior = lc.Independent(32, marginal)
    seeds = prior.sample(3, seed=5).double()
    w = torch.randn(8, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    loc, scale = 0.5, 1.5
    laplace = torch.distributions.Laplace(torch.tensor(loc, dtype=torch.float64),
                                          torch.tensor(scale, dtype=torch.float64))
    ref = lol_iid(w=w, X=seeds, cdf=laplace.cdf, inverse_cdf=laplace.icdf)
    ours = lc.lol_combine(seeds.float(), w.float(), prior=prior).double()
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)


def test_scale_invariance_and_zero_weights():
    prior = lc.StandardNormal((2, 3))
    seeds = prior.sample(3, seed=0)
    w = torch.tensor([0.2, -0.5, 0.9])
    torch.testing.assert_close(lc.lol_combine(seeds, w), lc.lol_combine(seeds, 1e6 * w))
    torch.testing.assert_close(lc.lol_combine(seeds, w), lc.lol_combine(seeds, 1e-30 * w))
    torch.testing.assert_close(lc.lol_combine(seeds, torch.zeros(3)), lc.lol_combine(seeds, torch.ones(3)))
    assert torch.isfinite(lc.lol_combine(seeds, torch.zeros(3))).all()


@pytest.mark.parametrize("dtype, scales", [(torch.float64, [1e-300, 1e-30, 1e-6, 1e300]),
                                           (torch.float32, [1e-30, 1e-6, 1e30])])
def test_tiny_weights_equal_unit_weights_and_zero_rows_equal_weights(dtype, scales):
    prior = lc.Gaussian(torch.linspace(-1, 1, 16), 2.0)
    seeds = prior.sample(4, seed=1).to(dtype)
    w = torch.tensor([0.3, -1.2, 0.5, 0.05], dtype=dtype)
    rows = torch.stack([s * w for s in scales] + [torch.zeros(4, dtype=dtype)])
    out = lc.lol_combine(seeds, rows, prior=prior)
    unit = lc.lol_combine(seeds, w, prior=prior)
    for row, scale in zip(out, scales):  # 1e-6 too: lolatents would treat sum w^2 < 1e-10 as zero weights
        torch.testing.assert_close(row, unit, msg=f"weights scaled by {scale}")
    torch.testing.assert_close(out[-1], lc.lol_combine(seeds, torch.ones(4, dtype=dtype), prior=prior))
    torch.testing.assert_close(unit_weights(rows[-1]), torch.full((4,), 0.5, dtype=dtype), rtol=0, atol=0)
    torch.testing.assert_close(unit_weights(rows[0]), w / w.norm())


def test_one_hot_weights_return_the_seed():
    for prior in (lc.Gaussian(torch.ones(8), 2.0), lc.Independent(8, scipy.stats.logistic())):
        seeds = prior.sample(3, seed=2)
        torch.testing.assert_close(lc.lol_combine(seeds, torch.eye(3), prior=prior), seeds, atol=1e-5, rtol=1e-5)


def test_lol_centroid_is_typical_and_mean_is_not():
    prior = lc.StandardNormal(4096)
    seeds = prior.sample(5, seed=9)
    chi2 = lambda z: lc.normality_tests(z[None], prior=prior)["chi2_norm"][0]  # noqa: E731
    assert chi2(lc.centroid(seeds, scheme="lol")) > 1e-3
    assert chi2(lc.centroid(seeds, scheme="mean")) < 1e-6
    assert np.isclose(float(lc.centroid(seeds, scheme="rescaled").norm()), float(seeds.norm(dim=1).mean()), rtol=1e-5)


def test_bad_weights_are_refused():
    seeds = lc.StandardNormal(4).sample(3, seed=0)
    with pytest.raises(ValueError, match="K=3"):
        lc.lol_combine(seeds, torch.ones(2))
    with pytest.raises(ValueError, match="unknown centroid"):
        lc.centroid(seeds, scheme="median")


def test_float64_weights_of_any_scale_keep_their_direction_with_float32_seeds():
    seeds = lc.StandardNormal(8).sample(3, seed=0)
    w = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64)
    for scale in (1e-300, 1e300):
        torch.testing.assert_close(lc.lol_combine(seeds, scale * w), lc.lol_combine(seeds, w))
    with pytest.raises(ValueError, match="weights: 1 NaN or Inf value found"):
        lc.lol_combine(seeds, torch.tensor([1.0, float("nan"), 0.0]))
