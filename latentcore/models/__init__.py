"""Models: the decoder interface, the built-in models, diffusers pipelines, and one registry.

- :func:`available` lists the registered generative models (built-ins and any added by :func:`register`).
- :func:`load` takes a registered name or a local diffusers pipeline folder and returns a
  :class:`~latentcore.models.base.GenerativeModel` on the chosen device; loading is cached.
- :func:`load_diffusers` loads a folder written by ``pipeline.save_pretrained``: ``UNet2DModel`` pipelines
  (DDPM/DDIM; latent ``x_T``) and Stable Diffusion pipelines (latent ``4 x H/8 x W/8``).
- :func:`load_classifier` loads ``digits-classifier``.

Nothing is downloaded at run time: ``HF_HUB_OFFLINE=1`` is set (unless the user set it) before diffusers is
imported, so a Hugging Face Hub id fails at once with a clear message; set ``HF_HUB_OFFLINE=0`` on a machine
with internet to allow hub ids.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import torch  # noqa: E402

from ..device import default_device  # noqa: E402
from .base import GenerativeModel  # noqa: E402

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "models"
DIGITS_DATA = "scikit-learn's bundled handwritten digits (1500 of 1797 images, 8x8 upsampled to 16x16)"


class ModelLoadError(ValueError):
    """A model that cannot be loaded; the message says what is wrong and what is expected."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    build: Callable[[torch.device], GenerativeModel]


def _builtin_ddim(device):
    from .diffusion import PixelDiffusionModel

    spec = MODELS["digits-ddim"]
    unet, config = _unet2d_components(ASSETS / "digits-ddim")
    return PixelDiffusionModel(unet, config, spec.name, spec.description, DIGITS_DATA, device)


def _builtin_vae(name):
    def build(device):
        from .vae import VAEModel

        return VAEModel(ASSETS / name, name, MODELS[name].description, DIGITS_DATA, device)

    return build


MODELS: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    """Add a model to the registry (the UI lists whatever it holds)."""
    MODELS[spec.name] = spec
    return spec


register(ModelSpec(
    "digits-ddim",
    "A 1.1 M-parameter diffusers UNet2DModel trained as a denoising diffusion model on scikit-learn's handwritten "
    "digits (16x16). The latent is the starting noise x_T (1x16x16, prior N(0, I)); decoding is deterministic "
    "DDIM (25 steps by default) and encoding is DDIM inversion. Latents inverted from real digits are far from "
    "Gaussian, which the normality tests show.",
    _builtin_ddim))
register(ModelSpec(
    "digits-vae",
    "A small convolutional VAE of the same digits with a 16-dimensional N(0, I) latent. Decoding is one pass of a "
    "small network (well under a millisecond per image); the encoder gives the posterior mean.",
    _builtin_vae("digits-vae")))
register(ModelSpec(
    "semicircle-gen",
    "A VAE of the same digits whose prior is the 'semicircle' of Struski et al. (three Gaussians in R^20 forming "
    "a horseshoe in the first two coordinates). Linear paths between the horseshoe's ends cross its empty "
    "middle, where the decoder has seen little: the case ri-optimal interpolation is made for.",
    _builtin_vae("semicircle-gen")))


def available() -> list[str]:
    """Names of the registered generative models."""
    return list(MODELS)


@functools.lru_cache(maxsize=8)
def _load_cached(key: str, device: str) -> GenerativeModel:
    if key in MODELS:
        return MODELS[key].build(torch.device(device))
    return _load_folder(Path(key), torch.device(device))


def load(name_or_path: str | os.PathLike, device: torch.device | str | None = None) -> GenerativeModel:
    """A registered model by name, or a diffusers pipeline folder by path; cached per (model, device)."""
    device = str(torch.device(device) if device is not None else default_device())
    key = str(name_or_path)
    if key not in MODELS:
        return load_diffusers(key, device)
    return _load_cached(key, device)


def load_diffusers(path: str | os.PathLike, device: torch.device | str | None = None) -> GenerativeModel:
    """A diffusers pipeline from a local folder written by ``save_pretrained`` (cached per folder and device)."""
    device = str(torch.device(device) if device is not None else default_device())
    text = str(path).strip()
    if not text:
        raise ModelLoadError("no folder given: enter the path of a diffusers pipeline folder")
    folder = Path(text).expanduser()
    if not folder.exists():
        if not folder.is_absolute() and text.count("/") == 1 and not text.startswith("."):
            if os.environ.get("HF_HUB_OFFLINE", "1") not in ("0", "false", "False"):
                raise ModelLoadError(
                    f"'{text}' is not a local folder. It looks like a Hugging Face Hub id, but downloading is off "
                    "here (HF_HUB_OFFLINE=1): download the pipeline on a machine with internet, save it with "
                    "save_pretrained, and give the folder's path")
            return _load_cached(text, device)
        raise ModelLoadError(f"the folder {folder} does not exist")
    if not folder.is_dir():
        raise ModelLoadError(f"{folder} is a file; give the folder that a pipeline's save_pretrained wrote")
    return _load_cached(str(folder.resolve()), device)


def load_classifier(device: torch.device | str | None = None):
    """The built-in ``digits-classifier`` (cached)."""
    return _classifier(str(torch.device(device) if device is not None else default_device()))


@functools.lru_cache(maxsize=2)
def _classifier(device: str):
    from .classifier import DigitsClassifier

    return DigitsClassifier(ASSETS / "digits-classifier", device)


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


def _unet2d_components(folder: Path):
    from diffusers import UNet2DModel

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
        from diffusers import DiffusionPipeline

        try:
            pipe = DiffusionPipeline.from_pretrained(str(folder))
        except Exception as err:
            raise ModelLoadError(f"could not download '{folder}' from the Hugging Face Hub: {err}") from err
        return _from_pipeline(pipe, str(folder), device)
    index = _model_index(folder)
    cls_name = index.get("_class_name", "?")
    label = folder.name
    if "unet" in index and index["unet"][1] == "UNet2DModel":
        unet, config = _unet2d_components(folder)
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


__all__ = ["GenerativeModel", "ModelSpec", "ModelLoadError", "MODELS", "register", "available", "load",
           "load_diffusers", "load_classifier"]
