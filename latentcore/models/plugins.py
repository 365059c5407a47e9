"""Plug-in models: any torch module as a :class:`~.base.GenerativeModel`, declared by a :class:`Plugin` in a short
Python file named at server start or exposed by an installed package's entry point (group
``latent_explorer.models``).

A plug-in file is code: loading it runs it with the rights of the process that loads it (the app's server). Name
only files you trust; the app never loads one from the browser.

A file declares one or more :class:`Plugin` objects at module level, e.g.::

    model = Plugin("my-gan", Generator, latent_shape=(64,), output_range=(-1, 1), kind="gan")

:func:`load_plugins` runs the files and the entry points, builds each declared model on the default device and
checks it by decoding two samples of its prior (the images' shape, finiteness and range); a model that passes is
registered in :data:`~.registry.MODELS` (and builds lazily on other devices), one that fails is refused with a
message naming its source and the problem, and the others load all the same.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.metadata
import importlib.util
import math
import os
import re
import sys
import sysconfig
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterable, Mapping, Sequence

import torch

from ..prior_registry import PRIORS, make_prior
from ..priors import Prior
from ..validation import check_finite
from .base import MODEL_KINDS, Condition, GenerativeModel, ModelLoadError, Sampler
from .judges import Judge
from .registry import MODELS, ModelSpec, register

#: The entry point group installed packages declare plug-in models in (see :func:`load_plugins`).
ENTRY_POINT_GROUP = "latent_explorer.models"
#: The environment variable that names plug-in files (see :func:`configured_files`).
FILES_ENV = "LATENT_EXPLORER_MODELS"
#: The app's command-line option that names plug-in files (see :func:`configured_files`).
FILES_OPTION = "--models"
#: The image layouts a plug-in's module may give (the ``layout`` of a :class:`Plugin`).
LAYOUTS = ("NCHW", "NHWC")
#: The names a plug-in may take (1 to 64 letters, digits, ``.``, ``_`` or ``-``, starting with a letter or digit).
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: The numbers of channels a plug-in's images may have (grey or RGB).
CHANNELS = (1, 3)
#: How far, as a fraction of the output range's width, decoded values may pass the declared range (float rounding
#: at the ends of tanh or sigmoid) without the check refusing the model.
RANGE_TOLERANCE = 1e-3


@dataclass(frozen=True, eq=False)
class Plugin:
    """A generative model made of any torch module, declared in a plug-in file or an entry point.

    A declaration that cannot work (an unknown prior or kind, a range with ``low >= high``) is a ValueError where
    it is made. :func:`register_plugin` (or :func:`load_plugins`) builds it as a :class:`PluginModel` and
    registers it.

    Parameters
    ----------
    name
        How the app lists it (1 to 64 letters, digits, ``.``, ``_``, ``-``, starting with a letter or digit; not
        a built-in's name).
    module
        The torch module, or a zero-argument callable that returns it (its class, or a function that builds it
        and loads its weights), called once per device so that the weights load only when needed. A module given
        itself is copied for each device. It runs in eval mode, without parameter gradients.
    latent_shape
        The shape of one latent, e.g. ``(128,)`` or ``(100, 1, 1)``; an int ``D`` is ``(D,)``.
    prior
        The latents' distribution, a family name of :data:`latentcore.PRIORS` (default ``"standard-normal"``)
        or a :class:`~latentcore.Prior` over ``latent_shape`` (e.g. ``lc.Gaussian(mean, cov)``).
    output_range
        ``(low, high)``, the values the module's images span, e.g. ``(-1, 1)`` after a tanh (the default),
        ``(0, 1)`` after a sigmoid, ``(0, 255)``; mapped linearly to [0, 1].
    layout
        ``"NCHW"`` (images ``[N, C, H, W]``, the default) or ``"NHWC"``; ``C`` is 1 (grey) or 3 (RGB).
    kind
        One of ``gan`` (the default), ``vae``, ``diffusion``, ``flow`` (the app offers schemes by kind).
    description
        A paragraph for the app; default empty, which the model replaces by its kind and shapes.
    trained_on
        A sentence for the app on the training data; default empty ("not stated by the plug-in").
    conditions
        Named :class:`~.base.Condition` values (a class label from a list, a prompt, a number with bounds),
        names unique; each decode passes them as keyword arguments. Default none.
    sampler
        For a module that decodes with a number of ``steps`` (a :class:`~.base.Sampler`); the steps are passed
        as the keyword ``steps``. Default None (one-pass decoding).
    decode : callable, optional
        ``decode(module, latents, **conditions) -> images``; default ``module(latents, **conditions)``.
        ``latents`` are ``[N, *latent_shape]`` on the module's device, in its parameters' dtype; ``images``
        ``[N, C, H, W]`` (or ``[N, H, W, C]`` for ``"NHWC"``) in ``output_range``.
    encode : callable, optional
        ``encode(module, images, **conditions) -> latents [N, *latent_shape]`` for a model with an encoder;
        ``images`` come in ``output_range`` and ``layout``. Default None (no encoder).
    decode_batch
        Latents per call of ``decode`` (bounds memory), and images per call of ``encode``; default 64.
    judge
        Optional :class:`~.judges.Judge` of the module's images (converted to [0, 1] and ``NCHW``): a
        classifier's labels and/or features, for the comparison of schemes (class preservation, Frechet
        distance); its ``class_condition`` names one of ``conditions`` when the model is class-conditional.

    Raises
    ------
    ValueError
        When a field does not fit the above: a bad name, a module that is neither a ``torch.nn.Module`` nor
        callable, a latent shape that is not positive integers, an unknown prior family or a prior over another
        shape, an output range that is not two finite numbers with ``low < high``, an unknown layout or kind,
        conditions that are not :class:`~.base.Condition` objects or share a name, hooks that are not callable,
        a ``decode_batch`` below 1, or a judge whose class condition is not one of ``conditions``.
    """

    name: str
    module: torch.nn.Module | Callable[[], torch.nn.Module]
    latent_shape: tuple[int, ...]
    prior: str | Prior = "standard-normal"
    output_range: tuple[float, float] = (-1.0, 1.0)
    layout: str = "NCHW"
    kind: str = "gan"
    description: str = ""
    trained_on: str = ""
    conditions: Sequence[Condition] = ()
    sampler: Sampler | None = None
    decode: Callable[..., torch.Tensor] | None = None
    encode: Callable[..., torch.Tensor] | None = None
    decode_batch: int = 64
    judge: Judge | None = None

    def __post_init__(self):
        where = f"plug-in {self.name!r}"
        if not isinstance(self.name, str) or not NAME_PATTERN.fullmatch(self.name):
            raise ValueError(f"{where}: the name must be 1 to 64 letters, digits, '.', '_' or '-', starting with a "
                             "letter or digit")
        if not (isinstance(self.module, torch.nn.Module) or callable(self.module)):
            raise ValueError(f"{where}: module must be a torch.nn.Module or a function that returns one, got "
                             f"{type(self.module).__name__}")
        shape = (self.latent_shape,) if isinstance(self.latent_shape, int) else self.latent_shape
        try:
            shape = tuple(shape)
        except TypeError:
            shape = ()
        if not shape or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape):
            raise ValueError(f"{where}: latent_shape must be positive integers, e.g. (128,) or (100, 1, 1); got "
                             f"{self.latent_shape!r}")
        object.__setattr__(self, "latent_shape", shape)
        if isinstance(self.prior, str):
            if self.prior not in PRIORS:
                raise ValueError(f"{where}: unknown prior {self.prior!r}; name one of {', '.join(PRIORS)} or give "
                                 "a latentcore Prior")
        elif not isinstance(self.prior, Prior):
            raise ValueError(f"{where}: prior must be a prior family's name or a latentcore Prior, got "
                             f"{type(self.prior).__name__}")
        elif tuple(self.prior.shape) != shape:
            raise ValueError(f"{where}: the prior is over latents {tuple(self.prior.shape)}, but latent_shape is "
                             f"{shape}")
        try:
            low, high = (float(v) for v in self.output_range)
        except (TypeError, ValueError):
            low = high = math.nan
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ValueError(f"{where}: output_range must be two finite numbers (low, high) with low < high, e.g. "
                             f"(-1, 1) or (0, 1); got {self.output_range!r}")
        object.__setattr__(self, "output_range", (low, high))
        if self.layout not in LAYOUTS:
            raise ValueError(f"{where}: layout must be one of {', '.join(LAYOUTS)}, got {self.layout!r}")
        if self.kind not in MODEL_KINDS:
            raise ValueError(f"{where}: kind must be one of {', '.join(MODEL_KINDS)}, got {self.kind!r}")
        conditions = tuple(self.conditions)
        if not all(isinstance(c, Condition) for c in conditions):
            raise ValueError(f"{where}: conditions must be latentcore.models.Condition objects")
        names = [c.name for c in conditions]
        if len(set(names)) != len(names):
            raise ValueError(f"{where}: two conditions share a name ({', '.join(names)})")
        object.__setattr__(self, "conditions", conditions)
        if self.sampler is not None and not isinstance(self.sampler, Sampler):
            raise ValueError(f"{where}: sampler must be a latentcore.models.Sampler or None")
        for hook in ("decode", "encode"):
            if getattr(self, hook) is not None and not callable(getattr(self, hook)):
                raise ValueError(f"{where}: {hook} must be a function or None")
        if isinstance(self.decode_batch, bool) or not isinstance(self.decode_batch, int) or self.decode_batch < 1:
            raise ValueError(f"{where}: decode_batch must be a positive integer, got {self.decode_batch!r}")
        if self.judge is not None and not isinstance(self.judge, Judge):
            raise ValueError(f"{where}: judge must be a latentcore.models.Judge or None")
        if self.judge is not None and self.judge.class_condition not in (None, *names):
            raise ValueError(f"{where}: the judge's class condition {self.judge.class_condition!r} is not one of "
                             f"the conditions ({', '.join(names) or 'none'})")


class PluginModel(GenerativeModel):
    """A :class:`Plugin` built on one device: its module in eval mode, checked on construction by decoding two
    samples of its prior (seed 0). Images are ``(x - low) / (high - low)`` of the module's output ``x`` in
    ``output_range``, clamped to [0, 1] (values past the range by float rounding); NaN or Inf is an error.

    Parameters
    ----------
    plugin
        The declaration.
    device
        Where the module computes; default :func:`latentcore.device.default_device`. The module keeps its
        parameters' dtype, which becomes the model's :attr:`~latentcore.models.base.GenerativeModel.dtype`.

    Raises
    ------
    ModelLoadError
        When building the module fails or gives no ``torch.nn.Module``, or the check fails: decoding fails, or
        gives images that are not ``[2, C, H, W]`` with ``C`` 1 or 3 (in the declared layout), not finite, or
        outside ``output_range`` by more than :data:`RANGE_TOLERANCE` of its width.
    """

    def __init__(self, plugin: Plugin, device: torch.device | str | None = None):
        super().__init__(device)
        self.plugin = plugin
        self.name, self.kind, self.latent_shape = plugin.name, plugin.kind, plugin.latent_shape
        self.prior = make_prior(plugin.prior, plugin.latent_shape) if isinstance(plugin.prior, str) else plugin.prior
        self.sampler = plugin.sampler
        self.conditions = {c.name: c for c in plugin.conditions}
        self.decode_batch = self.encode_batch = plugin.decode_batch
        self.judge = plugin.judge
        self.trained_on = plugin.trained_on or "not stated by the plug-in"
        try:
            module = plugin.module if isinstance(plugin.module, torch.nn.Module) else plugin.module()
        except Exception as err:  # noqa: BLE001 - the plug-in's own code: any failure is a refusal
            raise ModelLoadError(f"building its module failed: {_failure(err)}") from err
        if not isinstance(module, torch.nn.Module):
            raise ModelLoadError(f"its module function returned {type(module).__name__}, not a torch.nn.Module")
        if module is plugin.module:  # the declared module stays where it is; each device gets its own copy
            module = copy.deepcopy(module)
        self.module = module.to(self.device).eval().requires_grad_(False)
        weights = [t for t in (*module.parameters(), *module.buffers()) if t.is_floating_point()]
        self.dtype = weights[0].dtype if weights else torch.float32
        self.image_shape = self._checked_image_shape()
        c, h, w = self.image_shape
        self.description = plugin.description or (
            f"A plug-in {plugin.kind} model: latent {'x'.join(map(str, self.latent_shape))}, images {c}x{h}x{w}.")

    @property
    def can_encode(self) -> bool:
        """Whether the plug-in declares an ``encode``."""
        return self.plugin.encode is not None

    def _module_images(self, latents: torch.Tensor, options: dict) -> torch.Tensor:
        """The module's images of ``latents``, ``[N, C, H, W]`` in its output range (NHWC permuted)."""
        z = latents.to(self.dtype)
        out = self.plugin.decode(self.module, z, **options) if self.plugin.decode else self.module(z, **options)
        if not isinstance(out, torch.Tensor):
            raise ValueError(f"{self.name}'s decode returned {type(out).__name__}, not a tensor of images")
        if out.dim() == 4 and self.plugin.layout == "NHWC":
            out = out.permute(0, 3, 1, 2)
        return out.float()

    def _checked_image_shape(self) -> tuple[int, int, int]:
        """Decode two samples of the prior with default options; the images' shape, or a ModelLoadError."""
        latents = self.prior.sample(2, seed=0).to(self.device, torch.float32)
        latent_text = ", ".join(map(str, self.latent_shape))
        try:
            with torch.no_grad():
                images = self._module_images(latents, self.decoding().options)
        except Exception as err:  # noqa: BLE001 - the plug-in's own code: any failure is a refusal
            raise ModelLoadError(f"decoding two samples of its prior (latents [2, {latent_text}]) failed: "
                                 f"{_failure(err)}. Is latent_shape ({latent_text}) what the module takes?") from err
        layout = "[N, C, H, W]" if self.plugin.layout == "NCHW" else "[N, H, W, C]"
        shown = tuple(images.shape) if self.plugin.layout == "NCHW" or images.dim() != 4 else \
            tuple(images.permute(0, 2, 3, 1).shape)
        if images.dim() != 4 or images.shape[0] != 2 or images.shape[1] not in CHANNELS or min(images.shape) < 1:
            raise ModelLoadError(f"decoding 2 latents gave shape {shown}; expected images {layout} with N = 2 and "
                                 f"C = 1 or 3 (layout {self.plugin.layout})")
        try:
            check_finite(images, "decoding two samples of its prior")
        except ValueError as err:
            raise ModelLoadError(str(err)) from None
        low, high = self.plugin.output_range
        tolerance = RANGE_TOLERANCE * (high - low)
        seen = float(images.min()), float(images.max())
        if seen[0] < low - tolerance or seen[1] > high + tolerance:
            raise ModelLoadError(f"decoding two samples of its prior gave values from {seen[0]:.4g} to {seen[1]:.4g}, "
                                 f"outside its declared output_range ({low:g}, {high:g}); declare the range of the "
                                 "module's last layer, e.g. (-1, 1) after tanh, (0, 1) after sigmoid")
        return tuple(images.shape[1:])

    def _decode(self, latents: torch.Tensor, **options) -> torch.Tensor:
        images = self._module_images(latents, options)
        if tuple(images.shape) != (len(latents), *self.image_shape):
            raise ValueError(f"{self.name}'s decode gave shape {tuple(images.shape)} for {len(latents)} latents; "
                             f"expected {(len(latents), *self.image_shape)}")
        check_finite(images, f"{self.name}'s decoded images")
        low, high = self.plugin.output_range
        return ((images - low) / (high - low)).clamp(0.0, 1.0)

    def _encode(self, images: torch.Tensor, **options) -> torch.Tensor:
        low, high = self.plugin.output_range
        x = images * (high - low) + low
        if self.plugin.layout == "NHWC":
            x = x.permute(0, 2, 3, 1)
        latents = self.plugin.encode(self.module, x.to(self.dtype).contiguous(), **options)
        if not isinstance(latents, torch.Tensor) or tuple(latents.shape) != (len(images), *self.latent_shape):
            shape = tuple(latents.shape) if isinstance(latents, torch.Tensor) else type(latents).__name__
            raise ValueError(f"{self.name}'s encode gave {shape} for {len(images)} images; expected "
                             f"{(len(images), *self.latent_shape)}")
        return check_finite(latents, f"{self.name}'s encoded latents").float()


