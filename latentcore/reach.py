"""How far images are from what a model can make: the inversion of an image (:func:`latentcore.invert.invert`)
measured against the inversion of the model's own samples by the same method with the same settings.

The reference: ``samples`` latents drawn from the prior, decoded, and inverted as the user's images are; those
images certainly are of the model's kind, so their measures are what an image within the model's reach gets. Four
measures per image ``x`` with reconstruction ``r`` (``d_h``, ``d_v``: differences of horizontally and vertically
neighbouring pixels, every channel):

- the pixel error ``mse = mean (r - x)^2``;
- the edge mismatch ``S = D(r - x) / (D(r) + D(x) + eps)``, with the detail ``D(a) = mean d_h(a)^2 + mean
  d_v(a)^2`` and ``eps = 2 / 255^2`` (one 8-bit level per step): 0 when the reconstruction's edges are the image's,
  1 when they are unrelated to them (2 when opposite); ``1 - S`` is the edges' agreement. Scale-free, so a smooth
  image whose reconstruction adds a face's edges scores near 1 although its pixel error is small;
- the image's own detail ``D(x)`` and its flat share ``F(x)``: the share of pixels whose right and lower neighbours
  differ from them by less than one 8-bit level (1/255) in every channel. These two need no inversion.

The verdict of an image, with ``p95`` the reference pixel errors' 95th percentile and ``S95`` that of their edge
mismatches:

- ``far`` (far from what the model can make; its latent decodes to an image of the model's kind, not to this one)
  when any of these holds:

  1. smooth: ``D(x) < DETAIL_FACTOR * min D(reference images)`` (a quarter of the smoothest reference image's);
  2. flat: ``F(x) > max(FLAT_SHARE, 2 * max F(reference images))`` (over half of the image flat);
  3. pixels: ``mse > max(margin * p95, floor)`` (``margin`` 4, ``floor`` the MSE of a 20 dB PSNR);
  4. edges: ``(1 - S) * edge_margin < 1 - S95`` (``edge_margin`` 1.5: the edges agree less than two thirds as
     well as the reference's 95th-percentile mismatch);

- ``unusual`` (not clearly out of reach) otherwise, when ``mse > p95`` or ``S > S95``;
- ``typical`` otherwise: within what the model's own samples get.

Why each: a GAN reconstructs smooth images (gradients, blobs, flat colours, an upscaled 1x1 picture) with small
pixel errors, so the pixel error alone lets them through (on ``faces-dcgan`` a gradient and a 1x1 image came out
``typical``); the edge mismatch catches the face the GAN draws into them, and the two image statistics catch what
the model reproduces exactly but never makes (a flat colour, a disc on a plain background). The pixel criterion
stays for models whose own samples are reconstructed almost exactly (``digits-vae``); its ``floor`` is there
because real images of the training domain, which the model approximates but never makes exactly, land at 20 to
30 dB, so without it every real digit would be "far". Every threshold is calibrated on the model's own samples;
the factors (a quarter, twice, 4, 1.5) were chosen on ``faces-dcgan``'s samples and a first set of out-of-domain
images, and checked on others drawn by ``python -m bench.figures.inversion_verdict``, whose figures docs/inversion.md
gives. An optimisation that misses one of the model's own images (one restart: about 3 in 100 on ``faces-dcgan``)
also fails the edge criterion; the sentence says so when that criterion alone decided.

References are cached per model, device, method, decode options and settings; one cut short by its time budget
(a large model on a CPU) only for that budget, since it would come out the same again; one cut short by a stop
request never.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from .invert import default_method, invert
from .validation import check_int

#: The model's own images (decoded prior samples) whose inversion errors are the reference, by default.
REFERENCE_IMAGES = 32
#: The reference latents' seed, by default; their restarts use the next one.
REFERENCE_SEED = 20_000
#: The default ``margin`` on the pixel error; an image is ``far`` above ``max(margin * p95, floor)``.
DEFAULT_MARGIN = 4.0
#: The default ``edge_margin`` on the edge mismatch (module docstring, criterion 4).
DEFAULT_EDGE_MARGIN = 1.5
#: The PSNR in dB whose MSE is the pixel criterion's default ``floor``.
FLOOR_PSNR_DB = 20.0
#: An image with less detail than this fraction of the smoothest reference image's is smooth, so ``far``.
DETAIL_FACTOR = 0.25
#: An image flat over more than this share (and twice the flattest reference image's share) is flat, so ``far``.
FLAT_SHARE = 0.5
#: One 8-bit level, 1/255; neighbouring pixels closer than this count as flat.
LEVEL = 1.0 / 255.0
#: The edge mismatch's regulariser ``eps``, a detail of one level per step.
EDGE_EPS = 2.0 * LEVEL**2
#: The verdicts on an image, from within the model's reach to far from it.
VERDICTS = ("typical", "unusual", "far")
_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 32


def _steps(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Differences of horizontally and vertically neighbouring pixels of images ``[N, C, H, W]``."""
    return images[..., :, 1:] - images[..., :, :-1], images[..., 1:, :] - images[..., :-1, :]


