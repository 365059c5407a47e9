"""The model of a page run and what is cached around it: plug-in models and models loaded once per server process,
decoded images cached by latent values and decoding options, and paths through seeds (iterative ones as jobs).

A page's decoding options (``decoding``) are one dict: the sampler's ``steps`` (models with a sampler) and the
value of each of the model's conditions, as the sidebar sets them; every decode and encode takes ``**decoding``.
"""

from __future__ import annotations

import hashlib
import sys

import numpy as np
import streamlit as st
import torch

import latentcore as lc
import latentcore.models as models
from latentcore.imaging import image_grid, to_uint8

from . import jobs


def plugins() -> models.PluginReport:
    """The plug-in models named at server start (``streamlit run app.py -- --models FILE ...`` or
    ``$LATENT_EXPLORER_MODELS``) and installed entry points: loaded, checked and registered once per server
    process; what was refused and why."""
    return _plugins_loaded(tuple(models.configured_files(sys.argv[1:])))


@st.cache_resource(show_spinner="Loading plug-in models ...")
def _plugins_loaded(files: tuple[str, ...]) -> models.PluginReport:
    return models.load_plugins(files)


@st.cache_resource(show_spinner="Loading the model ...")
def get_model(name: str):
    return models.load(name)


@st.cache_data(max_entries=2048, show_spinner=False)
def decode_to_uint8(model_name: str, latents: np.ndarray, decoding: dict) -> np.ndarray:
    """Decoded images of ``latents`` as 8-bit arrays; cached by model, latent values and decoding options."""
    return to_uint8(get_model(model_name).decode(torch.from_numpy(latents), **decoding))


@st.cache_data(max_entries=32, show_spinner=False)
def model_thumbnail(model_name: str) -> np.ndarray:
    """Four samples of the model's prior, decoded in a row: what the model makes, at a glance."""
    model = get_model(model_name)
    return np.asarray(image_grid(model.decode(model.prior.sample(4, seed=0)), columns=4, scale=1))


def path_through(model_name: str, model, stops: torch.Tensor, frames: int, scheme: str, decoding: dict, where=st):
    """The path ``[F, *shape]`` through ``stops [K, *shape]`` by one registered scheme, ``frames`` per leg; schemes
    that use the decoder (ri-optimal paths) decode with ``decoding``.

    Iterative schemes (NAO, ri-optimal) run as jobs (:mod:`ui.jobs`: progress at the top of the page, Cancel,
    the session's time budget); until theirs has ended the path is None (a line in ``where`` says why), and the
    result stays with the session's jobs, so a rerun for another widget does not optimise it again. A path cut
    short by the budget or Cancel says so in ``where``, with a button to run it again.
    """
    spec = lc.SCHEMES[scheme]
    options = spec.options(model, context="interactive", decoding=decoding)
    if not spec.iterative:
        return lc.interpolate_chain(stops, frames, scheme=scheme, prior=model.prior, **options)
    key = ("path", model_name, scheme, frames, digest(stops.numpy().tobytes()), tuple(stops.shape),
           tuple(sorted(decoding.items())) if spec.uses_decoder else ())
    return jobs.optimised(key, f"{spec.label} path", lambda **controls: lc.interpolate_chain(
        stops, frames, scheme=scheme, prior=model.prior, return_stopping=True, **options, **controls), where)


def centroid_of(model_name: str, model, seeds: torch.Tensor, scheme: str, where=st) -> torch.Tensor | None:
    """The centroid ``[*shape]`` of ``seeds [K, *shape]`` by one registered centroid scheme. Iterative ones (NAO)
    run as jobs, like :func:`path_through`: None until theirs has ended, a line in ``where`` meanwhile, and one
    saying so when it was cut short."""
    spec = lc.CENTROIDS[scheme]
    options = spec.options(context="interactive")
    if not spec.iterative:
        return lc.centroid(seeds, scheme=scheme, prior=model.prior, **options)
    key = ("centroid", model_name, scheme, digest(seeds.numpy().tobytes()), tuple(seeds.shape))
    return jobs.optimised(key, spec.label, lambda **controls: lc.centroid(
        seeds, scheme=scheme, prior=model.prior, return_stopping=True, **options, **controls), where)


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()
