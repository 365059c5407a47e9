"""NAO: norm-aware optimisation of interpolation paths and centroids, a baseline.

Samuel et al., "Norm-guided latent space exploration for text-to-image generation" (NeurIPS 2023,
arXiv 2306.08687; official code in the SeedSelect repository). A path has nodes ``x_0 = a``, free
``x_1..x_{n-2}`` and ``x_{n-1} = b``; NAO maximises

    L = sum_i ||x_{i+1} - x_i|| * log f_chi(||(x_i + x_{i+1}) / 2||)

(``f_chi`` the chi density with D degrees of freedom: the norm of a D-dimensional standard normal) minus the
penalty ``sum_i relu(||x_{i+1} - x_i|| - 2 ||a - b|| / n)`` that keeps nodes spread along the path. The
optimisation starts on the chord and runs up to 10 000 iterations, stopping once the loss has changed by less than
1e-3 for 10 consecutive iterations. The official code takes Adam steps with learning rate 0.01
(``optimiser="adam"``); by default L-BFGS with a strong-Wolfe line search and the gradient in closed form
(:func:`nao_path_loss_and_grad`) minimises the same objective from the same start to a lower value, many times
faster (``python -m bench.micro.nao`` runs both against the official code). The NAO centroid optimises the
centroid jointly with one such path from each seed, adding the log chi density of the centroid's norm and stopping
on its own rule (:func:`nao_centroid`).

Latents are optimised in the prior's standardised space (identity for N(0, I)), where the chi law holds.
Paths are optimised as one batch: with Adam each stops on its own criterion (its nodes are then frozen), with
L-BFGS they step together until all have; all stop when the time budget ``budget_s`` is spent or
``should_stop()`` returns True, with the best nodes reached.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .combine import Centroid, register_centroid
from .interpolate import Scheme, Setting, register_scheme
from .optimise import Stopping, minimise_lbfgs, optimise_units
from .priors import Prior
from .validation import check_choice

#: The optimiser NAO runs with unless one is chosen, L-BFGS with the gradient in closed form.
DEFAULT_OPTIMISER = "lbfgs"
#: The NAO scheme's optimiser setting, ``"lbfgs"`` (the default) or ``"adam"`` (the official code's steps).
OPTIMISER = Setting("optimiser", "Optimiser", DEFAULT_OPTIMISER, help=(
    "Both look for the same best path from the same start. L-BFGS gets there in a few dozen iterations and usually "
    "ends on a slightly better path; Adam repeats the authors' own code, which can take thousands of iterations. "
    "Choose Adam to reproduce their baseline exactly."), choices=("lbfgs", "adam"),
    choice_labels=("L-BFGS (fast)", "Adam (as the authors' code)"))


def log_chi_density(r: torch.Tensor, dof: int) -> torch.Tensor:
    """``log f_chi(r; k) = (k - 1) log r - r^2 / 2 - (k / 2 - 1) log 2 - lgamma(k / 2)``."""
    r = r.clamp_min(1e-12)
    return (dof - 1) * torch.log(r) - 0.5 * r * r - (0.5 * dof - 1) * math.log(2.0) - math.lgamma(0.5 * dof)


def nao_path_loss(nodes: torch.Tensor, spacing: torch.Tensor) -> torch.Tensor:
    """Per-path NAO loss ``-L + penalty`` for nodes ``[B, n, D]`` (standardised) and ``spacing [B]`` = the
    allowed segment length ``2 ||a - b|| / n``."""
    seg = torch.linalg.vector_norm(nodes[:, 1:] - nodes[:, :-1], dim=-1)              # [B, n-1]
    mid = torch.linalg.vector_norm(0.5 * (nodes[:, 1:] + nodes[:, :-1]), dim=-1)
    likelihood = (seg * log_chi_density(mid, nodes.shape[-1])).sum(-1)
    penalty = torch.relu(seg - spacing[:, None]).sum(-1)
    return -likelihood + penalty


def nao_path_loss_and_grad(nodes: torch.Tensor, spacing: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`nao_path_loss` ``[B]`` and its gradient with respect to every node ``[B, n, D]``, in closed form.

    With ``d_i = x_{i+1} - x_i``, ``s_i = ||d_i||``, ``r_i = ||(x_i + x_{i+1}) / 2||`` (from
    ``r_i^2 = (2 ||x_i||^2 + 2 ||x_{i+1}||^2 - s_i^2) / 4``), ``l = log f_chi`` and ``l'(r) = (D - 1) / r - r``, the
    segment ``i`` adds ``-s_i l(r_i) + relu(s_i - eps)``, whose gradient is ``c_i d_i`` in ``d_i`` and ``e_i m_i``
    in its midpoint ``m_i``, with ``c_i = (1[s_i > eps] - l(r_i)) / s_i`` and ``e_i = -s_i l'(r_i) / r_i``. So node
    ``j`` gets ``u_{j-1} d_{j-1} - u_j d_j + (e_{j-1} + e_j) x_j / 2`` with ``u_i = c_i - e_i / 4`` (terms of
    segments that do not exist left out): a few elementwise passes over the nodes, no autograd graph.
    """
    dof = nodes.shape[-1]
    d = nodes[:, 1:] - nodes[:, :-1]                                                     # [B, n-1, D]
    s = torch.linalg.vector_norm(d, dim=-1)                                              # [B, n-1]
    q = torch.linalg.vector_norm(nodes, dim=-1).square()                                 # [B, n]
    r = (0.5 * (q[:, 1:] + q[:, :-1]) - 0.25 * s.square()).clamp_min(0.0).sqrt().clamp_min(1e-12)
    log_f = log_chi_density(r, dof)
    over = s - spacing[:, None]
    loss = (-s * log_f + torch.relu(over)).sum(-1)
    c = ((over > 0).to(s.dtype) - log_f) / s.clamp_min(torch.finfo(s.dtype).tiny)      # d_i = 0 gives 0 anyway
    e = -s * ((dof - 1) / r.square() - 1.0)
    u = c - 0.25 * e
    zero = e.new_zeros(e.shape[0], 1)
    grad = nodes * (0.5 * (torch.cat([zero, e], 1) + torch.cat([e, zero], 1)))[..., None]
    grad[:, 1:].addcmul_(d, u[..., None])
    grad[:, :-1].addcmul_(d, u[..., None], value=-1.0)
    return loss, grad


