"""Interpolation schemes: endpoints, SLERP edge cases, chains, NAO against the linear path."""

import itertools
import math

import numpy as np
import pytest
import scipy.stats
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import latentcore as lc
import latentcore.models as models
from latentcore.interpolate import slerp_path
from latentcore.nao import log_chi_density, nao_centroid, nao_interpolate, nao_path_loss, nao_path_loss_and_grad

FAST = {"nao": {"max_iter": 300}}


@pytest.mark.parametrize("scheme", sorted(lc.SCHEMES))
def test_endpoints_exact_and_shapes(scheme):
    prior = lc.StandardNormal((2, 4, 4))
    seeds = prior.sample(4, seed=1)
    path = lc.interpolate(seeds[0], seeds[1], 7, scheme=scheme, prior=prior, **FAST.get(scheme, {}))
    assert path.shape == (7, 2, 4, 4)
    assert torch.equal(path[0], seeds[0]) and torch.equal(path[-1], seeds[1])
    batch = lc.interpolate(seeds[:2], seeds[2:], 5, scheme=scheme, prior=prior, **FAST.get(scheme, {}))
    assert batch.shape == (2, 5, 2, 4, 4)
    assert torch.isfinite(batch).all()


@pytest.mark.parametrize("scheme", ["linear", "slerp", "lol"])
def test_batched_equals_one_by_one(scheme):
    prior = lc.StandardNormal(32)
    a, b = prior.sample(3, seed=2), prior.sample(3, seed=3)
    batch = lc.interpolate(a, b, 6, scheme=scheme, prior=prior)
    for i in range(3):
        torch.testing.assert_close(batch[i], lc.interpolate(a[i], b[i], 6, scheme=scheme, prior=prior))


def test_registry_entries_are_complete():
    assert {"linear", "slerp", "lol", "nao"} <= set(lc.SCHEMES)
    for name, scheme in lc.SCHEMES.items():
        assert scheme.name == name and scheme.label and scheme.description and callable(scheme.path)


def test_every_built_in_scheme_and_centroid_leads_with_a_plain_summary():
    """Pages lead with the summary (what it does, what to look for) and keep the precise description for those who
    ask: the summary is there, other than the description, and free of formulas and references."""
    for spec in [*lc.SCHEMES.values(), *lc.CENTROIDS.values()]:
        assert spec.summary and spec.lead == spec.summary != spec.description, spec.name
        assert not any(mark in spec.summary for mark in ("^", "||", "Eq.", "arXiv", "(1 - t)", "geodesic")), spec.name
    caveat = lc.SCHEMES["lol"].summary_for(lc.make_prior("semicircle", 2))  # its caveat too, as the description's
    assert caveat.startswith(lc.SCHEMES["lol"].summary) and "keeps only its mean and covariance" in caveat
    assert lc.SCHEMES["lol"].summary_for(lc.StandardNormal((16,))) == lc.SCHEMES["lol"].summary


def test_slerp_matches_formula_for_generic_endpoints():
    x, y = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 2.0, 0.0])
    path = lc.interpolate(x, y, 3, scheme="slerp")
    w = math.pi / 2
    expected = (math.sin(0.5 * w) * x + math.sin(0.5 * w) * y) / math.sin(w)
    torch.testing.assert_close(path[1], expected)


@pytest.mark.parametrize("case", ["identical", "parallel", "antiparallel", "antipodal", "near-antipodal", "zero"])
def test_slerp_is_finite_in_degenerate_cases(case):
    x = torch.tensor([3.0, -1.0, 2.0, 0.5])
    y = {
        "identical": x.clone(),
        "parallel": 2.5 * x,
        "antiparallel": -0.5 * x,
        "antipodal": -x,
        "near-antipodal": -x + 1e-6,
        "zero": torch.zeros(4),
    }[case]
    path = lc.interpolate(x, y, 9, scheme="slerp")
    assert torch.isfinite(path).all()
    assert torch.equal(path[0], x) and torch.equal(path[-1], y)
    steps = (path[1:] - path[:-1]).norm(dim=1)
    assert float(steps.max()) <= 2.0 * float((x - y).norm() + x.norm()) / 8 + 1e-5  # no jumps


def test_slerp_antipodal_keeps_the_norm_and_turns_through_an_orthogonal_direction():
    x = torch.tensor([0.0, 2.0, 0.0, 0.0])
    path = lc.interpolate(x, -x, 5, scheme="slerp")
    torch.testing.assert_close(path.norm(dim=1), torch.full((5,), 2.0))
    assert abs(float(path[2] @ x)) < 1e-5  # the midpoint is orthogonal to both endpoints


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=6, max_size=6), st.lists(st.floats(-1e3, 1e3), min_size=6, max_size=6))
def test_slerp_never_returns_nan(a, b):
    x, y = torch.tensor(a).reshape(2, 3), torch.tensor(b).reshape(2, 3)
    out = slerp_path(x, y, torch.linspace(0, 1, 5, dtype=torch.float64), lc.StandardNormal(3))
    assert torch.isfinite(out).all()


