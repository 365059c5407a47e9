"""The sidebar of every page: the model, its device and decoding steps, the seed count and the workspace panel."""

from __future__ import annotations

import streamlit as st

import latentcore.models as models

from .errors import show_error
from .models import get_model, model_thumbnail
from .workspace import remember, seed_set, workspace_panel

DEFAULT_MODEL = "faces-dcgan"
DIFFUSERS_CHOICE = "Load a diffusers folder ..."


def model_label(name: str) -> str:
    """The selector's entry: the name and, for registered models, what they make."""
    spec = models.MODELS.get(name)
    return f"{name} · {spec.summary}" if spec is not None and spec.summary else name


def sidebar():
    """The model selector, device, decoding steps, seed count and workspace panel; returns the model name, the
    model, the DDIM steps (None for other models) and the placeholder of the seed count."""
    with st.sidebar:
        choices = models.available() + [DIFFUSERS_CHOICE]
        choice = st.selectbox("Model", choices, format_func=model_label,
                              key=remember("model", DEFAULT_MODEL, options=choices))
        name = choice
        if choice == DIFFUSERS_CHOICE:
            folder = st.text_input("Pipeline folder", key=remember("diffusers_folder", "", shared=False),
                                   help="A folder written by a diffusers pipeline's save_pretrained. It stays in this "
                                        "session: a workspace or its link never opens a folder on the server")
            if not folder:
                st.info("Enter the path of a diffusers pipeline folder.")
                name = DEFAULT_MODEL
            else:
                name = folder
        try:
            model = get_model(name)
        except (models.ModelLoadError, ValueError, OSError) as err:
            show_error(f"Could not load that model: {err}", err)
            name = DEFAULT_MODEL
            model = get_model(name)
        facts = (f"{model.kind.upper()} · latent {'x'.join(map(str, model.latent_shape))} · image "
                 f"{'x'.join(map(str, model.image_shape))} · on {model.device}")
        if name in models.MODELS:  # registered models decode quickly; a pipeline folder may take minutes
            st.image(model_thumbnail(name), width="stretch", caption=facts)
        else:
            st.caption(facts)
        steps = None
        if model.sampler is not None:
            sampler = model.sampler
            steps = st.select_slider(sampler.label, options=sampler.choices, help=sampler.help,
                                     key=remember("ddim_steps", sampler.default, options=sampler.choices))
        count = st.empty()
        count.metric("Seeds in the set", len(seed_set(name)))
        workspace_panel()
    return name, model, steps, count