def image_detail(images: torch.Tensor) -> np.ndarray:
    """The detail ``D = mean d_h^2 + mean d_v^2`` of each of images ``[N, C, H, W]`` (``[N]``, float64): the mean
    squared difference of horizontally plus vertically neighbouring pixel values, every channel."""
    h, v = _steps(images.detach().double())
    return (h.pow(2).flatten(1).mean(1) + v.pow(2).flatten(1).mean(1)).cpu().numpy()


def flat_share(images: torch.Tensor) -> np.ndarray:
    """The share ``F`` ``[N]`` of each image's pixels (all but the last row and column) whose right and lower
    neighbours differ from them by less than one 8-bit level (:data:`LEVEL`) in every channel."""
    h, v = _steps(images.detach().double())
    step = torch.maximum(h[..., :-1, :].abs(), v[..., :, :-1].abs()).amax(1)
    return (step < LEVEL).flatten(1).double().mean(1).cpu().numpy()


def edge_mismatch(reconstructions: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
    """The edge mismatch ``S = D(r - x) / (D(r) + D(x) + eps)`` ``[N]`` of reconstructions ``r`` of targets ``x``
    (both ``[N, C, H, W]``; :func:`image_detail`, ``eps`` = :data:`EDGE_EPS`): 0 for the same edges, about 1 for
    unrelated ones, 2 for opposite ones."""
    r, x = reconstructions.detach().double(), targets.detach().double().to(reconstructions.device)
    return image_detail(r - x) / (image_detail(r) + image_detail(x) + EDGE_EPS)


@dataclass(frozen=True)
class Measures:
    """The measures of images ``[N]`` behind a verdict (see the module's docstring): pixel error ``mse``, edge
    ``mismatch``, the images' own ``detail`` and ``flat`` share."""

    mse: np.ndarray
    mismatch: np.ndarray
    detail: np.ndarray
    flat: np.ndarray

    @classmethod
    def of(cls, inversion) -> "Measures":
        """The measures of an :class:`~latentcore.invert.Inversion` (its ``mse``, ``reconstructions`` and
        ``targets``)."""
        return cls(np.asarray(inversion.mse, dtype=np.float64),
                   edge_mismatch(inversion.reconstructions, inversion.targets),
                   image_detail(inversion.targets), flat_share(inversion.targets))


@dataclass(frozen=True)
class TypicalError:
    """The reconstruction errors ``errors [n]`` (sorted MSEs) of ``n`` of the model's own samples inverted by
    ``method``, how that inversion ended (``stopped_by``, see :class:`~latentcore.invert.Inversion`) and took
    ``seconds``, the verdict's ``margin`` and ``floor`` (an MSE) on the pixel error, the reference images'
    ``measures`` (:class:`Measures`, in the order of their latents) and the ``edge_margin`` on the edge mismatch.
    The rule is the module's docstring's.

    Made by :func:`typical_error`; :meth:`verdicts` and :meth:`describe` judge an inversion by it.

    Attributes
    ----------
    model
        The model's name.
    method
        The inversion method of the reference, a key of :func:`~latentcore.invert.inversion_methods`.
    errors : ndarray ``[n]``
        The reference images' reconstruction errors (MSEs), sorted.
    stopped_by
        How the reference inversion ended: ``encoded``, ``converged``, ``max_iter``, ``budget`` or ``stop``.
    seconds
        The time the reference took: sampling, decoding and inverting.
    margin
        The verdict's margin on the pixel error, at least 1. Default :data:`DEFAULT_MARGIN`.
    floor
        The pixel error (an MSE) below which no image is ``far`` by the pixel criterion; default the MSE of a
        :data:`FLOOR_PSNR_DB` dB PSNR.
    measures : Measures or None
        The reference images' measures, in the order of their latents; None (a reference without them) judges by
        the pixel error alone.
    edge_margin
        The verdict's margin on the edge mismatch, at least 1. Default :data:`DEFAULT_EDGE_MARGIN`.
    """

    model: str
    method: str
    errors: np.ndarray
    stopped_by: str
    seconds: float
    margin: float = DEFAULT_MARGIN
    floor: float = 10.0 ** (-FLOOR_PSNR_DB / 10.0)
    measures: Measures | None = None
    edge_margin: float = DEFAULT_EDGE_MARGIN

    @property
    def complete(self) -> bool:
        """Whether the reference inversion ran to its end (not cut short by a budget or a stop request)."""
        return self.stopped_by in ("encoded", "converged", "max_iter")

    @property
    def median(self) -> float:
        """The median of the reference images' pixel errors."""
        return float(np.median(self.errors))

    @property
    def p95(self) -> float:
        """The 95th percentile ``p95`` of the reference images' pixel errors, above which an image is at least
        ``unusual``."""
        return float(np.quantile(self.errors, 0.95))

    @property
    def threshold(self) -> float:
        """The pixel error above which an image is ``far``, ``max(margin * p95, floor)``."""
        return max(self.margin * self.p95, self.floor)

    @property
    def edge_p95(self) -> float:
        """The 95th percentile ``S95`` of the reference images' edge mismatches, above which an image is at least
        ``unusual``."""
        return float(np.quantile(self.measures.mismatch, 0.95))

    @property
    def edge_threshold(self) -> float:
        """The edge mismatch above which an image is ``far``, ``1 - (1 - S95) / edge_margin`` (at least ``S95``)."""
        return max(1.0 - (1.0 - self.edge_p95) / self.edge_margin, self.edge_p95)

    @property
    def detail_floor(self) -> float:
        """The detail below which an image is ``far`` (smooth), :data:`DETAIL_FACTOR` times the least detail of a
        reference image."""
        return DETAIL_FACTOR * float(np.min(self.measures.detail))

    @property
    def flat_limit(self) -> float:
        """The flat share above which an image is ``far``, ``max(FLAT_SHARE, 2 * the largest of the reference
        images')``."""
        return max(FLAT_SHARE, 2.0 * float(np.max(self.measures.flat)))

    def criteria(self, inversion) -> dict[str, np.ndarray]:
        """Which criteria each image of ``inversion`` (an :class:`~latentcore.invert.Inversion`, or its
        :class:`Measures`) meets, as boolean arrays ``[N]``: the far ones (``smooth``, ``flat``, ``pixels``,
        ``edges``) and the unusual ones (``pixels_unusual``, ``edges_unusual``).

        Parameters
        ----------
        inversion : ~latentcore.invert.Inversion or Measures
            The inversion of ``N`` images, by the same method and settings as the reference, or its measures.

        Returns
        -------
        dict[str, ndarray ``[N]``]
            By criterion name, whether each image meets it. Without reference :attr:`measures`, only the pixel
            criteria can be met.
        """
        m = inversion if isinstance(inversion, Measures) else Measures.of(inversion)
        out = {"pixels": m.mse > self.threshold, "pixels_unusual": m.mse > self.p95}
        if self.measures is None:  # a reference without the image measures: the pixel error alone
            return {"smooth": np.zeros_like(out["pixels"]), "flat": np.zeros_like(out["pixels"]), **out,
                    "edges": np.zeros_like(out["pixels"]), "edges_unusual": np.zeros_like(out["pixels"])}
        return {"smooth": m.detail < self.detail_floor, "flat": m.flat > self.flat_limit, **out,
                "edges": m.mismatch > self.edge_threshold, "edges_unusual": m.mismatch > self.edge_p95}

    def verdicts(self, inversion) -> np.ndarray:
        """``typical``, ``unusual`` or ``far`` for each image of ``inversion`` (an
        :class:`~latentcore.invert.Inversion`, or its :class:`Measures`).

        Parameters
        ----------
        inversion : ~latentcore.invert.Inversion or Measures
            The inversion of ``N`` images, by the same method and settings as the reference, or its measures.

        Returns
        -------
        ndarray ``[N]`` of str
            Each image's verdict, one of :data:`VERDICTS`: ``far`` when any far criterion of :meth:`criteria` holds,
            else ``unusual`` when an unusual one does, else ``typical``.
        """
        met = self.criteria(inversion)
        far = met["smooth"] | met["flat"] | met["pixels"] | met["edges"]
        unusual = met["pixels_unusual"] | met["edges_unusual"]
        return np.where(far, "far", np.where(unusual, "unusual", "typical"))

    def describe(self, inversion) -> list[str]:
        """One sentence per image of ``inversion`` (an :class:`~latentcore.invert.Inversion`, or its
        :class:`Measures`) saying its verdict and what decided it.

        Parameters
        ----------
        inversion : ~latentcore.invert.Inversion or Measures
            The inversion of ``N`` images, by the same method and settings as the reference, or its measures.

        Returns
        -------
        list of str
            One text per image, in the order of the images: its verdict and what decided it.
        """
        m = inversion if isinstance(inversion, Measures) else Measures.of(inversion)
        met, verdicts = self.criteria(m), self.verdicts(m)
        own = "the model's own samples"
        out = []
        for i, verdict in enumerate(verdicts):
            pixels = f"pixel error {m.mse[i]:.2g} (95th percentile of {own}: {self.p95:.2g})"
            edges = (f"edge mismatch {m.mismatch[i]:.2f} (0: the same edges, 1: unrelated ones; 95th percentile of "
                     f"{own}: {self.edge_p95:.2f})") if self.measures is not None else None
            if verdict == "typical":
                what = " and ".join(x for x in (pixels, edges) if x)
                out.append(f"Within what {own} get, inverted the same way: {what}.")
            elif verdict == "unusual":
                what = " and ".join(x for key, x in (("pixels_unusual", pixels), ("edges_unusual", edges))
                                    if met[key][i])
                out.append(f"Above what {own} get: {what}; not clearly out of {self.model}'s reach: compare the "
                           "reconstruction with the image.")
            else:
                reasons = []
                if met["smooth"][i]:
                    reasons.append(f"the image is much smoother than any of {own} (detail {m.detail[i]:.2g}, "
                                   f"below a quarter of the smoothest one's, {np.min(self.measures.detail):.2g})")
                if met["flat"][i]:
                    reasons.append(f"{m.flat[i]:.0%} of the image is flat (neighbouring pixels within one 8-bit "
                                   f"level), against at most {np.max(self.measures.flat):.0%} of any of {own}")
                if met["pixels"][i]:
                    times = m.mse[i] / max(self.p95, 1e-12)
                    reasons.append(f"the pixel error is {times:,.0f} times the typical error of {own} (95th "
                                   f"percentile {self.p95:.2g})")
                if met["edges"][i]:
                    reasons.append(f"the reconstruction's edges do not match the image's: {edges}")
                    if len(reasons) == 1 and self.method != "encoder":  # an inversion that missed looks the same
                        reasons.append("an optimisation that missed an image the model can make may end like "
                                       "this too, rarely; more restarts tell the two apart")
                out.append(f"Far from what {self.model} can make: {'; '.join(reasons)}. The latent decodes to an "
                           "image of the model's own kind, not to this picture.")
        return out


def typical_error(model, *, method: str | None = None, decoding=None,
                  samples: int = REFERENCE_IMAGES, seed: int = REFERENCE_SEED, margin: float = DEFAULT_MARGIN,
                  floor_psnr_db: float = FLOOR_PSNR_DB, edge_margin: float = DEFAULT_EDGE_MARGIN,
                  budget_s: float | None = None, should_stop: Callable[[], bool] | None = None, progress=None,
                  **settings) -> TypicalError:
    """:class:`TypicalError` of ``model``: ``samples`` prior latents drawn with ``seed``, decoded with ``decoding``
    (the model's :class:`~latentcore.models.Decoding`, default its defaults) and inverted by ``method`` (default
    :func:`~latentcore.invert.default_method`) with the optimisation ``settings`` of
    :func:`~latentcore.invert.invert` (``max_iter``, ``lr``, ``restarts``, ``prior_weight``, ``tol``,
    ``patience``; restarts drawn with ``seed + 1``); their pixel errors and :class:`Measures` calibrate the verdict
    (``margin`` and ``floor_psnr_db`` on the pixel error, ``edge_margin`` on the edge mismatch; the module's
    docstring gives the rule). ``budget_s``, ``should_stop`` and ``progress`` bound
    and report the reference inversion; a stop while the samples are decoded, or while the model's own inverse runs,
    raises :class:`~latentcore.optimise.Stopped` (there is no reference yet). Cached (see the module's docstring).

    Parameters
    ----------
    model : ~latentcore.models.GenerativeModel
        The model whose own samples are the reference.
    method
        The inversion method, a key of :func:`~latentcore.invert.inversion_methods`; default (None)
        :func:`~latentcore.invert.default_method`. Use the method the user's images are inverted by.
    decoding : ~latentcore.models.Decoding or None
        The model's decoding for decoding the samples and inverting them; default its defaults.
    samples
        How many prior latents make the reference, at least 2. Default :data:`REFERENCE_IMAGES`.
    seed
        Seed of the prior latents; the inversion's restarts are drawn with ``seed + 1``. Default
        :data:`REFERENCE_SEED`.
    margin
        The margin on the pixel error, a number >= 1. Default :data:`DEFAULT_MARGIN`.
    floor_psnr_db
        The PSNR (dB) whose MSE is the pixel criterion's floor. Default :data:`FLOOR_PSNR_DB`.
    edge_margin
        The margin on the edge mismatch, a number >= 1. Default :data:`DEFAULT_EDGE_MARGIN`.
    budget_s
        Seconds for the reference inversion; default None: no bound. A reference cut short by it is cached for
        that budget only.
    should_stop
        Polled while the reference is made; returning True stops it (a reference cut short by a stop is not
        cached). Default None: never.
    progress
        Called as ``progress(fraction, text)`` as the reference inversion advances.
    **settings
        The optimisation settings of :func:`~latentcore.invert.invert`: ``max_iter``, ``lr``, ``restarts``,
        ``prior_weight``, ``tol``, ``patience``. No others are accepted.

    Returns
    -------
    :class:`TypicalError`
        The reference, with the ``margin``, ``floor`` and ``edge_margin`` given (not part of the cache key).

    Raises
    ------
    ValueError
        When ``samples`` is not an integer >= 2, a margin is below 1, a setting is unknown, or as
        :func:`~latentcore.invert.invert` raises for the reference inversion.
    ~latentcore.optimise.Stopped
        When a stop is requested while the samples are decoded or the model's own inverse runs.
    """
    samples = check_int("samples", samples, 2)
    for name, value in (("margin", margin), ("edge_margin", edge_margin)):
        if not (math.isfinite(value) and value >= 1.0):
            raise ValueError(f"{name} must be a number >= 1, got {value!r}")
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
        found = TypicalError(model.name, method, np.sort(result.mse), result.stopped_by, time.monotonic() - start,
                             measures=Measures.of(result))
        if found.complete or found.stopped_by == "budget":
            _CACHE[key if found.complete else (key, budget_s)] = found
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    return dataclasses.replace(found, margin=margin, floor=10.0 ** (-floor_psnr_db / 10.0), edge_margin=edge_margin)