@dataclass(frozen=True)
class PluginSpec(ModelSpec):
    """A registered plug-in model: a :class:`~.registry.ModelSpec` that remembers where it came from.

    Parameters
    ----------
    source
        The plug-in file or entry point it came from (see :class:`Refusal`); default empty. The other parameters
        are :class:`~.registry.ModelSpec`'s.
    """

    source: str = ""


@dataclass(frozen=True)
class Refusal:
    """A plug-in that was not loaded: its ``source`` (a file, or an entry point) and the ``problem``.

    ``str(refusal)`` is ``"source: problem"``.

    Parameters
    ----------
    source
        The file as it was named, or ``"entry point NAME = VALUE"`` followed by ``" (package DIST)"`` where the
        distribution is known.
    problem
        What went wrong, e.g. a syntax error with its line, or a failed check; for a declared model that was
        refused, it starts with the model's name.
    """

    source: str
    problem: str

    def __str__(self) -> str:
        return f"{self.source}: {self.problem}"


@dataclass(frozen=True)
class PluginReport:
    """What :func:`load_plugins` did: ``loaded`` maps each registered model's name to its source; ``refused``
    lists the plug-ins that were not, with why.

    Parameters
    ----------
    loaded
        Each registered model's name and its source; default empty.
    refused
        A :class:`Refusal` for each source or model that was not loaded; default empty.
    """

    loaded: dict[str, str] = field(default_factory=dict)
    refused: list[Refusal] = field(default_factory=list)


