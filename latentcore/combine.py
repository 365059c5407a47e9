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

from dataclasses import dataclass
from typing import Callable

import torch

from .device import as_tensor
from .optimise import check_budget
from .priors import Gaussian, Independent, Prior, StandardNormal
from .registry import BaseScheme, Registry
from .validation import check_choice, check_finite, check_latents, check_options, keyword_options, resolve_prior


def unit_weights(weights: torch.Tensor) -> torch.Tensor:
    """``w / ||w||_2`` along the last dimension ``K``, in the weights' dtype; shape unchanged.

    Each row is first divided by its largest magnitude ``max_i |w_i|`` (so its peak is exactly +-1 and its norm
    lies in ``[1, sqrt(K)]``) and then by its 2-norm: squaring tiny or huge weights would under- or overflow,
    and this way any positive rescaling of a row gives the same result to rounding, e.g. ``1e-300 * w`` in
    float64 or ``1e-30 * w`` in float32. Subnormal weights (below about 2.2e-308 in float64, 1.2e-38 in
    float32) carry fewer significant bits, so their direction is only as precise as those. A row that is
    exactly all zeros has no direction and becomes equal weights ``1 / sqrt(K)``, as in the reference package
    ``lolatents``; unlike there (which also treats rows with ``sum_i w_i^2 < 1e-10`` as zero), nonzero rows
    always keep their own direction. Rows holding NaN or infinity give NaN.
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


def lol_is_exact(prior: Prior) -> bool:
    """Whether LOL combinations of the prior's samples are distributed exactly as the prior: Gaussian priors and
    independent elements (through normal scores). Otherwise (mixtures, empirical densities) the map keeps the
    mean and covariance only."""
    return isinstance(prior, (Gaussian, Independent))


def from_lol_space(flat: torch.Tensor, prior: Prior) -> torch.Tensor:
    """The inverse of :func:`to_lol_space` (identity except for independent non-Gaussian elements)."""
    if isinstance(prior, Independent):
        return prior.from_normal_scores(flat)
    return flat


def lol_combine(latents, weights, *, prior: Prior | None = None) -> torch.Tensor:
    """LOL combination ``T(sum_i w_i x_i)`` of seeds ``latents [K, *shape]`` for weights ``[..., K]``.

    Returns ``[..., *shape]``. ``prior=None`` means a standard normal over the seeds' shape. Only the
    direction of each weight row matters (:func:`unit_weights`): tiny weights give the same latent as the same
    weights at unit scale, and an all-zero row gives the equal-weight combination (the LOL centroid,
    ``mu + sum_i (x_i - mu) / sqrt(K)`` for a Gaussian prior). Weights are normalised in float64 before they
    meet the seeds' dtype, so float64 weights of any finite scale keep their direction with float32 seeds too.
    Weights with NaN or Inf are an error.

    Parameters
    ----------
    latents : array-like ``[K, *shape]``
        The seeds ``x_1..x_K`` (at least one), finite.
    weights : array-like ``[..., K]``
        One weight per seed in the last dimension; any leading dimensions give several combinations. Moved to the
        seeds' device.
    prior
        The prior of the seeds: Gaussian priors and independent elements are combined exactly, other
        priors by the affine map with their mean (module docstring). Default None: a standard normal over
        ``latents.shape[1:]``.

    Returns
    -------
    combined : Tensor ``[..., *shape]``
        One latent per weight row, in the seeds' dtype.

    Raises
    ------
    ValueError
        When ``latents`` is not a batch of latents of the prior's shape, ``weights`` does not end in a dimension
        of size K, or either holds NaN or Inf.
    TypeError
        When ``prior`` is not a :class:`~latentcore.priors.Prior`.
    """
    latents = as_tensor(latents)
    prior = resolve_prior(prior, latents, batched=True)
    flat, _ = check_latents(latents, prior, name="seeds", batch_dims=(1,), min_count=1)
    return lol_combine_checked(flat, check_weights(weights, flat), prior)


def check_weights(weights, seeds: torch.Tensor) -> torch.Tensor:
    """``weights [..., K]`` for the K seeds ``[K, D]`` as a tensor on their device: finite, one per seed."""
    weights = as_tensor(weights, device=seeds.device)
    k = seeds.shape[0]
    if weights.dim() == 0 or weights.shape[-1] != k:
        raise ValueError(f"weights must end in a dimension of size K={k} (one per seed), got {tuple(weights.shape)}")
    check_finite(weights, "weights")
    return weights


def lol_combine_checked(seeds: torch.Tensor, weights: torch.Tensor, prior: Prior) -> torch.Tensor:
    """:func:`lol_combine` of checked seeds ``[K, D]`` and weights ``[..., K]`` (see :func:`check_weights`), for
    callers that hold checked seeds (a subspace, a centroid scheme): nothing is checked again."""
    k = seeds.shape[0]
    unit = unit_weights(weights.double().reshape(-1, k)).to(seeds.dtype)
    space, centre = to_lol_space(seeds, prior)
    if centre is None:
        out = unit @ space
    else:  # mu + sum_i w_i (x_i - mu) / ||w||
        out = torch.addmm(centre.unsqueeze(0), unit, space - centre)
    return from_lol_space(out, prior).reshape(*weights.shape[:-1], *prior.shape)


def lol_centroid(latents, prior, *, progress=None):
    """LOL with equal weights ``w_i = 1/K`` (LOL paper, section 3.2) of checked seeds ``[K, *shape]``."""
    flat = latents.reshape(len(latents), -1)
    return lol_combine_checked(flat, torch.ones(len(latents), device=flat.device), prior)


def mean_centroid(latents, prior, *, progress=None):
    """The arithmetic mean; for Gaussian seeds its norm is far below a typical one."""
    return latents.mean(0)


def rescaled_centroid(latents, prior, *, progress=None):
    """Arithmetic mean rescaled about the prior's mean to the seeds' average distance from it."""
    centre = prior.mean.to(latents)
    offsets = (latents - centre).reshape(latents.shape[0], -1)
    mean_offset = offsets.mean(0)
    length = torch.linalg.vector_norm(mean_offset)
    if float(length) == 0.0:  # no direction to rescale along: the mean is the prior's mean
        return centre.clone()
    target = torch.linalg.vector_norm(offsets, dim=1).mean()
    return centre + (mean_offset * (target / length)).reshape(prior.shape)


@dataclass(frozen=True)
class Centroid(BaseScheme):
    """One centroid scheme and its policy: ``centre(latents [K, *shape], prior, *, progress=None, **options) ->
    [*shape]``; ``iterative`` ones optimise, report progress, take ``budget_s`` and ``should_stop`` and return a
    result with the ``centroid`` and its ``stopping`` (:class:`~latentcore.optimise.Stopping`). The fields it
    shares with interpolation schemes are those of :class:`~latentcore.registry.BaseScheme`.

    Parameters
    ----------
    name
        The key in :data:`CENTROIDS`, e.g. ``"lol"``.
    label
        The name pages show.
    description
        The precise description, with the formula and the paper.
    centre
        The function computing the centroid, as above.
    in_default_selection, formerly, summary, iterative, interactive, evaluation
        As in :class:`~latentcore.registry.BaseScheme`.
    """

    #: The function computing the centroid, ``centre(latents [K, *shape], prior, *, progress=None, **options) ->
    #: [*shape]`` (for iterative schemes, a result holding it in its ``centroid``).
    centre: Callable[..., torch.Tensor]

    #: The attribute of an iterative run's result that holds the centroid.
    result_field = "centroid"

    @property
    def compute(self) -> Callable[..., torch.Tensor]:
        """:attr:`centre`."""
        return self.centre


#: The centroid schemes by name, one :class:`Centroid` each (``lol``, ``mean``, ``rescaled``, ``nao`` and any
#: registered with :func:`register_centroid`).
CENTROIDS: Registry[Centroid] = Registry("centroid scheme")


def register_centroid(scheme: Centroid, *, replace: bool = False) -> Centroid:
    """Add a centroid scheme to :data:`CENTROIDS` (a taken name is an error unless ``replace``); the app and the
    evaluation list whatever it holds.

    Parameters
    ----------
    scheme
        The centroid scheme; its ``name`` is the key.
    replace
        Replace the scheme registered under the same name. Default False.

    Returns
    -------
    Centroid
        ``scheme`` itself.

    Raises
    ------
    ValueError
        When the name is taken and ``replace`` is False, or a former name clashes (see
        :meth:`~latentcore.registry.Registry.register`).
    """
    return CENTROIDS.register(scheme, replace=replace)


register_centroid(Centroid("lol", "LOL centroid", "Equal weights through the "
                           "LOL map: distributed exactly as the prior for Gaussian seeds.", lol_centroid,
                           in_default_selection=True, summary="The centre of the seeds, moved to the distance from "
                           "the centre that the model's own samples have: it should look like a fresh sample."))
register_centroid(Centroid("mean", "Arithmetic mean", "The plain average; for Gaussian seeds its norm is "
                           "atypically small.", mean_centroid, in_default_selection=True,
                           summary="The plain average of the seeds. It often looks faded or blurred: an average "
                           "lies much closer to the centre of the latent space than the model's own samples."))
register_centroid(Centroid("rescaled", "Rescaled mean", "The average, moved along its "
                           "direction to the seeds' average distance from the prior's mean.", rescaled_centroid,
                           in_default_selection=True, summary="The average, pushed back out to the seeds' own "
                           "distance from the centre."))


def centroid(latents, *, scheme: str = "lol", prior: Prior | None = None, progress=None,
             budget_s: float | None = None, should_stop=None, return_stopping: bool = False, **options):
    """The centroid ``[*shape]`` of seeds ``latents [K, *shape]`` by one of :data:`CENTROIDS`.

    ``options`` go to the scheme (an option it does not take is an error); iterative schemes report
    ``progress(fraction, text)`` and stop early, with the best centroid reached, once ``budget_s`` seconds have
    passed or ``should_stop()`` returns True. With ``return_stopping``, returns ``(centroid, stopping)``
    (:class:`~latentcore.optimise.Stopping`, None for closed-form schemes).

    Parameters
    ----------
    latents : array-like ``[K, *shape]``
        The seeds (at least one), finite.
    scheme
        The name of a scheme in :data:`CENTROIDS`. Default ``"lol"``.
    prior
        The prior of the seeds. Default None: a standard normal over ``latents.shape[1:]``.
    progress : Callable or None
        Called as ``progress(fraction, text)`` by iterative schemes. Default None.
    budget_s
        Seconds an iterative scheme may take (positive and finite). Default None: no limit.
    should_stop : Callable or None
        ``should_stop()`` is polled by iterative schemes; True ends them. Default None.
    return_stopping
        Also return how the optimisation ended. Default False.
    **options
        The scheme's own keyword options (those of its ``centre`` function), e.g. NAO's ``max_iter``.

    Returns
    -------
    centroid : Tensor ``[*shape]``
        The centroid.
    stopping : Stopping or None
        Only with ``return_stopping``: how the optimisation ended, None for closed-form schemes.

    Raises
    ------
    ValueError
        When the scheme is unknown or takes no option of ``options``, ``budget_s`` is not a positive number, or
        ``latents`` is not a batch of finite latents of the prior's shape.
    TypeError
        When ``prior`` is not a :class:`~latentcore.priors.Prior`.
    """
    spec = CENTROIDS[check_choice("centroid scheme", scheme, CENTROIDS)]
    latents = as_tensor(latents)
    prior = resolve_prior(prior, latents, batched=True)
    check_latents(latents, prior, name="seeds", batch_dims=(1,), min_count=1)
    check_options(f"the centroid scheme {scheme!r}", options, keyword_options(spec.centre))
    centre, stopping = spec.run(latents, prior, progress=progress, budget_s=check_budget(budget_s),
                                should_stop=should_stop, **options)
    return (centre, stopping) if return_stopping else centre
