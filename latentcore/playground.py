"""The geometry playground: two-dimensional priors where one can see why linear paths cross low-density regions
and what ri-optimal paths do instead (paper 003, Figure 1). The decoder is the identity.

``PLAYGROUND_PRIORS`` holds the semicircle's first two coordinates (paper 003 section 6), a ring, and two moons
(scikit-learn's ``make_moons``, generated, not downloaded) as kernel density estimates.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from .priors import Empirical, GaussianMixture, Prior


def ring_prior(radius: float = 4.0, width: float = 0.5, n: int = 2000, seed: int = 0) -> Empirical:
    """A KDE of ``n`` points on a circle of ``radius`` with Gaussian radial noise of std ``width``."""
    gen = torch.Generator().manual_seed(seed)
    angle = 2 * math.pi * torch.rand(n, generator=gen)
    r = radius + width * torch.randn(n, generator=gen)
    return Empirical(torch.stack([r * torch.cos(angle), r * torch.sin(angle)], dim=1))


def two_moons_prior(scale: float = 3.0, noise: float = 0.08, n: int = 2000, seed: int = 0) -> Empirical:
    """A KDE of scikit-learn's two interleaving half circles, centred and scaled by ``scale``."""
    from sklearn.datasets import make_moons

    points, _ = make_moons(n_samples=n, noise=noise, random_state=seed)
    points = torch.tensor(points, dtype=torch.float32)
    return Empirical(scale * (points - points.mean(0)))


PLAYGROUND_PRIORS: dict[str, Callable[[], Prior]] = {
    "semicircle": lambda: GaussianMixture.semicircle(2),
    "ring": ring_prior,
    "two-moons": two_moons_prior,
}


def density_grid(prior: Prior, xlim: tuple[float, float], ylim: tuple[float, float], n: int = 120):
    """The density of a 2-D prior on an ``n x n`` grid: ``xs [n]``, ``ys [n]``, ``density [n (y), n (x)]``."""
    if prior.shape != (2,):
        raise ValueError(f"the playground draws 2-D priors; this one has latent shape {prior.shape}")
    xs = torch.linspace(float(xlim[0]), float(xlim[1]), n)
    ys = torch.linspace(float(ylim[0]), float(ylim[1]), n)
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)          # [n (y), n (x), 2]
    with torch.no_grad():
        density = prior.log_prob(grid).exp()
    return xs, ys, density
