"""ri-optimal interpolation: paths that stay realistic and are short in image space.

Struski, Tabor, Podolak, Nowak, "Interpolation in generative models": the realisticity index of a curve
(Definition 2) is ``exp(-length)`` in the Riemannian metric ``log^2(ri(z)) dG^T dG`` (Theorem 1), so the best
interpolation is a geodesic of that metric. Discretised (Eq. 3), it minimises over the interior points

    E(x_1..x_{k-1}) = sum_i log^2((ri_a(x_i) + ri_a(x_{i+1})) / 2) * ||G(x_{i+1}) - G(x_i)||^2

with ``G`` the decoder (distances between decoded images) or the identity (distances in latent space), and
``ri_a = alpha * ri``. With ``alpha = 1`` a Gaussian's index is ~1 in its whole bulk, so ``log^2`` vanishes and
path length stops counting there; ``alpha`` below 1 keeps a floor on every segment's cost (default 0.9).

Where the path starts departs from the paper. Struski et al. start on the chord, whose middle has about 0.7 of the
typical norm: in high dimension a Gaussian prior almost never makes such latents (their typical-set index is ~0),
and Adam climbs out of them only slowly when every step goes through a GAN or a sampler (through digits-ddim and
digits-flow, a third of a path's interior frames were still atypical after 60 s). Here each pair starts, by
default, from the best of the closed-form paths the registry holds (linear, SLERP, LOL: every frame of LOL is
distributed as the prior) by the energy below, measured with the full decoder; ``start="chord"`` gives the paper's
start. Adam then moves the interior points, all paths of a batch at once, each stopping when its energy changes by
less than ``tol`` (relative) for ``patience`` iterations, or when the time budget is spent or a stop is requested
(then each path is the best one reached). The path returned is never worse than its start by the energy.

Through a sampler (diffusion and flow models) every iteration differentiates through all of its steps, so the loop
may decode with fewer steps (``loop_decoder``, e.g. 10 DDIM steps instead of 25). Its energy is only a stand-in:
a path it rates lower may be longer through the full sampler (measured in docs/app.md), so every ``check_every``
iterations the path is measured with the full ``decoder`` and the best one so far under it is kept, the start
included: the path returned is never worse than its start by the measure that counts.

A stop request (``should_stop``) is polled once per iteration and between the sampler steps of every decode (the
starts, one after the other; the loop's forward passes; the checks; the final measure), so that a path through a
sampler stops within a step whatever its phase (or once the backward pass under way has ended). Stopped before any
start was measured, there is no path to return: :class:`~latentcore.optimise.Stopped` is raised. Later, the path
returned is each pair's best measured so far (the start at least).

Feature-restricted interpolation (Struski, Sadowski, Danel, Tabor, Podolak, "Feature-based interpolation and
geodesics in the latent spaces of generative models", arXiv 1904.03445) replaces the density by that of
latents having a feature: an :class:`~latentcore.priors.Empirical` prior fitted to encodings of one class
(:func:`class_prior`), or the classifier's probability of the class mixed with a small epsilon
(:func:`classifier_index`), so that the path stays among images of that class. There, ``alpha = 0.5`` and
``eps = 0.01`` make leaving the class cost ~60 times more per squared step than staying in it
(``log^2(0.5 * 0.01) / log^2(0.5)``); measured in docs/ri-optimal.md.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import torch

from .interpolate import SCHEMES, Scheme, Setting, register_scheme
from .optimise import Stopped, Stopping, optimise_units, time_left
from .priors import Empirical, Prior
from .realism import Decoder, PointIndex, energy_of, path_energy, path_realism, stoppable

#: The index scale ``alpha`` of Eq. 3 unless one is chosen.
DEFAULT_ALPHA = 0.9
#: Sampler steps of the decoder in the loop for models with a sampler. Measured in docs/app.md on digits-ddim (25
#: steps). With 3, the full sampler's energy rarely fell within a minute; with 10, by about a third for 2 pairs of 3.
LOOP_STEPS = 10
#: Iterations a person waits for on a page, about 9 s for one path of 8 frames through faces-dcgan on 2 CPU cores
#: (docs/ri_optimal_models.md), where every interior frame is typical and the path is shorter than LOL's.
INTERACTIVE_MAX_ITER = 300
#: Above this many image values per frame, a sampler on a CPU takes seconds per iteration (Stable Diffusion's
#: 512x512 RGB frames, not the 16x16 digits), so a path would take hours.
CPU_SAMPLER_VALUES = 64 * 64 * 3


def slow_through(model) -> str | None:
    """Why a path through ``model`` takes minutes or more (None when it does not): a sampler over large images on
    a CPU."""
    values = math.prod(model.image_shape)
    if model.sampler is not None and model.device.type == "cpu" and values > CPU_SAMPLER_VALUES:
        return (f"every iteration differentiates through {LOOP_STEPS} sampler steps over {values:,} image values "
                "per frame, hours per path on a CPU")
    return None
#: The ri-optimal scheme's ``alpha`` setting (the index scale of Eq. 3), from 0.05 to 1.
ALPHA = Setting("alpha", "alpha (lower: shorter paths)", DEFAULT_ALPHA, 0.05, 1.0, 0.05,
                "How much a path's length counts against its realism: lower, and every step costs more, so the "
                "path stays shorter and straighter (Eq. 3 with the index scaled, ri_a = alpha ri)")
#: The index every ri-optimal path uses by default (the library, the app's pages, the evaluation). Measured by
#: bench.micro.ri_index_kind (docs/ri-optimal.md; digits-vae, 8 pairs of prior samples), with the density index the
#: paths bend towards the prior's mode (midpoint norm 2.2, typical norm 4) and the fewest frames pass the typical-set
#: test; with the typical-set index they keep the typical norm (3.9) and the frames the digits classifier is least sure
#: of are surer (0.66 against 0.47 with alpha 0.5).
DEFAULT_KIND = "typical"
#: The ri-optimal scheme's ``kind`` setting, the point index (``"typical"`` or ``"density"``).
KIND = Setting("kind", "Realisticity index", DEFAULT_KIND, help=(
    "The density index (Struski et al.'s own) is highest at the prior's mode, so a path that maximises it bends "
    "towards latents of small norm, which a Gaussian model rarely makes. The typical-set index is highest at the "
    "norms the prior's samples have, so the path keeps its frames among the latents the model was trained on."),
    choices=("typical", "density"), choice_labels=("typical set", "density"))
#: Where the optimisation starts by default. Measured by bench.figures.ri_optimal (docs/ri_optimal_models.md, 8
#: frames, 2 CPU cores), from the chord a third of the interior frames of paths through digits-ddim and digits-flow
#: were still outside the typical set after 60 s; from the best closed-form path, none on any built-in model, and
#: the paths were shorter in image space than LOL's within 10 s (faces-dcgan: 37.4 against 46.9) or 30 s
#: (digits-ddim).
DEFAULT_START = "closed-form"
#: The ri-optimal scheme's ``start`` setting, ``"closed-form"`` or ``"chord"``.
START = Setting("start", "Start from", DEFAULT_START, help=(
    "Struski et al. start on the chord (the straight line), whose middle has atypically small norm in high "
    "dimension; through a GAN or a sampler the optimiser climbs out of it only slowly. The best closed-form path "
    "(of linear, SLERP and LOL, by the same energy) is a much better start, and the path returned is never worse "
    "than it."), choices=("closed-form", "chord"), choice_labels=("best closed-form path", "chord (the paper's)"))


@dataclass
class RiOptimalResult:
    """What :func:`ri_optimal_interpolate` returns.

    Parameters
    ----------
    path : Tensor ``[B, S, D]``
        Flat latents of the paths, endpoints included.
    energies : Tensor ``[iterations + 1, B]``
        The Eq. 3 energy in the loop (with ``loop_decoder`` where one was given), the start's first.
    energy : Tensor ``[B]``
        The Eq. 3 energy of each path returned, with the full decoder.
    index : Tensor ``[B]``
        Each path's realisticity index (Definition 2, unscaled).
    point_index : Tensor ``[B, S]``
        The index of each frame.
    converged : Tensor ``[B]``
        Whether each path stopped by its own rule (bool).
    stopping
        How the optimisation ended; its ``loss`` is the mean of ``energy`` and its ``seconds`` count everything.
    start
        For each pair, the name of the scheme whose path the optimisation started from (``"linear"`` for the
        chord). Default ``()``.
    """

    path: torch.Tensor          # [B, S, D] flat latents, endpoints included
    energies: torch.Tensor      # [iterations + 1, B]: Eq. 3 energy in the loop, the start's first
    energy: torch.Tensor        # [B]: Eq. 3 energy of the path returned, with the full decoder
    index: torch.Tensor         # [B]: the path's realisticity index (Definition 2, unscaled)
    point_index: torch.Tensor   # [B, S]: the index of each frame
    converged: torch.Tensor     # [B] bool
    stopping: Stopping          # how the optimisation ended
    start: tuple[str, ...] = ()  # [B]: the path each pair's optimisation started from (a scheme's name)

    @property
    def iterations(self) -> int:
        """The iterations run (``stopping.iterations``)."""
        return self.stopping.iterations


def ri_optimal_interpolate(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor, prior: Prior, *,
                           decoder: Decoder | None = None, loop_decoder: Decoder | None = None,
                           alpha: float = DEFAULT_ALPHA, kind: str = DEFAULT_KIND, start: str = DEFAULT_START,
                           index_fn: PointIndex | None = None, lr: float | None = None, max_iter: int = 500,
                           tol: float = 1e-4, patience: int = 10, check_every: int = 25,
                           budget_s: float | None = None, should_stop=None, progress=None) -> RiOptimalResult:
    """ri-optimal paths between flat endpoints ``z0, z1 [B, D]`` with ``len(t)`` frames.

    ``start``: ``"closed-form"`` (default) measures the path of every closed-form scheme registered (linear,
    SLERP, LOL, ...) with Eq. 3 and the full ``decoder`` and starts each pair from its lowest; ``"chord"`` starts
    on the straight line, as Struski et al. do. The paper's chord start is its own worst case in high dimension:
    the chord's middle has atypically small norm, and Adam climbs out of it only slowly through a GAN or a sampler
    (see the module docstring). The path returned is never worse than its start by that energy.

    ``decoder``: None (latent distances) or a callable mapping latents to images (a model is one).
    ``loop_decoder``: the decoder inside the optimisation loop (default ``decoder``), e.g. the same sampler with
    fewer steps; then the path is measured with ``decoder`` every ``check_every`` iterations and at the end, and
    each pair's path of lowest energy under it is returned. ``kind``: the point index (``"typical"``, the
    typical-set index, or ``"density"``, the paper's). ``index_fn``: a point index replacing the prior's (see
    :func:`classifier_index`). ``lr`` defaults to 2% of the prior's mean element scale (the latents' natural
    step). ``tol`` is relative to the energy. ``budget_s`` (seconds, everything included: the starts, the loop and
    the final measure) and ``should_stop()`` end the optimisation early with the best path of each pair so far
    (``stopping.early``); a stop before any start was measured raises :class:`~latentcore.optimise.Stopped`.

    This is the ``path`` of the ``ri-optimal`` scheme; :func:`~latentcore.interpolate.interpolate` checks the inputs
    and calls it.

    Parameters
    ----------
    z0, z1 : Tensor ``[B, D]``
        Flat endpoints, checked.
    t : Tensor ``[S]``
        Times in [0, 1] of the frames, endpoints included; the starting paths are taken at these times. With
        ``S <= 2`` there is nothing to optimise and the start is returned.
    prior
        The prior of the latents, for the point index and the default ``lr``.
    decoder
        A callable from latents ``[M, *shape]`` to images, differentiable (a model is one). Default None: lengths
        in latent space.
    loop_decoder
        The decoder inside the loop. Default None: ``decoder`` itself, with no measures in between.
    alpha
        The index scale ``ri_a = alpha * ri``, in (0, 1]. Default 0.9.
    kind
        ``"typical"`` (the default) or ``"density"``.
    start
        ``"closed-form"`` (the default) or ``"chord"``.
    index_fn
        A point index replacing the prior's (e.g. :class:`ClassifierIndex`). Default None: the prior's index of
        ``kind``.
    lr
        Adam's learning rate. Default None: ``0.02 * prior.std.mean()``.
    max_iter
        The iteration limit. Default 500.
    tol
        A path converges once its energy has changed by less than ``tol`` times its previous energy for
        ``patience`` consecutive iterations. Default 1e-4.
    patience
        See ``tol``. Default 10.
    check_every
        Iterations between two measures with the full ``decoder`` (with ``loop_decoder`` only). Default 25.
    budget_s
        Seconds the whole computation may take. Default None: no limit.
    should_stop : Callable or None
        Polled once per iteration and between the sampler steps of every decode; True ends the computation.
        Default None.
    progress : Callable or None
        Called as ``progress(fraction, text)``. Default None.

    Returns
    -------
    RiOptimalResult
        The paths ``[B, S, D]``, their energies and indices, and how the optimisation ended.

    Raises
    ------
    ValueError
        When ``alpha`` is not in (0, 1], ``start`` is unknown, or ``kind`` is not a realisticity kind.
    ~latentcore.optimise.Stopped
        When a stop is requested before any starting path was measured.
    """
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"alpha must lie in (0, 1], got {alpha}")
    if start not in START.choices:
        raise ValueError(f"start must be one of {', '.join(START.choices)}, got {start!r}")
    began = time.monotonic()
    b, n = z0.shape[0], t.numel()
    step = float(lr) if lr is not None else 0.02 * float(prior.std.mean())

    def measured(paths: torch.Tensor, through=decoder):
        """Eq. 3 energy ``[P]`` and the realism of flat paths ``[P, S, D]``, one decode (no gradient)."""
        realism = path_realism(paths.reshape(len(paths), n, *prior.shape), prior=prior, decoder=through,
                               kind=kind, index_fn=_rows(index_fn, torch.arange(b).repeat(len(paths) // b), b))
        return energy_of(realism, alpha), realism

    full = stoppable(decoder, should_stop)  # measures outside the loop stop between sampler steps
    if progress is not None:
        progress(0.0, "ri-optimal path: measuring where to start")
    names, starts = _starts(z0, z1, t, prior, start)
    tick = time.monotonic()
    measures = []
    for candidate in starts:  # one after the other, so that a stop keeps the candidates measured
        try:
            measures.append(measured(candidate, full))
        except Stopped:
            if not measures:
                raise
            break
    one_measure = (time.monotonic() - tick) / len(measures)  # what the final measure will take
    energies_start = torch.stack([energy for energy, _ in measures])  # [C, B]
    best, pairs = energies_start.argmin(0), torch.arange(b)
    chosen, start_energy = torch.stack(starts[:len(measures)])[best, pairs], energies_start[best, pairs]
    start_index = torch.stack([realism.index for _, realism in measures])[best, pairs]
    start_points = torch.stack([realism.point_index for _, realism in measures])[best, pairs]
    inner = chosen[:, 1:-1].clone().requires_grad_(True)

    def assemble():
        return torch.cat([z0[:, None], inner, z1[:, None]], dim=1)

    looped = stoppable(loop_decoder or decoder, should_stop)  # a stop ends a forward pass between sampler steps

    def energy(nodes, active=None, through=looped):  # only paths still optimised are decoded
        rows = torch.arange(b, device=nodes.device) if active is None else active.nonzero().squeeze(1)
        out = torch.zeros(b, dtype=torch.float64, device=nodes.device)
        if len(rows):
            part = nodes[rows].reshape(len(rows), n, *prior.shape)
            out = out.index_put((rows,), path_energy(part, prior=prior, decoder=through, kind=kind, alpha=alpha,
                                                     index_fn=_rows(index_fn, rows, b)).reshape(len(rows)))
        return out

    kept = None
    if loop_decoder is not None:
        kept = _FullDecoderCheck(lambda nodes: measured(nodes, full), chosen, start_energy, start_index, start_points)
    run = None
    if n > 2 and not (should_stop is not None and should_stop()):  # stopped while measuring: the start is the path
        polled = should_stop
        if kept is not None:
            polls = iter(range(1, 1 << 62))

            def polled():  # called once per iteration: a chance to measure with the full decoder
                if next(polls) % check_every == 0:
                    try:
                        kept.measure(assemble().detach())
                    except Stopped:  # requested during the check: the loop ends as on any stop
                        return True
                return should_stop is not None and should_stop()

        # The final measure is inside the budget, so the loop gets what is left after it: twice the candidates' share
        # each (a batch of candidates costs less per path than one path alone), and a margin.
        reserve = (2 if kept is not None else 1) * 2.0 * one_measure + 0.02 * (budget_s or 0.0)
        loop_budget = None if budget_s is None else time_left(budget_s - reserve, began)
        try:
            run = optimise_units([inner], assemble, energy, lr=step, max_iter=max_iter, tol=tol, patience=patience,
                                 relative=True, budget_s=loop_budget, should_stop=polled, progress=progress,
                                 keep_best=kept is None, what="ri-optimal path")
        except Stopped:  # within the first energy, before any step: the start is the path
            pass
    if run is None:  # nothing to optimise, or stopped before the loop: the start, measured already
        energies = start_energy[None]
        converged = torch.full((b,), n <= 2)
        stopping = Stopping("converged" if n <= 2 else "stop", 0, 0.0, float(energies.mean()))
        path, final, index, point_index = chosen, start_energy, start_index, start_points
    elif kept is None:  # one pass of the decoder each iteration ran, so no longer than an iteration
        energies, converged, stopping = run.history, run.converged, run.stopping
        path = assemble().detach()
        final, report = measured(path)
        index, point_index = report.index, report.point_index
    else:  # each pair's best under the full decoder; a stop during this measure keeps the best measured before
        energies, converged, stopping = run.history, run.converged, run.stopping
        try:
            kept.measure(assemble().detach())
        except Stopped:
            stopping = dataclasses.replace(stopping, reason="stop")
        path, final, index, point_index = kept.path, kept.energy, kept.index, kept.point_index
    stopping = dataclasses.replace(stopping, loss=float(final.mean()), seconds=time.monotonic() - began)
    start_names = tuple(names[int(i)] for i in best)
    return RiOptimalResult(path, energies, final, index, point_index, converged, stopping, start_names)


def _starts(z0, z1, t, prior, start: str) -> tuple[list[str], list[torch.Tensor]]:
    """The candidate starting paths ``[B, S, D]`` and their names: the chord alone, or every closed-form scheme's
    path (the registry's entries that are not iterative), endpoints pinned."""
    if start == "chord":
        return ["linear"], [torch.lerp(z0[:, None], z1[:, None], t.to(z0)[None, :, None])]
    names, paths = [], []
    for name, scheme in SCHEMES.items():
        if scheme.iterative:
            continue
        path = scheme.path(z0, z1, t, prior).to(z0.dtype)
        path[:, 0], path[:, -1] = z0, z1
        names.append(name)
        paths.append(path)
    return names, paths


class _FullDecoderCheck:
    """The path of lowest energy under the full decoder among those measured, per pair, with its index and its
    frames' (see the module docstring)."""

    def __init__(self, full_measure, path: torch.Tensor, energy: torch.Tensor, index: torch.Tensor,
                 point_index: torch.Tensor):
        self.full_measure = full_measure  # paths -> (energy, PathRealism)
        self.path, self.point_index = path.detach().clone(), point_index.clone()
        self.energy, self.index = energy, index

    def measure(self, path: torch.Tensor) -> None:
        """Measure ``path`` with the full decoder and keep each pair's rows where its energy is lower."""
        energy, realism = self.full_measure(path)
        better = energy < self.energy
        self.path[better] = path[better]
        self.point_index[better] = realism.point_index[better]
        self.energy = torch.where(better, energy, self.energy)
        self.index = torch.where(better, realism.index, self.index)


def _rows(index_fn, rows: torch.Tensor, paths: int):
    """``index_fn`` for the paths ``rows`` (some of the ``paths`` paths, or several candidates for each) when it has
    per-path state, like labels."""
    if isinstance(index_fn, PointIndex) and not torch.equal(rows.cpu(), torch.arange(paths)):
        return index_fn.for_paths(rows)
    return index_fn


class ClassifierIndex(PointIndex):
    """Point index ``eps + (1 - eps) p(label | G(z))`` from a classifier of decoded images (differentiable): the
    feature-restricted density of arXiv 1904.03445 in its classifier form.

    ``labels``: one class for every latent, or one per path (``[B]``) when the index is applied to the
    ``B * S`` frames of a batch of paths, path by path.

    Parameters
    ----------
    model : latentcore.models.GenerativeModel
        The decoder ``G``; its ``decode(latents, grad=True)`` gives the images.
    classifier
        A classifier of the model's images with ``predict_proba(images, grad=True) -> [N, classes]``, e.g.
        ``latentcore.models.load_classifier()``.
    labels : int or array-like ``[B]``
        The class to stay in, one for all latents or one per path.
    eps
        The index's floor, in (0, 1). Default 0.01.

    Raises
    ------
    ValueError
        When ``eps`` is not in (0, 1).
    """

    def __init__(self, model, classifier, labels, eps: float = 0.01):
        if not 0.0 < eps < 1.0:
            raise ValueError(f"eps must lie in (0, 1), got {eps}")
        self.model, self.classifier, self.eps = model, classifier, eps
        self.labels = torch.as_tensor(labels, dtype=torch.long).reshape(-1)

    def __call__(self, latents: torch.Tensor) -> torch.Tensor:
        if latents.shape[0] % self.labels.numel():
            raise ValueError(f"{latents.shape[0]} latents cannot be split among {self.labels.numel()} paths' labels")
        wanted = self.labels.to(latents.device).repeat_interleave(latents.shape[0] // self.labels.numel())
        probs = self.classifier.predict_proba(self.model.decode(latents, grad=True), grad=True)
        return self.eps + (1.0 - self.eps) * probs.gather(1, wanted[:, None])[:, 0]

    def for_paths(self, rows: torch.Tensor) -> "ClassifierIndex":
        """The index restricted to the paths ``rows``: the same object for one label, else one with those paths'
        labels."""
        if self.labels.numel() == 1:
            return self
        return ClassifierIndex(self.model, self.classifier, self.labels[rows.cpu()], self.eps)


def classifier_index(model, classifier, labels, eps: float = 0.01) -> ClassifierIndex:
    """See :class:`ClassifierIndex`.

    Parameters
    ----------
    model : latentcore.models.GenerativeModel
        The decoder of the latents.
    classifier
        A classifier of the model's images with ``predict_proba(images, grad=True)``.
    labels : int or array-like ``[B]``
        The class to stay in, one for all latents or one per path.
    eps
        The index's floor, in (0, 1). Default 0.01.

    Returns
    -------
    ClassifierIndex
        The point index, for ``index_fn`` of :func:`ri_optimal_interpolate` (or ``path_realism``,
        ``path_energy``).

    Raises
    ------
    ValueError
        When ``eps`` is not in (0, 1).
    """
    return ClassifierIndex(model, classifier, labels, eps)


def class_prior(model, images: torch.Tensor, bandwidth: float | None = None) -> Empirical:
    """An empirical density of the latents of ``images`` (e.g. all training digits of one class) under the
    model's encoder: the feature-restricted density of arXiv 1904.03445 in its data form.

    Parameters
    ----------
    model : latentcore.models.GenerativeModel
        A model that can encode (``model.encode``).
    images : Tensor ``[N, C, H, W]``
        At least two images in [0, 1].
    bandwidth
        The kernel scale ``h`` of :class:`~latentcore.priors.Empirical`. Default None: Scott's rule.

    Returns
    -------
    Empirical
        A Gaussian kernel density estimate over the ``N`` latents (on the CPU).
    """
    return Empirical(model.encode(images).cpu(), bandwidth=bandwidth)


# Registered as "geodesic" before latentcore 1.1: workspaces saved then still find it (latentcore.registry).
register_scheme(Scheme(
    "ri-optimal", "ri-optimal", "The path of highest realisticity index: a geodesic of the metric "
    "log^2(ri) dG^T dG, found by Adam on Eq. 3 of Struski et al., 'Interpolation in generative models', with the "
    "decoder in the loop, started from the best closed-form path.",
    ri_optimal_interpolate, iterative=True, uses_decoder=True, loop_steps=LOOP_STEPS, slow_on=slow_through,
    settings=(KIND, START, ALPHA), formerly=("geodesic",),
    interactive={"max_iter": INTERACTIVE_MAX_ITER}, evaluation={"max_iter": 200},
    summary="A path found step by step by an optimiser that bends it through the most realistic latents, around "
    "regions the model rarely produces; it decodes every frame as it goes, so it is the slowest scheme."))