@dataclass
class NAOResult:
    """What :func:`nao_interpolate` and :func:`nao_centroid` return.

    Parameters
    ----------
    path : Tensor ``[B, n, D]``
        Flat latents of the paths, endpoints included (for a centroid, the paths from each seed to it).
    losses : Tensor ``[iterations + 1, B]``
        The loss history, the initial loss first (for a centroid, the joint loss ``[iterations + 1, 1]``).
    converged : Tensor ``[B]``
        Whether each path stopped by its own rule (bool).
    stopping
        How the optimisation ended.
    centroid : Tensor ``[*shape]`` or None
        The centroid (:func:`nao_centroid` only). Default None.
    """

    path: torch.Tensor          # [B, n, D] flat latents (for a centroid: the paths from each seed)
    losses: torch.Tensor        # [iterations + 1, B] loss history, the initial loss first
    converged: torch.Tensor     # [B] bool
    stopping: Stopping          # how the optimisation ended
    centroid: torch.Tensor | None = None

    @property
    def iterations(self) -> int:
        """The iterations run (``stopping.iterations``)."""
        return self.stopping.iterations


def nao_interpolate(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor, prior: Prior, *,
                    optimiser: str = DEFAULT_OPTIMISER, lr: float = 0.01, max_iter: int = 10_000, tol: float = 1e-3,
                    patience: int = 10, budget_s: float | None = None, should_stop=None, progress=None) -> NAOResult:
    """NAO paths between flat endpoints ``z0, z1 [B, D]`` with ``len(t)`` nodes started on the chord at ``t``;
    ``optimiser`` ``"lbfgs"`` (closed-form gradient, see :data:`OPTIMISER`) or ``"adam"`` (the official code's
    steps, learning rate ``lr``); ``budget_s`` (seconds) and ``should_stop()`` end the optimisation early with the
    best paths so far.

    This is the ``path`` of the ``nao`` scheme; :func:`~latentcore.interpolate.interpolate` checks the inputs and
    calls it.

    Parameters
    ----------
    z0, z1 : Tensor ``[B, D]``
        Flat endpoints, checked.
    t : Tensor ``[n]``
        Times in [0, 1] of the nodes, endpoints included; the optimisation starts from the chord at these times.
        With ``n <= 2`` there is nothing to optimise and the chord is returned.
    prior
        The prior; the nodes are optimised in its standardised space
        (:meth:`~latentcore.priors.Prior.standardize_flat`).
    optimiser
        ``"lbfgs"`` or ``"adam"``. Default ``"lbfgs"``.
    lr
        Adam's learning rate (``"adam"`` only). Default 0.01.
    max_iter
        The iteration limit. Default 10 000.
    tol
        A path converges once its loss has changed by less than ``tol`` for ``patience`` consecutive iterations.
        Default 1e-3.
    patience
        See ``tol``. Default 10.
    budget_s
        Seconds the optimisation may take. Default None: no limit.
    should_stop : Callable or None
        Polled once per iteration; True ends the optimisation. Default None.
    progress : Callable or None
        Called as ``progress(fraction, text)``. Default None.

    Returns
    -------
    NAOResult
        The paths ``[B, n, D]`` (unstandardised, endpoints included), the loss history, the paths that converged
        and the :class:`~latentcore.optimise.Stopping`.

    Raises
    ------
    ValueError
        When ``optimiser`` is neither ``"lbfgs"`` nor ``"adam"``.
    """
    check_choice("NAO optimiser", optimiser, OPTIMISER.choices)
    a = prior.standardize_flat(z0.reshape(-1, prior.dim)).reshape(z0.shape)
    b = prior.standardize_flat(z1.reshape(-1, prior.dim)).reshape(z1.shape)
    tt = t.to(a)
    n = tt.numel()
    chord = (1 - tt)[None, :, None] * a[:, None] + tt[None, :, None] * b[:, None]
    inner = chord[:, 1:-1].clone().requires_grad_(True)
    spacing = 2.0 * torch.linalg.vector_norm(a - b, dim=1) / n

    def assemble():
        return torch.cat([a[:, None], inner, b[:, None]], dim=1)

    def loss_and_grad():
        loss, grad = nao_path_loss_and_grad(assemble(), spacing)
        return loss, [grad[:, 1:-1].contiguous()]

    if n > 2:
        controls = dict(max_iter=max_iter, tol=tol, patience=patience, budget_s=budget_s, should_stop=should_stop,
                        progress=progress, what="NAO path")
        if optimiser == "adam":
            run = optimise_units([inner], assemble, lambda nodes, active: nao_path_loss(nodes, spacing), lr=lr,
                                 **controls)
        else:
            run = minimise_lbfgs([inner], loss_and_grad, **controls)
        losses, converged, stopping = run.history, run.converged, run.stopping
    else:
        losses = nao_path_loss(chord, spacing)[None]
        converged = torch.ones(a.shape[0], dtype=torch.bool)
        stopping = Stopping("converged", 0, 0.0, float(losses.mean()))
    nodes = assemble().detach()
    path = prior.unstandardize(nodes.reshape(-1, *prior.shape)).reshape(nodes.shape)
    return NAOResult(path, losses, converged, stopping)


