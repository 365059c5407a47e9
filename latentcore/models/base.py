"""The typed interface every model of Latent Explorer implements, whatever its family.

A model maps latents ``[N, *latent_shape]`` to images ``[N, C, H, W]`` in [0, 1] and knows its prior; where it
can, it maps images back to latents (a VAE's encoder, DDIM or ODE inversion, optimisation for a GAN). It declares
what its decoder accepts:

- ``sampler``: for models that decode by running a sampler (diffusion, flow matching), the number of ``steps``:
  default and the choices offered to users. ``None`` for one-pass decoders (GANs, VAEs), which then refuse
  ``steps``.
- ``conditions``: named conditions such as a prompt, a guidance scale or a class label, each with its type and
  default. Anything else passed to :meth:`~GenerativeModel.decode` is an error that says what is accepted.

Decoding is chunked so memory stays bounded, deterministic, and runs without gradients unless ``grad=True``
(ri-optimal paths differentiate through the decoder). A model is also a plain callable: ``model(latents)`` is
its differentiable decoding with default options, and :meth:`~GenerativeModel.decoder` fixes other options.
"""

from __future__ import annotations

import keyword
import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable

import torch

from ..device import as_tensor, default_device
from ..priors import Prior
from ..validation import check_finite, check_int, check_latents

KINDS = ("gan", "vae", "diffusion", "flow")
RESERVED_OPTIONS = ("latents", "grad", "steps")  # decode's own parameters, never a condition's name


class ModelLoadError(ValueError):
    """A model that cannot be loaded; the message says what is wrong and what is expected."""


@dataclass(frozen=True)
class Sampler:
    """How many ``steps`` a sampling decoder runs: ``default`` and the ``choices`` offered to users."""

    label: str                  # e.g. "DDIM steps"
    default: int
    choices: tuple[int, ...]
    help: str = ""


