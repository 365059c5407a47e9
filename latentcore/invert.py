"""Images into latents: a model's own inverse (a VAE's encoder, DDIM inversion) or inversion by optimisation for
any differentiable one-pass decoder (GANs, VAEs), optionally refining the encoder's latent.

Inversion by optimisation (as in Creswell & Bharath, "Inverting the Generator of a Generative Adversarial
Network", arXiv 1611.05644) minimises, for a target image ``x`` with ``P`` pixel values and the decoder ``G``, ::

    L(z) = ||G(z) - x||^2 / P  +  prior_weight * max(|q(z)| - 2, 0)^2,    q(z) = (||s(z)||^2 - D) / sqrt(2 D)

with Adam, where ``s`` is the prior's standardisation (:meth:`~latentcore.priors.Prior.standardize`: whitening
for Gaussians, normal scores for independent elements, the moments otherwise) and ``D`` the latent's dimension.
The second term is a typical-set penalty: for a Gaussian prior ``||s(z)||^2`` is the squared Mahalanobis norm,
chi-square with D degrees of freedom (mean D, variance 2D) under the prior, so ``-q`` is the z-score of
``log p(z)`` about its mean ``E[log p]`` (``log p(z) - E[log p] = -(||s(z)||^2 - D) / 2``). The penalty is zero
in the band ``|q| <= 2`` that holds about 95% of the prior's samples, so it leaves the inversion of the model's own
images alone and stops others from drifting to norms that no sample has (measured in docs/inversion.md: without it,
held-out digits inverted into ``digits-vae`` get atypical norms). Bodin et al., "Linear combinations of latents in
generative models: subspaces and beyond" (arXiv 2408.08558) warn that inverted latents are often atypical; the
term restrains the norm only, so the normality tests of :mod:`latentcore.diagnostics` can still reject an
inverted latent.

Each image is inverted from ``restarts`` starts drawn from the prior (the first one the encoder's latent when
refining), all images times restarts optimised as one batch, each unit stopping when its loss settles
(:func:`~latentcore.optimise.optimise_units`); the lowest loss each unit reached is kept, and per image the
restart with the lowest loss.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from .optimise import check_budget, optimise_units, time_left
from .priors import Prior
from .validation import check_choice, check_finite, check_int

#: The inversion methods by key, with their generic labels (:func:`inversion_methods` names the model's own inverse).
METHODS = {
    "encoder": "The model's own inverse",
    "optimise": "Optimisation from prior samples",
    "refine": "The model's own inverse, refined by optimisation",
}
#: The default weight of the typical-set penalty in the inversion's loss (:func:`invert`'s ``prior_weight``).
DEFAULT_PRIOR_WEIGHT = 1e-2
#: The bound on ``|q|`` within which the typical-set penalty is zero (module docstring).
TYPICAL_BAND = 2.0
#: The default limit on Adam iterations of an inversion by optimisation (:func:`invert`'s ``max_iter``).
DEFAULT_MAX_ITER = 300
#: The default number of starts per image of an inversion by optimisation (:func:`invert`'s ``restarts``).
DEFAULT_RESTARTS = 4
#: The PSNR in dB of a perfect reconstruction, instead of infinity; no PSNR exceeds it.
PSNR_CAP_DB = 100.0


@dataclass
class Inversion:
    """The result of :func:`invert`: the latents of ``N`` images, their reconstructions and errors, and how the
    inversion ended.

    Whether the images are within the model's reach: :meth:`latentcore.reach.TypicalError.verdicts` of this
    inversion (pixel error, edge mismatch and the images' own detail and flatness against the model's own samples).

    Attributes
    ----------
    latents : Tensor ``[N, *latent_shape]``
        The latent of each image (for an optimisation, the restart with the lowest loss), detached.
    reconstructions : Tensor ``[N, C, H, W]``
        The latents decoded again (without gradients).
    targets : Tensor ``[N, C, H, W]``
        The images as the model sees them (resized, channels matched; ``model.prepare_images``).
    mse : ndarray ``[N]``
        The mean squared error of each reconstruction against its target, float64.
    psnr : ndarray ``[N]``
        ``10 log10(1 / mse)`` dB per image, at most :data:`PSNR_CAP_DB`.
    restart : ndarray ``[N]``
        The restart that won for each image (0 for the model's own inverse).
    iterations
        The Adam iterations run (0 for the model's own inverse).
    stopped_by
        Why the optimisation stopped: ``converged``, ``max_iter``, ``budget``, ``stop``; ``encoded`` when no
        optimisation ran.
    method
        The method used, a key of :func:`inversion_methods`.
    seconds
        The time taken, decoding the reconstructions included.
    """

    latents: torch.Tensor
    reconstructions: torch.Tensor
    targets: torch.Tensor
    mse: np.ndarray
    psnr: np.ndarray
    restart: np.ndarray
    iterations: int
    stopped_by: str
    method: str
    seconds: float

    @property
    def message(self) -> str:
        """One sentence on how the inversion ended."""
        if self.stopped_by == "encoded":
            return f"Inverted in {self.seconds:.1f} s by the model's own inverse."
        ended = {"converged": "the loss of every image settled",
                 "max_iter": "the iteration limit was reached",
                 "budget": "the time budget was spent; these are the best latents found so far",
                 "stop": "a stop was requested; these are the best latents found so far"}[self.stopped_by]
        return f"Optimised for {self.iterations} iterations in {self.seconds:.1f} s: {ended}."


def inversion_methods(model) -> dict[str, str]:
    """The inversion methods that suit ``model``, by key, with labels: its own inverse where it has one (a
    VAE's encoder, DDIM inversion), optimisation where its decoder is one differentiable pass (no sampler), and
    both together where it has both.

    Parameters
    ----------
    model : ~latentcore.models.GenerativeModel
        The model to invert images into.

    Returns
    -------
    dict[str, str]
        Of ``encoder``, ``optimise`` and ``refine`` (see :data:`METHODS`), those that suit the model, in that
        order, each with a label that names the model's own inverse (e.g. ``"DDIM inversion"``). Empty for a
        model with neither.
    """
    own = model.can_encode
    one_pass = model.sampler is None
    labels = {"encoder": _own_inverse(model), "optimise": METHODS["optimise"],
              "refine": f"{_own_inverse(model)}, refined by optimisation"}
    offered = [k for k, ok in (("encoder", own), ("optimise", one_pass), ("refine", own and one_pass)) if ok]
    return {k: labels[k] for k in offered}


def default_method(model) -> str:
    """The model's own inverse where it has one (fast), otherwise optimisation.

    Parameters
    ----------
    model : ~latentcore.models.GenerativeModel
        The model to invert images into.

    Returns
    -------
    str
        The first key of :func:`inversion_methods`: ``encoder`` or ``optimise``.

    Raises
    ------
    ValueError
        When the model has no encoder and decodes with a sampler, so that no method suits it.
    """
    methods = inversion_methods(model)
    if not methods:
        raise ValueError(f"{model.name} has no encoder and decodes with a sampler, so images cannot be turned into "
                         "its latents")
    return next(iter(methods))


def _own_inverse(model) -> str:
    return {"diffusion": "DDIM inversion", "flow": "ODE inversion"}.get(model.kind, "The model's encoder")


def typicality_penalty(latents: torch.Tensor, prior: Prior) -> torch.Tensor:
    """``max(|q| - 2, 0)^2`` per latent ``[N]`` for latents ``[N, *shape]``, with ``q = (||s(z)||^2 - D) /
    sqrt(2 D)`` the z-score of the (standardised) squared norm (see the module's docstring)."""
    d = prior.dim
    squared = prior.standardize_flat(latents.reshape(len(latents), -1)).pow(2).sum(1)
    return torch.relu(((squared - d) / math.sqrt(2.0 * d)).abs() - TYPICAL_BAND).pow(2)


def invert(model, images, *, method: str | None = None, decoding=None,
           max_iter: int = DEFAULT_MAX_ITER, lr: float | None = None, restarts: int = DEFAULT_RESTARTS,
           prior_weight: float = DEFAULT_PRIOR_WEIGHT, tol: float = 1e-6, patience: int = 20, seed: int = 0,
           budget_s: float | None = None, should_stop: Callable[[], bool] | None = None,
           progress=None) -> Inversion:
    """:class:`Inversion` of images ``[N, C, H, W]`` in [0, 1] (or a list of such of any sizes; resized and
    converted by ``model.prepare_images``).

    The optimisation settings apply to ``optimise`` and ``refine``; a unit stops when its loss changes by less
    than ``tol`` for ``patience`` iterations. ``budget_s`` and ``should_stop()`` end the optimisation early with
    the best latents so far. The model's own inverse (DDIM or ODE inversion runs a sampler) has no partial result:
    it polls ``should_stop`` between its steps and raises :class:`~latentcore.optimise.Stopped`.

    Parameters
    ----------
    model : ~latentcore.models.GenerativeModel
        The model to invert into.
    images : Tensor ``[N, C, H, W]`` in [0, 1], or a list of images of any sizes
        The images; resized and their channels matched to the model's (``model.prepare_images``).
    method
        A key of :func:`inversion_methods` (default :func:`default_method`).
    decoding : ~latentcore.models.Decoding or None
        The model's decoding for the decodes and the model's own inverse (default its defaults).
    max_iter
        At most this many Adam iterations, at least 0. Default :data:`DEFAULT_MAX_ITER`.
    lr
        Adam's learning rate (default 20% of the prior's mean element scale).
    restarts
        Starts per image, at least 1, drawn from the prior with ``seed`` (``refine``: the encoder's latent and
        ``restarts - 1`` prior samples). Default :data:`DEFAULT_RESTARTS`.
    prior_weight
        The weight of the typical-set penalty (module docstring), a finite number >= 0. Default
        :data:`DEFAULT_PRIOR_WEIGHT`.
    tol
        A unit stops when its loss changes by less than this (in MSE units; 1e-6 is invisible) for ``patience``
        iterations; a finite number >= 0. Default 1e-6.
    patience
        Iterations of settled loss after which a unit stops. Default 20.
    seed
        Seed of the prior samples the restarts start from. Default 0.
    budget_s
        Seconds for the whole call, a positive number; default None: no bound.
    should_stop
        Polled as the inversion runs; returning True ends it (see above). Default None: never.
    progress
        Called as ``progress(fraction, text)`` as the optimisation advances, with an estimate of the time left.

    Returns
    -------
    :class:`Inversion`
        The latents, reconstructions, errors and how the inversion ended.

    Raises
    ------
    ValueError
        When the method does not suit the model (or none does), for a setting out of range, or when the decoder
        gives no finite loss for some images (try a smaller learning rate).
    ~latentcore.optimise.Stopped
        When ``should_stop()`` returns True while the model's own inverse runs (``encoder``, and the start of
        ``refine``) or while the ``encoder`` method's reconstructions are decoded.
    """
    decoding = model.resolve_decoding(decoding)
    method = default_method(model) if method is None else check_choice("inversion method", method,
                                                                       inversion_methods(model))
    max_iter = check_int("max_iter", max_iter, 0)
    restarts = check_int("restarts", restarts, 1)
    for name, value in (("prior_weight", prior_weight), ("tol", tol)):
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    budget_s = check_budget(budget_s)
    start = time.monotonic()
    targets = model.prepare_images(images)
    if method == "encoder":
        latents = model.encode(targets, decoding, should_stop=should_stop)
        return _report(model, targets, latents, torch.zeros(len(targets), dtype=torch.long), 0, "encoded", method,
                       decoding, start, should_stop)
    prior = model.prior
    n = len(targets)
    starts = prior.sample(n * restarts, seed=seed, device=model.device).reshape(n, restarts, *prior.shape)
    if method == "refine":
        starts[:, 0] = model.encode(targets, decoding, should_stop=should_stop)
    z = starts.reshape(n * restarts, *prior.shape).float().contiguous().requires_grad_(True)
    goal = targets.repeat_interleave(restarts, dim=0)
    decoder = model.decoder(decoding)

    def loss_fn(latents, active):
        rows = torch.arange(len(latents), device=latents.device) if active is None else active.nonzero()[:, 0]
        part = latents[rows]
        mse = (decoder(part) - goal[rows]).pow(2).flatten(1).mean(1)
        loss = mse + prior_weight * typicality_penalty(part, prior)
        return torch.zeros(len(latents), device=latents.device).index_put((rows,), loss)

    step = float(lr) if lr is not None else 0.2 * float(prior.std.mean())
    run = optimise_units([z], lambda: z, loss_fn, lr=step, max_iter=max_iter, tol=tol, patience=patience,
                         budget_s=time_left(budget_s, start), should_stop=should_stop, keep_best=True,
                         progress=progress, what="Inversion")  # each unit's best, whatever Adam did afterwards
    iterations, stopped_by, best_loss, best = run.stopping.iterations, run.stopping.reason, run.lowest, z.detach()
    if not bool(torch.isfinite(best_loss).all()):
        raise ValueError(f"inverting into {model.name} gave no finite loss for some images (the decoder returned "
                         "NaN or Inf); try a smaller learning rate")
    winner = best_loss.reshape(n, restarts).argmin(1)
    latents = best.reshape(n, restarts, *prior.shape)[torch.arange(n), winner]
    return _report(model, targets, latents, winner, iterations, stopped_by, method, decoding, start)


def _report(model, targets, latents, winner, iterations, stopped_by, method, decoding, start,
            should_stop=None) -> Inversion:
    """The :class:`Inversion` of ``latents``, decoded again (polling ``should_stop``: given where there is nothing
    to lose, the model's own inverse; an optimisation's best latents are decoded, in one pass, whatever)."""
    check_finite(latents, f"latents inverted into {model.name}")
    reconstructions = model.decode(latents, decoding, should_stop=should_stop)
    mse = (reconstructions - targets).pow(2).flatten(1).mean(1).double().cpu().numpy()
    psnr = np.minimum(10.0 * np.log10(1.0 / np.maximum(mse, 10.0 ** (-PSNR_CAP_DB / 10.0))), PSNR_CAP_DB)
    return Inversion(latents.detach(), reconstructions, targets, mse, psnr, winner.cpu().numpy(), iterations,
                     stopped_by, method, time.monotonic() - start)
