"""Diffusers pipelines from local folders written by ``pipeline.save_pretrained``: ``UNet2DModel`` pipelines
(DDPM/DDIM; latent ``x_T``) and Stable Diffusion pipelines (latent ``4 x H/8 x W/8``). Every problem is a
:class:`~latentcore.models.registry.ModelLoadError` that says what is wrong and what is supported. Nothing is
downloaded unless the user allowed it (see :mod:`.hub`).
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


def load_diffusers(path: str | os.PathLike, device: torch.device | str | None = None) -> GenerativeModel:
    """A diffusers pipeline from a local folder written by ``save_pretrained`` (cached per folder and device)."""
    device = device_key(device)
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
            return _load_cached(text, device)
        raise ModelLoadError(f"the folder {folder} does not exist")
    if not folder.is_dir():
        raise ModelLoadError(f"{folder} is a file; give the folder that a pipeline's save_pretrained wrote")
    return _load_cached(str(folder.resolve()), device)


@functools.lru_cache(maxsize=8)
def _load_cached(key: str, device: str) -> GenerativeModel:
    return _load_folder(Path(key), torch.device(device))


SUPPORTED = "UNet2DModel pipelines (DDPMPipeline, DDIMPipeline) and StableDiffusionPipeline"


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
    """The ``UNet2DModel`` and scheduler configuration of a pipeline folder."""
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


def _load_folder(folder: Path, device: torch.device) -> GenerativeModel:
    from .diffusion import PixelDiffusionModel, StableDiffusionModel

    if not folder.exists():  # a hub id with downloads allowed
        try:
            pipe = import_diffusers().DiffusionPipeline.from_pretrained(str(folder))
        except Exception as err:
            raise ModelLoadError(f"could not download '{folder}' from the Hugging Face Hub: {err}") from err
        return _from_pipeline(pipe, str(folder), device)
    index = _model_index(folder)
    cls_name = index.get("_class_name", "?")
    label = folder.name
    if "unet" in index and index["unet"][1] == "UNet2DModel":
        unet, config = unet2d_components(folder)
        return PixelDiffusionModel(unet, config, label, f"Diffusers {cls_name} from {folder}",
                                   "whatever the pipeline's authors trained it on", device)
    if cls_name.startswith("StableDiffusion") and index.get("unet", [None, None])[1] == "UNet2DConditionModel":
        parts = ["unet", "vae", "text_encoder", "tokenizer", "scheduler"]
        _require(folder, parts)
        components = {n: _component(folder, n, index[n]) for n in parts[:4]}
        components["scheduler_config"] = _scheduler_config(folder)
        return StableDiffusionModel(components, label, f"Stable Diffusion ({cls_name}) from {folder}", device)
    raise ModelLoadError(f"{folder} holds a {cls_name}, which Latent Explorer cannot use; supported: {SUPPORTED}")


def _from_pipeline(pipe, label: str, device: torch.device) -> GenerativeModel:
    from .diffusion import PixelDiffusionModel, StableDiffusionModel

    if hasattr(pipe, "text_encoder"):
        components = {n: getattr(pipe, n) for n in ("unet", "vae", "text_encoder", "tokenizer")}
        components["scheduler_config"] = dict(pipe.scheduler.config)
        return StableDiffusionModel(components, label, f"Stable Diffusion from the Hub: {label}", device)
    return PixelDiffusionModel(pipe.unet, dict(pipe.scheduler.config), label, f"Diffusers pipeline {label}",
                               "whatever the pipeline's authors trained it on", device)
