"""The session's workspace: its seed sets (one per model, so switching models loses nothing) and every setting a
page registers with :func:`remember`, kept on the server by :mod:`latentcore.workspace`.

The workspace id is in the URL (``?ws=...``), so a reload or a shared link restores the same state; the workspace
is saved after every run of a page that changed something.
"""

from __future__ import annotations

import hashlib

import streamlit as st

import latentcore.models as models
from latentcore import workspace
from latentcore.seed_set import SeedSet


@st.cache_resource(show_spinner=False)
def _stale_temporaries_removed() -> int:
    """Once per server process: the temporary files of saves that a killed server left behind."""
    return workspace.remove_stale_temporaries()


def open_workspace() -> None:
    """Bind the session to the URL's workspace (``?ws=``), loading it once; without one, start a new workspace.

    An id that is malformed or names an unreadable file leaves that file untouched and continues in a new
    workspace, with a message in the sidebar. A well-formed id with nothing saved under it is not adopted: ids are
    issued by this server, and adopting a chosen one (``?ws=AAAAAAAAAAAAAAAA``) would file the work where anyone
    who guesses that link can open it.
    """
    _stale_temporaries_removed()
    requested = st.query_params.get("ws")
    if requested and requested != st.session_state.get("workspace_id"):
        try:
            saved = workspace.load_workspace(workspace.check_workspace_id(requested))
        except workspace.WorkspaceError as err:
            st.session_state["workspace_notice"] = ("error", f"{err}. Nothing was changed on the server; this "
                                                                 "session goes on in a new workspace.")
            _bind_workspace(workspace.new_workspace_id(), None)
        else:
            if saved is None:
                st.session_state["workspace_notice"] = ("info", "Nothing is saved under the workspace id in this "
                                                                "link, so this session starts a new workspace with "
                                                                "an id of its own.")
                _bind_workspace(workspace.new_workspace_id(), None)
            else:
                _bind_workspace(requested, saved)
    elif "workspace_id" not in st.session_state:
        _bind_workspace(workspace.new_workspace_id(), None)
    st.query_params["ws"] = st.session_state["workspace_id"]  # page links drop query parameters


def _bind_workspace(workspace_id: str, saved: workspace.Workspace | None) -> None:
    state = st.session_state
    for key in state.get("remembered", {}):  # the last workspace's settings must not leak into this one
        state.pop(key, None)
    state["workspace_id"], state["remembered"] = workspace_id, {}
    if saved is None:  # nothing is written until something differs from an empty workspace
        state["seed_sets"], state["settings"] = {}, {}
        state["workspace_digest"] = _digest(workspace.workspace_to_bytes(workspace.Workspace()))
        if st.query_params.get("model") in models.available():  # e.g. ?model=digits-ddim
            state["settings"]["model"] = st.query_params["model"]
        return
    state["seed_sets"], state["settings"] = saved.seed_sets, dict(saved.settings)
    state["workspace_digest"] = _digest(workspace.workspace_to_bytes(saved))


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _current_workspace() -> workspace.Workspace:
    """Seeds and settings; a setting is kept only while it differs from its default, so visiting a page changes
    nothing, and settings of pages not open in this run live on from ``settings``."""
    state = st.session_state
    settings = dict(state.get("settings", {}))
    for key, default in state.get("remembered", {}).items():
        if key in state and state[key] != default:
            settings[key] = state[key]
        elif key in state:
            settings.pop(key, None)
    for key in state.get("session_only", ()):
        settings.pop(key, None)
    state["settings"] = settings
    seed_sets = {m: seeds for m, seeds in state.get("seed_sets", {}).items() if len(seeds)}
    return workspace.Workspace(seed_sets=seed_sets, settings=settings)


def save_workspace() -> None:
    """Write the workspace if anything in it changed since it was last written or read."""
    if "workspace_id" not in st.session_state:
        return
    data = workspace.workspace_to_bytes(_current_workspace())
    digest = _digest(data)
    if digest == st.session_state.get("workspace_digest"):
        return
    try:
        workspace.save_workspace_bytes(data, st.session_state["workspace_id"])
    except OSError as err:
        st.warning(f"Could not save the workspace ({err.strerror or err}); your work stays in this browser tab "
                   "until it is closed. Download the workspace from the sidebar to keep it.")
        return
    st.session_state["workspace_digest"] = digest


