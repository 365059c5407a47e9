"""Inverting uploaded images on a page: the method and its settings, inversion by optimisation as a job (progress
at the top of the page, Cancel, the session's time budget), and per image the original, the reconstruction, its
error against the typical error of the model's own samples (with a warning when the image is far from what the
model can make) and whether the inverted latent looks like a sample of the prior."""

from __future__ import annotations

import functools
import time

import streamlit as st
import torch

import latentcore as lc
import latentcore.models as models
from latentcore import imaging
from latentcore.diagnostics import latent_summary
from latentcore.invert import DEFAULT_RESTARTS
from latentcore.optimise import check_stop, time_left

from . import jobs
from .models import digest
from .text import plain
from .seed_sets import seed_set
from .state import remember

# The reference: 16 of the model's own samples, one start each, at most 2 minutes (a GAN on a CPU) and at most half
# of a job's time budget, measured first in the job; then cached by latentcore.
REFERENCE = {"samples": 16, "restarts": 1, "budget_s": 120.0}
ATYPICAL_NOTE = ("Inverted latents are often atypical (Bodin et al., \"Linear combinations of latents in generative "
                 "models\", arXiv 2408.08558): paths and centroids through such a latent leave the region the model "
                 "was trained on. \"normal\" means it passes the same normality tests as a sample of the prior.")


def inversion_settings(model) -> dict:
    """Widgets for the inversion method (those that suit ``model``) and, for optimisation, its restarts; returns
    the keyword arguments of :func:`latentcore.invert` and :func:`latentcore.typical_error` (the time budget is
    the session's, see :mod:`ui.jobs`)."""
    methods = lc.inversion_methods(model)
    keys = list(methods)
    method = st.radio("Method", keys, format_func=methods.get, horizontal=True,
                      key=remember("invert.method", keys[0], options=keys),
                      help="The model's own inverse is fast; optimisation (Adam on the latent, a few restarts from "
                           "prior samples, the best kept) reconstructs more closely and works for any one-pass "
                           "decoder. It stops when the time budget (sidebar) is spent and keeps the best latents")
    if method == "encoder":
        return {"method": method}
    restarts = st.number_input("Restarts per image", min_value=1, max_value=16, key=remember(
        "invert.restarts", DEFAULT_RESTARTS, bounds=(1, 16)),
        help="Starts drawn from the prior; each image keeps the one that ends with the lowest loss. The model's "
             "typical error is measured first, once per model and method, within half of the time budget")
    return {"method": method, "restarts": int(restarts)}


def start_inversion(model, pictures: list[tuple[bytes, str]], settings: dict, decoding: models.Decoding) -> list[str]:
    """Load ``pictures`` (``(data, file name)`` pairs; an unreadable one raises
    :class:`~latentcore.imaging.ImageFileError`) and start their inversion into ``model`` as a job; see
    :func:`ended_inversion`. A file whose inversion is in the seed set already (by this session, under the name it
    was given) is not inverted again: returns those files' names."""
    model_name = model.key
    added = st.session_state.setdefault("inverted_files", {})  # (model, file digest) -> seed name
    names_now = set(seed_set(model_name).names)
    fresh = [(data, name) for data, name in pictures if added.get((model_name, digest(data))) not in names_now]
    skipped = [name for data, name in pictures if (data, name) not in fresh]
    if not fresh:
        return skipped
    images = imaging.load_images(fresh, model.image_shape[1:])
    names, digests = [name for _, name in fresh], [digest(data) for data, _ in fresh]
    key = ("invert", model_name, tuple(zip(digests, names)), tuple(sorted(settings.items())), decoding)

    def work(progress=None, budget_s=None, should_stop=None):
        start = time.monotonic()
        reference = _reference(model, settings["method"], decoding, budget_s, progress, should_stop)
        inversion = lc.invert(model, images, decoding=decoding, progress=progress,
                              budget_s=time_left(budget_s, start), should_stop=should_stop, **settings)
        return model_name, names, digests, inversion, reference

    jobs.start("invert", key, f"Inverting {len(names)} image{'s' * (len(names) != 1)}", work)
    return skipped


def ended_inversion(where=st):
    """The inversion started by :func:`start_inversion`, once, when it has ended: ``(model name, file names,
    inversion, reference)``, its latents added to that model's seed set; None otherwise (while it runs, a line in
    ``where`` says so). Its error is raised again if it failed."""
    ended = jobs.ended("invert", where)
    if ended is None:
        return None
    model_name, names, digests, inversion, reference = ended
    given = seed_set(model_name).add(inversion.latents, [name.rsplit(".", 1)[0] for name in names])
    added = st.session_state.setdefault("inverted_files", {})
    added.update({(model_name, d): seed for d, seed in zip(digests, given)})
    return model_name, names, inversion, reference


