"""Projections: the endpoint plane of Struski et al.'s Eq. 4, and PCA."""

import torch

import latentcore as lc


def test_endpoint_plane_coordinates():
    prior = lc.StandardNormal(64)
    a, b = prior.sample(2, seed=0)
    path = lc.interpolate(a, b, 5, scheme="linear")
    coords = lc.endpoint_plane(path, a, b)
    expected = torch.stack([1 - torch.linspace(0, 1, 5), torch.linspace(0, 1, 5)], dim=1)
    torch.testing.assert_close(coords, expected, atol=1e-5, rtol=1e-5)
    batch = lc.endpoint_plane(torch.stack([path, path]), a, b)
    assert batch.shape == (2, 5, 2)


def test_endpoint_plane_degenerate_endpoints_are_finite():
    prior = lc.StandardNormal(16)
    a, other = prior.sample(2, seed=1)
    pts = torch.stack([a, other, 2 * a])
    for z0, z1 in ((a, a), (a, -3 * a), (torch.zeros(16), torch.zeros(16)), (torch.zeros(16), a)):
        coords = lc.endpoint_plane(pts, z0, z1)
        assert coords.shape == (3, 2) and torch.isfinite(coords).all()


def test_pca():
    g = torch.Generator().manual_seed(2)
    latents = torch.randn(50, 8, generator=g) * torch.tensor([5.0, 1, 1, 1, 1, 1, 1, 0.1])
    result = lc.pca(latents, 2)
    assert result.coords.shape == (50, 2)
    assert abs(float(result.components[0, 0])) > 0.95
    assert 0 < float(result.explained.sum()) <= 1
    torch.testing.assert_close(result.transform(latents).float(), result.coords.float())
    single = lc.pca(latents[:1], 2)
    assert torch.isfinite(single.coords).all() and float(single.explained.sum()) == 0
