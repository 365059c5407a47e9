"""The model of a page run and what is cached around it: plug-in models and models loaded once per server process,
decoded images shared by all sessions (decoded through the model's batcher, cached by latent values and decoding
options), and paths and centroids by the registered schemes (iterative ones as jobs, :mod:`ui.jobs`).

A page's decoding options are one :class:`~latentcore.models.Decoding` (``decoding``), made by the model from what
the sidebar sets; every decode and encode takes it.
"""

from __future__ import annotations

import gc
import hashlib
import sys

import numpy as np
import streamlit as st
import torch

import latentcore as lc
import latentcore.models as models
from latentcore.device import default_device
from latentcore.imaging import image_grid, load_image, to_uint8

from . import jobs
from .server import batching
from .server.decoded import DecodedImages
from .state import chosen_precision


def plugins() -> models.PluginReport:
    """The plug-in models named at server start (``streamlit run app.py -- --models FILE ...`` or
    ``$LATENT_EXPLORER_MODELS``) and installed entry points: loaded, checked and registered once per server
    process; what was refused and why."""
    return _plugins_loaded(tuple(models.configured_files(sys.argv[1:])))


@st.cache_resource(show_spinner="Loading plug-in models ...")
def _plugins_loaded(files: tuple[str, ...]) -> models.PluginReport:
    return models.load_plugins(files)


def get_model(name: str):
    """The model ``name`` (registered or a diffusers folder) in the session's precision (:func:`precision`), loaded
    once per server process."""
    return _loaded(name, precision())


def precision() -> str:
    """The session's precision (the sidebar's Device panel, kept in the workspace); ``"auto"`` on the CPU, which
    computes in float32 whatever is chosen, so every session there shares one copy of each model."""
    chosen = chosen_precision()
    return chosen if default_device().type != "cpu" and chosen in models.PRECISIONS else "auto"


@st.cache_resource(show_spinner="Loading the model ...")
def _loaded(name: str, precision: str):
    model = models.load(name, precision=precision)
    # A full garbage collection (Streamlit's after each run, unless runner.postScriptGC is off, or Python's own)
    # walks every object tracked: with torch, diffusers and the models loaded, half a million, ~0.3 s holding the
    # GIL for every session. What is alive once a model is loaded (modules, weights) stays: it is skipped from now.
    # So are the sessions alive now, which no collection frees once frozen: ui.memory drops what they hold when they
    # end.
    gc.freeze()
    return model


DECODED = DecodedImages()  # shared by every session of this server process


def decode_to_uint8(model, latents: torch.Tensor, decoding: models.Decoding) -> np.ndarray:
    """Decoded images of ``latents [N, *latent_shape]`` as read-only 8-bit arrays
    (:func:`latentcore.imaging.to_uint8`), shared by all sessions: cached by model (its key and precision), latent
    values, shape and dtype and ``decoding`` (:data:`DECODED`), decoded through the model's batcher
    (:mod:`ui.server.batching`) together with other sessions' requests.

    The latents are not checked again: a page holds only latents checked where they entered the app (an upload, a
    workspace, an inversion) or computed by latentcore from such."""
    latents = latents.detach().cpu().contiguous()
    key = (model.key, str(model.dtype), _digest_tensor(latents), tuple(latents.shape), str(latents.dtype), decoding)
    found = DECODED.get(key)
    if found is None:
        images = batching.decode(model, latents, decoding, check_input=False)
        found = DECODED.put(key, to_uint8(images))
    return found


def image_as_model_sees_it(model, data: bytes, file_name: str) -> np.ndarray:
    """An uploaded image as the model takes it (its channels and size, :meth:`prepare_images`), 8-bit, to show
    beside what the model makes of it. Raises :class:`latentcore.imaging.ImageFileError` as loading it does."""
    return to_uint8(model.prepare_images(load_image(data, file_name, size=model.image_shape[1:])))[0]


@st.cache_data(max_entries=32, show_spinner=False)
def model_thumbnail(model_name: str) -> np.ndarray:
    """Four samples of the model's prior, decoded in a row: what the model makes, at a glance."""
    model = get_model(model_name)
    return np.asarray(image_grid(model.decode(model.prior.sample(4, seed=0)), columns=4, scale=1))


def path_through(model, stops: torch.Tensor, frames: int, scheme: str, decoding: models.Decoding,
                 settings: dict | None = None, computed_for: str = "", where=st) -> jobs.Shown:
    """The path ``[F, *shape]`` through ``stops [K, *shape]`` by one registered scheme, ``frames`` per leg, with the
    user's ``settings`` of the scheme (:attr:`~latentcore.interpolate.Scheme.settings`); schemes that use the
    decoder (ri-optimal paths) decode with ``decoding``.

    Closed-form schemes compute at once. Iterative ones (NAO, ri-optimal) run as jobs when asked for
    (:func:`ui.jobs.on_request`: at once when this model's measured cost says they take at most a couple of
    seconds, else on their "Compute" button in ``where``); until theirs has ended, the row's earlier path is shown
    as out of date (``computed_for`` says what it was computed for), and a result stays with the session's jobs,
    so that a rerun for another widget does not optimise it again.
    """
    spec = lc.SCHEMES[scheme]
    settings = settings or {}
    options = spec.options(model, context="interactive", decoding=decoding, **settings)
    if not spec.iterative:
        return jobs.Shown(lc.interpolate_chain(stops, frames, scheme=scheme, prior=model.prior, **options))
    key = ("path", model.key, scheme, frames, _digest_tensor(stops), tuple(stops.shape),
           decoding if spec.uses_decoder else None, tuple(sorted(settings.items())))
    through = decoding if spec.uses_decoder else None
    try:
        cost = _path_cost(model, model.key, str(model.dtype), scheme, through and through.steps, through, settings,
                          jobs.script_stop())
    except lc.Stopped:  # the session ended while its cost was measured: nothing is left to show
        st.stop()
    estimate = cost.seconds(options.get("max_iter", 1), scale=(len(stops) - 1) * frames / COST_FRAMES)
    work = lambda **controls: lc.interpolate_chain(  # noqa: E731
        stops, frames, scheme=scheme, prior=model.prior, return_stopping=True, **options, **controls)
    return jobs.on_request(f"path.{model.key}.{scheme}", key, f"{spec.label} path", work, estimate, computed_for,
                           where)