def _reference(model, method: str, decoding: models.Decoding, budget_s: float | None, progress=None,
               should_stop=None):
    """The model's typical error for ``method``, measured first within a job's ``budget_s`` (at most half of it, so
    that the inversion keeps the rest; cached by latentcore, so it costs nothing the next time)."""
    if method == "encoder":
        return lc.typical_error(model, method=method, decoding=decoding, progress=progress, should_stop=should_stop)
    settings = dict(REFERENCE)
    if budget_s is not None:
        settings["budget_s"] = min(settings["budget_s"], budget_s / 2)
    return lc.typical_error(model, method=method, decoding=decoding, progress=progress, should_stop=should_stop,
                            **settings)


def show_inversion(model, names: list[str], inversion, reference) -> None:
    """Per image: original, reconstruction, MSE and PSNR, the typical error and its verdict (a warning when far),
    and the inverted latent's normality."""
    st.caption(plain(inversion.message))
    summary = latent_summary(inversion.latents, prior=model.prior)
    originals, decoded = imaging.to_uint8(inversion.targets), imaging.to_uint8(inversion.reconstructions)
    verdicts, sentences = reference.verdicts(inversion.mse), reference.describe(inversion.mse)
    for i, name in enumerate(names):
        a, b, c = st.columns([1, 1, 4])
        a.image(originals[i], caption=plain(name), width=96, clamp=True)
        b.image(decoded[i], caption="decoded again", width=96, clamp=True)
        c.markdown(f"mean squared error **{inversion.mse[i]:.4f}** · PSNR **{inversion.psnr[i]:.1f} dB** · "
                   f"{len(reference.errors)} of the model's own samples, inverted the same way: median "
                   f"{reference.median:.2g}, 95th percentile {reference.p95:.2g}")
        {"far": c.warning, "unusual": c.info}.get(verdicts[i], c.caption)(sentences[i])
        c.caption(f"Inverted latent: norm {summary.norm[i]:.1f} · χ² p {summary.typicality[i]:.2f} · smallest "
                  f"normality p {summary.normality[i]:.2g} · **{summary.verdicts[i]}**")
    if not reference.complete:
        st.caption(f"The typical error was measured within the time budget ({reference.seconds:.0f} s), so it is "
                   "higher than with more time and the verdicts are lenient.")
    st.caption(ATYPICAL_NOTE)


def invert_image(model, data: bytes, file_name: str, decoding: models.Decoding, where=st):
    """One uploaded image inverted by the model's default method (its own inverse, cached; else optimisation as a
    job within the session's budget): its latent ``[*latent_shape]`` on the CPU, its PSNR, verdict and the
    verdict's sentence; None while the job runs (a line in ``where`` says so)."""
    if lc.default_method(model) == "encoder":
        try:
            return _encoded_image(model, str(model.dtype), data, file_name, decoding, jobs.script_stop())
        except lc.Stopped:  # the session ended meanwhile: nothing is left to show
            st.stop()
    key = ("invert-one", model.key, digest(data), decoding)
    work = functools.partial(_invert_one, model, data, file_name, decoding)
    return jobs.result(jobs.run(key, f"Inverting {plain(file_name)}", work), where)  # a label read as Markdown


@st.cache_data(max_entries=32, show_spinner="Inverting the image ...")
def _encoded_image(_model, dtype: str, data: bytes, file_name: str, decoding: models.Decoding, _should_stop=None):
    """:func:`_invert_one` cached by the model's key (in ``decoding``) and ``dtype``, the file and the decoding
    (Streamlit does not hash ``_model``); ``_should_stop`` (the session ended) raises
    :class:`~latentcore.optimise.Stopped` between sampler steps, and nothing is cached."""
    return _invert_one(_model, data, file_name, decoding, should_stop=_should_stop)


def _invert_one(model, data: bytes, file_name: str, decoding: models.Decoding, progress=None, budget_s=None,
                should_stop=None):
    """:func:`invert_image`'s result, computed: the image loaded (shrunk before it becomes floats) and inverted
    by the model's default method, with the model's typical error for the verdict."""
    start = time.monotonic()
    method = lc.default_method(model)
    images = imaging.load_images([(data, file_name)], model.image_shape[1:])
    check_stop(should_stop)  # each phase (loading, the reference, the inversion) polls the stop request
    reference = _reference(model, method, decoding, budget_s, progress, should_stop)
    inversion = lc.invert(model, images, method=method, decoding=decoding, progress=progress,
                          budget_s=time_left(budget_s, start), should_stop=should_stop)
    latent = inversion.latents[0].detach().to("cpu", torch.float32)
    return latent, float(inversion.psnr[0]), str(reference.verdicts(inversion.mse)[0]), \
        reference.describe(inversion.mse)[0]
