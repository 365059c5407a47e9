"""Subspaces spanned by seeds (LOL paper, section 3.3)."""

import pytest
import scipy.stats
import torch

import latentcore as lc


@pytest.mark.parametrize("prior", [lc.StandardNormal((1, 8, 8)), lc.Gaussian(torch.full((64,), 2.0), 0.5),
                                   lc.Independent(64, scipy.stats.laplace())])
def test_seeds_sit_at_their_own_coordinates(prior):
    seeds = prior.sample(4, seed=1)
    sub = lc.Subspace(seeds, prior=prior)
    coords = sub.seed_coordinates
    assert coords.shape == (4, 4)
    torch.testing.assert_close(sub.to_latents(coords), seeds, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(sub.coordinates(seeds), coords, atol=1e-4, rtol=1e-4)
    lo, hi = sub.ranges[:, 0], sub.ranges[:, 1]
    assert bool(((coords >= lo - 1e-6) & (coords <= hi + 1e-6)).all())


def test_raw_combinations_have_the_given_coordinates_and_lol_ones_are_typical():
    prior = lc.StandardNormal(2048)
    sub = lc.Subspace(prior.sample(3, seed=2), prior=prior)
    h = torch.randn(6, 3, generator=torch.Generator().manual_seed(0)) * 20
    raw = sub.to_latents(h, lol=False)
    torch.testing.assert_close(sub.coordinates(raw), h, atol=1e-3, rtol=1e-4)
    lol = sub.to_latents(h)
    assert (lc.normality_tests(lol, prior=prior)["ks"] > 1e-3).all()
    assert (lc.normality_tests(0.2 * raw / raw.norm(dim=1, keepdim=True), prior=prior)["chi2_norm"] < 1e-3).all()


def test_grid_spans_the_seed_ranges():
    prior = lc.StandardNormal(32)
    sub = lc.Subspace(prior.sample(3, seed=3), prior=prior)
    latents, coords = sub.grid(0, 2, 4)
    assert latents.shape == (4, 4, 32) and coords.shape == (4, 4, 3)
    torch.testing.assert_close(coords[0, 0, [0, 2]], sub.ranges[[0, 2], 0])
    torch.testing.assert_close(coords[-1, -1, [0, 2]], sub.ranges[[0, 2], 1])
    torch.testing.assert_close(coords[:, :, 1], torch.full((4, 4), float(sub.seed_coordinates[:, 1].mean())))
    assert torch.isfinite(latents).all()


def test_dependent_seeds_are_refused():
    prior = lc.StandardNormal(16)
    s = prior.sample(2, seed=4)
    with pytest.raises(ValueError, match="linearly dependent"):
        lc.Subspace(torch.stack([s[0], s[1], s[0] + s[1]]), prior=prior)
    with pytest.raises(ValueError, match="linearly dependent"):
        lc.Subspace(torch.stack([s[0], s[0]]), prior=prior)
    with pytest.raises(ValueError, match="different coordinates"):
        lc.Subspace(s, prior=prior).grid(0, 0, 3)


def test_a_slider_move_checks_its_coordinates_and_not_the_basis_again(monkeypatch):
    import latentcore.combine
    import latentcore.subspace

    prior = lc.StandardNormal(16)
    sub = lc.Subspace(prior.sample(3, seed=4), prior=prior)
    checked = []
    for module in (latentcore.combine, latentcore.subspace):  # every check_latents a slider move could reach
        real = module.check_latents
        monkeypatch.setattr(module, "check_latents", lambda *a, real=real, **k: checked.append(1) or real(*a, **k))
    moved = sub.to_latents(torch.tensor([0.5, -1.0, 2.0]))
    assert not checked  # the seeds were checked when the subspace was made
    torch.testing.assert_close(moved, lc.lol_combine(sub.seeds, sub.weights(torch.tensor([0.5, -1.0, 2.0])),
                                                     prior=prior))
    with pytest.raises(ValueError, match="coordinates: 1 NaN or Inf value"):
        sub.to_latents(torch.tensor([0.5, float("nan"), 2.0]))
