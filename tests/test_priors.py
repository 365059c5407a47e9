"""Priors: densities against scipy, the semicircle of Struski et al., reproducible sampling, device choice."""

import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.special
import scipy.stats
import torch

import latentcore as lc


def test_gaussian_log_probs_match_scipy():
    mean, std = torch.linspace(-1, 1, 6), torch.linspace(0.5, 1.5, 6)
    diag = lc.Gaussian(mean, std)
    z = diag.sample(10, seed=0)
    ref = scipy.stats.multivariate_normal(mean.numpy(), np.diag(std.numpy() ** 2)).logpdf(z.numpy())
    np.testing.assert_allclose(diag.log_prob(z).numpy(), ref, rtol=1e-5)
    cov = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 0.8]])
    full = lc.Gaussian(torch.zeros(3), None, cov=cov)
    z = full.sample(10, seed=1)
    ref = scipy.stats.multivariate_normal(np.zeros(3), cov).logpdf(z.numpy())
    np.testing.assert_allclose(full.log_prob(z).numpy(), ref, rtol=1e-5)
    torch.testing.assert_close(full.unstandardize(full.standardize(z)), z, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="positive definite"):
        lc.Gaussian(torch.zeros(2), None, cov=[[1.0, 2.0], [2.0, 1.0]])


def test_semicircle_is_exactly_paper_003_section_6():
    prior = lc.GaussianMixture.semicircle(20)
    assert prior.shape == (20,)
    torch.testing.assert_close(prior.weights, torch.full((3,), 1 / 3))
    torch.testing.assert_close(prior.means[:, :2], torch.tensor([[2.0, 6.0], [0.0, 0.0], [2.0, -6.0]]))
    assert float(prior.means[:, 2:].abs().max()) == 0.0
    covs = prior.chols @ prior.chols.transpose(1, 2)
    torch.testing.assert_close(covs[:, :2, :2], torch.tensor([[[5.0, 2.0], [2.0, 2.0]], [[1.0, 0.0], [0.0, 3.0]],
                                                             [[5.0, -2.0], [-2.0, 2.0]]]), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(covs[:, 2:, 2:], 0.5 * torch.eye(18).expand(3, 18, 18), atol=1e-6, rtol=1e-6)
    assert float(covs[:, :2, 2:].abs().max()) < 1e-6
    z = prior.sample(20, seed=2).double().numpy()
    ref = np.log(sum(scipy.stats.multivariate_normal(m, c).pdf(z) / 3
                     for m, c in zip(prior.means.double().numpy(), covs.double().numpy())))
    np.testing.assert_allclose(prior.log_prob(torch.from_numpy(z).float()).numpy(), ref, rtol=1e-4)
    assert lc.GaussianMixture.semicircle(2).shape == (2,)


def test_mixture_keeps_float64_parameters_and_matches_scipy():
    rng = np.random.default_rng(0)
    factors = rng.normal(size=(3, 6, 6))
    covs = factors @ factors.transpose(0, 2, 1) + 0.5 * np.eye(6)
    means, weights = 3 * rng.normal(size=(3, 6)), [2, 5, 3]
    z = 3 * rng.normal(size=(50, 6))
    ref = scipy.special.logsumexp([np.log(w / 10) + scipy.stats.multivariate_normal(m, c).logpdf(z)
                                   for w, m, c in zip(weights, means, covs)], axis=0)
    wide = lc.GaussianMixture(np.array(weights, dtype=np.float64), means, covs)
    assert {wide.weights.dtype, wide.means.dtype, wide.chols.dtype, wide.mean.dtype} == {torch.float64}
    out = wide.log_prob(torch.from_numpy(z))
    assert out.dtype == torch.float64
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12, atol=1e-10)
    assert wide.sample(4, seed=0, device="cpu").dtype == torch.float64
    narrow = lc.GaussianMixture(torch.tensor(weights), torch.from_numpy(means).float(),
                                torch.from_numpy(covs).float())
    assert {narrow.weights.dtype, narrow.means.dtype, narrow.chols.dtype, narrow.mean.dtype} == {torch.float32}
    assert narrow.log_prob(torch.from_numpy(z).float()).dtype == torch.float32
    np.testing.assert_allclose(narrow.log_prob(torch.from_numpy(z).float()).numpy(), ref, rtol=1e-4)


@pytest.mark.parametrize("marginal", [scipy.stats.uniform(-1, 3), scipy.stats.logistic(0.5, 2),
                                      scipy.stats.laplace(1, 0.5), scipy.stats.t(4)])
