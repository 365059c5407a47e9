"""ri-optimal interpolation (Struski et al., "Interpolation in generative models"): better paths than linear on the
semicircle, endpoints kept, energy descending, no NaN for coinciding endpoints, batching, feature-restricted paths,
the playground."""

import numpy as np
import pytest
import torch

import latentcore as lc

T16 = torch.linspace(0, 1, 16, dtype=torch.float64)
PAPER = {"kind": "density", "start": "chord"}  # Struski et al.'s own index and start


def _ends(dim):
    """The two ends of the horseshoe, (2, 6) and (2, -6), with typical N(0, 0.5) values in the other coordinates."""
    a, b = torch.zeros(1, dim), torch.zeros(1, dim)
    a[0, :2], b[0, :2] = torch.tensor([2.0, 6.0]), torch.tensor([2.0, -6.0])
    g = torch.Generator().manual_seed(0)
    a[0, 2:], b[0, 2:] = 0.5**0.5 * torch.randn(dim - 2, generator=g), 0.5**0.5 * torch.randn(dim - 2, generator=g)
    return a, b


def _assert_better_than_linear(result, a, b, prior, decoder=None):
    linear = lc.interpolate(a, b, result.path.shape[1], scheme="linear", prior=prior)
    lin = lc.path_realism(linear, prior=prior, decoder=decoder)
    assert bool((result.index > lin.index).all()), (result.index, lin.index)
    interior = lambda r: r.point_index[:, 1:-1].min(1).values  # noqa: E731  (the endpoints are shared)
    assert bool((interior(result) > interior(lin)).all()), (interior(result), interior(lin))
    return lin


def test_semicircle_plane_path_beats_linear_and_keeps_its_endpoints():
    prior = lc.GaussianMixture.semicircle(2)
    a, b = _ends(2)
    result = lc.ri_optimal_interpolate(a, b, T16, prior, max_iter=1000, **PAPER)
    assert torch.equal(result.path[:, 0], a) and torch.equal(result.path[:, -1], b)
    _assert_better_than_linear(result, a, b, prior)
    e = result.energies[:, 0]
    assert float(e[-1]) < 0.2 * float(e[0])
    rises = (e[1:] - e[:-1]).clamp_min(0).sum()
    assert float(rises) <= 0.05 * float(e[0] - e[-1])  # monotone up to optimiser noise


def test_semicircle_generator_path_beats_linear_through_the_decoder():
    import latentcore.models as models

    model = models.load("semicircle-gen", device="cpu")
    a, b = _ends(20)
    result = lc.ri_optimal_interpolate(a, b, T16, model.prior, decoder=model, max_iter=1000, **PAPER)
    _assert_better_than_linear(result, a, b, model.prior, decoder=model)


def test_coinciding_endpoints_give_a_finite_constant_path():
    prior = lc.StandardNormal(8)
    a = prior.sample(1, seed=0)
    result = lc.ri_optimal_interpolate(a, a.clone(), T16, prior, max_iter=500)
    assert torch.isfinite(result.path).all() and torch.isfinite(result.energies).all()
    assert result.iterations < 500 and bool(result.converged.all())  # zero energy counts as settled
    torch.testing.assert_close(result.path, a[:, None].expand(1, 16, 8))
    assert float(result.index) == 1.0


def test_batched_paths_equal_paths_optimised_one_by_one():
    prior = lc.GaussianMixture.semicircle(2)
    a = torch.tensor([[2.0, 6.0], [0.0, 3.0]])
    b = torch.tensor([[2.0, -6.0], [2.0, -5.0]])
    batch = lc.ri_optimal_interpolate(a, b, T16, prior, max_iter=300)
    for i in range(2):
        single = lc.ri_optimal_interpolate(a[i:i + 1], b[i:i + 1], T16, prior, max_iter=300)
        assert single.start[0] == batch.start[i]
        torch.testing.assert_close(batch.path[i], single.path[0], atol=1e-4, rtol=1e-4)


def test_scheme_is_registered_and_reached_through_interpolate():
    prior = lc.GaussianMixture.semicircle(2)
    a, b = _ends(2)
    reports = []
    path = lc.interpolate(a[0], b[0], 8, scheme="ri-optimal", prior=prior, max_iter=100, alpha=0.8,
                          progress=lambda f, text: reports.append(f))
    assert "ri-optimal" in lc.SCHEMES and lc.SCHEMES["ri-optimal"].iterative
    assert path.shape == (8, 2) and torch.equal(path[0], a[0]) and torch.equal(path[-1], b[0])
    assert reports and reports[-1] == 1.0


def test_ring_path_goes_around_the_hole():
    prior = lc.make_prior("ring", 2)
    a, b = torch.tensor([[4.0, 0.0]]), torch.tensor([[-4.0, 0.3]])
    result = lc.ri_optimal_interpolate(a, b, T16, prior, max_iter=1000, **PAPER)
    _assert_better_than_linear(result, a, b, prior)
    radius = result.path[0].norm(dim=1)
    assert float(radius.min()) > 2.0  # the linear path passes within 0.2 of the centre


def test_density_grid():
    xs, ys, density = lc.density_grid(lc.make_prior("two-moons", 2), (-5, 5), (-4, 4), n=30)
    assert xs.shape == (30,) and ys.shape == (30,) and density.shape == (30, 30)
    assert torch.isfinite(density).all() and float(density.min()) >= 0 and float(density.max()) > 0


