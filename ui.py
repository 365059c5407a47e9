"""What every page of the app shares: the model (loaded once per server process), the session's seed sets (one
per model, so switching models loses nothing), the workspace that keeps them on the server, cached decoding, the
sidebar, and error display.

The workspace (``latentcore.io``) holds the seed sets, the model and every setting a page registers with
:func:`remember`. Its id is in the URL (``?ws=...``), so a reload or a shared link restores the same state; it is
saved after every run of a page that changed something.

Pages hold widgets and layout; every computation on latents goes through latentcore.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib

import numpy as np
import streamlit as st
import torch

import latentcore as lc
import latentcore.models as models
from latentcore import io
from latentcore.imaging import to_uint8

DEFAULT_MODEL = "digits-vae"
DIFFUSERS_CHOICE = "Load a diffusers folder ..."
DDIM_STEPS = [10, 20, 25, 40, 50]


@st.cache_resource(show_spinner="Loading the model ...")
def get_model(name: str):
    return models.load(name)


@st.cache_data(max_entries=2048, show_spinner=False)
def decode_to_uint8(model_name: str, latents: np.ndarray, steps: int | None) -> np.ndarray:
    """Decoded images of ``latents`` as 8-bit arrays; cached by model, latent values and steps."""
    model = get_model(model_name)
    options = {"steps": steps} if steps else {}
    return to_uint8(model.decode(torch.from_numpy(latents), **options))


PATHS_KEPT = 32


def path_through(model_name: str, model, stops: torch.Tensor, frames: int, scheme: str) -> torch.Tensor:
    """The path through ``stops [K, *shape]`` by one registered scheme, ``frames`` per leg.

    Iterative schemes (NAO, ri-optimal) show a progress bar, and their paths are kept for the session (the last
    ``PATHS_KEPT``), so a rerun for another widget does not optimise them again.
    """
    spec = lc.SCHEMES[scheme]
    options = {"geodesic": {"decoder": model}, "nao": {"max_steps": 2000}}.get(scheme, {})
    if not spec.iterative:
        return lc.interpolate_chain(stops, frames, scheme=scheme, prior=model.prior, **options)
    kept = st.session_state.setdefault("paths_kept", {})
    key = (model_name, scheme, frames, _digest(stops.numpy().tobytes()), tuple(stops.shape))
    if key not in kept:
        bar = st.progress(0.0, text=f"{spec.label} ...")
        try:
            kept[key] = lc.interpolate_chain(stops, frames, scheme=scheme, prior=model.prior, **options,
                                             progress=lambda f, text: bar.progress(min(f, 1.0), text=text))
        finally:
            bar.empty()
        while len(kept) > PATHS_KEPT:
            kept.pop(next(iter(kept)))
    return kept[key]


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
    count = None
    try:
        with errors_shown():
            open_workspace()
            name, model, steps, count = sidebar()
            save_workspace()  # the widget changes that started this run; st.stop() below blocks session state
            st.title(title)
        if count is None:  # the setup failed and says why; a context manager must yield or raise
            st.stop()
        with errors_shown():
            yield name, model, steps
    finally:  # the page's own changes, also after st.rerun (after st.stop this raises Streamlit's stop again)
        save_workspace()
        if count is not None:  # the page may have added or removed seeds after the sidebar was drawn
            count.metric("Seeds in the set", len(seed_set(name)["names"]))


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
        try:
            with errors_shown():
                return fragment(*args, **kwargs)
        finally:
            save_workspace()
    return run


def open_workspace() -> None:
    """Bind the session to the URL's workspace (``?ws=``), loading it once; without one, start a new workspace.

    An id that is malformed or names an unreadable file leaves that file untouched and continues in a new
    workspace, with a message in the sidebar.
    """
    requested = st.query_params.get("ws")
    if requested and requested != st.session_state.get("workspace_id"):
        try:
            saved = io.load_workspace(io.check_workspace_id(requested))
        except io.WorkspaceError as err:
            st.session_state["workspace_notice"] = ("error", f"{err}. Nothing was changed on the server; this "
                                                                 "session goes on in a new workspace.")
            _bind_workspace(io.new_workspace_id(), None)
        else:
            _bind_workspace(requested, saved)
    elif "workspace_id" not in st.session_state:
        _bind_workspace(io.new_workspace_id(), None)
    st.query_params["ws"] = st.session_state["workspace_id"]  # page links drop query parameters


def _bind_workspace(workspace_id: str, saved: io.Workspace | None) -> None:
    state = st.session_state
    for key in state.get("remembered", {}):  # the last workspace's settings must not leak into this one
        state.pop(key, None)
    state["workspace_id"], state["remembered"] = workspace_id, {}
    if saved is None:  # nothing is written until something differs from an empty workspace
        state["seed_sets"], state["settings"] = {}, {}
        state["workspace_digest"] = _digest(io.workspace_to_bytes(io.Workspace()))
        if st.query_params.get("model") in models.available():  # e.g. ?model=digits-ddim
            state["settings"]["model"] = st.query_params["model"]
        return
    state["seed_sets"], state["settings"] = saved.seed_sets, dict(saved.settings)
    state["workspace_digest"] = _digest(io.workspace_to_bytes(saved))


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _current_workspace() -> io.Workspace:
    """Seeds and settings; a setting is kept only while it differs from its default, so visiting a page changes
    nothing, and settings of pages not open in this run live on from ``settings``."""
    state = st.session_state
    settings = dict(state.get("settings", {}))
    for key, default in state.get("remembered", {}).items():
        if key in state and state[key] != default:
            settings[key] = state[key]
        elif key in state:
            settings.pop(key, None)
    state["settings"] = settings
    seed_sets = {m: seeds for m, seeds in state.get("seed_sets", {}).items() if seeds["names"]}
    return io.Workspace(seed_sets=seed_sets, settings=settings)


def save_workspace() -> None:
    """Write the workspace if anything in it changed since it was last written or read."""
    if "workspace_id" not in st.session_state:
        return
    data = io.workspace_to_bytes(_current_workspace())
    digest = _digest(data)
    if digest == st.session_state.get("workspace_digest"):
        return
    try:
        io.save_workspace_bytes(data, st.session_state["workspace_id"])
    except OSError as err:
        st.warning(f"Could not save the workspace ({err.strerror or err}); your work stays in this browser tab "
                   "until it is closed. Download the workspace from the sidebar to keep it.")
        return
    st.session_state["workspace_digest"] = digest


def remember(key: str, default, options=None, bounds: tuple[float, float] | None = None) -> str:
    """Use as a widget's ``key``: its value is kept in the workspace and comes back after a reload, a page switch
    or a server restart. ``options`` (for select widgets) and ``bounds`` (for sliders) drop restored values that
    no longer fit, such as a deleted seed's name. The widget itself must not be given a default value."""
    state = st.session_state
    state.setdefault("remembered", {})[key] = default
    value = state[key] if key in state else state.get("settings", {}).get(key, default)
    if options is not None:
        options = list(options)
        if isinstance(default, list):
            value = [v for v in value if v in options] if isinstance(value, list) else default
        elif value not in options:
            value = default
    if bounds is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = min(max(value, bounds[0]), bounds[1])
    state[key] = value
    return key


