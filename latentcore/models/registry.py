"""The model registry: :data:`MODELS` holds every registered generative model (the built-ins and any added by
:func:`register`); :func:`load` returns one by name, or a diffusers pipeline folder by path, on the chosen device,
cached per (model, device). The built-in models' weights are package data under ``latentcore/assets/models``.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Callable

import torch

from ..device import device_key
from ..registry import Entry, Registry
from .base import GenerativeModel
from .diffusers_folder import load_diffusers, unet2d_components
from .judges import Judge
from .precision import check_precision

#: The folder of the built-in models' weights, ``latentcore/assets/models`` in the installed package.
#:
#: :meta hide-value:
ASSETS = Path(str(files("latentcore").joinpath("assets", "models")))
#: What the built-in digits models were trained on, in a sentence.
DIGITS_DATA = "scikit-learn's bundled handwritten digits (1500 of 1797 images, 8x8 upsampled to 16x16)"
#: What ``faces-dcgan`` was trained on, in a sentence.
FACES_DATA = "Microsoft's DigiFace-1M synthetic faces (Bae et al., WACV 2023, arXiv 2210.02579)"


@dataclass(frozen=True)
class ModelSpec(Entry):
    """A registered model: its name, one paragraph for the UI, ``build(device) -> GenerativeModel`` and a few
    words that say what it makes; ``in_default_selection``: the app's model until one is chosen.

    Parameters
    ----------
    name
        The key in :data:`MODELS`, what :func:`load` takes.
    description
        One paragraph for the UI.
    build
        ``build(device) -> GenerativeModel``: the model on ``device``, its networks in float32 (:func:`load`
        sets the precision and caches the model).
    summary
        A few words for the model selector, e.g. ``"faces (GAN)"``; default empty.
    in_default_selection
        Keyword only: whether the app selects it until the user chooses a model; default False.
    formerly
        Keyword only: names it was registered under before; default none.
    """

    description: str
    build: Callable[[torch.device], GenerativeModel]
    summary: str = ""           # a few words for the model selector, e.g. "faces (GAN)"


def _judged_by_digits(build):
    """``build`` whose model is judged by the digits classifier (the built-ins trained on the digits)."""
    def judged(device):
        model = build(device)
        model.judge = digits_judge(model.device)
        return model
    return judged


@_judged_by_digits
def _builtin_ddim(device):
    from .diffusion import PixelDiffusionModel

    spec = MODELS["digits-ddim"]
    unet, config = unet2d_components(ASSETS / "digits-ddim")
    return PixelDiffusionModel(unet, config, spec.name, spec.description, DIGITS_DATA, device)


@_judged_by_digits
def _builtin_flow(device):
    from .pixel_flow import PixelFlowModel

    spec = MODELS["digits-flow"]
    unet, config = unet2d_components(ASSETS / "digits-flow")
    return PixelFlowModel(unet, config, spec.name, spec.description, DIGITS_DATA, device)


def _builtin_gan(device):
    from .gan import GANModel

    return GANModel(ASSETS / "faces-dcgan", "faces-dcgan", MODELS["faces-dcgan"].description, FACES_DATA, device)


def _builtin_vae(name):
    @_judged_by_digits
    def build(device):
        from .vae import VAEModel

        return VAEModel(ASSETS / name, name, MODELS[name].description, DIGITS_DATA, device)

    return build


#: The registered generative models by name, each a :class:`ModelSpec` (the built-ins, then any added by
#: :func:`register` or :func:`~latentcore.models.plugins.load_plugins`).
#:
#: :meta hide-value:
MODELS: Registry[ModelSpec] = Registry("model")


def register(spec: ModelSpec, *, replace: bool = False) -> ModelSpec:
    """Add a model to the registry (a taken name is an error unless ``replace``; the UI lists whatever it
    holds).

    Parameters
    ----------
    spec
        The model's name, description and build function.
    replace
        Whether ``spec`` may take the place of a model registered under the same name; default False.

    Returns
    -------
    ModelSpec
        ``spec`` itself.

    Raises
    ------
    ValueError
        When the name is taken and ``replace`` is False, or a former name of ``spec`` is taken.
    """
    return MODELS.register(spec, replace=replace)


register(ModelSpec(
    "faces-dcgan",
    "A DCGAN generator (Radford et al., arXiv 1511.06434) of 64x64 colour faces, trained by Chien Liu on "
    "Microsoft's DigiFace-1M synthetic faces and published in the PyPI package gan-face-generate 1.1.1 (MIT "
    "licence; the dataset is for non-commercial research). The latent is 100 numbers, prior N(0, I), the setting "
    "of Struski et al.'s DCGAN experiments; decoding is one pass (a few milliseconds per image on a CPU). No "
    "encoder: your images come back to latents by optimisation.",
    _builtin_gan, "faces (GAN)", in_default_selection=True))
register(ModelSpec(
    "digits-vae",
    "A small convolutional VAE of the same digits with a 16-dimensional N(0, I) latent. Decoding is one pass of a "
    "small network (well under a millisecond per image); the encoder gives the posterior mean.",
    _builtin_vae("digits-vae"), "digits (VAE)"))
register(ModelSpec(
    "digits-ddim",
    "A 1.1 M-parameter diffusers UNet2DModel trained as a denoising diffusion model on scikit-learn's handwritten "
    "digits (16x16). The latent is the starting noise x_T (1x16x16, prior N(0, I)); decoding is deterministic "
    "DDIM (25 steps by default) and encoding is DDIM inversion. Latents inverted from real digits are far from "
    "Gaussian, which the normality tests show.",
    _builtin_ddim, "digits (diffusion)"))
register(ModelSpec(
    "digits-flow",
    "The same 1.1 M-parameter diffusers UNet2DModel trained by rectified flow matching on the same digits: it "
    "predicts the velocity of the straight path from a digit to Gaussian noise. The latent is the noise end x_1 "
    "of the flow ODE (1x16x16, prior N(0, I)); decoding integrates the ODE to the image with Euler steps (25 by "
    "default, diffusers' FlowMatchEulerDiscreteScheduler) and encoding integrates it backwards (ODE inversion).",
    _builtin_flow, "digits (flow matching)"))
register(ModelSpec(
    "semicircle-gen",
    "A VAE of the same digits whose prior is the 'semicircle' of Struski et al. (three Gaussians in R^20 forming "
    "a horseshoe in the first two coordinates). Linear paths between the horseshoe's ends cross its empty "
    "middle, where the decoder has seen little: the case ri-optimal interpolation is made for.",
    _builtin_vae("semicircle-gen"), "digits (VAE, horseshoe prior)"))


def available() -> list[str]:
    """Names of the registered generative models.

    Returns
    -------
    list of str
        The keys of :data:`MODELS`, in the order they were registered.
    """
    return list(MODELS)


@functools.lru_cache(maxsize=8)
def _build(spec: ModelSpec, device: str, precision: str) -> GenerativeModel:
    model = spec.build(torch.device(device))  # keyed by the spec: a name registered again builds anew
    model._key = spec.name
    model.set_precision(precision)
    return model


def load(name_or_path: str | os.PathLike, device: torch.device | str | None = None,
         precision: str = "auto") -> GenerativeModel:
    """A registered model by name, or a diffusers pipeline folder by path, its networks in the dtype ``precision``
    names on the device (:mod:`.precision`); cached per (model, device, precision).

    Parameters
    ----------
    name_or_path
        A name in :data:`MODELS` (see :func:`available`), or else the folder of a diffusers pipeline (see
        :func:`~latentcore.models.diffusers_folder.load_diffusers`).
    device
        Where the model computes; default :func:`latentcore.device.default_device`.
    precision
        One of :data:`~latentcore.models.precision.PRECISIONS`; ``"auto"`` (the default) lets the model choose
        (float32 for the built-in models, half precision on CUDA for the large pipelines).

    Returns
    -------
    GenerativeModel
        The same object for the same name, device and precision (up to the 8 kept last for registered models).
        Its :attr:`~latentcore.models.base.GenerativeModel.key` is ``name_or_path`` for a registered model, the
        resolved folder for a pipeline.

    Raises
    ------
    ValueError
        When ``precision`` is not one of :data:`~latentcore.models.precision.PRECISIONS`.
    ModelLoadError
        When ``name_or_path`` is neither a registered name nor a folder of a supported pipeline; the message
        says what is wrong.
    """
    key = str(name_or_path)
    check_precision(precision)
    if key in MODELS:
        return _build(MODELS[key], device_key(device), precision)
    return load_diffusers(key, device, precision)


def digits_judge(device: torch.device | str | None = None) -> Judge:
    """The built-in ``digits-classifier`` as a judge of 1x16x16 digit images (labels 0-9, 128 features).

    Parameters
    ----------
    device
        Where the classifier computes; default :func:`latentcore.device.default_device`.

    Returns
    -------
    Judge
        Named ``"digits-classifier"``, with ``predict`` (labels ``[N]``) and ``features`` (``[N, 128]``) of
        images ``[N, 1, 16, 16]`` in [0, 1]; no class condition.
    """
    classifier = load_classifier(device)
    return Judge("digits-classifier", classifier.predict, classifier.features)


def load_classifier(device: torch.device | str | None = None):
    """The built-in ``digits-classifier`` (cached).

    Parameters
    ----------
    device
        Where the classifier computes; default :func:`latentcore.device.default_device`.

    Returns
    -------
    latentcore.models.classifier.DigitsClassifier
        The same object for the same device (the 2 devices used last are kept).
    """
    return _classifier(device_key(device))


@functools.lru_cache(maxsize=2)
def _classifier(device: str):
    from .classifier import DigitsClassifier

    return DigitsClassifier(ASSETS / "digits-classifier", device)