@dataclass(frozen=True)
class Condition:
    """A named condition of a model's decoder: a value of ``type`` (str, float or int) and its ``default``;
    optionally the ``choices`` (e.g. class labels 0..9, or their names) or, for a number, inclusive bounds ``low``
    and ``high``. The app shows a selectbox for choices, a slider for a number with both bounds, a number field
    for other numbers and a text field for text. A declaration that contradicts itself (a default outside its
    choices or bounds, say) is a ValueError."""

    name: str
    type: type
    default: Any
    help: str = ""
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.isidentifier() or keyword.iskeyword(self.name) \
                or self.name in RESERVED_OPTIONS:
            raise ValueError(f"a condition's name must be a Python identifier other than "
                             f"{', '.join(RESERVED_OPTIONS)}, got {self.name!r}")
        if self.type not in (str, int, float):
            raise ValueError(f"condition {self.name}: type must be str, int or float, got {self.type!r}")
        if self.choices is not None:
            object.__setattr__(self, "choices", tuple(self._check_type(c) for c in self.choices))
            if not self.choices:
                raise ValueError(f"condition {self.name}: choices must not be empty")
        for bound in ("low", "high"):
            value = getattr(self, bound)
            if value is not None and (self.type is str or isinstance(value, bool)
                                      or not isinstance(value, numbers.Real) or not math.isfinite(value)):
                raise ValueError(f"condition {self.name}: {bound} must be a finite number (numbers only), "
                                 f"got {value!r}")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"condition {self.name}: low ({self.low}) is above high ({self.high})")
        try:  # as its type: a float condition declared with default 1 holds 1.0
            object.__setattr__(self, "default", self.check(self.default))
        except ValueError as err:
            raise ValueError(f"the default does not fit: {err}") from None

    def check(self, value) -> Any:
        """``value`` converted to :attr:`type`; a ValueError saying what is accepted otherwise."""
        value = self._check_type(value)
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"condition {self.name} must be one of {', '.join(map(str, self.choices))}, got {value!r}")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            bounds = {(True, True): f"between {self.low} and {self.high}", (True, False): f"at least {self.low}",
                      (False, True): f"at most {self.high}"}[self.low is not None, self.high is not None]
            raise ValueError(f"condition {self.name} must be {bounds}, got {value!r}")
        return value

    def _check_type(self, value) -> Any:
        if self.type is str:
            if not isinstance(value, str):
                raise ValueError(f"condition {self.name} must be text, got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise ValueError(f"condition {self.name} must be a finite number, got {value!r}")
        if self.type is int and int(value) != value:
            raise ValueError(f"condition {self.name} must be an integer, got {value!r}")
        return self.type(value)


class GenerativeModel:
    """Subclasses set the attributes below and implement ``_decode(latents, **options)`` (and ``_encode(images,
    **options)`` where they can); ``options`` holds ``steps`` when the model has a :class:`Sampler`, and every
    declared condition with its value or default."""

    name: str
    kind: str                                  # one of KINDS
    latent_shape: tuple[int, ...]
    image_shape: tuple[int, int, int]          # (C, H, W)
    prior: Prior
    description: str                           # one paragraph for the UI
    trained_on: str                            # the data, in a sentence
    sampler: Sampler | None = None
    conditions: dict[str, Condition] = {}
    decode_batch: int = 256                    # latents per chunk
    encode_batch: int = 256

    def __init__(self, device: torch.device | str | None = None):
        self.device = torch.device(device) if device is not None else default_device()

    @property
    def can_encode(self) -> bool:
        return type(self)._encode is not GenerativeModel._encode

    def options(self, steps: int | None = None, **conditions) -> dict:
        """The options ``_decode`` / ``_encode`` get: ``steps`` (models with a sampler; default when None) and every
        condition (default unless given). Unknown conditions and ``steps`` for a one-pass decoder are errors."""
        unknown = sorted(set(conditions) - set(self.conditions))
        if unknown:
            accepted = ", ".join(self.conditions) or "none"
            raise ValueError(f"{self.name} takes no condition {', '.join(unknown)}; its conditions: {accepted}")
        out = {name: c.check(conditions[name]) if name in conditions else c.default
               for name, c in self.conditions.items()}
        if self.sampler is None:
            if steps is not None:
                raise ValueError(f"{self.name} decodes in one pass and takes no sampler steps (got steps={steps})")
            return out
        out["steps"] = self.sampler.default if steps is None else check_int("steps", steps, 1)
        return out

    def decode(self, latents, *, grad: bool = False, steps: int | None = None, **conditions) -> torch.Tensor:
        """Images ``[..., C, H, W]`` in [0, 1] of latents ``[..., *latent_shape]``.

        ``grad``: differentiable (when gradients are being recorded). ``steps``: the sampler's steps (models with
        a :attr:`sampler` only; default ``sampler.default``). ``conditions``: the model's named conditions.
        """
        options = self.options(steps, **conditions)
        flat, batch = check_latents(latents, self.prior, name="latents to decode")
        z = flat.reshape(-1, *self.latent_shape).to(self.device, torch.float32)
        with torch.set_grad_enabled(grad and torch.is_grad_enabled()):
            parts = [self._decode(chunk, **options) for chunk in z.split(self.decode_batch)]
        images = torch.cat(parts) if parts else z.new_zeros(0, *self.image_shape)
        return images.reshape(*batch, *self.image_shape)

    def __call__(self, latents: torch.Tensor) -> torch.Tensor:
        """Differentiable decoding with default options: a model is a plain decoder callable."""
        return self.decode(latents, grad=True)

    def decoder(self, *, steps: int | None = None, **conditions) -> Callable[[torch.Tensor], torch.Tensor]:
        """A plain differentiable decoder ``latents -> images`` with these options fixed (checked now)."""
        self.options(steps, **conditions)
        if steps is None and not conditions:
            return self
        return _FixedDecoder(self, steps, conditions)

    def encode(self, images, *, steps: int | None = None, **conditions) -> torch.Tensor:
        """Latents ``[N, *latent_shape]`` of images ``[N, C, H, W]`` in [0, 1] (resized and converted to the
        model's size and channels first; see :meth:`prepare_images`); options as in :meth:`decode`."""
        if not self.can_encode:
            raise NotImplementedError(f"{self.name} has no encoder: it cannot turn images into latents")
        options = self.options(steps, **conditions)
        x = self.prepare_images(images)
        with torch.no_grad():
            parts = [self._encode(chunk, **options) for chunk in x.split(self.encode_batch)]
        return torch.cat(parts)

    def prepare_images(self, images) -> torch.Tensor:
        """Images ``[N, C', H', W']`` (or ``[C', H', W']``, or a list of such of different sizes) in [0, 1] as
        ``[N, C, H, W]`` on the model's device: channels averaged to one or repeated to three as needed, resized
        bilinearly (antialiased)."""
        if isinstance(images, (list, tuple)):
            if not images:
                raise ValueError("no images given")
            return torch.cat([self.prepare_images(image) for image in images])
        x = as_tensor(images).to(self.device, torch.float32)
        if x.dim() == 3:
            x = x[None]
        if x.dim() != 4:
            raise ValueError(f"images must be [N, C, H, W] or [C, H, W], got shape {tuple(x.shape)}")
        check_finite(x, "images")
        if float(x.min()) < 0.0 or float(x.max()) > 1.0:
            raise ValueError("image values must lie in [0, 1]")
        c, h, w = self.image_shape
        if x.shape[1] != c:
            x = x[:, :3].mean(1, keepdim=True)
            x = x.expand(-1, c, -1, -1)
        if x.shape[2:] != (h, w):
            x = torch.nn.functional.interpolate(x, size=(h, w), mode="bilinear", align_corners=False,
                                                antialias=True).clamp(0.0, 1.0)
        return x.contiguous()

    def _decode(self, latents: torch.Tensor, **options) -> torch.Tensor:
        raise NotImplementedError

    def _encode(self, images: torch.Tensor, **options) -> torch.Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.name}: latent {self.latent_shape} -> image {self.image_shape} "
                f"on {self.device}>")


class _FixedDecoder:
    """``model.decode(latents, grad=True, steps=..., **conditions)`` as a plain callable."""

    def __init__(self, model: GenerativeModel, steps: int | None, conditions: dict):
        self.model, self.steps, self.conditions = model, steps, conditions

    def __call__(self, latents: torch.Tensor) -> torch.Tensor:
        return self.model.decode(latents, grad=True, steps=self.steps, **self.conditions)

    @property
    def name(self) -> str:
        options = {"steps": self.steps, **self.conditions} if self.steps is not None else self.conditions
        return f"{self.model.name} ({', '.join(f'{k}={v!r}' for k, v in options.items())})"

    def __repr__(self) -> str:
        return f"<decoder {self.name}>"
