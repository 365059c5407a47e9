"""Realisticity index of latents and of paths, and the path energy of ri-optimal interpolation.

Struski, Tabor, Podolak, Nowak, "Interpolation in generative models" (preprint, Jagiellonian University; developed
further in arXiv 1904.03445): Definitions 1 and 2 and Eq. 3.

Point index (Definition 1): ``ri(z; f) = P(f(X) <= f(z))`` for ``X ~ f``.

- Gaussian ``N(mu, Sigma)``: ``f(X) <= f(z)`` iff the squared Mahalanobis norm of X is at least that of z, so
  ``ri(z) = 1 - F_chi2_D(m^2(z))``, closed form (section 3, "case of the normal density").
- Any prior with ``log_prob``: ``n`` (5000) reference samples ``w_j`` give ``l_j = log f(w_j)``; with the
  Silverman bandwidth ``h = (4 / (3n))^(1/5) std(l)``, ``ri(z) ~ (1/n) sum_j Phi((log f(z) - l_j) / h)``.
  The reference log-densities are computed once per prior object and cached.
- ``kind="typical"``: the two-sided tail probability ``2 min(G, 1 - G)`` of the same statistic (for a Gaussian
  the chi-square p-value of the squared norm). The density index is ~1 anywhere inside the Gaussian ball, so it
  rates a linear midpoint (small norm) as perfectly realistic; the typical-set index does not.
- ``alpha``: the scaled index ``ri_a = alpha * ri`` with ``0 < alpha <= 1`` (section 3).

Path index (Definition 2, discretised) for frames ``x_0..x_k`` and decoder ``G`` (identity when None):
``ri(path) = exp(-sum_i -log r_i * ||G(x_{i+1}) - G(x_i)||)`` with ``r_i = (ri_a(x_i) + ri_a(x_{i+1})) / 2``,
the same segment average as the energy (Eq. 3): ``E = sum_i log^2(r_i) * ||G(x_{i+1}) - G(x_i)||^2``.
Point indices are floored at ``RI_FLOOR`` inside logarithms so that an index of 0 gives a huge, finite cost.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Callable

import torch

from .optimise import check_stop
from .priors import Gaussian, Prior

#: The kinds of realisticity index, ``"density"`` (Definition 1) and ``"typical"`` (the typical-set index).
INDEX_KINDS = ("density", "typical")
#: The reference samples of a prior without a closed-form index.
REFERENCE_SAMPLES = 5000
#: Point indices are floored at this inside logarithms, so that an index of 0 gives a huge, finite cost.
RI_FLOOR = 1e-12

#: A decoder for path lengths, latents ``[M, *shape] -> images`` (any shape per latent); differentiable for
#: optimisation.
Decoder = Callable[[torch.Tensor], torch.Tensor]


def stoppable(decoder: Decoder | None, should_stop: Callable[[], bool] | None) -> Decoder | None:
    """``decoder`` polling ``should_stop`` and raising :class:`~latentcore.optimise.Stopped` when it returns True:
    a model's decoder (its ``stoppable`` method) before each chunk and sampler step, any other callable before
    each call. For measures outside an optimisation loop, which has no result to return until it ends."""
    if decoder is None or should_stop is None:
        return decoder
    own = getattr(decoder, "stoppable", None)
    return own(should_stop) if callable(own) else _Polled(decoder, should_stop)


class _Polled:
    """A decoder that polls ``should_stop`` before each call (see :func:`stoppable`)."""

    def __init__(self, decoder: Decoder, should_stop: Callable[[], bool]):
        self.decoder, self.should_stop = decoder, should_stop

    def __call__(self, latents: torch.Tensor) -> torch.Tensor:
        check_stop(self.should_stop)
        return self.decoder(latents)


class PointIndex:
    """A point index replacing the prior's in path realism and energies: ``index(latents [M, *shape]) -> [M]``
    in [0, 1], differentiable. One with per-path state (such as one class label per path) returns itself
    restricted to some paths from :meth:`for_paths`, which the optimiser calls when only those paths are left.

    A subclass implements ``__call__``; the base class takes no parameters.
    """

    def __call__(self, latents: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def for_paths(self, rows: torch.Tensor) -> "PointIndex":
        """The index for the paths ``rows`` only (their indices among the paths of the batch); the same object
        for an index without per-path state.

        Parameters
        ----------
        rows : Tensor ``[P]``
            Indices of the paths still optimised (or candidates, several per path), into the batch of paths.

        Returns
        -------
        PointIndex
            An index for the frames of those paths only, path by path.
        """
        return self


_reference_cache: "weakref.WeakKeyDictionary[Prior, torch.Tensor]" = weakref.WeakKeyDictionary()


def reference_log_probs(prior: Prior, n: int = REFERENCE_SAMPLES) -> torch.Tensor:
    """``log f(w_j)`` of ``n`` fixed-seed samples of the prior (float64, CPU), cached per prior object."""
    cached = _reference_cache.get(prior)
    if cached is None or cached.numel() != n:
        samples = prior.sample(n, seed=0, device="cpu")
        cached = prior.log_prob(samples).double()
        if not bool(torch.isfinite(cached).all()):
            raise ValueError("the prior gave non-finite log-densities for its own samples")
        _reference_cache[prior] = cached
    return cached


def _check(kind: str, alpha: float):
    if kind not in INDEX_KINDS:
        raise ValueError(f"unknown realisticity kind {kind!r}; choose one of {', '.join(INDEX_KINDS)}")
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"alpha scales the index and must lie in (0, 1], got {alpha}")


def log_density_cdf(log_f: torch.Tensor, reference: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    """Kernel estimate ``G(l) = (1/n) sum_j Phi((l - l_j) / h)`` of the CDF of ``log f(X)`` (Silverman ``h``)."""
    reference = reference.to(log_f.device)
    n = reference.numel()
    h = (4.0 / (3.0 * n)) ** 0.2 * float(reference.std())
    h = h if h > 0 else 1e-12
    flat = log_f.reshape(-1)
    parts = [torch.special.ndtr((p[:, None] - reference[None, :]) / h).mean(1) for p in flat.split(chunk)]
    return (torch.cat(parts) if parts else flat.new_zeros(0)).reshape(log_f.shape)


def realisticity_index(z, *, prior: Prior, kind: str = "density", alpha: float = 1.0,
                       samples: int = REFERENCE_SAMPLES) -> torch.Tensor:
    """Realisticity index in [0, 1] of each latent of ``z [..., *shape]`` under ``prior``; shape ``[...]``.

    Differentiable in ``z`` (used as the density term of ri-optimal paths). Returned in float64.

    Parameters
    ----------
    z : array-like ``[..., *shape]``
        The latents.
    prior
        Their prior; Gaussian priors have a closed form, others use ``samples`` reference samples.
    kind
        ``"density"`` (Definition 1, the default) or ``"typical"`` (the two-sided typical-set
        index).
    alpha
        The scale of the index, in (0, 1]. Default 1.
    samples
        Reference samples of a prior without a closed form (drawn with seed 0 and cached per prior).
        Default 5000.

    Returns
    -------
    Tensor ``[...]``
        ``alpha`` times the index of each latent, clamped to [0, 1], in float64.

    Raises
    ------
    ValueError
        When ``kind`` is unknown, ``alpha`` is not in (0, 1], ``z`` does not fit the prior, or the prior gives
        non-finite log-densities for its own samples.
    """
    _check(kind, alpha)
    if isinstance(prior, Gaussian):
        half_m2 = 0.5 * prior.mahalanobis_sq(z).double()
        half_d = torch.full_like(half_m2, 0.5 * prior.dim)
        upper = torch.special.gammaincc(half_d, half_m2)        # 1 - F_chi2_D(m^2)
        if kind == "density":
            ri = upper
        else:
            ri = 2.0 * torch.minimum(upper, torch.special.gammainc(half_d, half_m2))
    else:
        below = log_density_cdf(prior.log_prob(z).double(), reference_log_probs(prior, samples))
        ri = below if kind == "density" else 2.0 * torch.minimum(below, 1.0 - below)
    return (alpha * ri).clamp(0.0, 1.0)


def _decoded(path_flat: torch.Tensor, batch: tuple[int, ...], prior: Prior, decoder) -> torch.Tensor:
    """Frames as flat vectors ``[B, S, F]``: decoded images, or the latents themselves when decoder is None."""
    if decoder is None:
        return path_flat.reshape(*batch, -1)
    return decoder(path_flat.reshape(-1, *prior.shape)).reshape(*batch, -1)


def _path_terms(path, prior: Prior, decoder, kind: str, alpha: float, index_fn=None):
    _check(kind, alpha)
    flat, batch = prior.flatten(path)
    if len(batch) not in (1, 2) or batch[-1] < 2:
        raise ValueError(f"a path is [S, *shape] or [B, S, *shape] with S >= 2 frames, got {tuple(path.shape)}")
    single = len(batch) == 1
    batch = (1, *batch) if single else batch
    latents = flat.reshape(-1, *prior.shape)
    if index_fn is None:
        points = realisticity_index(latents, prior=prior, kind=kind, alpha=alpha)
    else:
        points = alpha * index_fn(latents).double().clamp(0.0, 1.0)
    points = points.reshape(batch)
    frames = _decoded(flat, batch, prior, decoder)
    lengths = torch.linalg.vector_norm(frames[:, 1:] - frames[:, :-1], dim=-1).double()
    log_segment = torch.log((0.5 * (points[:, 1:] + points[:, :-1])).clamp_min(RI_FLOOR))
    return single, points, lengths, log_segment


@dataclass
class PathRealism:
    """What :func:`path_realism` returns, for ``B`` paths of ``S`` frames (without the batch dimension for one
    path).

    Parameters
    ----------
    index : Tensor ``[B]``
        Each path's realisticity index ``exp(-sum_i -log r_i * length_i)`` (float64).
    point_index : Tensor ``[B, S]``
        The scaled index ``ri_a`` of each frame.
    lengths : Tensor ``[B, S - 1]``
        The segment lengths ``||G(x_{i+1}) - G(x_i)||``.
    """

    index: torch.Tensor          # [B] (or scalar for one path): exp(-sum_i -log r_i * length_i)
    point_index: torch.Tensor    # [B, S] (or [S]): ri_a of each frame
    lengths: torch.Tensor        # [B, S-1] (or [S-1]): ||G(x_{i+1}) - G(x_i)||


def path_realism(path, *, prior: Prior, decoder: Decoder | None = None, kind: str = "density", alpha: float = 1.0,
                 index_fn: PointIndex | Callable | None = None) -> PathRealism:
    """Realisticity index of discretised paths ``[S, *shape]`` or ``[B, S, *shape]`` (Definition 2).

    ``decoder``: None measures lengths in latent space; a callable from latents ``[M, *shape]`` to images (a
    model is one) measures them between decoded images.
    ``index_fn(latents [M, *shape]) -> [M]`` in [0, 1] replaces the prior's point index (feature-restricted
    densities, see :mod:`latentcore.ri_optimal`).

    Computed without gradients.

    Parameters
    ----------
    path : array-like ``[S, *shape]`` or ``[B, S, *shape]``
        One path or a batch of paths, at least 2 frames each.
    prior
        The prior of the latents.
    decoder
        A callable from latents to images. Default None: lengths in latent space.
    kind
        ``"density"`` (the default) or ``"typical"``; ignored with ``index_fn``.
    alpha
        The index scale ``ri_a = alpha * ri``, in (0, 1]. Default 1.
    index_fn
        A point index replacing the prior's. Default None: the prior's index of ``kind``.

    Returns
    -------
    PathRealism
        The paths' indices ``[B]``, their frames' indices ``[B, S]`` and segment lengths ``[B, S - 1]`` (without
        the batch dimension for one path).

    Raises
    ------
    ValueError
        When ``kind`` is unknown, ``alpha`` is not in (0, 1], or ``path`` is not one or a batch of paths of at
        least 2 frames of the prior's shape.
    """
    with torch.no_grad():
        single, points, lengths, log_segment = _path_terms(path, prior, decoder, kind, alpha, index_fn)
        index = torch.exp((log_segment * lengths).sum(-1))
    if single:
        return PathRealism(index[0], points[0], lengths[0])
    return PathRealism(index, points, lengths)


def energy_of(realism: PathRealism, alpha: float = 0.9) -> torch.Tensor:
    """The Eq. 3 energy ``sum_i log^2(r_i) ||G(x_{i+1}) - G(x_i)||^2`` of paths already measured by
    :func:`path_realism` (with its default ``alpha = 1``), for the index scale ``alpha``: the energy and the index
    from one decode."""
    _check("density", alpha)
    points = (alpha * realism.point_index).clamp(0.0, 1.0)
    log_segment = torch.log((0.5 * (points[..., 1:] + points[..., :-1])).clamp_min(RI_FLOOR))
    return (log_segment.pow(2) * realism.lengths.pow(2)).sum(-1)


def path_energy(path, *, prior: Prior, decoder: Decoder | None = None, kind: str = "density", alpha: float = 0.9,
                index_fn: PointIndex | Callable | None = None) -> torch.Tensor:
    """Discretised energy of Eq. 3, ``sum_i log^2(r_i) ||G(x_{i+1}) - G(x_i)||^2``, per path.

    Differentiable in ``path`` (and through ``decoder`` when it is). ``alpha < 1`` keeps ``log r_i`` away from 0
    inside the high-density region, so short paths there still cost something (the paper's scaled index).
    ``index_fn`` as in :func:`path_realism`.

    Parameters
    ----------
    path : Tensor ``[S, *shape]`` or ``[B, S, *shape]``
        One path or a batch of paths, at least 2 frames each.
    prior
        The prior of the latents.
    decoder
        A callable from latents ``[M, *shape]`` to images; None (the default) measures lengths in
        latent space.
    kind
        ``"density"`` (the default) or ``"typical"``; ignored with ``index_fn``.
    alpha
        The index scale ``ri_a = alpha * ri``, in (0, 1]. Default 0.9.
    index_fn
        A point index replacing the prior's. Default None.

    Returns
    -------
    Tensor ``[B]`` or scalar
        The energy of each path (float64), a scalar for one path.

    Raises
    ------
    ValueError
        As :func:`path_realism`.
    """
    single, _, lengths, log_segment = _path_terms(path, prior, decoder, kind, alpha, index_fn)
    energy = (log_segment.pow(2) * lengths.pow(2)).sum(-1)
    return energy[0] if single else energy


__all__ = ["INDEX_KINDS", "RI_FLOOR", "Decoder", "stoppable", "PointIndex", "realisticity_index", "path_realism",
           "path_energy", "energy_of", "PathRealism", "reference_log_probs", "log_density_cdf"]