def register_plugin(plugin: Plugin, source: str = "", device: torch.device | str | None = None) -> PluginModel:
    """Build ``plugin`` on ``device`` (default the default device), check it, and register it in
    :data:`~.registry.MODELS` under its name; returns the checked model (which :func:`~.registry.load` then
    returns for that device; other devices build their own on first use).

    A :class:`~.base.ModelLoadError` says what is wrong: a name taken by a built-in or by another source's
    plug-in (the same source may register it again, e.g. when its file is loaded again), or a failed check.

    Parameters
    ----------
    plugin
        The declaration.
    source
        Where it came from (a file, an entry point), kept in its :class:`PluginSpec`; default empty.
    device
        Where the checked model is built; default :func:`latentcore.device.default_device`.

    Returns
    -------
    PluginModel
        The checked model on ``device``.

    Raises
    ------
    ModelLoadError
        When the name is taken by a built-in model or another source's plug-in, or the model fails its check
        (see :class:`PluginModel`).
    """
    taken = MODELS.get(plugin.name)
    if taken is not None and not (isinstance(taken, PluginSpec) and taken.source == source):
        owner = f"the plug-in from {taken.source}" if isinstance(taken, PluginSpec) else "a built-in model"
        raise ModelLoadError(f"the name {plugin.name!r} is taken by {owner}; give this model another name")
    checked = PluginModel(plugin, device)

    def build(device: torch.device) -> GenerativeModel:
        return checked if torch.device(device) == checked.device else PluginModel(plugin, device)

    register(PluginSpec(plugin.name, checked.description, build, summary=f"plug-in ({checked.kind.upper()})",
                        source=source), replace=taken is not None)
    return checked


