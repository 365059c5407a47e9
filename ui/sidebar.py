"""The sidebar of every page: the model (built-ins, plug-ins, a diffusers folder), its device and precision, the
decoding options (sampler steps and scheduler, conditions), the seed count and the workspace panel."""

from __future__ import annotations

import streamlit as st

import latentcore.models as models
from latentcore.device import default_device

from .errors import show_error
from .jobs import budget_widget
from .models import get_model, model_thumbnail, plugins
from .seed_sets import seed_set
from .server import limits, model_folders
from .state import PRECISION_KEY, remember
from .text import plain
from .widgets import condition_widget
from .workspace import fit_seeds, show_dropped
from .workspace_panel import workspace_panel

DEFAULT_MODEL = models.MODELS.default_selection()[0]  # until one is chosen
DIFFUSERS_CHOICE = "Load a diffusers folder ..."


def model_label(name: str) -> str:
    """What a registered model makes (its summary, e.g. "digits (VAE)"), or "" for one without."""
    spec = models.MODELS.get(name)
    return spec.summary if spec is not None and spec.summary else ""


def models_help(names) -> str:
    """The model selector's help: each registered model and what it makes (the selector shows names alone, which
    fit the sidebar; the model chosen says what it makes under its thumbnail)."""
    lines = [f"- **{plain(n)}**: {plain(model_label(n))}" for n in names if model_label(n)]
    return "What each model makes:\n\n" + "\n".join(lines) if lines else ""


def sidebar():
    """The model selector, refused plug-ins, device, decoding options, seed count and workspace panel; returns the
    model name, the model, its :class:`~latentcore.models.Decoding` (sampler steps and scheduler, each condition's
    value) and the placeholder of the seed count."""
    with st.sidebar:
        choices = models.available() + [DIFFUSERS_CHOICE]
        choice = st.selectbox("Model", choices, key=remember("model", DEFAULT_MODEL, options=choices),
                              help=models_help(choices) or None)
        name = choice
        if choice == DIFFUSERS_CHOICE:
            name = pipeline_folder() or DEFAULT_MODEL
        refused_plugins()
        offload = device_settings()
        try:
            model = get_model(name)
        except (models.ModelLoadError, ValueError, OSError) as err:
            show_error(f"Could not load that model: {plain(err)}", err)
            model = get_model(DEFAULT_MODEL)
        name = model.key  # a folder as loaded (resolved), which its seed set and settings are kept under
        if offload:
            models.offload_others(model)
        fit_seeds(name, model.latent_shape)
        makes = model_label(name)  # what it makes, under its thumbnail: the selector shows names alone
        facts = (f"{plain(makes) if makes else model.kind.upper()} · latent "
                 f"{'x'.join(map(str, model.latent_shape))} · image "
                 f"{'x'.join(map(str, model.image_shape))} · on {model.device} in {str(model.dtype)[6:]}")
        if name in models.MODELS:  # registered models decode quickly; a pipeline folder may take minutes
            st.image(model_thumbnail(name), width="stretch", caption=facts)
        else:
            st.caption(facts)
        chosen = {}
        if model.sampler is not None:
            sampler = model.sampler
            chosen["steps"] = st.select_slider(plain(sampler.label), options=sampler.choices, help=plain(sampler.help),
                                                 key=remember("ddim_steps", sampler.default, options=sampler.choices))
            if sampler.schedulers:
                chosen["scheduler"] = st.selectbox(
                    "Scheduler", sampler.schedulers, format_func=lambda n: models.SCHEDULERS[n].label,
                    key=remember("scheduler", sampler.schedulers[0], options=sampler.schedulers),
                    help=scheduler_help(sampler.schedulers))
        for condition in model.conditions.values():
            chosen[condition.name] = condition_widget(name, condition, shared=name in models.MODELS)
        decoding = model.decoding(**chosen)
        budget_widget()
        count = st.empty()
        count.metric("Seeds in the set", len(seed_set(name)))
        show_dropped()
        workspace_panel()
    return name, model, decoding, count


FOLDERS_OFF = ("This server loads pipeline folders typed in the browser only for a browser on its own machine (open "
               "the app there as `http://localhost:PORT`). To offer it to every browser, start the server with "
               "`LATENT_EXPLORER_MODEL_FOLDERS` naming the folders that hold the pipelines.")


def pipeline_folder() -> str | None:
    """The box for a diffusers pipeline folder and the folder to load, or ``None`` (said why). The box is offered
    to a browser on the server's machine, or to every browser when the server names the folders it allows
    (:data:`ui.server.limits.MODEL_FOLDERS`); then a path outside them gets one answer, whether it exists or not
    (:func:`ui.server.model_folders.check_model_folder`), so the box probes nothing."""
    roots = limits.MODEL_FOLDERS
    if not roots and not model_folders.on_this_machine(st.context.ip_address, st.context.headers):
        st.info(FOLDERS_OFF)
        return None
    under = f" Only folders under {', '.join(roots)}." if roots else ""
    folder = st.text_input("Pipeline folder", key=remember("diffusers_folder", "", shared=False),
                           help="A folder written by a diffusers pipeline's save_pretrained. It stays in this session: "
                                f"a workspace or its link never opens a folder on the server.{plain(under)}")
    if not folder:
        st.info(f"Enter the path of a diffusers pipeline folder.{plain(under)}")
        return None
    try:
        return model_folders.check_model_folder(folder, roots)
    except model_folders.FolderNotAllowed as err:
        show_error(plain(f"Could not load that model: {err}."))
        return None


def device_settings() -> bool:
    """The precision models load in (read by :func:`ui.models.get_model`) and whether the selected model alone
    stays on the accelerator (returned); on the CPU both are shown, disabled (the CPU computes in float32 and has
    nothing to free)."""
    device = default_device()
    on_cpu = device.type == "cpu"
    with st.expander(f"Device: {device}", icon=":material/memory:"):
        st.selectbox(
            "Precision", models.PRECISIONS, key=remember(PRECISION_KEY, "auto", options=models.PRECISIONS),
            disabled=on_cpu, help="What the model's networks compute in. auto: float16 (bfloat16 for Stable "
            "Diffusion 3) for diffusers pipelines on a GPU, float32 for the small built-in models and on the CPU. "
            "Half precision halves the memory and is faster on GPUs; images differ slightly. Interpolation, LOL "
            "and the statistics compute in float32 whatever is chosen")
        offload = st.checkbox(
            "Keep only the selected model on the GPU", key=remember("offload", True), disabled=on_cpu,
            help="Other models loaded in this server move to the CPU's memory when you select one (they come back "
                 "when used). Turn it off on a server whose sessions use several models at once")
        if on_cpu:
            st.caption("On the CPU, models compute in float32; start the app on a machine with a GPU to choose.")
    return offload and not on_cpu


def scheduler_help(names) -> str:
    """The scheduler selector's help: each choice, and what inversion uses whatever the choice."""
    lines = "\n".join(f"- **{models.SCHEDULERS[n].label}**: {models.SCHEDULERS[n].help}." for n in names)
    return (f"How decoding steps from the noise to the image:\n\n{lines}\n\nInverting images into latents always "
            "runs DDIM inversion (diffusion models) or the flow ODE backwards (flow models), whatever is chosen here.")


def refused_plugins() -> None:
    """The plug-in models that were refused at server start, each with its file (or entry point) and why."""
    refused = plugins().refused
    if refused:
        with st.expander(f"Plug-in models refused ({len(refused)})", icon=":material/warning:"):
            for refusal in refused:
                st.warning(plain(str(refusal)))
            st.caption("Fix the file and restart the server; the other models work meanwhile.")