# The size an iterative scheme's cost is measured at: one path of this many frames (one to optimise), so that the
# measuring takes a couple of seconds at most (digits-ddim), once per server process; the cost of every iteration
# grows about linearly with the frames decoded.
COST_FRAMES = 3


@st.cache_resource(max_entries=64, show_spinner="Measuring what this computation costs on this model ...")
def _path_cost(_model, model_key, dtype: str, scheme: str, steps, _decoding, _settings: dict,
               _should_stop=None) -> lc.Cost:
    """The measured :class:`~latentcore.optimise.Cost` of one path of :data:`COST_FRAMES` frames between two
    prior samples by an iterative scheme on a model (its decoder's cost included), once per server process, model,
    precision, scheme and sampler ``steps`` (conditions and the scheme's settings change it little). ``_should_stop``
    (the session ended) raises :class:`~latentcore.optimise.Stopped` between sampler steps or iterations, so that a
    cost cut short is never cached."""
    spec = lc.SCHEMES[scheme]
    options = spec.options(_model, context="interactive", decoding=_decoding, **_settings)
    ends = _model.prior.sample(2, seed=0)

    def run(max_iter, budget_s):
        return _unstopped(lc.interpolate(ends[0], ends[1], COST_FRAMES, scheme=scheme, prior=_model.prior,
                                         budget_s=budget_s, should_stop=_should_stop, return_stopping=True,
                                         **_limited(options, max_iter))[1])

    return lc.measure_cost(run, whole_within_s=jobs.AUTO_S)


def centroid_of(model, seeds: torch.Tensor, scheme: str, computed_for: str = "", where=st) -> jobs.Shown:
    """The centroid ``[*shape]`` of ``seeds [K, *shape]`` by one registered centroid scheme. Iterative ones (NAO)
    run as jobs when asked for, like :func:`path_through`."""
    spec = lc.CENTROIDS[scheme]
    options = spec.options(context="interactive")
    if not spec.iterative:
        return jobs.Shown(lc.centroid(seeds, scheme=scheme, prior=model.prior, **options))
    key = ("centroid", model.key, scheme, _digest_tensor(seeds), tuple(seeds.shape))
    try:
        cost = _centroid_cost(model, model.key, str(model.dtype), scheme, jobs.script_stop())
    except lc.Stopped:  # the session ended while its cost was measured
        st.stop()
    estimate = cost.seconds(options.get("max_iter", 1), scale=len(seeds) / COST_SEEDS)
    work = lambda **controls: lc.centroid(  # noqa: E731
        seeds, scheme=scheme, prior=model.prior, return_stopping=True, **options, **controls)
    return jobs.on_request(f"centroid.{model.key}.{scheme}", key, spec.label, work, estimate, computed_for, where)


COST_SEEDS = 4  # the size a centroid scheme's cost is measured at


@st.cache_resource(max_entries=64, show_spinner="Measuring what this computation costs on this model ...")
def _centroid_cost(_model, model_key, dtype: str, scheme: str, _should_stop=None) -> lc.Cost:
    """The measured :class:`~latentcore.optimise.Cost` of the centroid of :data:`COST_SEEDS` prior samples by an
    iterative centroid scheme, once per server process; ``_should_stop`` as in :func:`_path_cost`."""
    options = lc.CENTROIDS[scheme].options(context="interactive")
    seeds = _model.prior.sample(COST_SEEDS, seed=0)

    def run(max_iter, budget_s):
        return _unstopped(lc.centroid(seeds, scheme=scheme, prior=_model.prior, budget_s=budget_s,
                                      should_stop=_should_stop, return_stopping=True,
                                      **_limited(options, max_iter))[1])

    return lc.measure_cost(run, whole_within_s=jobs.AUTO_S)


def _unstopped(stopping: lc.Stopping | None) -> lc.Stopping | None:
    """``stopping``, unless a stop request ended the run: then :class:`~latentcore.optimise.Stopped`, since a cost
    measured from a run cut short would be wrong (and cached)."""
    if stopping is not None and stopping.reason == "stop":
        raise lc.Stopped()
    return stopping


def _limited(options: dict, max_iter: int | None) -> dict:
    """A scheme's ``options`` with the iteration limit ``max_iter`` (None: its own)."""
    return options if max_iter is None else {**options, "max_iter": max_iter}


def digest(data) -> str:
    """A short hash of bytes (or anything with the buffer interface)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _digest_tensor(tensor: torch.Tensor) -> str:
    """:func:`digest` of a CPU tensor's values, read in place."""
    return digest(memoryview(tensor.detach().contiguous().numpy()).cast("B"))
