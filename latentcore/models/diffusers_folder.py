"""Diffusers pipelines from local folders written by ``pipeline.save_pretrained``, recognised by the components
their ``model_index.json`` names (so variants of a pipeline class with the same parts load too):

- a ``UNet2DModel`` (DDPMPipeline, DDIMPipeline, ...): pixel diffusion with any scheduler diffusers can switch to
  DDIM (latent ``x_T``), or pixel flow matching with a ``FlowMatchEulerDiscreteScheduler`` (latent ``x_1``);
- Stable Diffusion 1.x/2.x: ``UNet2DConditionModel`` and one CLIP text encoder;
- Stable Diffusion XL: ``UNet2DConditionModel`` and two CLIP text encoders (``text_encoder_2``);
- Stable Diffusion 3: ``SD3Transformer2DModel``, two CLIP text encoders and optionally the T5 one, flow matching.

Every problem is a :class:`~latentcore.models.base.ModelLoadError` that says what is wrong and, for a pipeline of
another kind, which kind it is and which kinds are supported (:data:`SUPPORTED`). Nothing is downloaded unless the
user allowed it (see :mod:`.hub`). ``precision`` is the dtype choice of :mod:`.precision`.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
from pathlib import Path

import torch

from ..device import device_key
from .base import GenerativeModel, ModelLoadError
from .hub import import_diffusers, offline
from .precision import check_precision


def load_diffusers(path: str | os.PathLike, device: torch.device | str | None = None,
                   precision: str = "auto") -> GenerativeModel:
    """A diffusers pipeline from a local folder written by ``save_pretrained`` (cached per folder, device and
    precision).

    Parameters
    ----------
    path
        The pipeline's folder (``~`` expanded), the one holding ``model_index.json``. Where downloads are allowed
        (``HF_HUB_OFFLINE=0``, see :mod:`.hub`), a Hugging Face Hub id ``owner/name`` that is no local folder is
        downloaded.
    device
        Where the model computes; default :func:`latentcore.device.default_device`.
    precision
        One of :data:`~latentcore.models.precision.PRECISIONS`; ``"auto"`` (the default) gives the text-to-image
        pipelines float16 or bfloat16 on CUDA and the ``UNet2DModel`` pipelines float32.

    Returns
    -------
    GenerativeModel
        A :class:`~latentcore.models.diffusion.PixelDiffusionModel`,
        :class:`~latentcore.models.pixel_flow.PixelFlowModel`,
        :class:`~latentcore.models.pipelines.StableDiffusionModel`,
        :class:`~latentcore.models.pipelines.StableDiffusionXLModel` or
        :class:`~latentcore.models.pipelines.StableDiffusion3Model`, named after the folder; its
        :attr:`~latentcore.models.base.GenerativeModel.key` is the resolved folder (or the hub id). The same
        object for the same folder, device and precision (up to the 8 kept last).

    Raises
    ------
    ModelLoadError
        When no folder is given, the folder does not exist, is a file, is not a complete pipeline of a supported
        kind (:data:`SUPPORTED`), or a component does not load; or for a hub id while downloading is off.
    ValueError
        When ``precision`` is not one of :data:`~latentcore.models.precision.PRECISIONS`.
    """
    device = device_key(device)
    check_precision(precision)
    text = str(path).strip()
    if not text:
        raise ModelLoadError("no folder given: enter the path of a diffusers pipeline folder")
    folder = Path(text).expanduser()
    if not folder.exists():
        if not folder.is_absolute() and text.count("/") == 1 and not text.startswith("."):
            if offline():
                raise ModelLoadError(
                    f"'{text}' is not a local folder. It looks like a Hugging Face Hub id, but downloading is off "
                    "here (HF_HUB_OFFLINE=1): download the pipeline on a machine with internet, save it with "
                    "save_pretrained, and give the folder's path")
            return _load_cached(text, device, precision)
        raise ModelLoadError(f"the folder {folder} does not exist")
    if not folder.is_dir():
        raise ModelLoadError(f"{folder} is a file; give the folder that a pipeline's save_pretrained wrote")
    return _load_cached(str(folder.resolve()), device, precision)


@functools.lru_cache(maxsize=8)
def _load_cached(key: str, device: str, precision: str) -> GenerativeModel:
    model = _load_folder(Path(key), torch.device(device), precision)
    model._key = key  # the resolved folder (or hub id): what the app knows the model by
    return model


#: The kinds of pipeline :func:`load_diffusers` loads, as its messages name them.
SUPPORTED = ("UNet2DModel pipelines (DDPMPipeline, DDIMPipeline: a DDIM-compatible scheduler, or "
             "FlowMatchEulerDiscreteScheduler for pixel flow matching), Stable Diffusion 1.x/2.x "
             "(StableDiffusionPipeline), Stable Diffusion XL (StableDiffusionXLPipeline) and Stable Diffusion 3 "
             "(StableDiffusion3Pipeline, with or without its T5 text encoder)")
#: The scheduler class that marks a pipeline as flow matching.
FLOW_SCHEDULER = "FlowMatchEulerDiscreteScheduler"


def _model_index(folder: Path) -> dict:
    index_path = folder / "model_index.json"
    if not index_path.is_file():
        hint = " (it holds a single model's config.json: give its parent pipeline folder)" if (
            folder / "config.json").is_file() else ""
        raise ModelLoadError(f"{folder} has no model_index.json{hint}; expected a folder written by a diffusers "
                             f"pipeline's save_pretrained ({SUPPORTED})")
    try:
        return json.loads(index_path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ModelLoadError(f"{index_path} is not valid JSON ({err})") from err


def _require(folder: Path, names: list[str]) -> None:
    missing = [n for n in names if not (folder / n).is_dir()]
    if missing:
        raise ModelLoadError(f"{folder} lacks the component folder(s) {', '.join(missing)} that its "
                             "model_index.json names; the pipeline was not saved completely")


def _scheduler_config(folder: Path) -> dict:
    path = folder / "scheduler" / "scheduler_config.json"
    if not path.is_file():
        raise ModelLoadError(f"{folder} has no scheduler/scheduler_config.json")
    return json.loads(path.read_text())


def unet2d_components(folder: Path):
    """The ``UNet2DModel`` and scheduler configuration of a pipeline folder.

    Parameters
    ----------
    folder
        A pipeline folder with ``unet`` and ``scheduler`` subfolders.

    Returns
    -------
    tuple
        ``(unet, scheduler_config)``: the ``diffusers.UNet2DModel`` (loaded from local files only, on the CPU,
        as saved) and the scheduler configuration (a dict).

    Raises
    ------
    ModelLoadError
        When a subfolder or ``scheduler/scheduler_config.json`` is missing or the UNet does not load.
    """
    UNet2DModel = import_diffusers().UNet2DModel
    _require(folder, ["unet", "scheduler"])
    try:
        unet = UNet2DModel.from_pretrained(folder / "unet", local_files_only=True, use_safetensors=None)
    except Exception as err:  # diffusers raises several kinds for bad weights or configs
        raise ModelLoadError(f"could not load {folder / 'unet'} as a UNet2DModel: {err}") from err
    return unet, _scheduler_config(folder)


def _component(folder: Path, name: str, spec) -> object:
    library, cls_name = spec
    try:
        cls = getattr(importlib.import_module(library), cls_name)
    except (ImportError, AttributeError) as err:
        raise ModelLoadError(f"{folder}: component '{name}' needs {library}.{cls_name}, which is not installed "
                             f"({err})") from err
    try:
        return cls.from_pretrained(folder / name, local_files_only=True)
    except Exception as err:
        raise ModelLoadError(f"could not load {folder / name} as {cls_name}: {err}") from err


class _Parts:
    """The components of a pipeline, from a folder (loaded when asked) or from a pipeline object (downloaded)."""

    def __init__(self, index: dict, folder: Path | None = None, pipe=None):
        self.index, self.folder, self.pipe = index, folder, pipe

    def cls(self, name: str) -> str | None:
        """The class name of component ``name`` (None when absent)."""
        spec = self.index.get(name)
        return spec[1] if isinstance(spec, (list, tuple)) and len(spec) == 2 and spec[1] else None

    def load(self, names: list[str], optional: tuple[str, ...] = ()) -> dict:
        """The components ``names`` (those in ``optional`` may be absent: None) and the scheduler configuration."""
        present = [n for n in names if n not in optional or self.cls(n)]
        if self.pipe is not None:
            out = {n: getattr(self.pipe, n) for n in present}
            out["scheduler_config"] = dict(self.pipe.scheduler.config)
        else:
            _require(self.folder, present + ["scheduler"])
            out = {n: _component(self.folder, n, self.index[n]) for n in present}
            out["scheduler_config"] = _scheduler_config(self.folder)
        return {**{n: None for n in optional}, **out}

    def describe(self) -> str:
        """What the pipeline is made of, for messages: its class and main components."""
        parts = [f"{n} {self.cls(n)}" for n in ("unet", "transformer", "text_encoder_2", "scheduler") if self.cls(n)]
        return f"the pipeline {self.index.get('_class_name', 'without a class name')}" + (
            f" ({', '.join(parts)})" if parts else "")


def _family(parts: _Parts) -> str | None:
    """``"flow"`` for a flow-matching scheduler, ``"noise"`` for one diffusers can switch to DDIM, else None."""
    scheduler = parts.cls("scheduler")
    if scheduler == FLOW_SCHEDULER:
        return "flow"
    if scheduler in import_diffusers().DDIMScheduler._compatibles:
        return "noise"
    return None


def _build(parts: _Parts, label: str, where: str, device: torch.device, precision: str) -> GenerativeModel:
    """The model of a pipeline's components; a ModelLoadError naming its kind when it is not one supported."""
    from .diffusion import PixelDiffusionModel
    from .pipelines import StableDiffusion3Model, StableDiffusionModel, StableDiffusionXLModel

    cls_name = parts.index.get("_class_name", "?")
    family = _family(parts)
    if parts.cls("unet") == "UNet2DModel" and family is not None:
        found = parts.load(["unet"])
        if family == "flow":
            from .pixel_flow import PixelFlowModel as cls
        else:
            cls = PixelDiffusionModel
        kind = " (flow matching)" if family == "flow" else ""
        model = cls(found["unet"], found["scheduler_config"], label, f"Diffusers {cls_name}{kind} from {where}",
                    "whatever the pipeline's authors trained it on", device)
        model.set_precision(precision)
        return model
    if family == "noise" and parts.cls("unet") == "UNet2DConditionModel" and parts.cls("text_encoder") \
            and parts.cls("text_encoder_2"):  # an SDXL refiner (text_encoder_2 alone) is no kind supported
        found = parts.load(["unet", "vae", "text_encoder", "tokenizer", "text_encoder_2", "tokenizer_2"])
        found["force_zeros_for_empty_prompt"] = parts.index.get("force_zeros_for_empty_prompt", True)
        return StableDiffusionXLModel(found, label, f"Stable Diffusion XL ({cls_name}) from {where}", device,
                                      precision)
    if family == "noise" and parts.cls("unet") == "UNet2DConditionModel" and parts.cls("text_encoder"):
        found = parts.load(["unet", "vae", "text_encoder", "tokenizer"])
        return StableDiffusionModel(found, label, f"Stable Diffusion ({cls_name}) from {where}", device, precision)
    if family == "flow" and parts.cls("transformer") == "SD3Transformer2DModel":
        found = parts.load(["transformer", "vae", "text_encoder", "tokenizer", "text_encoder_2", "tokenizer_2",
                            "text_encoder_3", "tokenizer_3"], optional=("text_encoder_3", "tokenizer_3"))
        if found["scheduler_config"].get("use_dynamic_shifting"):
            raise ModelLoadError(f"{where}: its scheduler shifts its noise levels by the image size "
                                 "(use_dynamic_shifting), which Latent Explorer does not support")
        t5 = "" if found["text_encoder_3"] is not None else ", without its T5 text encoder"
        return StableDiffusion3Model(found, label, f"Stable Diffusion 3 ({cls_name}{t5}) from {where}", device,
                                     precision)
    why = "its parts are none of the supported kinds"
    if (parts.cls("unet") or parts.cls("transformer")) and family is None:
        why = f"its scheduler {parts.cls('scheduler')} is neither DDIM-compatible nor flow matching"
    raise ModelLoadError(f"{where} holds {parts.describe()}, which Latent Explorer cannot use ({why}); "
                         f"supported: {SUPPORTED}")


def _load_folder(folder: Path, device: torch.device, precision: str) -> GenerativeModel:
    if not folder.exists():  # a hub id with downloads allowed
        try:
            pipe = import_diffusers().DiffusionPipeline.from_pretrained(str(folder))
        except Exception as err:
            raise ModelLoadError(f"could not download '{folder}' from the Hugging Face Hub: {err}") from err
        index = {"_class_name": type(pipe).__name__, **dict(pipe.config)}
        return _build(_Parts(index, pipe=pipe), str(folder), f"the Hub: {folder}", device, precision)
    return _build(_Parts(_model_index(folder), folder), folder.name, str(folder), device, precision)
