"""Inverting uploaded images on a page: the method and its settings, inversion by optimisation as a job (progress
at the top of the page, Cancel, the session's time budget), and per image the original, the reconstruction, its
error against the typical error of the model's own samples (with a warning when the image is far from what the
model can make) and whether the inverted latent looks like a sample of the prior."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from typing import NamedTuple

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
from .widgets import number_field

# The reference: 16 of the model's own samples, one start each, at most 2 minutes (a GAN on a CPU) and at most half
# of a job's time budget, measured first in the job; then cached by latentcore.
REFERENCE = {"samples": 16, "restarts": 1, "budget_s": 120.0}
MAX_RESTARTS = 16  # starts per image an inversion makes at most
ATYPICAL_NOTE = ("Inverted latents are often atypical (Bodin et al., \"Linear combinations of latents in generative "
                 "models\", arXiv 2408.08558): paths and centroids through such a latent leave the region the model "
                 "was trained on. \"normal\" means it passes the same normality tests as a sample of the prior.")


def inversion_settings(model) -> dict | None:
    """Widgets for the inversion method (those that suit ``model``) and, for optimisation, its restarts; returns
    the keyword arguments of :func:`latentcore.invert` and :func:`latentcore.typical_error` (the time budget is
    the session's, see :mod:`ui.jobs`), or None while the restarts field holds a number it does not take (a message
    under it says so)."""
    methods = lc.inversion_methods(model)
    keys = list(methods)
    method = st.radio("Method", keys, format_func=methods.get, horizontal=True,
                      key=remember("invert.method", keys[0], options=keys),
                      help="The model's own inverse is fast; optimisation (Adam on the latent, a few restarts from "
                           "prior samples, the best kept) reconstructs more closely and works for any one-pass "
                           "decoder. It stops when the time budget (sidebar) is spent and keeps the best latents")
    if method == "encoder":
        return {"method": method}
    restarts, problem = number_field(
        "Restarts per image", "invert.restarts", DEFAULT_RESTARTS, 1, MAX_RESTARTS,
        why_high="the most an inversion makes",
        help="Starts drawn from the prior; each image keeps the one that ends with the lowest loss. The model's "
             "typical error is measured first, once per model and method, within half of the time budget")
    return None if problem else {"method": method, "restarts": restarts}


@dataclass
class Started:
    """What :func:`start_inversion` did with a batch of files: the names of those it inverts (``started``), of those
    whose inversion is in the seed set already (``skipped``), why each file that cannot be read was refused
    (``refused``, sentences naming the file), and a sentence for each image much smaller than the model's
    (``small``, :func:`latentcore.imaging.upscale_note`)."""

    started: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    small: list[str] = field(default_factory=list)


def start_inversion(model, pictures: list[tuple[bytes, str]], settings: dict,
                    decoding: models.Decoding) -> Started:
    """Load ``pictures`` (``(data, file name)`` pairs) and start the inversion of those that can be read into
    ``model`` as a job; see :func:`ended_inversion`. A file that cannot be read (not a PNG or JPEG, damaged, too
    large) is refused on its own, the others inverted. A file whose inversion is in the seed set already (by this
    session, under the name it was given) is not inverted again. Returns what became of each file
    (:class:`Started`)."""
    model_name = model.key
    added = st.session_state.setdefault("inverted_files", {})  # (model, file digest) -> seed name
    names_now = set(seed_set(model_name).names)
    outcome = Started()
    images, names, digests, notes = [], [], [], []
    for data, name in pictures:
        if added.get((model_name, digest(data))) in names_now:
            outcome.skipped.append(name)
            continue
        try:
            image = imaging.load_image(data, name, model.image_shape[1:])
        except imaging.ImageFileError as err:
            outcome.refused.append(str(err))
            continue
        images.append(image)
        names.append(name)
        digests.append(digest(data))
        notes.append(imaging.upscale_note(name, tuple(image.shape[-2:]), model.image_shape[1:]))
    outcome.started, outcome.small = names, [note for note in notes if note]
    if not images:
        return outcome
    key = ("invert", model_name, tuple(zip(digests, names)), tuple(sorted(settings.items())), decoding)

    def work(progress=None, budget_s=None, should_stop=None):
        start = time.monotonic()
        reference = _reference(model, settings["method"], decoding, budget_s, progress, should_stop)
        inversion = lc.invert(model, images, decoding=decoding, progress=progress,
                              budget_s=time_left(budget_s, start), should_stop=should_stop, **settings)
        return model_name, names, digests, inversion, reference, notes, outcome.refused

    jobs.start("invert", key, f"Inverting {len(names)} image{'s' * (len(names) != 1)}", work)
    return outcome


def say_small(model, pictures: list[tuple[bytes, str]], where=st) -> None:
    """A warning for each of ``pictures`` (``(data, file name)`` pairs) much smaller than ``model``'s images
    (:func:`latentcore.imaging.upscale_note`), read from the files' headers: said before they are inverted."""
    for data, name in pictures:
        if (shape := imaging.image_size(data)) is not None and \
                (note := imaging.upscale_note(name, shape, model.image_shape[1:])):
            where.warning(plain(note))


