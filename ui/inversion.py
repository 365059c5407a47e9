"""Inverting uploaded images on a page: the method and its settings, progress bars, and per image the original,
the reconstruction, its error against the typical error of the model's own samples (with a warning when the image
is far from what the model can make) and whether the inverted latent looks like a sample of the prior."""

from __future__ import annotations

import streamlit as st
import torch

import latentcore as lc
from latentcore import imaging
from latentcore.diagnostics import latent_summary
from latentcore.invert import DEFAULT_RESTARTS

from .models import get_model, run_with_progress
from .text import plain
from .workspace import remember

BUDGET_S = (2, 300)
DEFAULT_BUDGET_S = 30
# The reference: 16 of the model's own samples, one start each, at most 2 minutes (a GAN on a CPU); measured once
# per model and method, then cached by latentcore.
REFERENCE = {"samples": 16, "restarts": 1, "budget_s": 120.0}
ATYPICAL_NOTE = ("Inverted latents are often atypical (Bodin et al., \"Linear combinations of latents in generative "
                 "models\", arXiv 2408.08558): paths and centroids through such a latent leave the region the model "
                 "was trained on. \"normal\" means it passes the same normality tests as a sample of the prior.")


def inversion_settings(model) -> dict:
    """Widgets for the inversion method (those that suit ``model``) and, for optimisation, its time budget and
    restarts; returns the keyword arguments of :func:`latentcore.invert` and :func:`latentcore.typical_error`."""
    methods = lc.inversion_methods(model)
    keys = list(methods)
    method = st.radio("Method", keys, format_func=methods.get, horizontal=True,
                      key=remember("invert.method", keys[0], options=keys),
                      help="The model's own inverse is fast; optimisation (Adam on the latent, a few restarts from "
                           "prior samples, the best kept) reconstructs more closely and works for any one-pass "
                           "decoder")
    if method == "encoder":
        return {"method": method}
    budget_col, restarts_col = st.columns(2)
    budget = budget_col.slider("Time budget (seconds)", *BUDGET_S, key=remember(
        "invert.budget", DEFAULT_BUDGET_S, bounds=BUDGET_S), help="The optimisation stops when it is spent and "
        "keeps the best latents so far. Measuring the model's typical error, once per model and method, takes at "
        f"most {REFERENCE['budget_s']:.0f} s more")
    restarts = restarts_col.number_input("Restarts per image", min_value=1, max_value=16, key=remember(
        "invert.restarts", DEFAULT_RESTARTS, bounds=(1, 16)),
        help="Starts drawn from the prior; each image keeps the one that ends with the lowest loss")
    return {"method": method, "budget_s": float(budget), "restarts": int(restarts)}


def invert_with_reference(model, images, settings: dict, decoding: dict):
    """The :class:`~latentcore.Inversion` of ``images`` and the model's :class:`~latentcore.TypicalError` by the
    same method, each with a progress bar; ``decoding``: the sidebar's decoding options (steps, conditions)."""
    iterative = settings["method"] != "encoder"
    inversion = run_with_progress("Inverting", iterative, lambda progress: lc.invert(
        model, images, options=decoding, progress=progress, **settings))
    reference = run_with_progress("Measuring the typical error of the model's own samples", iterative,
                                  lambda progress: _reference(model, settings["method"], decoding, progress))
    return inversion, reference


def _reference(model, method: str, options: dict, progress=None):
    settings = {} if method == "encoder" else REFERENCE
    return lc.typical_error(model, method=method, options=options, progress=progress, **settings)


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
        badge = "normal" if summary.passes[i] else "atypical"
        c.caption(f"Inverted latent: norm {summary.norm[i]:.1f} · χ² p {summary.typicality[i]:.2f} · smallest "
                  f"normality p {summary.normality[i]:.2g} · **{badge}**")
    if not reference.complete:
        st.caption(f"The typical error was measured within the time budget ({reference.seconds:.0f} s), so it is "
                   "higher than with more time and the verdicts are lenient.")
    st.caption(ATYPICAL_NOTE)


@st.cache_data(max_entries=32, show_spinner="Inverting the image ...")
def invert_image(model_name: str, data: bytes, file_name: str, decoding: dict):
    """One uploaded image inverted by the model's default method (its own inverse, else optimisation within the
    default budget): its latent ``[*latent_shape]`` on the CPU, its PSNR, verdict and the verdict's sentence."""
    model = get_model(model_name)
    images = imaging.load_images([(data, file_name)], model.image_shape[1:])  # shrunk before it becomes floats
    method = lc.default_method(model)
    settings = {"method": method} if method == "encoder" else {"method": method, "budget_s": DEFAULT_BUDGET_S}
    inversion = lc.invert(model, images, options=decoding, **settings)
    reference = _reference(model, method, decoding)
    latent = inversion.latents[0].detach().to("cpu", torch.float32)
    return latent, float(inversion.psnr[0]), str(reference.verdicts(inversion.mse)[0]), \
        reference.describe(inversion.mse)[0]
