"""The model of a page run and what is cached around it: plug-in models and models loaded once per server process,
decoded images cached by latent values and decoding options, and iterative paths kept for the session.

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


PATHS_KEPT = 32


def path_through(model_name: str, model, stops: torch.Tensor, frames: int, scheme: str,
                 decoding: dict) -> torch.Tensor:
    """The path through ``stops [K, *shape]`` by one registered scheme, ``frames`` per leg; schemes that use the
    decoder (ri-optimal paths) decode with ``decoding``.

    Iterative schemes (NAO, ri-optimal) show a progress bar, and their paths are kept for the session (the last
    ``PATHS_KEPT``), so a rerun for another widget does not optimise them again.
    """
    spec = lc.SCHEMES[scheme]
    options = spec.options(model, context="interactive", decoding=decoding)
    if not spec.iterative:
        return lc.interpolate_chain(stops, frames, scheme=scheme, prior=model.prior, **options)
    kept = st.session_state.setdefault("paths_kept", {})
    key = (model_name, scheme, frames, _digest(stops.numpy().tobytes()), tuple(stops.shape),
           tuple(sorted(decoding.items())) if spec.uses_decoder else ())
    if key not in kept:
        kept[key] = run_with_progress(spec.label, True, lambda progress: lc.interpolate_chain(
            stops, frames, scheme=scheme, prior=model.prior, progress=progress, **options))
        while len(kept) > PATHS_KEPT:
            kept.pop(next(iter(kept)))
    return kept[key]


def run_with_progress(label: str, iterative: bool, work):
    """``work(progress)``, with a progress bar while it runs when it is ``iterative`` (else ``progress`` is
    None)."""
    if not iterative:
        return work(None)
    bar = st.progress(0.0, text=f"{label} ...")
    try:
        return work(lambda f, text: bar.progress(min(f, 1.0), text=text))
    finally:
        bar.empty()


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()
