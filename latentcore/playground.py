"""The geometry playground: two-dimensional priors where one can see why linear paths cross low-density regions
and what ri-optimal paths do instead (Struski, Tabor, Podolak, Nowak, "Interpolation in generative models",
Figure 1). The decoder is the identity. The priors are the 2-D families of :data:`~latentcore.prior_registry.PRIORS`
(``playground=True``); the schemes, those of :data:`~latentcore.SCHEMES` with ``playground=True``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from .ri_optimal import ALPHA  # the index scale of every path here, the ri-optimal scheme's setting
from .interpolate import SCHEMES, interpolate
from .optimise import time_left
from .prior_registry import PRIORS
from .priors import Prior
from .realism import path_realism


def playground_priors() -> list[str]:
    """Names of the prior families the playground draws (``playground=True`` in
    :data:`~latentcore.prior_registry.PRIORS`).

    Returns
    -------
    list of str
        The names, in registration order.
    """
    return [name for name, family in PRIORS.items() if family.playground]


def playground_schemes() -> list[str]:
    """Names of the interpolation schemes meaningful on a 2-D prior without a decoder.

    Returns
    -------
    list of str
        The names of the schemes of :data:`~latentcore.interpolate.SCHEMES` with ``playground=True``, in
        registration order.
    """
    return [name for name, scheme in SCHEMES.items() if scheme.playground]


def density_grid(prior: Prior, xlim: tuple[float, float], ylim: tuple[float, float], n: int = 120):
    """The density of a 2-D prior on an ``n x n`` grid: ``xs [n]``, ``ys [n]``, ``density [n (y), n (x)]``.

    Parameters
    ----------
    prior
        A prior over latents of shape ``(2,)``.
    xlim
        The range ``(low, high)`` of the first coordinate.
    ylim
        The range ``(low, high)`` of the second coordinate.
    n
        Grid points per axis. Default 120.

    Returns
    -------
    xs : Tensor ``[n]``
        The first coordinates, evenly spaced over ``xlim``.
    ys : Tensor ``[n]``
        The second coordinates, evenly spaced over ``ylim``.
    density : Tensor ``[n, n]``
        ``exp(log_prob)`` at each grid point, row ``i`` at ``ys[i]``, column ``j`` at ``xs[j]``.

    Raises
    ------
    ValueError
        When the prior's latent shape is not ``(2,)``.
    """
    if prior.shape != (2,):
        raise ValueError(f"the playground draws 2-D priors; this one has latent shape {prior.shape}")
    xs = torch.linspace(float(xlim[0]), float(xlim[1]), n)
    ys = torch.linspace(float(ylim[0]), float(ylim[1]), n)
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)          # [n (y), n (x), 2]
    with torch.no_grad():
        density = prior.log_prob(grid).exp()
    return xs, ys, density


def view_box(prior: Prior, margin: float = 0.2, samples: int = 4000,
             min_width_ratio: float = 1.0) -> tuple[tuple[float, float], tuple[float, float]]:
    """Axis limits that hold 99% of the prior's mass in each coordinate, widened by ``margin`` of the span; then,
    where the box is narrower than ``min_width_ratio`` times its height, widened sideways about its centre to that
    (a page is wider than tall: a tall prior such as the semicircle, drawn at equal scales, fills a square rather
    than a narrow strip).

    Parameters
    ----------
    prior
        A prior over latents of shape ``(2,)``.
    margin
        The fraction of the span added on either side. Default 0.2.
    samples
        Samples (seed 0) whose 0.5% and 99.5% quantiles bound the box. Default 4000.
    min_width_ratio
        The least width of the box relative to its height. Default 1.

    Returns
    -------
    xlim, ylim : tuple of float
        The ranges ``(low, high)`` of the first and second coordinate.
    """
    points = prior.sample(samples, seed=0).cpu()
    low, high = torch.quantile(points, 0.005, dim=0), torch.quantile(points, 0.995, dim=0)
    pad = margin * (high - low)
    low, high = low - pad, high + pad
    width, height = float(high[0] - low[0]), float(high[1] - low[1])
    extra = max(min_width_ratio * height - width, 0.0) / 2
    return (float(low[0]) - extra, float(high[0]) + extra), (float(low[1]), float(high[1]))


def default_endpoints(prior: Prior, samples: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Two likely points far apart (the most distant pair among the likelier half of ``samples`` draws, seed 0):
    on the semicircle its two tips, on the ring opposite sides, so the straight line crosses the empty middle.

    Parameters
    ----------
    prior
        A prior over latents of shape ``(2,)``.
    samples
        The draws to choose from. Default 256.

    Returns
    -------
    start, end : Tensor ``[2]``
        The two points, on the CPU.
    """
    points = prior.sample(samples, seed=0).cpu()
    log_p = prior.log_prob(points).cpu()
    likely = points[log_p >= log_p.median()]
    far = torch.cdist(likely, likely).argmax()
    return likely[far // len(likely)], likely[far % len(likely)]


@dataclass
class PlaygroundPath:
    """One scheme's path in :func:`playground_paths`.

    Parameters
    ----------
    path : Tensor ``[S, 2]``
        The points of the path, endpoints included.
    point_index : Tensor ``[S]``
        The realisticity index of each point (the ``kind`` asked for, unscaled).
    index
        The path's realisticity index (Definition 2 of Struski et al.) with the scaled index ``alpha * ri``.
    length
        The Euclidean length of the path (the decoder is the identity).
    """

    path: torch.Tensor          # [S, 2]
    point_index: torch.Tensor   # [S]: realisticity index of each point (density kind, unscaled)
    index: float                # the path's realisticity index (Definition 2 of Struski et al.) with the scaled index
    length: float               # Euclidean length (the decoder is the identity)


def playground_paths(prior: Prior, start, end, frames: int = 32, alpha: float = ALPHA.default,
                     schemes=None, kind: str = "density", budget_s: float | None = None, should_stop=None,
                     progress=None) -> dict[str, PlaygroundPath]:
    """Each scheme's path (default: :func:`playground_schemes`) from ``start`` to ``end`` (points ``[2]``) over a
    2-D prior, with its realisticity.

    Schemes run with their interactive options; those with ``alpha`` and ``kind`` settings (the ri-optimal path,
    Eq. 3) get ``alpha`` and the index ``kind`` (default the density index the playground maps, Struski et al.'s
    own), and every path's index ``exp(sum_i log((ri_a(x_i) + ri_a(x_{i+1})) / 2) ||x_{i+1} - x_i||)`` uses the
    same, so the optimised path is the one it ranks best. ``budget_s`` (seconds, for all the
    schemes together) and ``should_stop()`` cut iterative schemes short with their best paths so far.

    Parameters
    ----------
    prior
        A prior over latents of shape ``(2,)``.
    start : array-like ``[2]``
        The first point of every path.
    end : array-like ``[2]``
        The last point of every path.
    frames
        Points of each path, endpoints included. Default 32.
    alpha
        The index scale, in (0, 1]. Default that of the ri-optimal scheme's ``alpha`` setting (0.9).
    schemes : list of str or None
        Names of schemes in :data:`~latentcore.interpolate.SCHEMES`. Default None: :func:`playground_schemes`.
    kind
        ``"density"`` (the default) or ``"typical"``.
    budget_s
        Seconds all the schemes together may take. Default None: no limit.
    should_stop : Callable or None
        Polled by iterative schemes; True cuts them short. Default None.
    progress : Callable or None
        Called as ``progress(fraction, text)`` by iterative schemes. Default None.

    Returns
    -------
    dict
        A :class:`PlaygroundPath` for each scheme, by name, in the order of ``schemes``.

    Raises
    ------
    ValueError
        When the prior or the endpoints are not 2-D, or a scheme is unknown.
    """
    start, end = torch.as_tensor(start, dtype=torch.float32), torch.as_tensor(end, dtype=torch.float32)
    if prior.shape != (2,) or start.shape != (2,) or end.shape != (2,):
        raise ValueError(f"the playground joins two 2-D points over a 2-D prior; got points {tuple(start.shape)} "
                         f"and {tuple(end.shape)} over a prior of shape {prior.shape}")
    result, began = {}, time.monotonic()
    for name in playground_schemes() if schemes is None else schemes:
        scheme = SCHEMES[name]
        settings = {s.name for s in scheme.settings}
        chosen = {k: v for k, v in (("alpha", alpha), ("kind", kind)) if k in settings}
        options = scheme.options(context="interactive", **chosen)
        path = interpolate(start, end, frames, scheme=name, prior=prior, progress=progress,
                           budget_s=time_left(budget_s, began), should_stop=should_stop, **options).cpu()
        scaled = path_realism(path, prior=prior, alpha=alpha, kind=kind)
        result[name] = PlaygroundPath(path=path, point_index=path_realism(path, prior=prior, kind=kind).point_index,
                                      index=float(scaled.index), length=float(scaled.lengths.sum()))
    return result