def nao_centroid(latents: torch.Tensor, prior: Prior, *, optimiser: str = DEFAULT_OPTIMISER, nodes: int = 10,
                 lr: float = 0.01, max_iter: int = 10_000, tol: float = 0.01, patience: int = 5,
                 budget_s: float | None = None, should_stop=None, progress=None) -> NAOResult:
    """NAO centroid (Samuel et al., arXiv 2306.08687) of seeds ``latents [K, *shape]`` as in the official code:
    ``norm_aware_centroid_optimization`` in ``nao/norm_aware_optimization.py`` of github.com/dvirsamuel/SeedSelect,
    called from its ``main.py``.

    The centroid ``c`` and one path of ``nodes`` nodes (endpoints included) from each seed ``s_k`` to ``c`` are
    optimised together, in the prior's standardised space, minimising

        sum_k [-L(path_k) + sum_i relu(||x_{i+1} - x_i|| - eps)] - log f_chi(||c||),

    ``L`` the path's chi line integral (see :func:`nao_path_loss`). ``eps = 2 ||p1 - p2|| / n`` is fixed: the
    official code finds the centroid of two seeds ``p1, p2`` with ``n = nodes``; for K seeds ``||p1 - p2||`` is
    their mean pairwise distance (0 for one seed). ``c`` starts at the seeds' mean (``U[0, 0.01)`` noise if
    that is exactly zero); each path starts on its chord plus ``U[0, 0.01)`` noise per element, drawn from a
    generator seeded 0 so that results are reproducible. The ``optimiser`` (see :data:`OPTIMISER`; ``"adam"``:
    the official code's steps, learning rate ``lr``) runs until the loss has changed by less than ``tol`` for
    ``patience`` consecutive iterations, or ``max_iter`` iterations pass.
    (The official ``main.py`` starts ``c`` at the SLERP midpoint of its two seeds and uses 50 nodes.)

    The official stopping rule gives a typical norm but, for large D, elements that are not normal: Adam's
    near-sign steps move every element by about the same amount away from zero (D = 256, K = 4: KS p-value
    ~1e-13 after ~120 iterations). ``tol=1e-3, patience=10`` gives normal-looking elements (KS p ~0.5) at
    ~70 times the iterations. ``budget_s`` (seconds) and ``should_stop()`` end it early with the best centroid so
    far.

    Returns the paths ``[K, nodes, D]`` (seed first, centroid last) and the centroid ``[*shape]``.

    This is the ``centre`` of the ``nao`` centroid scheme; :func:`~latentcore.combine.centroid` checks the inputs
    and calls it.

    Parameters
    ----------
    latents : Tensor ``[K, *shape]``
        The seeds, checked.
    prior
        The prior; the optimisation runs in its standardised space.
    optimiser
        ``"lbfgs"`` or ``"adam"``. Default ``"lbfgs"``.
    nodes
        Nodes of each path, both ends included; at least 2. Default 10.
    lr
        Adam's learning rate (``"adam"`` only). Default 0.01.
    max_iter
        The iteration limit. Default 10 000.
    tol
        The optimisation converges once the loss has changed by less than ``tol`` for ``patience`` consecutive
        iterations. Default 0.01.
    patience
        See ``tol``. Default 5.
    budget_s
        Seconds the optimisation may take. Default None: no limit.
    should_stop : Callable or None
        Polled once per iteration; True ends the optimisation. Default None.
    progress : Callable or None
        Called as ``progress(fraction, text)``. Default None.

    Returns
    -------
    NAOResult
        The paths ``[K, nodes, D]`` in ``path``, the centroid ``[*shape]`` in ``centroid``, the loss history
        ``[iterations + 1, 1]`` and the :class:`~latentcore.optimise.Stopping`.

    Raises
    ------
    ValueError
        When ``optimiser`` is neither ``"lbfgs"`` nor ``"adam"``, or ``nodes`` is below 2.
    """
    check_choice("NAO optimiser", optimiser, OPTIMISER.choices)
    if nodes < 2:
        raise ValueError(f"each NAO centroid path needs at least 2 nodes, got {nodes}")
    seeds = prior.standardize_flat(latents.reshape(latents.shape[0], -1))
    k, dim = seeds.shape
    gen = torch.Generator().manual_seed(0)

    def jitter(*shape):  # the official code's U[0, 0.01) noise, drawn on the CPU for every device alike
        return (torch.rand(*shape, generator=gen, dtype=seeds.dtype) / 100).to(seeds.device)

    start = seeds.mean(0)
    if not bool(start.any()):  # the norm has no gradient at the origin
        start = jitter(dim)
    centre = start.clone().requires_grad_(True)
    tt = torch.linspace(0.0, 1.0, nodes, dtype=seeds.dtype, device=seeds.device)
    chords = (1 - tt)[None, :, None] * seeds[:, None] + tt[None, :, None] * start[None, None]
    inner = (chords + jitter(k, nodes, dim))[:, 1:-1].clone().requires_grad_(True)
    eps = 2.0 * (torch.pdist(seeds).mean() if k > 1 else seeds.new_zeros(())) / nodes
    spacing = eps.expand(k)

    def assemble():
        return torch.cat([seeds[:, None], inner, centre.expand(k, 1, -1)], dim=1)

    def loss(path_nodes, active):  # one unit: the centroid is shared, so the paths cannot stop one by one
        return (nao_path_loss(path_nodes, spacing).sum() - log_chi_density(path_nodes[0, -1].norm(), dim))[None]

    def loss_and_grad():  # the paths' gradients, and the centre's: its paths' last nodes' and the chi term's
        path_loss, grad = nao_path_loss_and_grad(assemble(), spacing)
        norm = centre.norm().clamp_min(1e-12)
        chi_slope = ((dim - 1) / norm - norm) / norm  # d log f_chi(||c||) / dc = chi_slope * c
        return (path_loss.sum() - log_chi_density(norm, dim))[None], [grad[:, 1:-1].contiguous(),
                                                                      grad[:, -1].sum(0) - chi_slope * centre]

    controls = dict(max_iter=max_iter, tol=tol, patience=patience, budget_s=budget_s, should_stop=should_stop,
                    progress=progress, what="NAO centroid")
    if optimiser == "adam":
        run = optimise_units([inner, centre], assemble, loss, lr=lr, **controls)
    else:
        run = minimise_lbfgs([inner, centre], loss_and_grad, **controls)
    flat = assemble().detach()
    paths = prior.unstandardize(flat.reshape(-1, *prior.shape)).reshape(flat.shape)
    c = prior.unstandardize(centre.detach().reshape(1, *prior.shape))[0]
    return NAOResult(paths, run.history, run.converged.expand(k), run.stopping, centroid=c)


