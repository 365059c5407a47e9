"""Images into latents: a model's own inverse (a VAE's encoder, DDIM inversion) or inversion by optimisation for
any differentiable one-pass decoder (GANs, VAEs), optionally refining the encoder's latent.

Inversion by optimisation (as in Creswell & Bharath, "Inverting the Generator of a Generative Adversarial
Network", arXiv 1611.05644) minimises, for a target image ``x`` with ``P`` pixel values and the decoder ``G``,

    L(z) = ||G(z) - x||^2 / P  +  prior_weight * max(|q(z)| - 2, 0)^2,    q(z) = (||s(z)||^2 - D) / sqrt(2 D)

with Adam, where ``s`` is the prior's standardisation (:meth:`~latentcore.priors.Prior.standardize`: whitening
for Gaussians, normal scores for independent elements, the moments otherwise) and ``D`` the latent's dimension.
The second term is a typical-set penalty: for a Gaussian prior ``||s(z)||^2`` is the squared Mahalanobis norm,
chi-square with D degrees of freedom (mean D, variance 2D) under the prior, so ``-q`` is the z-score of
``log p(z)`` about its mean ``E[log p]`` (``log p(z) - E[log p] = -(||s(z)||^2 - D) / 2``). The penalty is zero
in the band ``|q| <= 2`` that holds about 95% of the prior's samples, so it leaves the inversion of the model's own
images alone and stops others from drifting to norms that no sample has (measured in the README: without it,
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

METHODS = {
    "encoder": "The model's own inverse",
    "optimise": "Optimisation from prior samples",
    "refine": "The model's own inverse, refined by optimisation",
}
DEFAULT_PRIOR_WEIGHT = 1e-2
TYPICAL_BAND = 2.0  # |q| within which the penalty is zero
DEFAULT_MAX_ITER = 300
DEFAULT_RESTARTS = 4
PSNR_CAP_DB = 100.0  # the PSNR of a perfect reconstruction, instead of infinity


@dataclass
class Inversion:
    """The latents ``[N, *latent_shape]`` of ``N`` images, their ``reconstructions`` ``[N, C, H, W]`` (decoded
    again, without gradients) and ``targets`` (the images as the model sees them: resized, channels matched), the
    mean squared error ``mse [N]`` and ``psnr [N]`` (``10 log10(1 / mse)`` dB, at most :data:`PSNR_CAP_DB`) per
    image, the ``restart [N]`` that won (0 for the model's own inverse), the Adam ``iterations`` and why the
    optimisation stopped (``stopped_by``: ``converged``, ``max_iter``, ``budget``, ``stop``; ``encoded`` when
    no optimisation ran), the ``method`` and the ``seconds`` taken. Whether the images are within the model's
    reach: :meth:`latentcore.reach.TypicalError.verdicts` of this inversion (pixel error, edge mismatch and the
    images' own detail and flatness against the model's own samples)."""

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
    both together where it has both."""
    own = model.can_encode
    one_pass = model.sampler is None
    labels = {"encoder": _own_inverse(model), "optimise": METHODS["optimise"],
              "refine": f"{_own_inverse(model)}, refined by optimisation"}
    offered = [k for k, ok in (("encoder", own), ("optimise", one_pass), ("refine", own and one_pass)) if ok]
    return {k: labels[k] for k in offered}


def default_method(model) -> str:
    """The model's own inverse where it has one (fast), otherwise optimisation."""
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

    ``method``: a key of :func:`inversion_methods` (default :func:`default_method`). ``decoding``: the model's
    :class:`~latentcore.models.Decoding` (default its defaults). The optimisation settings apply to
    ``optimise`` and ``refine``: at most ``max_iter`` Adam iterations at learning rate ``lr`` (default 20% of the
    prior's mean element scale), ``restarts`` starts per image (``refine``: the encoder's latent and
    ``restarts - 1`` prior samples) drawn with ``seed``, the penalty's ``prior_weight``; a unit stops when its
    loss changes by less than ``tol`` (in MSE units; 1e-6 is invisible) for ``patience`` iterations.
    ``budget_s`` (seconds for the whole call) and ``should_stop()`` end the optimisation early with the best
    latents so far; ``progress(fraction, text)`` reports it with an estimate of the time left. The model's own
    inverse (DDIM or ODE inversion runs a sampler) has no partial result: it polls ``should_stop`` between its steps
    and raises :class:`~latentcore.optimise.Stopped`.
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