def _same_class_pairs(model, per_class=2):
    """The ``per_class`` most distant pairs of held-out digits of each class, in the model's latent space."""
    from latentcore.models.data import digits

    images, labels = digits("heldout")
    latents = model.encode(images)
    first, second = [], []
    for c in range(10):
        idx = (labels == c).nonzero().squeeze(1)
        dist = torch.cdist(latents[idx], latents[idx]).triu()
        used = set()
        for flat in dist.flatten().argsort(descending=True).tolist():
            i, j = divmod(flat, len(idx))
            if i in used or j in used:
                continue
            used |= {i, j}
            first.append(int(idx[i]))
            second.append(int(idx[j]))
            if len(used) == 2 * per_class:
                break
    return latents[first], latents[second], labels[first]


@pytest.mark.slow
def test_feature_restricted_paths_keep_the_class():
    import latentcore.models as models

    model, classifier = models.load("digits-vae", device="cpu"), models.load_classifier(device="cpu")
    a, b, labels = _same_class_pairs(model)
    assert len(labels) >= 20
    kept = lambda path: (classifier.predict(model.decode(path.reshape(-1, 16))).reshape(len(labels), -1)  # noqa: E731
                         == labels[:, None]).float().mean(1)
    linear = kept(lc.interpolate(a, b, 16, scheme="linear", prior=model.prior))
    index = lc.classifier_index(model, classifier, labels)
    result = lc.ri_optimal_interpolate(a, b, T16, model.prior, decoder=model, index_fn=index, alpha=0.5,
                                       max_iter=30)
    restricted = kept(result.path)
    print(f"\nclass kept on {float(linear.mean()):.1%} of linear frames, {float(restricted.mean()):.1%} of "
          f"feature-restricted frames ({len(labels)} pairs)")
    assert float(restricted.mean()) >= 0.9
    assert float(restricted.mean()) > float(linear.mean())


def test_playground_paths_rank_the_ri_optimal_path_first():
    prior = lc.make_prior("two-moons", 2)
    (x0, x1), (y0, y1) = lc.view_box(prior)
    assert x0 < -3 and x1 > 3 and y0 < -1 and y1 > 1  # the moons lie inside the box
    start, end = prior.sample(2, seed=3)
    paths = lc.playground_paths(prior, start, end, frames=12)
    assert list(paths) == lc.playground_schemes()
    for name, p in paths.items():
        assert p.path.shape == (12, 2) and p.point_index.shape == (12,)
        assert torch.equal(p.path[0], start) and torch.equal(p.path[-1], end)
        assert 0.0 <= p.index <= 1.0 and np.isfinite(p.length)
    assert paths["ri-optimal"].index >= max(p.index for p in paths.values())
    with pytest.raises(ValueError, match="2-D"):
        lc.playground_paths(lc.StandardNormal((3,)), torch.zeros(3), torch.ones(3))


def test_a_cheaper_loop_decoder_never_returns_a_path_worse_than_any_start_by_the_full_decoder():
    import latentcore.models as models
    from latentcore.realism import path_energy

    model = models.load("digits-ddim", device="cpu")
    z = model.prior.sample(2, seed=0).reshape(2, -1)
    t = torch.linspace(0, 1, 5, dtype=torch.float64)
    full = model.decoder(steps=5)
    result = lc.ri_optimal_interpolate(z[:1], z[1:], t, model.prior, decoder=full, loop_decoder=model.decoder(steps=2),
                                       max_iter=30, check_every=10)
    measure = lambda path: float(path_energy(path.reshape(1, 5, *model.prior.shape), prior=model.prior,  # noqa: E731
                                             decoder=full, kind=lc.ri_optimal.DEFAULT_KIND))
    with torch.no_grad():
        a, b = z[:1].reshape(1, *model.prior.shape), z[1:].reshape(1, *model.prior.shape)
        starts = {name: measure(lc.interpolate(a, b, 5, scheme=name, prior=model.prior))
                  for name, scheme in lc.SCHEMES.items() if not scheme.iterative}
        returned = measure(result.path)
    assert result.start[0] == min(starts, key=starts.get)
    assert returned <= min(starts.values()) + 1e-9 and abs(returned - float(result.energy[0])) < 1e-6
    assert result.stopping.loss == float(result.energy[0])  # the label's figure is the returned path's energy


def test_the_closed_form_start_keeps_every_frame_typical_where_the_chord_start_does_not():
    prior = lc.StandardNormal(256)
    z = prior.sample(4, seed=1)
    t = torch.linspace(0, 1, 8, dtype=torch.float64)
    typical = lambda r: lc.realisticity_index(r.path[:, 1:-1], prior=prior, kind="typical")  # noqa: E731
    closed_form = lc.ri_optimal_interpolate(z[:2], z[2:], t, prior, max_iter=5)
    chord = lc.ri_optimal_interpolate(z[:2], z[2:], t, prior, max_iter=5, start="chord")
    assert chord.start == ("linear", "linear") and set(closed_form.start) <= set(lc.SCHEMES)
    assert bool((typical(closed_form) >= 0.01).all())
    assert float((typical(chord) >= 0.01).double().mean()) <= 0.5  # the chord's middle: norm ~0.7 of typical
    assert bool((closed_form.energy < chord.energy).all())
    with pytest.raises(ValueError, match="start"):
        lc.ri_optimal_interpolate(z[:2], z[2:], t, prior, start="lol")
