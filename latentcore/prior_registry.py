"""The one registry of prior families, :data:`PRIORS`: the built-in models' configs name their prior here, the
geometry playground lists the 2-D ones, and the tests check every entry. Adding a family is one
:func:`register_prior` call.

- ``standard-normal``: ``N(0, I)``.
- ``semicircle``: the three-Gaussian horseshoe of Struski, Tabor, Podolak, Nowak, "Interpolation in generative
  models", section 6 (any D >= 2; D = 2 is the planar horseshoe).
- ``ring``, ``two-moons``: 2-D kernel density estimates of a noisy circle and of scikit-learn's ``make_moons``
  (generated, not downloaded), for the playground.
- ``uniform`` (unit variance), ``logistic``, ``laplace``: independent elements (LOL paper, appendix A).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import scipy.stats
import torch

from .priors import Empirical, GaussianMixture, Independent, Prior, StandardNormal
from .registry import Entry, Registry


@dataclass(frozen=True)
class PriorFamily(Entry):
    """One family of priors: ``build(shape) -> Prior``. ``dims``: the latent sizes D it is defined for (None:
    any). ``playground``: drawn by the geometry playground, which needs D = 2. ``in_default_selection``: the
    playground's prior until one is chosen.

    Parameters
    ----------
    name
        The key in :data:`PRIORS`, e.g. ``"semicircle"``.
    label
        The name pages show.
    description
        One or two sentences on the family.
    build
        ``build(shape)`` returns the prior over latents of ``shape`` (a tuple of ints).
    dims
        The numbers of elements D the family is defined for. Default None: any.
    playground
        Whether the geometry playground draws it (it needs D = 2). Default False.
    in_default_selection
        Whether it is the playground's prior until one is chosen. Default False.
    formerly
        Names the family was registered under before. Default ``()``.
    """

    #: The name pages show.
    label: str
    #: One or two sentences on the family.
    description: str
    #: ``build(shape)`` returns the prior over latents of ``shape`` (a tuple of ints).
    build: Callable[[tuple[int, ...]], Prior]
    #: The numbers of elements D the family is defined for (None for any).
    dims: tuple[int, ...] | None = None
    #: Whether the geometry playground draws it (it needs D = 2).
    playground: bool = False

    def make(self, shape) -> Prior:
        """The prior over latents of ``shape`` (an int is a flat latent).

        Parameters
        ----------
        shape : int or tuple of int
            The latent shape.

        Returns
        -------
        Prior
            The family's prior over latents of that shape.

        Raises
        ------
        ValueError
            When the family is not defined for latents of that many elements (:attr:`dims`).
        """
        shape = (int(shape),) if isinstance(shape, int) else tuple(int(s) for s in shape)
        if self.dims is not None and math.prod(shape) not in self.dims:
            raise ValueError(f"the {self.name} prior is defined for latents of {' or '.join(map(str, self.dims))} "
                             f"elements, not {shape}")
        return self.build(shape)


#: The prior families by name, one :class:`PriorFamily` each (module docstring; more with :func:`register_prior`).
PRIORS: Registry[PriorFamily] = Registry("prior family")


def register_prior(family: PriorFamily, *, replace: bool = False) -> PriorFamily:
    """Add a prior family to :data:`PRIORS` (a taken name is an error unless ``replace``).

    Parameters
    ----------
    family
        The family; its ``name`` is the key.
    replace
        Replace the family registered under the same name. Default False.

    Returns
    -------
    PriorFamily
        ``family`` itself.

    Raises
    ------
    ValueError
        When the name is taken and ``replace`` is False, or a former name clashes (see
        :meth:`~latentcore.registry.Registry.register`).
    """
    return PRIORS.register(family, replace=replace)


def make_prior(name: str, shape) -> Prior:
    """The prior of family ``name`` over latents of ``shape``.

    Parameters
    ----------
    name
        A key of :data:`PRIORS`, e.g. ``"standard-normal"``.
    shape : int or tuple of int
        The latent shape; an int is a flat latent of that many elements.

    Returns
    -------
    Prior
        The family's prior over latents of ``shape`` (:meth:`PriorFamily.make`).

    Raises
    ------
    ValueError
        When ``name`` is not a registered family, or the family is not defined for that many elements.
    """
    if name not in PRIORS:
        raise ValueError(f"unknown prior {name!r}; choose one of {', '.join(PRIORS)}")
    return PRIORS[name].make(shape)


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


register_prior(PriorFamily("standard-normal", "Standard normal", "N(0, I): the prior of most GANs, VAEs and of "
                           "diffusion models' x_T.", StandardNormal))
register_prior(PriorFamily(
    "semicircle", "Semicircle", "Three Gaussians forming a horseshoe in the first two coordinates (Struski et al., "
    "section 6): a straight line between its tips crosses the empty middle.",
    lambda shape: GaussianMixture.semicircle(math.prod(shape)), dims=tuple(range(2, 4097)), playground=True,
    in_default_selection=True))
register_prior(PriorFamily("ring", "Ring", "A noisy circle of radius 4: every straight line through the middle "
                           "leaves the density.", lambda shape: ring_prior(), dims=(2,), playground=True))
register_prior(PriorFamily("two-moons", "Two moons", "scikit-learn's two interleaving half circles.",
                           lambda shape: two_moons_prior(), dims=(2,), playground=True))
register_prior(PriorFamily("uniform", "Uniform elements", "Independent uniform elements with unit variance.",
                           lambda shape: Independent(shape, scipy.stats.uniform(-math.sqrt(3), 2 * math.sqrt(3)))))
register_prior(PriorFamily("logistic", "Logistic elements", "Independent standard logistic elements.",
                           lambda shape: Independent(shape, scipy.stats.logistic())))
register_prior(PriorFamily("laplace", "Laplace elements", "Independent standard Laplace elements.",
                           lambda shape: Independent(shape, scipy.stats.laplace())))
