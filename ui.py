"""What every page of the app shares: the model (loaded once per server process), the session's seed sets (one
per model, so switching models loses nothing), cached decoding, the sidebar, and error display.

Pages hold widgets and layout; every computation on latents goes through latentcore.
"""

from __future__ import annotations

import contextlib
import functools

import numpy as np
import streamlit as st
import torch

import latentcore.models as models
from latentcore.imaging import to_uint8

DEFAULT_MODEL = "digits-vae"
DIFFUSERS_CHOICE = "Load a diffusers folder ..."


@st.cache_resource(show_spinner="Loading the model ...")
def get_model(name: str):
    return models.load(name)


@st.cache_data(max_entries=2048, show_spinner=False)
def decode_to_uint8(model_name: str, latents: np.ndarray, steps: int | None) -> np.ndarray:
    """Decoded images of ``latents`` as 8-bit arrays; cached by model, latent values and steps."""
    model = get_model(model_name)
    options = {"steps": steps} if steps else {}
    return to_uint8(model.decode(torch.from_numpy(latents), **options))


def show_error(message: str, err: BaseException | None = None) -> None:
    """A message that says what to do, with the exception's details folded away."""
    st.error(message)
    if err is not None:
        with st.expander("Details"):
            st.exception(err)


@contextlib.contextmanager
def page(title: str):
    """One page run: page config, sidebar and title; yields ``(model name, model, steps)``.

    Any exception the page body did not expect becomes a message with its details folded away, and the session
    state stays as it was. The guard lives here, not around ``st.navigation`` in app.py, because Streamlit runs
    a script in ``pages/`` directly (without app.py) on a server's first run and in AppTest. Streamlit's rerun
    and stop signals derive from BaseException, so they pass through.
    """
    st.set_page_config(page_title=f"{title} · Latent Explorer", layout="wide")
    with errors_shown():
        name, model, steps = sidebar()
        st.title(title)
        yield name, model, steps


@contextlib.contextmanager
def errors_shown():
    try:
        yield
    except Exception as err:  # noqa: BLE001 - the last line of defence between latentcore and the user
        show_error(f"Something went wrong: {type(err).__name__}: {err}. Your seeds are unchanged; try other "
                   "settings, or open the details below if it keeps happening.", err)


def guarded(fragment):
    """The page's error guard for an ``st.fragment``, whose reruns run only the fragment's function."""
    @functools.wraps(fragment)
    def run(*args, **kwargs):
        with errors_shown():
            return fragment(*args, **kwargs)
    return run


def seed_set(model_name: str) -> dict:
    """The session's seeds for one model: ``{"latents": tensor [N, *shape] or None, "names": [...]}``."""
    sets = st.session_state.setdefault("seed_sets", {})
    return sets.setdefault(model_name, {"latents": None, "names": []})


def add_seeds(model_name: str, latents: torch.Tensor, names: list[str]) -> None:
    seeds = seed_set(model_name)
    taken = set(seeds["names"])
    unique = []
    for name in names:
        base, k = name, 2
        while name in taken:
            name, k = f"{base} ({k})", k + 1
        taken.add(name)
        unique.append(name)
    latents = latents.detach().cpu().float()
    seeds["latents"] = latents if seeds["latents"] is None else torch.cat([seeds["latents"], latents])
    seeds["names"] = seeds["names"] + unique


def rename_seed(model_name: str, old: str, new: str) -> str | None:
    """Rename one seed; returns a message when the new name is empty or taken (nothing changes then)."""
    seeds = seed_set(model_name)
    new = new.strip()
    if not new:
        return "A name cannot be empty."
    if new != old and new in seeds["names"]:
        return f"Another seed is already called {new!r}."
    seeds["names"] = [new if n == old else n for n in seeds["names"]]
    return None


def keep_seeds(model_name: str, keep: list[int]) -> None:
    seeds = seed_set(model_name)
    if not keep:
        seeds["latents"], seeds["names"] = None, []
        return
    seeds["latents"] = seeds["latents"][keep]
    seeds["names"] = [seeds["names"][i] for i in keep]


def sidebar():
    """The model selector, device, decoding steps and seed count; returns (model name, model, steps)."""
    with st.sidebar:
        choices = models.available() + [DIFFUSERS_CHOICE]
        # "model" outlives the widget's own state, which Streamlit drops when another page is opened
        if "model" not in st.session_state and st.query_params.get("model") in choices:  # e.g. ?model=digits-ddim
            st.session_state["model"] = st.query_params["model"]
        choice = st.selectbox("Model", choices, index=choices.index(st.session_state.get("model", DEFAULT_MODEL))
                              if st.session_state.get("model", DEFAULT_MODEL) in choices else 0, key="model_choice")
        name = choice
        if choice == DIFFUSERS_CHOICE:
            folder = st.text_input("Pipeline folder", key="diffusers_folder",
                                   help="A folder written by a diffusers pipeline's save_pretrained")
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
        st.session_state["model"] = name if name in choices else st.session_state.get("model", DEFAULT_MODEL)
        st.caption(f"Device: `{model.device}` · latent {'x'.join(map(str, model.latent_shape))}")
        steps = None
        if hasattr(model, "default_steps"):
            steps = st.select_slider("Decoding steps (DDIM)", options=[10, 20, 25, 40, 50], value=25,
                                     help="Step counts that divide 1000 invert exactly")
        seeds = seed_set(name)
        st.metric("Seeds in the set", len(seeds["names"]))
    return name, model, steps