def say_refused(refused: list[str], inverting: int | None = None, skipped: int = 0, where=st) -> None:
    """Say which files of a batch were refused and why (``refused``: :attr:`Started.refused`), and what became of
    the others: ``inverting`` of them are being inverted and ``skipped`` were inverted before (an error when the
    batch had no other file); ``inverting`` None: they were inverted."""
    if not refused:
        return
    said = f"Not inverted, as {'it' if len(refused) == 1 else 'they'} cannot be read: {'; '.join(refused)}."
    if inverting == 0 and not skipped:
        where.error(plain(f"{said} Your seed set is unchanged."))
    else:
        where.warning(plain(said + (f" The other {'image is' if inverting == 1 else f'{inverting} images are'} being "
                                    "inverted." if inverting else "")))


class Ended(NamedTuple):
    """An inversion that has ended (:func:`ended_inversion`): the model it inverted into, the files' names, the
    :class:`~latentcore.invert.Inversion`, the model's typical error, per file a sentence when the image is much
    smaller than the model's (else None), and why each file of the batch that could not be read was refused."""

    model_name: str
    names: list[str]
    inversion: object
    reference: object
    notes: list[str | None]
    refused: list[str]


def ended_inversion(where=st) -> Ended | None:
    """The inversion started by :func:`start_inversion`, once, when it has ended (:class:`Ended`), its latents added
    to that model's seed set; None otherwise (while it runs, a line in ``where`` says so). Its error is raised again
    if it failed."""
    ended = jobs.ended("invert", where)
    if ended is None:
        return None
    model_name, names, digests, inversion, reference, notes, refused = ended
    given = seed_set(model_name).add(inversion.latents, [name.rsplit(".", 1)[0] for name in names])
    added = st.session_state.setdefault("inverted_files", {})
    added.update({(model_name, d): seed for d, seed in zip(digests, given)})
    return Ended(model_name, names, inversion, reference, notes, refused)


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


def show_inversion(model, names: list[str], inversion, reference, notes: list[str | None] | None = None) -> None:
    """Per image: original, reconstruction, MSE and PSNR, the typical error and its verdict (a warning when far),
    the image's ``notes`` (a sentence when it is much smaller than the model's) and the inverted latent's
    normality."""
    st.caption(plain(inversion.message))
    summary = latent_summary(inversion.latents, prior=model.prior)
    originals, decoded = imaging.to_uint8(inversion.targets), imaging.to_uint8(inversion.reconstructions)
    verdicts, sentences = reference.verdicts(inversion), reference.describe(inversion)  # each says what decided
    for i, name in enumerate(names):
        a, b, c = st.columns([1, 1, 4])
        a.image(originals[i], caption=plain(name), width=96, clamp=True)
        b.image(decoded[i], caption="decoded again", width=96, clamp=True)
        c.markdown(f"mean squared error **{inversion.mse[i]:.4f}** · PSNR **{inversion.psnr[i]:.1f} dB** · "
                   f"{len(reference.errors)} of the model's own samples, inverted the same way: median "
                   f"{reference.median:.2g}, 95th percentile {reference.p95:.2g}")
        {"far": c.warning, "unusual": c.info}.get(verdicts[i], c.caption)(sentences[i])
        if notes and notes[i]:
            c.warning(plain(notes[i]))
        c.caption(f"Inverted latent: norm {summary.norm[i]:.1f} · χ² p {summary.typicality[i]:.2f} · smallest "
                  f"normality p {summary.normality[i]:.2g} · **{summary.verdicts[i]}**")
    if not reference.complete:
        st.caption(f"The typical error was measured within the time budget ({reference.seconds:.0f} s), so it is "
                   "higher than with more time and the verdicts are lenient.")
    st.caption(ATYPICAL_NOTE)


def invert_image(model, data: bytes, file_name: str, decoding: models.Decoding, where=st):
    """One uploaded image inverted by the model's default method (its own inverse, cached; else optimisation as a
    job within the session's budget): its latent ``[*latent_shape]`` on the CPU, its PSNR, verdict and the
    verdict's sentence (Markdown; with a sentence more when the image is much smaller than the model's); None while
    the job runs (a line in ``where`` says so)."""
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
    note = imaging.upscale_note(file_name, tuple(images[0].shape[-2:]), model.image_shape[1:])
    sentence = reference.describe(inversion)[0] + (f" {plain(note)}" if note else "")  # a file name: plain
    return latent, float(inversion.psnr[0]), str(reference.verdicts(inversion)[0]), sentence