def test_independent_marginals(marginal):
    prior = lc.Independent((2, 50), marginal)
    z = prior.sample(40, seed=3)
    assert z.shape == (40, 2, 50)
    assert scipy.stats.kstest(z.flatten().double().numpy(), marginal.cdf).pvalue > 1e-3
    ref = marginal.logpdf(z.double().numpy()).reshape(40, -1).sum(1)
    np.testing.assert_allclose(prior.log_prob(z).double().numpy(), ref, rtol=1e-4)
    assert scipy.stats.kstest(prior.standardize(z).flatten().numpy(), "norm").pvalue > 1e-3


def test_empirical_kde_density():
    pts = torch.randn(200, 3, generator=torch.Generator().manual_seed(0))
    prior = lc.Empirical(pts)
    z = torch.randn(7, 3)
    h = prior.kernel_std.double().numpy()
    diffs = (z.double().numpy()[:, None, :] - pts.double().numpy()[None]) / h
    ref = np.log(np.exp(-0.5 * (diffs**2).sum(-1)).mean(1) / np.prod(h) / (2 * np.pi) ** 1.5)
    np.testing.assert_allclose(prior.log_prob(z).double().numpy(), ref, rtol=1e-4)
    assert prior.sample(5, seed=1).shape == (5, 3)
    with pytest.raises(ValueError, match="at least two"):
        lc.Empirical(torch.zeros(1, 3))


def test_sampling_is_reproducible_and_shapes_are_checked():
    prior = lc.StandardNormal((1, 16, 16))
    assert torch.equal(prior.sample(3, seed=42), prior.sample(3, seed=42))
    assert not torch.equal(prior.sample(3, seed=42), prior.sample(3, seed=43))
    with pytest.raises(ValueError, match=r"\(1, 16, 16\)"):
        prior.log_prob(torch.zeros(2, 16, 16))
    assert prior.log_prob(torch.zeros(4, 5, 1, 16, 16)).shape == (4, 5)


def test_every_registered_prior_builds_samples_and_scores():
    for name, family in lc.PRIORS.items():
        dim = 20 if family.dims is None or 20 in family.dims else family.dims[0]
        prior = lc.make_prior(name, dim)
        z = prior.sample(3, seed=0)
        assert z.shape == (3, dim) and torch.isfinite(prior.log_prob(z)).all(), name


def _devices_in_subprocesses(*values):
    """``latentcore.default_device()`` under ``LATENTCORE_DEVICE=value``, each in its own interpreter, side by
    side: ``(returncode, stdout, stderr)`` per value."""
    code = "import latentcore; print(latentcore.default_device())"
    running = [subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ, LATENTCORE_DEVICE=value),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for value in values]
    outputs = [p.communicate(timeout=120) for p in running]  # all started first: they run side by side
    return [(p.returncode, *output) for p, output in zip(running, outputs)]


def test_device_override():
    (_, cpu, _), (bad_code, _, bad), (_, _, cuda) = _devices_in_subprocesses("cpu", "tpu-please", "cuda")
    assert cpu.strip() == "cpu"
    assert bad_code != 0 and "LATENTCORE_DEVICE" in bad
    if not torch.cuda.is_available():
        assert "no CUDA" in cuda


def test_package_never_imports_streamlit_and_exports_the_public_names():
    code = "import latentcore, sys; assert 'streamlit' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
    for name in ["StandardNormal", "Gaussian", "GaussianMixture", "Independent", "Empirical", "SCHEMES",
                 "interpolate", "lol_combine", "centroid", "Subspace", "knn_affine", "realisticity_index",
                 "path_realism", "normality_tests", "load_latents", "save_latents", "LatentFileError"]:
        assert hasattr(lc, name), name


@pytest.mark.parametrize("prior", [lc.StandardNormal((2, 4)), lc.Gaussian(torch.linspace(-1, 1, 8), 2.0),
                                   lc.Gaussian(torch.zeros(8), cov=torch.eye(8) + 0.5),
                                   lc.Independent(8, scipy.stats.laplace()), lc.GaussianMixture.semicircle(8)])
def test_standardize_checks_the_shape_once_and_its_flat_kernel_agrees(prior):
    z = prior.sample(5, seed=2)
    flat = z.reshape(5, -1)
    torch.testing.assert_close(prior.standardize(z).reshape(5, -1), prior.standardize_flat(flat))
    torch.testing.assert_close(prior.standardize(z[0]), prior.standardize(z)[0])
    with pytest.raises(ValueError, match="do not fit this prior"):
        prior.standardize(flat[:, :3])