def load_plugins(files: Iterable[str | os.PathLike] = (), *, entry_points: bool = True,
                 device: torch.device | str | None = None) -> PluginReport:
    """Run the plug-in ``files`` and (when ``entry_points``) the installed entry points of group
    :data:`ENTRY_POINT_GROUP`, then check and register every :class:`Plugin` they declare
    (:func:`register_plugin`). Nothing raises: each failure becomes a :class:`Refusal` naming the file or entry
    point and the problem (a syntax error, an import error, a failed check), and the rest load.

    Parameters
    ----------
    files
        Plug-in files (see :func:`plugins_in_file` and :func:`configured_files`); default none.
    entry_points
        Whether to load the installed entry points too; default True.
    device
        Where each model is built and checked; default :func:`latentcore.device.default_device`.

    Returns
    -------
    PluginReport
        The names registered, each with its source, and the refusals. A name declared by two sources is
        registered for the first and refused for the second.
    """
    declared: list[tuple[str, list[Plugin]]] = []
    refused: list[Refusal] = []
    sources: list[tuple[str, Callable[[], list[Plugin]]]] = [
        (str(f), lambda f=f: plugins_in_file(f)) for f in files]
    if entry_points:
        sources += [(_entry_point_source(ep), lambda ep=ep: _plugins_of_entry_point(ep))
                    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)]
    for source, read in sources:
        try:
            declared.append((source, read()))
        except ModelLoadError as err:
            refused.append(Refusal(source, str(err)))
    loaded: dict[str, str] = {}
    for source, plugins in declared:
        for plugin in plugins:
            if plugin.name in loaded and loaded[plugin.name] != source:
                refused.append(Refusal(source, f"the name {plugin.name!r} is taken by the plug-in from "
                                               f"{loaded[plugin.name]}; give this model another name"))
                continue
            try:
                register_plugin(plugin, source, device)
            except ModelLoadError as err:
                refused.append(Refusal(source, f"model {plugin.name!r}: {err}"))
            else:
                loaded[plugin.name] = source
    return PluginReport(loaded, refused)


