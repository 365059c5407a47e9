"""LOL: linear combinations of latents that keep the prior's distribution, and centroids.

Bodin et al., "Linear combinations of latents in generative models: subspaces and beyond" (arXiv 2408.08558).
For seeds ``x_1..x_K ~ N(mu, Sigma)`` and weights ``w`` with ``alpha = sum w_i``, ``beta = sum w_i^2``, the map

    T(y) = (1 - alpha / sqrt(beta)) mu + y / sqrt(beta) = mu + sum_i w_i (x_i - mu) / ||w||_2,   y = sum_i w_i x_i

sends ``y ~ N(alpha mu, beta Sigma)`` exactly to ``N(mu, Sigma)`` and is the W2-optimal (Monge) map between
them (paper, Lemmas 4 and 5). ``T`` ignores positive rescaling of ``w``; weights summing to zero are fine; all-zero
weights have no direction and are replaced by equal weights, as the reference implementation (``lolatents``) does.

Independent non-Gaussian elements (paper, appendix A): each element goes to a standard normal score
``u = Phi^-1(F(x))``, the Gaussian map with ``mu = 0`` combines the scores, and ``F^-1(Phi(.))`` maps back.
For mu = 0 this is the distribution-matching map of Agustsson et al. (arXiv 1711.01970).

Other priors (mixtures, empirical): the affine map with the prior's mean. It keeps the mean and covariance of
i.i.d. seeds exactly (the derivation of Lemma 4 uses only the first two moments) but not the full distribution.
"""

from __future__ import annotations

from typing import Callable

import torch

from .device import as_tensor
from .priors import Independent, Prior, StandardNormal


def unit_weights(weights: torch.Tensor) -> torch.Tensor:
    """``w / ||w||_2`` along the last dimension, all-zero rows replaced by ``1 / sqrt(K)``.

    The largest magnitude is divided out first so that tiny or huge weights do not under- or overflow.
    """
    peak = weights.abs().amax(-1, keepdim=True)
    zero = peak == 0
    scaled = torch.where(zero, torch.ones_like(weights), weights / torch.where(zero, torch.ones_like(peak), peak))
    return scaled / torch.linalg.vector_norm(scaled, dim=-1, keepdim=True)


def to_lol_space(flat: torch.Tensor, prior: Prior) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Flat latents ``[M, D]`` in the space where LOL is affine, and that space's centre (None for zero)."""
    if isinstance(prior, Independent):
        return prior.to_normal_scores(flat.reshape(-1, *prior.shape)).reshape(flat.shape), None
    if isinstance(prior, StandardNormal):
        return flat, None
    return flat, prior.mean.reshape(-1).to(flat)


def from_lol_space(flat: torch.Tensor, prior: Prior) -> torch.Tensor:
    """The inverse of :func:`to_lol_space` (identity except for independent non-Gaussian elements)."""
    if isinstance(prior, Independent):
        return prior.from_normal_scores(flat)
    return flat


def lol_combine(latents, weights, prior: Prior | None = None) -> torch.Tensor:
    """LOL combination ``T(sum_i w_i x_i)`` of seeds ``latents [K, *shape]`` for weights ``[..., K]``.

    Returns ``[..., *shape]``. ``prior=None`` means a standard normal over the seeds' shape.
    """
    latents = as_tensor(latents)
    prior = prior or StandardNormal(latents.shape[1:])
    flat, batch = prior.flatten(latents)
    if len(batch) != 1:
        raise ValueError(f"seeds must be shaped [K, {', '.join(map(str, prior.shape))}], got {tuple(latents.shape)}")
    weights = as_tensor(weights, device=flat.device).to(flat.dtype)
    k = flat.shape[0]
    if weights.dim() == 0 or weights.shape[-1] != k:
        raise ValueError(f"weights must end in a dimension of size K={k} (one per seed), got {tuple(weights.shape)}")
    unit = unit_weights(weights.reshape(-1, k))
    space, centre = to_lol_space(flat, prior)
    if centre is None:
        out = unit @ space
    else:  # mu + sum_i w_i (x_i - mu) / ||w||
        out = torch.addmm(centre.unsqueeze(0), unit, space - centre)
    return from_lol_space(out, prior).reshape(*weights.shape[:-1], *prior.shape)


def _centroid_lol(latents, prior, **_):
    return lol_combine(latents, torch.ones(latents.shape[0]), prior)


def _centroid_mean(latents, prior, **_):
    return latents.mean(0)


def _centroid_rescaled(latents, prior, **_):
    """Arithmetic mean rescaled about the prior's mean to the seeds' average distance from it."""
    centre = prior.mean.to(latents)
    offsets = (latents - centre).reshape(latents.shape[0], -1)
    mean_offset = offsets.mean(0)
    length = torch.linalg.vector_norm(mean_offset)
    if float(length) == 0.0:  # no direction to rescale along: the mean is the prior's mean
        return centre.clone()
    target = torch.linalg.vector_norm(offsets, dim=1).mean()
    return centre + (mean_offset * (target / length)).reshape(prior.shape)


def _centroid_nao(latents, prior, progress=None, **options):
    from .nao import nao_centroid

    return nao_centroid(latents, prior, progress=progress, **options).centroid


# name -> (label, function(latents [K, *shape], prior, progress=None, **options) -> [*shape])
CENTROIDS: dict[str, tuple[str, Callable[..., torch.Tensor]]] = {
    "lol": ("LOL centroid (equal weights through the LOL map)", _centroid_lol),
    "mean": ("Arithmetic mean", _centroid_mean),
    "rescaled": ("Mean rescaled to the seeds' average norm", _centroid_rescaled),
    "nao": ("NAO centroid (norm-aware optimisation)", _centroid_nao),
}


def centroid(latents, scheme: str = "lol", prior: Prior | None = None, progress=None, **options) -> torch.Tensor:
    """The centroid ``[*shape]`` of seeds ``latents [K, *shape]`` by one of :data:`CENTROIDS`.

    ``lol`` uses ``w_i = 1/K`` (LOL paper, section 3.2); ``nao`` optimises the centroid jointly with one
    norm-aware path from each seed (Samuel et al., arXiv 2306.08687) and accepts ``progress(fraction, text)``.
    """
    latents = as_tensor(latents)
    if scheme not in CENTROIDS:
        raise ValueError(f"unknown centroid scheme {scheme!r}; choose one of {', '.join(CENTROIDS)}")
    prior = prior or StandardNormal(latents.shape[1:])
    _, batch = prior.flatten(latents)
    if len(batch) != 1 or batch[0] < 1:
        raise ValueError(f"centroid needs seeds shaped [K, *shape] with K >= 1, got {tuple(latents.shape)}")
    return CENTROIDS[scheme][1](latents, prior, progress=progress, **options)
