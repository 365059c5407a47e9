"""Realisticity index (Struski et al., "Interpolation in generative models"): closed form vs KDE estimator,
semicircle arc vs hole, path index, energy."""

import pytest
import scipy.stats
import torch

import latentcore as lc
from latentcore.realism import log_density_cdf, reference_log_probs


@pytest.mark.parametrize("prior", [lc.StandardNormal(16),
                                   lc.Gaussian(torch.linspace(-1, 1, 8), torch.linspace(0.5, 2, 8))])
def test_closed_form_and_kde_estimator_agree(prior):
    z = torch.cat([prior.sample(300, seed=1), prior.mean + 1.3 * (prior.sample(100, seed=2) - prior.mean)])
    closed = lc.realisticity_index(z, prior=prior)
    kde = log_density_cdf(prior.log_prob(z).double(), reference_log_probs(prior))
    assert float((closed - kde).abs().max()) < 0.02
    # the closed form is the chi-square tail of the squared Mahalanobis norm
    m2 = prior.mahalanobis_sq(z).double().numpy()
    torch.testing.assert_close(closed, torch.from_numpy(scipy.stats.chi2.sf(m2, prior.dim)), atol=1e-9, rtol=1e-6)


@pytest.mark.parametrize("kind", ["density", "typical"])
def test_values_lie_in_unit_interval(kind):
    for prior in (lc.StandardNormal(5), lc.GaussianMixture.semicircle(4), lc.Independent(3, scipy.stats.laplace())):
        z = torch.cat([prior.sample(50, seed=3), 100 * prior.sample(5, seed=4), torch.zeros(1, *prior.shape)])
        ri = lc.realisticity_index(z, prior=prior, kind=kind, alpha=0.7)
        assert ri.shape == (56,) and torch.isfinite(ri).all()
        assert float(ri.min()) >= 0.0 and float(ri.max()) <= 0.7 + 1e-12


@pytest.mark.parametrize("dim", [2, 20])
def test_semicircle_index_is_higher_on_the_arc_than_in_its_hole(dim):
    prior = lc.GaussianMixture.semicircle(dim)
    arc = torch.zeros(5, dim)
    arc[:, :2] = torch.tensor([[2.0, 6.0], [0.0, 0.0], [1.0, 3.0], [1.0, -3.0], [2.0, -6.0]])
    hole = torch.zeros(3, dim)
    hole[:, :2] = torch.tensor([[4.0, 0.0], [5.0, 2.0], [5.0, -2.0]])
    ri = lc.realisticity_index(torch.cat([arc, hole]), prior=prior)
    assert float(ri[:5].min()) > float(ri[5:].max())


def test_typical_index_rejects_linear_midpoints_that_the_density_index_accepts():
    prior = lc.StandardNormal(256)
    a, b = prior.sample(2, seed=5)
    mid = 0.5 * (a + b)
    assert float(lc.realisticity_index(mid, prior=prior)) > 0.99
    assert float(lc.realisticity_index(mid, prior=prior, kind="typical")) < 1e-3
    assert float(lc.realisticity_index(a, prior=prior, kind="typical")) > 1e-3


def test_path_index_single_batch_and_degenerate_paths():
    prior = lc.StandardNormal(8)
    a, b = prior.sample(2, seed=6)
    paths = torch.stack([lc.interpolate(a, b, 9, scheme=s) for s in ("linear", "lol")])
    batch = lc.path_realism(paths, prior=prior)
    assert batch.index.shape == (2,) and batch.point_index.shape == (2, 9) and batch.lengths.shape == (2, 8)
    torch.testing.assert_close(lc.path_realism(paths[1], prior=prior).index, batch.index[1])
    assert 0 < float(batch.index.min()) and float(batch.index.max()) <= 1
    still = lc.path_realism(a.expand(5, 8), prior=prior)  # coinciding endpoints: zero length, index 1, no NaN
    assert float(still.index) == 1.0 and torch.isfinite(still.point_index).all()


def test_energy_uses_decoded_distances():
    prior = lc.StandardNormal(8)
    a, b = prior.sample(2, seed=7)
    path = lc.interpolate(a, b, 6, scheme="linear").requires_grad_(True)
    plain = lc.path_energy(path, prior=prior)
    doubled = lc.path_energy(path, prior=prior, decoder=lambda z: 2 * z)
    torch.testing.assert_close(doubled, 4 * plain)
    plain.backward()
    assert torch.isfinite(path.grad).all() and float(path.grad.abs().sum()) > 0


def test_alpha_and_kind_are_validated():
    prior = lc.StandardNormal(4)
    with pytest.raises(ValueError, match="alpha"):
        lc.realisticity_index(torch.zeros(4), prior=prior, alpha=1.5)
    with pytest.raises(ValueError, match="kind"):
        lc.realisticity_index(torch.zeros(4), prior=prior, kind="likelihood")
