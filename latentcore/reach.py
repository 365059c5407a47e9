"""How far images are from what a model can make: the reconstruction error of an inversion against the typical
error of inverting the model's own samples by the same method with the same settings.

The reference: ``samples`` latents drawn from the prior, decoded, and inverted as the user's images are
(:func:`latentcore.invert.invert`); their mean squared errors are the errors of images the model certainly can
make. An image's verdict, with ``p95`` the reference errors' 95th percentile:

- ``typical``: ``mse <= p95``;
- ``unusual``: ``p95 < mse <= threshold``, where ``threshold = max(margin * p95, floor)``: not clearly out of
  reach (a pixel error cannot tell a smooth colour blob that a face GAN reproduces from a face);
- ``far``: ``mse > threshold``: far from what the model can make; its latent decodes to an image of the model's
  kind, not to this one.

The ``floor`` (default the MSE of a 20 dB PSNR) is there because optimisation reconstructs a model's own samples
almost exactly (PSNR above 40 dB on ``digits-vae``), while real images of the training domain, which the model
approximates but never makes exactly, land at 20 to 30 dB: without it every real digit would be "far". The README
gives the measured rates for held-out digits and for photographs.

References are cached per model, device, method, decode options and settings; one cut short by its time budget
(a large model on a CPU) only for that budget, since it would come out the same again; one cut short by a stop
request never.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .invert import default_method, invert
from .validation import check_int

REFERENCE_IMAGES = 32  # the model's own images (decoded prior samples) whose inversion errors are the reference
REFERENCE_SEED = 20_000  # the reference latents' seed; their restarts use the next one
DEFAULT_MARGIN = 4.0
FLOOR_PSNR_DB = 20.0
VERDICTS = ("typical", "unusual", "far")
_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 32


@dataclass(frozen=True)
class TypicalError:
    """The reconstruction errors ``errors [n]`` (sorted MSEs) of ``n`` of the model's own samples inverted by
    ``method``, how that inversion ended (``stopped_by``, see :class:`~latentcore.invert.Inversion`) and took
    ``seconds``, and the verdict's ``margin`` and ``floor`` (an MSE)."""

    model: str
    method: str
    errors: np.ndarray
    stopped_by: str
    seconds: float
    margin: float = DEFAULT_MARGIN
    floor: float = 10.0 ** (-FLOOR_PSNR_DB / 10.0)

    @property
    def complete(self) -> bool:
        """Whether the reference inversion ran to its end (not cut short by a budget or a stop request)."""
        return self.stopped_by in ("encoded", "converged", "max_iter")

    @property
    def median(self) -> float:
        return float(np.median(self.errors))

    @property
    def p95(self) -> float:
        return float(np.quantile(self.errors, 0.95))

    @property
    def threshold(self) -> float:
        """The error above which an image is ``far``: ``max(margin * p95, floor)``."""
        return max(self.margin * self.p95, self.floor)

    def verdicts(self, mse) -> np.ndarray:
        """``typical``, ``unusual`` or ``far`` for each error in ``mse [N]``."""
        mse = np.asarray(mse, dtype=np.float64)
        return np.where(mse <= self.p95, "typical", np.where(mse <= self.threshold, "unusual", "far"))

    def describe(self, mse) -> list[str]:
        """One sentence per error in ``mse [N]`` saying what its verdict means."""
        typical = f"the model's own samples (95th percentile {self.p95:.2g})"
        out = []
        for error, verdict in zip(np.asarray(mse, dtype=np.float64), self.verdicts(mse)):
            if verdict == "typical":
                out.append(f"Within the typical error of {typical}.")
            elif verdict == "unusual":
                out.append(f"Above the typical error of {typical}, but within {self.threshold:.2g}: not clearly "
                           f"out of {self.model}'s reach; compare the reconstruction with the image.")
            else:
                times = error / max(self.p95, 1e-12)
                out.append(f"Far from what {self.model} can make: the error is {times:,.0f} times the typical error "
                           f"of {typical}. The latent decodes to an image of the model's own kind, not to this "
                           "picture.")
        return out


def typical_error(model, *, method: str | None = None, decoding=None,
                  samples: int = REFERENCE_IMAGES, seed: int = REFERENCE_SEED, margin: float = DEFAULT_MARGIN,
                  floor_psnr_db: float = FLOOR_PSNR_DB, budget_s: float | None = None,
                  should_stop: Callable[[], bool] | None = None, progress=None, **settings) -> TypicalError:
    """:class:`TypicalError` of ``model``: ``samples`` prior latents drawn with ``seed``, decoded with ``decoding``
    (the model's :class:`~latentcore.models.Decoding`, default its defaults) and inverted by ``method`` (default
    :func:`~latentcore.invert.default_method`) with the optimisation ``settings`` of
    :func:`~latentcore.invert.invert` (``max_iter``, ``lr``, ``restarts``, ``prior_weight``, ``tol``,
    ``patience``; restarts drawn with ``seed + 1``). ``budget_s``, ``should_stop`` and ``progress`` bound
    and report the reference inversion; a stop while the samples are decoded, or while the model's own inverse runs,
    raises :class:`~latentcore.optimise.Stopped` (there is no reference yet). Cached (see the module's docstring)."""
    samples = check_int("samples", samples, 2)
    if not (math.isfinite(margin) and margin >= 1.0):
        raise ValueError(f"margin must be a number >= 1, got {margin!r}")
    unknown = sorted(set(settings) - {"max_iter", "lr", "restarts", "prior_weight", "tol", "patience"})
    if unknown:
        raise ValueError(f"typical_error takes no setting {', '.join(unknown)}; its settings: max_iter, lr, "
                         "restarts, prior_weight, tol, patience")
    method = default_method(model) if method is None else method
    decoding = model.resolve_decoding(decoding)
    key = (model.key, str(model.device), method, decoding, samples, seed, repr(sorted(settings.items())))
    found = next((_CACHE[k] for k in (key, (key, budget_s)) if k in _CACHE), None)
    if found is None:
        start = time.monotonic()
        latents = model.prior.sample(samples, seed=seed, device=model.device)
        images = model.decode(latents, decoding, should_stop=should_stop)
        result = invert(model, images, method=method, decoding=decoding, seed=seed + 1, budget_s=budget_s,
                        should_stop=should_stop, progress=progress, **settings)
        found = TypicalError(model.name, method, np.sort(result.mse), result.stopped_by, time.monotonic() - start)
        if found.complete or found.stopped_by == "budget":
            _CACHE[key if found.complete else (key, budget_s)] = found
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    return TypicalError(found.model, found.method, found.errors, found.stopped_by, found.seconds, margin,
                        10.0 ** (-floor_psnr_db / 10.0))