def test_chain_passes_through_every_seed():
    prior = lc.StandardNormal(16)
    seeds = prior.sample(4, seed=4)
    path = lc.interpolate_chain(seeds, 5, scheme="lol", prior=prior)
    assert path.shape == (13, 16)
    for k in range(4):
        assert torch.equal(path[4 * k], seeds[k])


def _chi_log_likelihood(path):
    return log_chi_density(path.flatten(1).norm(dim=1).double(), path[0].numel())[1:-1].mean()


def test_nao_reaches_likelier_norms_than_linear():
    prior = lc.StandardNormal(64)
    seeds = prior.sample(2, seed=5)
    linear = lc.interpolate(seeds[0], seeds[1], 10, scheme="linear")
    reports = []
    nao = lc.interpolate(seeds[0], seeds[1], 10, scheme="nao", progress=lambda f, text: reports.append(f))
    assert torch.equal(nao[0], seeds[0]) and torch.equal(nao[-1], seeds[1])
    assert _chi_log_likelihood(nao) > _chi_log_likelihood(linear) + 1.0
    assert reports and reports[-1] == 1.0 and all(0 <= f <= 1 for f in reports)


def test_nao_stops_early_when_the_loss_settles():
    from latentcore.nao import nao_interpolate

    prior = lc.StandardNormal(8)
    seeds = prior.sample(4, seed=6)
    t = torch.linspace(0, 1, 6, dtype=torch.float64)
    result = nao_interpolate(seeds[:2], seeds[2:], t, prior, max_iter=10_000)
    assert result.iterations < 10_000 and bool(result.converged.all())
    assert torch.isfinite(result.path).all()


def test_nao_centroid_follows_the_official_code_and_converges():
    prior = lc.StandardNormal(256)
    seeds = prior.sample(4, seed=8)
    result = nao_centroid(seeds, prior)
    assert bool(result.converged.all()) and result.iterations < 500  # the official rule: |dloss| < 0.01, 5 times
    mean = lc.centroid(seeds, scheme="mean")
    ll = lambda z: float(log_chi_density(z.norm().double(), 256))  # noqa: E731
    assert ll(result.centroid) > ll(mean) + 10.0
    torch.testing.assert_close(lc.centroid(seeds, scheme="nao"), result.centroid)


@pytest.mark.parametrize("cluster", [False, True])
def test_nao_centroid_loss_is_the_official_objective(cluster):
    # The official objective written out, chi terms from scipy: eps = 2 ||p1 - p2|| / n for two seeds, the mean
    # pairwise distance for more. Four clustered seeds and an outlier make the penalty bind.
    seeds = lc.StandardNormal(16).sample(5 if cluster else 2, seed=3).double()
    if cluster:
        seeds[1:] = seeds[1] + 0.01 * seeds[1:]
    n = 3 if cluster else 6
    result = nao_centroid(seeds, lc.StandardNormal(16), nodes=n, max_iter=40)
    paths, c = result.path.numpy(), result.centroid.numpy()
    assert np.allclose(paths[:, 0], seeds.numpy()) and np.allclose(paths[:, -1], c)
    eps = 2 * np.mean([np.linalg.norm(p - q) for p, q in itertools.combinations(seeds.numpy(), 2)]) / n
    likelihood, penalty = scipy.stats.chi(16).logpdf(np.linalg.norm(c)), 0.0
    for path in paths:
        seg = np.linalg.norm(path[1:] - path[:-1], axis=1)
        likelihood += (seg * scipy.stats.chi(16).logpdf(np.linalg.norm((path[1:] + path[:-1]) / 2, axis=1))).sum()
        penalty += np.maximum(seg - eps, 0).sum()
    assert (penalty > 0) == cluster
    assert abs(float(result.losses[-1, 0]) - (penalty - likelihood)) < 1e-9 * abs(likelihood)


@pytest.mark.parametrize("binding", [False, True])
def test_nao_gradient_in_closed_form_is_autograds(binding):
    # every node's gradient, the endpoints' too (a centroid's paths move their last node); a tight spacing makes
    # the penalty bind on some segments
    nodes = lc.StandardNormal(32).sample(3 * 7, seed=11).double().reshape(3, 7, 32)
    spacing = torch.tensor([7.0, 8.0, 20.0] if binding else [20.0, 20.0, 20.0], dtype=torch.float64)
    free = nodes.clone().requires_grad_(True)
    nao_path_loss(free, spacing).sum().backward()
    loss, grad = nao_path_loss_and_grad(nodes, spacing)
    torch.testing.assert_close(loss, nao_path_loss(nodes, spacing), rtol=1e-12, atol=1e-10)
    torch.testing.assert_close(grad, free.grad, rtol=1e-10, atol=1e-10)
    seg = (nodes[:, 1:] - nodes[:, :-1]).norm(dim=-1)
    assert bool((seg > spacing[:, None]).any()) == binding