def plugins_in_file(path: str | os.PathLike) -> list[Plugin]:
    """Run the Python file ``path`` as a module and return the :class:`Plugin` objects it declares at module
    level; a :class:`~.base.ModelLoadError` says why not (no such file, a syntax error, an exception while it
    runs, no Plugin in it). The file's ``__file__`` is set, so it can find its weights beside it.

    Parameters
    ----------
    path
        A ``.py`` file (``~`` expanded). Running it runs its code with the rights of this process.

    Returns
    -------
    list of Plugin
        The distinct :class:`Plugin` objects among the file's module-level names, in the order of first
        appearance; none is checked or registered yet.

    Raises
    ------
    ModelLoadError
        When there is no such file, it is no ``.py`` file, it has a syntax error, it raises while it runs, or it
        declares no :class:`Plugin`.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise ModelLoadError("no such file")
    if path.suffix != ".py":
        raise ModelLoadError("not a Python file (a plug-in is a .py file that declares latentcore.models.Plugin "
                             "objects)")
    resolved = path.resolve()
    module_name = f"latent_explorer_plugin_{hashlib.blake2b(str(resolved).encode(), digest_size=8).hexdigest()}"
    spec = importlib.util.spec_from_file_location(module_name, resolved)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look their module up here
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        sys.modules.pop(module_name, None)
        raise ModelLoadError(f"syntax error on line {err.lineno}: {err.msg}") from None
    except (Exception, SystemExit) as err:  # noqa: BLE001 - the plug-in's own code: any failure is a refusal
        sys.modules.pop(module_name, None)
        raise ModelLoadError(f"running the file failed: {_failure(err)}") from err
    return _declared(module, "the file")


def configured_files(argv: Sequence[str] = (), environ: Mapping[str, str] | None = None) -> list[str]:
    """The plug-in files named for this process, without repeats: those after ``--models`` in ``argv`` (the app's
    arguments: ``streamlit run app.py -- --models my_gan.py other.py``), then those in ``$LATENT_EXPLORER_MODELS``
    (separated by ``os.pathsep``, ``:`` on Linux and macOS, ``;`` on Windows).

    Parameters
    ----------
    argv
        The app's arguments; both ``--models a.py b.py`` and ``--models=a.py`` are read, the files after
        ``--models`` ending at the next option. Default none.
    environ
        The environment to read :data:`FILES_ENV` from; default ``os.environ``.

    Returns
    -------
    list of str
        The files as named, each once, in the order first named.
    """
    files, taking = [], False
    for arg in argv:
        if arg == FILES_OPTION:
            taking = True
        elif arg.startswith(FILES_OPTION + "="):
            files.append(arg.split("=", 1)[1])
            taking = False
        elif arg.startswith("-"):
            taking = False
        elif taking:
            files.append(arg)
    env = (os.environ if environ is None else environ).get(FILES_ENV, "")
    files += [f.strip() for f in env.split(os.pathsep) if f.strip()]
    return list(dict.fromkeys(files))


def _plugins_of_entry_point(ep: importlib.metadata.EntryPoint) -> list[Plugin]:
    """The Plugin objects an entry point names: a Plugin, a list or tuple of them, or a module declaring them."""
    try:
        target = ep.load()
    except (Exception, SystemExit) as err:  # noqa: BLE001 - the plug-in's own code: any failure is a refusal
        raise ModelLoadError(f"importing it failed: {_failure(err)}") from err
    if isinstance(target, ModuleType):
        return _declared(target, "the module")
    plugins = list(target) if isinstance(target, (list, tuple)) else [target]
    if not plugins or not all(isinstance(p, Plugin) for p in plugins):
        raise ModelLoadError(f"it names a {type(target).__name__}; an entry point of {ENTRY_POINT_GROUP} names a "
                             "latentcore.models.Plugin, a list of them, or a module that declares them")
    return plugins


def _entry_point_source(ep: importlib.metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return f"entry point {ep.name} = {ep.value}" + (f" (package {dist.name})" if dist is not None else "")


def _declared(module: ModuleType, what: str) -> list[Plugin]:
    found = list(dict.fromkeys(v for v in vars(module).values() if isinstance(v, Plugin)))
    if not found:
        raise ModelLoadError(f"{what} declares no latentcore.models.Plugin at module level")
    return found


def _failure(err: BaseException) -> str:
    """``Type: message``, after the file and line of the last frame outside the standard library, installed packages
    and latentcore: the plug-in file's own code, where it failed (none for a plug-in in an installed package)."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if not f.filename.startswith("<")
              and not any(Path(f.filename).is_relative_to(library) for library in _LIBRARIES)]
    where = f"{Path(frames[-1].filename).name} line {frames[-1].lineno}: " if frames else ""
    return f"{where}{type(err).__name__}: {err}"


_LIBRARIES = (*(Path(sysconfig.get_paths()[k]) for k in ("stdlib", "purelib", "platlib")), Path(__file__).parents[1])
