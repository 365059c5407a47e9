"""k-NN affine reconstruction (paper 000)."""

import torch

import latentcore as lc


def test_exact_when_the_target_is_an_affine_combination_of_its_neighbours():
    g = torch.Generator().manual_seed(0)
    cluster = torch.randn(4, 16, generator=g)
    far = torch.randn(20, 16, generator=g) + 100.0
    bank = torch.cat([far[:10], cluster, far[10:]])
    a = torch.tensor([0.6, 0.5, -0.3, 0.2])
    target = a @ cluster
    result = lc.knn_affine(target, bank, k=4)
    assert sorted(result.indices.tolist()) == [10, 11, 12, 13]
    assert float(result.residual) < 1e-4
    torch.testing.assert_close(result.reconstruction, target, atol=1e-4, rtol=1e-4)
    order = result.indices - 10
    torch.testing.assert_close(result.weights, a[order], atol=1e-4, rtol=1e-4)
    assert not bool(result.regularised)


def test_weights_sum_to_one_and_batch_matches_single():
    prior = lc.StandardNormal((2, 3, 3))
    bank, targets = prior.sample(30, seed=1), prior.sample(5, seed=2)
    batch = lc.knn_affine(targets, bank, k=6)
    torch.testing.assert_close(batch.weights.sum(1), torch.ones(5))
    assert batch.reconstruction.shape == (5, 2, 3, 3)
    single = lc.knn_affine(targets[3], bank, k=6)
    torch.testing.assert_close(single.weights, batch.weights[3])
    # the reconstruction is the best affine fit: no worse than the nearest neighbour alone
    nearest = (bank.flatten(1)[batch.indices[:, 0]] - targets.flatten(1)).norm(dim=1)
    assert bool((batch.residual <= nearest + 1e-5).all())


def test_singular_systems_are_regularised_and_finite():
    g = torch.Generator().manual_seed(3)
    bank = torch.randn(12, 3, generator=g)  # k = 10 > D + 1: neighbours affinely dependent
    result = lc.knn_affine(torch.randn(3, generator=g), bank, k=10)
    assert bool(result.regularised) and torch.isfinite(result.weights).all()
    torch.testing.assert_close(result.weights.sum(), torch.tensor(1.0))
    dup = torch.cat([bank[:1]] * 3 + [bank[1:4]])  # duplicated neighbours
    result = lc.knn_affine(bank[0] + 0.01, dup, k=4)
    assert bool(result.regularised) and torch.isfinite(result.reconstruction).all()
    torch.testing.assert_close(result.weights.sum(), torch.tensor(1.0))


def test_lol_option_keeps_the_reconstruction_typical():
    prior = lc.StandardNormal(1024)
    bank, target = prior.sample(40, seed=4), prior.sample(1, seed=5)[0]
    plain = lc.knn_affine(target, bank, k=8)
    typical = lc.knn_affine(target, bank, k=8, lol=True, prior=prior)
    p = lambda z: lc.normality_tests(z[None], prior)["chi2_norm"][0]  # noqa: E731
    assert p(typical.reconstruction) > 1e-3 > p(plain.reconstruction)
