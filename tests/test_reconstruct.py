"""k-NN affine reconstruction: exact in the affine hull, minimum-norm and bounded weights, the old answer where
the KKT system is well conditioned."""

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import latentcore as lc


def _kkt_weights(neighbours: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The Lagrange system solved directly (the previous implementation when it was not singular)."""
    k = neighbours.shape[0]
    kkt = np.zeros((k + 1, k + 1))
    kkt[:k, :k] = 2 * neighbours @ neighbours.T
    kkt[:k, k] = kkt[k, :k] = 1
    return np.linalg.solve(kkt, np.append(2 * neighbours @ target, 1.0))[:k]


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
    assert int(result.rank) == 3 and not bool(result.rank_deficient)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 8), st.integers(1, 14), st.integers(0, 2**31 - 1))
def test_exact_and_minimum_norm_in_the_affine_hull_for_any_k(dim, k, seed):
    # a target inside a cluster of k latents, the rest of the bank far away: for k > D + 1 the neighbours are
    # affinely dependent and the weights must be the minimum-norm exact ones
    g = torch.Generator().manual_seed(seed)
    cluster = torch.randn(k, dim, generator=g, dtype=torch.float64)
    spread = torch.linalg.svdvals(cluster - cluster.mean(0))[:min(k - 1, dim)]
    assume(k == 1 or float(spread[-1]) > 2e-3 * float(spread[0]))  # affinely independent at the cut-off
    bank = torch.cat([cluster, torch.randn(10, dim, generator=g, dtype=torch.float64) + 100.0])
    a = torch.rand(k, generator=g, dtype=torch.float64)
    target = (a / a.sum()) @ cluster
    result = lc.knn_affine(target, bank, k)
    assert sorted(result.indices.tolist()) == list(range(k))
    assert float(result.residual) < 1e-12 * max(1.0, float(cluster.abs().max()))
    assert abs(float(result.weights.sum()) - 1.0) < 1e-14
    z = cluster[result.indices].numpy()
    minimum_norm = 1.0 / k + np.linalg.pinv((z - z.mean(0)).T, rcond=1e-12) @ (target.numpy() - z.mean(0))
    np.testing.assert_allclose(result.weights.numpy(), minimum_norm, atol=1e-9)
    assert int(result.rank) == min(k - 1, dim) and bool(result.rank_deficient) == (k > dim + 1)


@pytest.mark.parametrize("dim, k", [(16, 4), (16, 17), (5, 6), (64, 10)])
def test_same_answer_as_the_kkt_solve_where_it_is_well_conditioned(dim, k):
    g = torch.Generator().manual_seed(dim + k)
    bank, targets = torch.randn(50, dim, generator=g, dtype=torch.float64), torch.randn(20, dim, dtype=torch.float64)
    result = lc.knn_affine(targets, bank, k)
    compared = 0
    for row in range(20):
        neighbours = bank[result.indices[row]].numpy()
        spread = np.linalg.svd(neighbours - neighbours.mean(0), compute_uv=False)[:k - 1]
        if spread[-1] < 1e-2 * spread[0]:
            continue
        reference = _kkt_weights(neighbours, targets[row].numpy())
        np.testing.assert_allclose(result.weights[row].numpy(), reference, rtol=0, atol=1e-10)
        assert not bool(result.rank_deficient[row])
        compared += 1
    assert compared >= 10


def test_duplicated_neighbours_share_their_weight():
    g = torch.Generator().manual_seed(3)
    points = torch.randn(4, 3, generator=g, dtype=torch.float64)
    bank = torch.cat([points[:1]] * 3 + [points[1:]])
    target = 0.5 * points[0] + 0.3 * points[1] + 0.2 * points[2]
    result = lc.knn_affine(target, bank, k=5)
    assert float(result.residual) < 1e-13 and bool(result.rank_deficient) and int(result.rank) == 2
    on_duplicates = result.weights[result.indices < 3]
    torch.testing.assert_close(on_duplicates, torch.full((3,), 0.5 / 3, dtype=torch.float64), atol=1e-13, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("delta", [0.0, 1e-12, 1e-9, 1e-6, 1e-4])
def test_near_duplicates_keep_the_weights_bounded(delta, dtype):
    # three near copies of one latent and three others in R^3: the KKT system is (nearly) singular and its exact
    # solution has weights of order 1 / delta (2000 for delta = 1e-4); the near copies share their weight instead
    g = torch.Generator().manual_seed(1)
    points = torch.randn(4, 3, generator=g, dtype=torch.float64)
    bank = torch.cat([points[:1] + delta * torch.randn(3, 3, generator=g, dtype=torch.float64), points[1:]])
    targets = points[0] + 0.05 * torch.randn(50, 3, generator=g, dtype=torch.float64)
    result = lc.knn_affine(targets.to(dtype), bank.to(dtype), k=4)
    assert result.weights.dtype == dtype and float(result.weights.abs().max()) < 0.5
    assert bool(result.rank_deficient.all()) and bool((result.rank == 1).all())
    torch.testing.assert_close(result.weights.sum(1), torch.ones(50, dtype=dtype))
    nearest = (bank[result.indices[:, 0]] - targets).norm(dim=1)  # no worse than the nearest copy, up to delta
    assert bool((result.residual.double() <= nearest + 10 * delta + 1e-5).all())


def test_the_cut_off_separates_near_duplicates_from_distinct_neighbours():
    g = torch.Generator().manual_seed(2)
    points = torch.randn(4, 3, generator=g, dtype=torch.float64)
    pair = points[:1] + torch.tensor([[0.0, 0.0, 0.0], [0.05, 0.0, 0.0]], dtype=torch.float64)
    bank = torch.cat([pair, points[1:]])
    target = 0.7 * pair[0] + 0.3 * pair[1] + 0.1 * (points[1] - points[0])
    exact = lc.knn_affine(target, bank, k=4)  # the pair's spread is about 1e-2 of the largest: kept
    assert float(exact.residual) < 1e-13 and int(exact.rank) == 3 and not bool(exact.rank_deficient)
    merged = lc.knn_affine(target, bank, k=4, rcond=0.05)  # the pair counts as one point
    assert int(merged.rank) == 2 and bool(merged.rank_deficient) and float(merged.residual) > 1e-4
    with pytest.raises(ValueError, match="rcond"):
        lc.knn_affine(target, bank, k=4, rcond=1.0)


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


def test_lol_option_keeps_the_reconstruction_typical():
    prior = lc.StandardNormal(1024)
    bank, target = prior.sample(40, seed=4), prior.sample(1, seed=5)[0]
    plain = lc.knn_affine(target, bank, k=8)
    typical = lc.knn_affine(target, bank, k=8, lol=True, prior=prior)
    p = lambda z: lc.normality_tests(z[None], prior=prior)["chi2_norm"][0]  # noqa: E731
    assert p(typical.reconstruction) > 1e-3 > p(plain.reconstruction)