def seed_set(model_name: str) -> dict:
    """The session's seeds for one model: ``{"latents": tensor [N, *shape] or None, "names": [...]}``."""
    sets = st.session_state.setdefault("seed_sets", {})
    return sets.setdefault(model_name, {"latents": None, "names": []})


def seeds_or_stop(model_name: str, what: str) -> dict:
    """The model's seed set when it holds at least two seeds; otherwise says that ``what`` needs two, links to
    the Seeds page and stops the page."""
    seeds = seed_set(model_name)
    if len(seeds["names"]) < 2:
        st.info(f"{what} at least two seeds: sample or upload some on the Seeds page.")
        st.page_link("pages/seeds.py", label="Go to Seeds")
        st.stop()
    return seeds


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
    """The model selector, device, decoding steps, seed count and workspace panel; returns the model name, the
    model, the DDIM steps (None for other models) and the placeholder of the seed count."""
    with st.sidebar:
        choices = models.available() + [DIFFUSERS_CHOICE]
        choice = st.selectbox("Model", choices, key=remember("model", DEFAULT_MODEL, options=choices))
        name = choice
        if choice == DIFFUSERS_CHOICE:
            folder = st.text_input("Pipeline folder", key=remember("diffusers_folder", ""),
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
        st.caption(f"Device: `{model.device}` · latent {'x'.join(map(str, model.latent_shape))}")
        steps = None
        if hasattr(model, "default_steps"):
            steps = st.select_slider("Decoding steps (DDIM)", options=DDIM_STEPS, help="Step counts that divide 1000 "
                                     "invert exactly", key=remember("ddim_steps", 25, options=DDIM_STEPS))
        count = st.empty()
        count.metric("Seeds in the set", len(seed_set(name)["names"]))
        workspace_panel()
    return name, model, steps, count


def workspace_panel() -> None:
    """The workspace's link, download and upload, and a fresh start; nothing here discards a workspace."""
    with st.expander("Workspace", expanded="workspace_notice" in st.session_state):
        if "workspace_notice" in st.session_state:  # shown once
            kind, notice = st.session_state.pop("workspace_notice")
            (st.error if kind == "error" else st.success)(notice)
        workspace_id = st.session_state["workspace_id"]
        st.caption(f"Saved on this server after every change as `{workspace_id}`. The address bar holds its link: "
                   "reload it or share it to come back to exactly this state.")
        current = _current_workspace()  # written out only when the button is pressed
        st.download_button("Download the workspace", lambda: io.workspace_to_bytes(current),
                           file_name=f"workspace-{workspace_id[:8]}.safetensors", on_click="ignore")
        upload = st.file_uploader("Open a workspace file", type=["safetensors"], key="workspace_upload",
                                  help="A file downloaded here; it opens as a new workspace, this one stays saved")
        if upload is not None and st.session_state.get("workspace_upload_result", (None,))[0] != upload.file_id:
            try:  # read once per file; a bad file's message stays while it is in the uploader
                opened = io.workspace_from_bytes(upload.getvalue(), upload.name)
            except io.WorkspaceError as err:
                st.session_state["workspace_upload_result"] = (upload.file_id, f"{err}. This workspace is unchanged.")
            else:
                st.session_state["workspace_upload_result"] = (upload.file_id, None)
                _switch_workspace(opened, f"Opened {upload.name} as a new workspace; the previous one is still at "
                                          f"?ws={workspace_id}.")
        file_id, problem = st.session_state.get("workspace_upload_result", (None, None))
        if upload is not None and file_id == upload.file_id and problem:
            st.error(problem)
        if st.button("New empty workspace", help="This one stays saved under its link"):
            _switch_workspace(io.Workspace(), f"Started a new workspace; the previous one is still at "
                                              f"?ws={workspace_id}.")


def _switch_workspace(workspace: io.Workspace, notice: str) -> None:
    save_workspace()
    new_id = io.new_workspace_id()
    io.save_workspace(workspace, new_id)
    _bind_workspace(new_id, workspace)
    st.session_state["workspace_notice"] = ("success", notice)
    st.query_params["ws"] = new_id
    st.rerun()
