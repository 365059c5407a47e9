"""The typed interface every model of Latent Explorer implements, whatever its family.

A model maps latents ``[N, *latent_shape]`` to images ``[N, C, H, W]`` in [0, 1] and knows its prior; where it
can, it maps images back to latents (a VAE's encoder, DDIM or ODE inversion, optimisation for a GAN). It declares
what its decoder accepts:

- ``sampler``: for models that decode by running a sampler (diffusion, flow matching), the number of ``steps``:
  default and the choices offered to users, and where the model can switch its diffusers scheduler, the
  ``scheduler`` names it offers (:mod:`.schedulers`). ``None`` for one-pass decoders (GANs, VAEs), which then
  refuse ``steps`` and ``scheduler``.
- ``conditions``: named conditions such as a prompt, a guidance scale or a class label, each with its type and
  default. Anything else passed to :meth:`~GenerativeModel.decode` is an error that says what is accepted.

The options of one decode travel as one immutable, hashable :class:`Decoding` (steps, scheduler, conditions) that
the model makes and checks once (:meth:`~GenerativeModel.decoding`); :meth:`~GenerativeModel.decode`,
:meth:`~GenerativeModel.encode` and :meth:`~GenerativeModel.decoder` take it, or the same options by keyword.

Decoding is chunked so memory stays bounded, deterministic, and runs without gradients unless ``grad=True``
(ri-optimal paths differentiate through the decoder). With ``should_stop``, a decode or encode polls it before each
chunk and, through a sampler, before each step, and raises :class:`~latentcore.optimise.Stopped` when it returns
True: a decode through a large sampler takes minutes, and one for a session that is gone must not run on. A model
is also a plain callable: ``model(latents)`` is its differentiable decoding with default options, and
:meth:`~GenerativeModel.decoder` fixes other options.

Precision and memory: a model's networks compute in :attr:`~GenerativeModel.dtype` (float32 unless
:meth:`~GenerativeModel.set_precision` chose another, see :mod:`.precision`); :meth:`~GenerativeModel.decode` and
:meth:`~GenerativeModel.encode` take and give float32 and convert at this boundary only, so the rest of latentcore
computes in float32/float64 whatever the model's dtype. Chunks are ``decode_batch`` latents; a model
``sized_by_memory`` on CUDA sizes them from the free device memory instead. A chunk that runs out of device memory
is split in halves and tried again; one latent that does not fit is an :class:`OutOfMemory` error that says what to
do. :meth:`~GenerativeModel.offload` moves the networks to the CPU; the next decode or encode brings them back.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import keyword
import math
import numbers
import threading
import weakref
from dataclasses import dataclass
from typing import Any, Callable

import torch

from ..device import as_tensor, default_device
from ..optimise import check_stop
from ..priors import Prior
from ..validation import check_choice, check_finite, check_int, check_latents
from .precision import resolve_dtype

#: The families a model may belong to (:attr:`GenerativeModel.kind`); the app offers schemes by kind.
MODEL_KINDS = ("gan", "vae", "diffusion", "flow")
#: The options :meth:`GenerativeModel.decode` takes itself, so never the name of a :class:`Condition`.
RESERVED_OPTIONS = ("latents", "grad", "steps", "scheduler", "should_stop")
#: The most latents per chunk when a model's chunks are sized from free CUDA memory
#: (:attr:`GenerativeModel.sized_by_memory`).
MAX_MEMORY_CHUNK = 64
#: The fraction of the free CUDA memory that one chunk's activations may take.
MEMORY_FRACTION = 0.5


class OutOfMemory(RuntimeError):
    """A decode or encode that does not fit in the device's memory even one latent at a time; the message says
    what to do."""


class ModelLoadError(ValueError):
    """A model that cannot be loaded; the message says what is wrong and what is expected."""


@dataclass(frozen=True)
class Sampler:
    """How many ``steps`` a sampling decoder runs: ``default`` and the ``choices`` offered to users; the
    ``schedulers`` a user may choose for decoding (names in :data:`.schedulers.SCHEDULERS`, the default first;
    empty when the model decodes with one fixed scheduler).

    Parameters
    ----------
    label
        How the app labels the steps, e.g. ``"Decoding steps"``.
    default
        The number of steps a decode runs unless told otherwise.
    choices
        The step counts the app offers.
    help
        A sentence for the app on what the steps change.
    schedulers
        Names in :data:`.schedulers.SCHEDULERS`, the default first; empty (the default) when the model decodes
        with one fixed scheduler.

    Raises
    ------
    ValueError
        When a name in ``schedulers`` is not in :data:`.schedulers.SCHEDULERS`.
    """

    label: str                  # e.g. "Decoding steps"
    default: int
    choices: tuple[int, ...]
    help: str = ""
    schedulers: tuple[str, ...] = ()

    def __post_init__(self):
        from .schedulers import SCHEDULERS

        unknown = [name for name in self.schedulers if name not in SCHEDULERS]
        if unknown:
            raise ValueError(f"unknown scheduler(s) {', '.join(map(repr, unknown))}; known: {', '.join(SCHEDULERS)}")


@dataclass(frozen=True)
class Decoding:
    """How one model decodes: the sampler's ``steps`` and ``scheduler`` (None for one-pass decoders, and
    ``scheduler`` for samplers that offer no choice) and the value of every condition, all checked by the model
    ``model`` (its :attr:`~GenerativeModel.key`) that made it with :meth:`GenerativeModel.decoding`. Immutable and
    hashable: a cache key as it is.

    Make one with :meth:`GenerativeModel.decoding`, which checks the values: a model takes a :class:`Decoding`
    whose ``model`` is its :attr:`~GenerativeModel.key` without checking it again, and refuses any other.

    Parameters
    ----------
    model
        The :attr:`~GenerativeModel.key` of the model that made it.
    steps
        The sampler's number of steps; None for one-pass decoders.
    scheduler
        The name of the decoding scheduler (see :data:`.schedulers.SCHEDULERS`); None for one-pass decoders and
        for samplers that offer no choice.
    conditions
        ``(name, value)`` of every condition, in the model's order of declaration.
    """

    model: str
    steps: int | None = None
    scheduler: str | None = None
    conditions: tuple[tuple[str, Any], ...] = ()   # (name, value) in the model's order of declaration

    @property
    def options(self) -> dict:
        """The keyword arguments the model's ``_decode`` and ``_encode`` take (every condition, and ``steps``
        and ``scheduler`` where the model has them)."""
        out = dict(self.conditions)
        if self.steps is not None:
            out["steps"] = self.steps
        if self.scheduler is not None:
            out["scheduler"] = self.scheduler
        return out

    def describe(self) -> dict:
        """The steps, scheduler and conditions by name, for reports.

        Returns
        -------
        dict
            ``{"steps": steps, "scheduler": scheduler, "conditions": {name: value}}``; what
            :meth:`GenerativeModel.decoding_described` makes a :class:`Decoding` of again.
        """
        return {"steps": self.steps, "scheduler": self.scheduler, "conditions": dict(self.conditions)}


@dataclass(frozen=True)
class Condition:
    """A named condition of a model's decoder: a value of ``type`` (str, float or int) and its ``default``;
    optionally the ``choices`` (e.g. class labels 0..9, or their names) or, for a number, inclusive bounds ``low``
    and ``high``. The app shows a selectbox for choices, a slider for a number with both bounds, a number field
    for other numbers and a text field for text. A declaration that contradicts itself (a default outside its
    choices or bounds, say) is a ValueError.

    Parameters
    ----------
    name
        The keyword the condition is passed as: a Python identifier, not a keyword, none of
        :data:`RESERVED_OPTIONS`.
    type
        ``str``, ``int`` or ``float``.
    default
        The value when a decode does not give one; converted to ``type`` (a float condition declared with
        default 1 holds 1.0).
    help
        A sentence for the app.
    choices
        The values accepted, converted to ``type``; None (the default) accepts any value of ``type``.
    low, high
        Inclusive bounds of a number; None (the default) for no bound.

    Raises
    ------
    ValueError
        When the declaration contradicts itself: a name that is not accepted, another type, empty choices,
        bounds that are not finite numbers or with ``low > high``, a default outside the choices or bounds.
    """

    #: The keyword the condition is passed as.
    name: str
    #: ``str``, ``int`` or ``float``; values are converted to it.
    type: type
    #: The value when a decode does not give one.
    default: Any
    #: A sentence for the app.
    help: str = ""
    #: The values accepted; None for any value of :attr:`type`.
    choices: tuple | None = None
    #: The inclusive lower bound of a number; None for none.
    low: float | None = None
    #: The inclusive upper bound of a number; None for none.
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
        """``value`` converted to :attr:`type`; a ValueError saying what is accepted otherwise.

        Parameters
        ----------
        value
            A value of the condition, e.g. from the app or a saved run.

        Returns
        -------
        object
            ``value`` as :attr:`type` (an int given for a float condition as a float).

        Raises
        ------
        ValueError
            When ``value`` is not of the condition's type (text for a str condition, a finite number otherwise,
            a whole number for an int one), not one of :attr:`choices` or outside :attr:`low` and :attr:`high`.
        """
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
    declared condition with its value or default.

    Parameters
    ----------
    device
        Where the networks compute; default :func:`latentcore.device.default_device`.
    """

    #: The model's name, as the app shows it.
    name: str
    #: The model's family, one of :data:`~latentcore.models.base.MODEL_KINDS`.
    kind: str
    #: The shape of one latent.
    latent_shape: tuple[int, ...]
    #: The shape ``(C, H, W)`` of one decoded image.
    image_shape: tuple[int, int, int]
    #: The distribution of the latents.
    prior: Prior
    #: One paragraph for the UI.
    description: str
    #: The data it was trained on, in a sentence.
    trained_on: str
    #: The decoder's steps and schedulers for models that decode by sampling; None for one-pass decoders.
    sampler: Sampler | None = None
    #: The decoder's conditions by name, in the order of declaration.
    conditions: dict[str, Condition] = {}
    #: Latents per chunk of a decode.
    decode_batch: int = 256
    #: Images per chunk of an encode.
    encode_batch: int = 256
    #: Whether chunks on CUDA are sized from the free device memory instead (large pipelines).
    sized_by_memory: bool = False
    #: The dtype the networks compute in (see :meth:`~latentcore.models.base.GenerativeModel.set_precision`).
    dtype: torch.dtype = torch.float32
    _key: str | None = None                    # set by the loader: the registered name or the pipeline folder
    #: A :class:`~.judges.Judge` of the model's images where one is known, else None.
    judge = None

    def __init__(self, device: torch.device | str | None = None):
        #: The device the networks compute on.
        self.device = torch.device(device) if device is not None else default_device()
        self._placement = threading.RLock()    # held while the networks compute or move
        self._offloaded = False
        self._bytes_per_latent: float | None = None  # measured on the first decode when sized by memory
        _MODELS.add(self)

    # --- precision and placement -----------------------------------------------------------------------------

    def networks(self) -> dict[str, torch.nn.Module]:
        """The torch modules the model computes with (what precision converts and offloading moves): by default
        every ``torch.nn.Module`` attribute.

        Returns
        -------
        dict[str, torch.nn.Module]
            The modules by attribute name.
        """
        return {k: v for k, v in vars(self).items() if isinstance(v, torch.nn.Module)}

    def auto_dtype(self) -> torch.dtype | None:
        """The dtype precision ``"auto"`` picks on this model's device; None keeps the networks as they are built
        (float32 for the built-in models: they are small, and their decoding runs many steps whose rounding
        float16 would accumulate, for no gain in speed worth having).

        Returns
        -------
        torch.dtype or None
            None here; the diffusers text-to-image pipelines return float16 or bfloat16 on CUDA.
        """
        return None

    def set_precision(self, precision: str = "auto") -> torch.dtype:
        """Convert the networks to the dtype ``precision`` names on the model's device (see
        :func:`.precision.resolve_dtype`: float32 on the CPU whatever is asked); returns it.

        Parameters
        ----------
        precision
            One of :data:`.precision.PRECISIONS`; ``"auto"`` (the default) takes :meth:`auto_dtype`.

        Returns
        -------
        torch.dtype
            The model's :attr:`dtype` after the conversion (unchanged where ``"auto"`` keeps the networks as
            built, or where the model has no networks).

        Raises
        ------
        ValueError
            When ``precision`` is not one of :data:`.precision.PRECISIONS`.
        """
        dtype = resolve_dtype(precision, self.device, self.auto_dtype())
        if dtype is not None and self.networks():
            with self._placement:
                self._cast(dtype)
                self.dtype = dtype
        return self.dtype

    def _cast(self, dtype: torch.dtype) -> None:
        for module in self.networks().values():
            module.to(dtype)

    def offload(self) -> bool:
        """Move the networks to the CPU to free the device's memory; the next decode or encode moves them back.
        Whether anything moved: nothing does on the CPU, nor while the model is computing (another session uses
        it: it stays).

        Returns
        -------
        bool
            True when the networks moved; False on the CPU, when they are offloaded already, or while the model
            computes.
        """
        if self.device.type == "cpu" or self._offloaded or not self._placement.acquire(blocking=False):
            return False
        try:
            for module in self.networks().values():
                module.to("cpu")
            self._offloaded = True
        finally:
            self._placement.release()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        return True

    @property
    def offloaded(self) -> bool:
        """Whether :meth:`offload` moved the networks to the CPU and no decode or encode has moved them back."""
        return self._offloaded

    @contextlib.contextmanager
    def _on_device(self):
        """The networks on :attr:`device` for the block (moved back if offloaded); on an accelerator no other
        thread moves them meanwhile."""
        if self.device.type == "cpu":
            yield
            return
        with self._placement:
            if self._offloaded:
                for module in self.networks().values():
                    module.to(self.device)
                self._offloaded = False
            yield

    @property
    def can_encode(self) -> bool:
        """Whether the model has an encoder, so that :meth:`~latentcore.models.base.GenerativeModel.encode`
        works."""
        return type(self)._encode is not GenerativeModel._encode

    @property
    def key(self) -> str:
        """The key the model is known by (its registered name, or the folder of a diffusers pipeline as loaded);
        :attr:`name` until a loader sets it."""
        return self._key or self.name

    def decoding(self, steps: int | None = None, scheduler: str | None = None, **conditions) -> Decoding:
        """The :class:`Decoding` of these options, checked: ``steps`` (models with a sampler; default
        ``sampler.default``), the ``scheduler`` (models whose sampler offers a choice; default its first) and
        every condition (default unless given). Unknown conditions, and ``steps`` or ``scheduler`` for a model
        that takes none, are ValueErrors that say what is accepted.

        Parameters
        ----------
        steps
            The sampler's number of steps, a positive integer (any, not only the sampler's ``choices``); default
            ``sampler.default``. Only for models with a :attr:`sampler`.
        scheduler
            One of ``sampler.schedulers``; default the first. Only for models whose sampler offers a choice.
        **conditions
            A value for any of :attr:`conditions` by name, checked by :meth:`Condition.check`; the others take
            their default.

        Returns
        -------
        Decoding
            The checked options, made for this model (its :attr:`key`).

        Raises
        ------
        ValueError
            For an unknown condition, a value a condition does not accept, ``steps`` that is not a positive
            integer, an unknown scheduler, or ``steps`` or ``scheduler`` for a model that takes none.
        """
        unknown = sorted(set(conditions) - set(self.conditions))
        if unknown:
            accepted = ", ".join(self.conditions) or "none"
            raise ValueError(f"{self.name} takes no condition {', '.join(unknown)}; its conditions: {accepted}")
        checked = tuple((name, c.check(conditions[name]) if name in conditions else c.default)
                        for name, c in self.conditions.items())
        if self.sampler is None:
            if steps is not None or scheduler is not None:
                given = f"steps={steps}" if steps is not None else f"scheduler={scheduler!r}"
                raise ValueError(f"{self.name} decodes in one pass and takes no sampler steps or scheduler "
                                 f"(got {given})")
            return Decoding(self.key, conditions=checked)
        steps = self.sampler.default if steps is None else check_int("steps", steps, 1)
        if self.sampler.schedulers:
            scheduler = self.sampler.schedulers[0] if scheduler is None else \
                check_choice("scheduler", scheduler, self.sampler.schedulers)
        elif scheduler is not None:
            raise ValueError(f"{self.name} decodes with its one scheduler and offers no choice (got "
                             f"scheduler={scheduler!r})")
        return Decoding(self.key, steps, scheduler, checked)

    def decoding_described(self, described: dict) -> Decoding:
        """The :class:`Decoding` that :meth:`Decoding.describe` wrote (a saved run's or round's), made again and
        checked by this model.

        Parameters
        ----------
        described
            ``{"steps": ..., "scheduler": ..., "conditions": {...}}``; a missing or None ``steps`` or
            ``scheduler`` takes the default.

        Returns
        -------
        Decoding

        Raises
        ------
        ValueError
            As :meth:`decoding`, e.g. for a condition this model does not have.
        """
        given = {k: described[k] for k in ("steps", "scheduler") if described.get(k) is not None}
        return self.decoding(**given, **described.get("conditions", {}))

    def resolve_decoding(self, decoding: Decoding | None = None, **options) -> Decoding:
        """``decoding`` (made by this model, so not checked again), or the :class:`Decoding` of ``options`` (see
        :meth:`decoding`): what every method that decodes takes.

        Parameters
        ----------
        decoding
            A :class:`Decoding` this model made; None (the default) makes one of ``options``.
        **options
            ``steps``, ``scheduler`` and conditions by keyword, as :meth:`decoding` takes them; only without
            ``decoding``.

        Returns
        -------
        Decoding

        Raises
        ------
        ValueError
            When both ``decoding`` and ``options`` are given, when ``decoding`` is not a :class:`Decoding` of
            this model (its ``model`` is not :attr:`key`), or as :meth:`decoding` for bad options.
        """
        if decoding is None:
            return self.decoding(**options)
        if options:
            raise ValueError(f"give the decoding options as one Decoding or by keyword, not both (got "
                             f"{', '.join(options)} beside a Decoding)")
        if not isinstance(decoding, Decoding) or decoding.model != self.key:
            raise ValueError(f"{self.name} decodes with a Decoding it made (model.decoding(...)), got {decoding!r}")
        return decoding

    def decode(self, latents, decoding: Decoding | None = None, *, grad: bool = False, check_input: bool = True,
               should_stop: Callable[[], bool] | None = None, **options) -> torch.Tensor:
        """Images ``[..., C, H, W]`` in [0, 1] (float32) of latents ``[..., *latent_shape]``.

        ``decoding``: a :class:`Decoding` of this model; or its options by keyword (see :meth:`decoding`:
        ``steps``, ``scheduler``, conditions); default the model's defaults. ``grad``: differentiable (when
        gradients are being recorded). ``check_input=False`` skips checking the latents (finite, of the model's
        size), for a caller that has checked them (the decode batcher); they are then a tensor ``[N, ...]``.
        ``should_stop()``: polled before each chunk and each sampler step; True raises
        :class:`~latentcore.optimise.Stopped`.

        Parameters
        ----------
        latents : array-like or torch.Tensor ``[*batch, *latent_shape]``
            Any number of leading batch dimensions (none for one latent); finite values.
        decoding
            A :class:`Decoding` this model made; None (the default) decodes with ``options``.
        grad
            Whether the decode is differentiable (when gradients are being recorded); default False (no
            gradients).
        check_input
            Whether to check the latents (finite, of the model's size); default True. False for a caller that
            has checked them: ``latents`` are then a tensor ``[N, *latent_shape]``.
        should_stop
            Polled before each chunk and each sampler step; True raises :class:`~latentcore.optimise.Stopped`.
            None (the default) never stops.
        **options
            ``steps``, ``scheduler`` and conditions by keyword (see :meth:`decoding`), only without
            ``decoding``; the model's defaults for those not given.

        Returns
        -------
        torch.Tensor ``[*batch, C, H, W]``
            float32 images in [0, 1] on the model's :attr:`device`; ``(C, H, W)`` is :attr:`image_shape`.

        Raises
        ------
        ValueError
            For latents of another shape or with values that are not finite, and for options the model does not
            accept (see :meth:`decoding`).
        OutOfMemory
            When one latent does not fit in the device's memory.
        latentcore.optimise.Stopped
            When ``should_stop()`` returns True.
        """
        decoding = self.resolve_decoding(decoding, **options)
        if check_input:
            latents, batch = check_latents(latents, self.prior, name="latents to decode")
        else:
            batch = (len(latents),)
        z = latents.reshape(-1, *self.latent_shape).to(self.device, torch.float32)
        with self._on_device(), torch.set_grad_enabled(grad and torch.is_grad_enabled()):
            images = self._chunked(self._decode, z, decoding.options, "decoding", self.decode_batch, self.image_shape,
                                   should_stop)
        return images.reshape(*batch, *self.image_shape)

    def _chunked(self, fn, x: torch.Tensor, options: dict, what: str, batch: int, shape,
                 should_stop: Callable[[], bool] | None = None) -> torch.Tensor:
        """``fn`` over chunks of ``x`` (float32) in the model's dtype, results in float32. Chunks of ``batch``, or
        sized from free CUDA memory (:attr:`sized_by_memory`); a chunk out of memory is halved and tried again.
        ``should_stop`` is polled before each chunk, and passed on to an ``fn`` that names it (a sampler's steps)."""
        chunk = self._memory_chunk() if self._sized_here() else batch
        if should_stop is not None and _takes_should_stop(getattr(fn, "__func__", fn)):
            options = {**options, "should_stop": should_stop}
        parts, start = [], 0
        while start < len(x):
            check_stop(should_stop)
            piece = x[start:start + chunk]
            try:
                if self._sized_here() and self._bytes_per_latent is None:
                    out = self._measured(fn, piece[:1], options)
                    chunk = self._memory_chunk()
                    piece = piece[:1]
                else:
                    out = fn(piece.to(self.dtype), **options)
            except torch.cuda.OutOfMemoryError as err:
                if len(piece) == 1:
                    raise OutOfMemory(self._out_of_memory(what, err)) from err
                chunk = max(1, len(piece) // 2)
                if self._bytes_per_latent is not None:  # the estimate was too low: what failed is the new bound
                    self._bytes_per_latent *= 2.0
                torch.cuda.empty_cache()
                continue
            parts.append(out.to(torch.float32))
            start += len(piece)
        return torch.cat(parts) if parts else x.new_zeros(0, *shape)

    def _sized_here(self) -> bool:
        return self.sized_by_memory and self.device.type == "cuda"

    def _measured(self, fn, one: torch.Tensor, options: dict) -> torch.Tensor:
        """``fn`` of one latent, recording the device memory it took above what was allocated before."""
        torch.cuda.reset_peak_memory_stats(self.device)
        before = torch.cuda.memory_allocated(self.device)
        out = fn(one.to(self.dtype), **options)
        self._bytes_per_latent = max(float(torch.cuda.max_memory_allocated(self.device) - before), 1.0)
        return out

    def _memory_chunk(self) -> int:
        """Latents per chunk: :data:`MEMORY_FRACTION` of the free device memory over the memory one latent took
        (1 until measured), at most :data:`MAX_MEMORY_CHUNK`."""
        if self._bytes_per_latent is None:
            return 1
        free, _ = torch.cuda.mem_get_info(self.device)
        return int(min(MAX_MEMORY_CHUNK, max(1, MEMORY_FRACTION * free // self._bytes_per_latent)))

    def _out_of_memory(self, what: str, err: BaseException) -> str:
        free = ""
        if self.device.type == "cuda":
            available, total = torch.cuda.mem_get_info(self.device)
            free = f" ({available / 2**30:.1f} of {total / 2**30:.1f} GiB free)"
        half = "" if self.dtype != torch.float32 else " choose float16 or bfloat16 precision in the sidebar,"
        elsewhere = "start the app on the CPU (LATENTCORE_DEVICE=cpu)" if self.device.type != "cpu" else \
            "free memory on this machine"
        return (f"{self.name} ran out of memory on {self.device}{free} {what} even one latent at a time. Try fewer "
                f"frames or seeds at once, fewer models on the device (let the selected model alone stay there),"
                f"{half} or {elsewhere}. ({type(err).__name__})")

    def __call__(self, latents: torch.Tensor) -> torch.Tensor:
        """Differentiable decoding with default options: a model is a plain decoder callable."""
        return self.decode(latents, grad=True)

    def decoder(self, decoding: Decoding | None = None, *, should_stop: Callable[[], bool] | None = None,
                **options) -> Callable[[torch.Tensor], torch.Tensor]:
        """A plain differentiable decoder ``latents -> images`` with ``decoding`` (or these options, checked now)
        fixed; the model itself for its default decoding. With ``should_stop``, it polls it as :meth:`decode`
        does.

        Parameters
        ----------
        decoding
            A :class:`Decoding` this model made; None (the default) fixes ``options``.
        should_stop
            Polled as :meth:`decode` polls it; None (the default) never stops.
        **options
            ``steps``, ``scheduler`` and conditions by keyword (see :meth:`decoding`), only without
            ``decoding``.

        Returns
        -------
        callable
            ``decoder(latents) -> images``, which is ``decode(latents, decoding, grad=True,
            should_stop=should_stop)``; the model itself for its default decoding without ``should_stop``.

        Raises
        ------
        ValueError
            As :meth:`resolve_decoding`, for options the model does not accept.
        """
        decoding = self.resolve_decoding(decoding, **options)
        if should_stop is None and decoding == self.decoding():
            return self
        return _FixedDecoder(self, decoding, should_stop)

    def stoppable(self, should_stop: Callable[[], bool] | None) -> Callable[[torch.Tensor], torch.Tensor]:
        """The model as a decoder (default options) that polls ``should_stop`` (see
        :func:`latentcore.realism.stoppable`).

        Parameters
        ----------
        should_stop
            Polled before each chunk and sampler step; None gives the model itself.

        Returns
        -------
        callable
            ``decoder(latents) -> images``, as :meth:`decoder` makes it.
        """
        return self.decoder(should_stop=should_stop)

    def encode(self, images, decoding: Decoding | None = None, *, should_stop: Callable[[], bool] | None = None,
               **options) -> torch.Tensor:
        """Latents ``[N, *latent_shape]`` (float32) of images ``[N, C, H, W]`` in [0, 1] (resized and converted to
        the model's size and channels first; see :meth:`prepare_images`); ``decoding`` as in :meth:`decode`. The
        decoding ``scheduler`` has no effect here: inversion is the model's own (DDIM inversion, the flow ODE
        backwards, an encoder). ``should_stop`` as in :meth:`decode`.

        Parameters
        ----------
        images : array-like or torch.Tensor ``[N, C', H', W']`` or ``[C', H', W']``, or a list of such
            Values in [0, 1], of any size and 1 to 3 or more channels (see :meth:`prepare_images`); images of
            different sizes come as a list.
        decoding
            A :class:`Decoding` this model made; None (the default) takes ``options``. Its ``steps`` (the
            sampler's, for inversion) and conditions apply; its ``scheduler`` does not.
        should_stop
            Polled before each chunk and each inversion step; True raises :class:`~latentcore.optimise.Stopped`.
            None (the default) never stops.
        **options
            ``steps``, ``scheduler`` and conditions by keyword (see :meth:`decoding`), only without
            ``decoding``.

        Returns
        -------
        latents : torch.Tensor ``[N, *latent_shape]``
            float32, on the model's :attr:`device`, one per image (``N = 1`` for one image ``[C', H',
            W']``). Computed without gradients.

        Raises
        ------
        NotImplementedError
            When the model has no encoder (:attr:`can_encode` is False).
        ValueError
            For images that are not ``[N, C, H, W]`` or ``[C, H, W]``, not finite or outside [0, 1], an empty
            list, or options the model does not accept.
        OutOfMemory
            When one image does not fit in the device's memory.
        latentcore.optimise.Stopped
            When ``should_stop()`` returns True.
        """
        if not self.can_encode:
            raise NotImplementedError(f"{self.name} has no encoder: it cannot turn images into latents")
        decoding = self.resolve_decoding(decoding, **options)
        x = self.prepare_images(images)
        with self._on_device(), torch.no_grad():
            return self._chunked(self._encode, x, decoding.options, "encoding", self.encode_batch,
                                 self.latent_shape, should_stop)

    def prepare_images(self, images) -> torch.Tensor:
        """Images ``[N, C', H', W']`` (or ``[C', H', W']``, or a list of such of different sizes) in [0, 1] as
        ``[N, C, H, W]`` on the model's device: channels averaged to one or repeated to three as needed, resized
        bilinearly (antialiased).

        Parameters
        ----------
        images : array-like or torch.Tensor ``[N, C', H', W']`` or ``[C', H', W']``, or a list of such
            Values in [0, 1]. The first three channels are averaged when ``C'`` differs from the model's ``C``
            (then repeated to ``C``).

        Returns
        -------
        torch.Tensor ``[N, C, H, W]``
            float32 in [0, 1] on the model's :attr:`device`, ``(C, H, W)`` being :attr:`image_shape`; the
            images of a list one after the other.

        Raises
        ------
        ValueError
            For an empty list, a shape other than ``[N, C, H, W]`` or ``[C, H, W]``, values that are not finite
            or outside [0, 1].
        """
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


_MODELS: "weakref.WeakSet[GenerativeModel]" = weakref.WeakSet()


def offload_others(keep: GenerativeModel | None) -> list[str]:
    """Move every model but ``keep`` off its accelerator (:meth:`GenerativeModel.offload`), so the selected
    model has the device's memory to itself; the names of those moved.

    Parameters
    ----------
    keep
        The model that stays where it is; None moves every model.

    Returns
    -------
    list of str
        The :attr:`~GenerativeModel.name` of every model that moved (models on the CPU, already offloaded or
        computing stay).
    """
    return [model.name for model in list(_MODELS) if model is not keep and model.offload()]


@functools.lru_cache(maxsize=None)
def _takes_should_stop(function) -> bool:
    """Whether a model's ``_decode``/``_encode`` names ``should_stop`` (samplers poll it between steps); others,
    plug-ins taking ``**options`` among them, are not handed it."""
    try:
        return "should_stop" in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


class _FixedDecoder:
    """``model.decode(latents, decoding, grad=True, should_stop=should_stop)`` as a plain callable."""

    def __init__(self, model: GenerativeModel, decoding: Decoding, should_stop: Callable[[], bool] | None = None):
        self.model, self.decoding, self.should_stop = model, decoding, should_stop

    def __call__(self, latents: torch.Tensor) -> torch.Tensor:
        return self.model.decode(latents, self.decoding, grad=True, should_stop=self.should_stop)

    def stoppable(self, should_stop: Callable[[], bool] | None) -> "_FixedDecoder":
        """The same decoder polling ``should_stop`` (see :func:`latentcore.realism.stoppable`)."""
        return _FixedDecoder(self.model, self.decoding, should_stop)

    @property
    def name(self) -> str:
        """The model's name and the options that differ from its defaults."""
        default = self.model.decoding().options
        changed = {k: v for k, v in self.decoding.options.items() if default.get(k) != v}
        return f"{self.model.name} ({', '.join(f'{k}={v!r}' for k, v in changed.items())})"

    def __repr__(self) -> str:
        return f"<decoder {self.name}>"