@pytest.mark.parametrize("dim", [16, 256])
def test_nao_lbfgs_reaches_a_lower_objective_than_the_official_adam_in_fewer_iterations(dim):
    prior = lc.StandardNormal(dim)
    a, b = prior.sample(2, seed=12), prior.sample(2, seed=13)
    t = torch.linspace(0, 1, 16, dtype=torch.float64)
    adam = nao_interpolate(a, b, t, prior, optimiser="adam")
    lbfgs = nao_interpolate(a, b, t, prior)
    spacing = 2.0 * (a - b).norm(dim=1) / 16
    objective = lambda result: nao_path_loss(result.path.double(), spacing.double())  # noqa: E731
    assert bool((objective(lbfgs) <= objective(adam) + 1e-4 * objective(adam).abs()).all())
    assert lbfgs.stopping.reason == "converged" and lbfgs.iterations < adam.iterations / 3
    assert torch.equal(lbfgs.path[:, 0], a) and torch.equal(lbfgs.path[:, -1], b)
    centroid = {o: nao_centroid(torch.cat([a, b]), prior, optimiser=o) for o in ("adam", "lbfgs")}
    assert float(centroid["lbfgs"].losses[-1, 0]) <= float(centroid["adam"].losses[-1, 0])


def test_nao_lbfgs_stops_on_request_and_on_its_budget_with_the_best_paths():
    prior = lc.StandardNormal(64)
    a, b = prior.sample(1, seed=14), prior.sample(1, seed=15)
    t = torch.linspace(0, 1, 12, dtype=torch.float64)
    polls = []
    stopped = nao_interpolate(a, b, t, prior, should_stop=lambda: polls.append(1) or len(polls) >= 3)
    assert stopped.stopping.reason == "stop" and stopped.iterations == 2 and stopped.stopping.early
    assert float(stopped.stopping.loss) == float(stopped.losses.min())  # the best reached, as the path holds
    spacing = 2.0 * (a - b).norm(dim=1) / 12
    assert float(nao_path_loss(stopped.path, spacing)) == pytest.approx(stopped.stopping.loss, rel=1e-5)
    budget = nao_interpolate(a, b, t, prior, budget_s=1e-6)
    assert budget.stopping.reason == "budget" and budget.iterations == 0


def test_nao_centroid_of_opposite_seeds_is_finite_and_typical():
    seeds = lc.StandardNormal(64).sample(1, seed=4)
    c = lc.centroid(torch.cat([seeds, -seeds]), scheme="nao")  # their mean: the origin, where the norm has no gradient
    assert torch.isfinite(c).all() and abs(float(c.norm()) - 8.0) < 1.0


def test_bad_inputs_raise_clear_errors():
    prior = lc.StandardNormal(4)
    z = prior.sample(2, seed=0)
    with pytest.raises(ValueError, match="unknown interpolation scheme"):
        lc.interpolate(z[0], z[1], 4, scheme="cubic")
    with pytest.raises(ValueError, match="frames"):
        lc.interpolate(z[0], z[1], 1)
    with pytest.raises(ValueError, match="no option max_steps; its options: optimiser, lr, max_iter, tol, patience"):
        lc.interpolate(z[0], z[1], 4, scheme="nao", max_steps=10)
    with pytest.raises(ValueError, match="same shape"):
        lc.interpolate(z[0], torch.zeros(5), 4)
    with pytest.raises(ValueError, match="trailing dimensions"):
        lc.interpolate(torch.zeros(5), torch.zeros(5), 4, prior=prior)
    with pytest.raises(ValueError, match="NaN"):
        lc.interpolate(torch.full((4,), float("nan")), z[1], 4)


def test_the_lol_description_says_what_it_keeps_for_the_prior():
    lol = lc.SCHEMES["lol"]
    assert lol.description_for(lc.StandardNormal((16,))) == lol.description  # exactly the prior's distribution
    semicircle = models.load("semicircle-gen", device="cpu").prior  # a Gaussian mixture
    assert "keeps only its mean and covariance" in lol.description_for(semicircle)


def test_the_cost_of_an_iterative_scheme_is_measured_from_two_runs_and_scales_with_the_work():
    prior = lc.StandardNormal(64)
    a, b = prior.sample(2, seed=0)
    calls = []

    def nao(max_iter, budget_s):
        calls.append(max_iter)
        limit = {} if max_iter is None else {"max_iter": max_iter}
        return lc.interpolate(a, b, 8, scheme="nao", prior=prior, budget_s=budget_s, return_stopping=True,
                              **limit)[1]

    cost = lc.measure_cost(nao, iterations=4)
    assert calls == [5, 1]  # the longer first: a first call's overhead lengthens the estimate
    assert cost.setup_s >= 0 and cost.iteration_s >= 0 and cost.iterations is None
    assert cost.seconds(100, scale=2.0) == 2 * cost.seconds(100) == 2 * (cost.setup_s + 100 * cost.iteration_s)
    whole = lc.measure_cost(nao, iterations=4, whole_within_s=30.0)  # NAO converges long before 10 000 iterations
    assert calls[2:] == [5, 1, None] and 0 < whole.iterations < 10_000
    assert whole.seconds(10_000) == whole.setup_s + whole.iterations * whole.iteration_s