#: The app caps NAO below its published 10 000 iterations so that a person waits seconds, not minutes. The
#: evaluation reproduces the published baseline step for step, with the official code's Adam (its tables were made
#: so).
INTERACTIVE_MAX_ITER = 2000

register_scheme(Scheme(
    "nao", "NAO", "Norm-aware optimisation: a path whose points have likely norms under the chi distribution, "
    "found by L-BFGS or, as in the official code, Adam (Samuel et al., arXiv 2306.08687).", nao_interpolate,
    iterative=True, settings=(OPTIMISER,), interactive={"max_iter": INTERACTIVE_MAX_ITER}, playground=False,
    evaluation={"optimiser": "adam"},
    summary="A path found step by step by an optimiser, which keeps every frame as far from the centre as the "
    "model's own samples are while keeping the steps even; it takes longer than the straight schemes."))


register_centroid(Centroid(
    "nao", "NAO centroid", "The centroid optimised jointly with one norm-aware path from "
    "each seed (Samuel et al., arXiv 2306.08687).", nao_centroid, iterative=True,
    interactive={"max_iter": INTERACTIVE_MAX_ITER}, evaluation={"optimiser": "adam"},
    summary="A centre found step by step by an optimiser, together with a path to each seed, all at the distance "
    "from the centre that the model's own samples have; it takes longer."))