def remember(key: str, default, options=None, bounds: tuple[float, float] | None = None, *,
             shared: bool = True) -> str:
    """Use as a widget's ``key``: its value is kept in the workspace and comes back after a reload, a page switch
    or a server restart. ``options`` (for select widgets) and ``bounds`` (for sliders) drop restored values that
    no longer fit, such as a deleted seed's name. The widget itself must not be given a default value.

    ``shared=False``: kept across page switches of this session only, never written to or read from a workspace
    (e.g. a folder on the server, which a shared link must not make the server open)."""
    state = st.session_state
    if shared:
        state.setdefault("remembered", {})[key] = default
    else:
        state.setdefault("session_only", set()).add(key)
    saved = state.get("settings", {}) if shared else {}
    value = state[key] if key in state else saved.get(key, default)
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


def seed_set(model_name: str) -> SeedSet:
    """The session's seed set for one model (empty at first); pages edit it through its methods."""
    sets = st.session_state.setdefault("seed_sets", {})
    return sets.setdefault(model_name, SeedSet())


def seeds_or_stop(model_name: str, what: str) -> SeedSet:
    """The model's seed set when it holds at least two seeds; otherwise says that ``what`` needs two, links to
    the Seeds page and stops the page."""
    seeds = seed_set(model_name)
    if len(seeds) < 2:
        st.info(f"{what} at least two seeds: sample or upload some on the Seeds page.")
        st.page_link("pages/seeds.py", label="Go to Seeds")
        st.stop()
    return seeds


def workspace_panel() -> None:
    """The workspace's link, download and upload, and a fresh start; nothing here discards a workspace."""
    with st.expander("Workspace", expanded="workspace_notice" in st.session_state):
        if "workspace_notice" in st.session_state:  # shown once
            kind, notice = st.session_state.pop("workspace_notice")
            {"error": st.error, "info": st.info}.get(kind, st.success)(notice)
        workspace_id = st.session_state["workspace_id"]
        st.caption(f"Saved on this server after every change as `{workspace_id}`. The address bar holds its link: "
                   "reload it or share it to come back to exactly this state.")
        current = _current_workspace()  # written out only when the button is pressed
        st.download_button("Download the workspace", lambda: workspace.workspace_to_bytes(current),
                           file_name=f"workspace-{workspace_id[:8]}.safetensors", on_click="ignore")
        upload = st.file_uploader("Open a workspace file", type=["safetensors"], key="workspace_upload",
                                  help="A file downloaded here; it opens as a new workspace, this one stays saved")
        if upload is not None and st.session_state.get("workspace_upload_result", (None,))[0] != upload.file_id:
            try:  # read once per file; a bad file's message stays while it is in the uploader
                opened = workspace.workspace_from_bytes(upload.getvalue(), upload.name)
            except workspace.WorkspaceError as err:
                st.session_state["workspace_upload_result"] = (upload.file_id, f"{err}. This workspace is unchanged.")
            else:
                st.session_state["workspace_upload_result"] = (upload.file_id, None)
                _switch_workspace(opened, f"Opened {upload.name} as a new workspace; the previous one is still at "
                                          f"?ws={workspace_id}.")
        file_id, problem = st.session_state.get("workspace_upload_result", (None, None))
        if upload is not None and file_id == upload.file_id and problem:
            st.error(problem)
        if st.button("New empty workspace", help="This one stays saved under its link"):
            _switch_workspace(workspace.Workspace(), f"Started a new workspace; the previous one is still at "
                                                     f"?ws={workspace_id}.")


def _switch_workspace(opened: workspace.Workspace, notice: str) -> None:
    save_workspace()
    new_id = workspace.new_workspace_id()
    workspace.save_workspace(opened, new_id)
    _bind_workspace(new_id, opened)
    st.session_state["workspace_notice"] = ("success", notice)
    st.query_params["ws"] = new_id
    st.rerun()
