"""The session's workspace: its seed sets (one per model, so switching models loses nothing) and every setting a
page registers with :func:`ui.state.remember`, kept on the server by :mod:`ui.server.workspace`; read when a
session opens and written after every run that changed something. Its sidebar panel is :mod:`ui.workspace_panel`.

The workspace id is in the URL (``?ws=...``), so a reload restores the same state; the workspace is saved after
every run of a page that changed something. The browser keeps a list of the workspaces it used (:mod:`ui.recent`):
the plain address reopens the last one, and the Workspace panel lists them. A link to a workspace that is not on
this list (someone else's) opens a copy under a new id of the session's own, so that following a link never files
one's later work where the link's author can see it.

A workspace comes from a link or an upload, so from anyone: what does not fit is dropped and said once. Seed sets
of another shape than their model's (registered models when the workspace opens, any other model when it is
chosen), settings that are not finite and settings that do not fit their schema (:mod:`ui.schemas`: a comparison's
result the Compare page cannot draw, a playground endpoint off every map, a dict where a setting holds a number or a
text) are listed in the sidebar; a setting of another type than
:func:`~ui.state.remember`'s default is said where its widget is, when the page that has it first runs.
"""

from __future__ import annotations

import hashlib
import json
import time

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

import latentcore.models as models
from .server import workspace

from . import recent
from .models import get_model
from .schemas import check_settings
from .text import plain

DROPPED = "workspace_dropped"  # session key: what was left out of the workspace, shown once in the sidebar
COPIED_FROM = "workspace_copied_from"  # session key: the link's workspace this session's is a copy of


@st.cache_resource(show_spinner=False)
def _stale_temporaries_removed() -> int:
    """Once per server process: the temporary files of saves that a killed server left behind, and the workspaces
    past their expiry (saves repeat that hourly). A store that cannot be listed is left to say why when a workspace
    is read or written."""
    try:
        return workspace.remove_stale_temporaries() + workspace.expire_workspaces()
    except (OSError, workspace.WorkspaceError):
        return 0


def open_workspace() -> None:
    """Bind the session to the URL's workspace (``?ws=``), loading it once; without one, reopen this browser's last
    workspace (:func:`ui.recent.recent_workspaces`), or start a new one.

    The URL's workspace is adopted only when it is one of this browser's own (on its recent list: a reload, a
    returning browser); a link to any other saved workspace opens a copy of it under a new id (:func:`_open_copy`):
    adopting it would file this browser's later work where the link's author sees it, and the cookie would reopen
    it from the plain address (session fixation).

    An id that is malformed or names an unreadable file leaves that file untouched and continues in a new
    workspace, with a message in the sidebar. A well-formed id with nothing saved under it is not adopted: ids are
    issued by this server, and adopting a chosen one (``?ws=AAAAAAAAAAAAAAAA``) would file the work where anyone
    who guesses that link can open it. The same holds for the ids a browser's cookie names.
    """
    _stale_temporaries_removed()
    requested = st.query_params.get("ws")
    if requested and requested not in (st.session_state.get("workspace_id"), st.session_state.get(COPIED_FROM)):
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
            elif requested in {own for own, _ in recent.recent_workspaces()}:
                _bind_workspace(requested, saved)
            else:
                _open_copy(requested, saved)
    elif "workspace_id" not in st.session_state:
        _bind_workspace(*_last_workspace())
        if st.query_params.get("model") in models.available():  # e.g. ?model=digits-ddim
            st.session_state["settings"]["model"] = st.query_params["model"]
    st.query_params["ws"] = st.session_state["workspace_id"]  # page links drop query parameters


def _open_copy(original: str, saved: workspace.Workspace) -> None:
    """Continue in a copy of the saved workspace ``original`` (a link this browser did not make) under a new id: it
    is written by the save after the sidebar, in this same run (so a reload of the copy's link finds it), and
    noted in this browser's list once written; the original is never written by this session."""
    copy = workspace.new_workspace_id()
    _bind_workspace(copy, saved)
    state = st.session_state
    state["workspace_digest"] = None  # no file's digest: the next save writes the copy
    state.pop("workspace_mark", None)  # nor a mark: that save builds it
    state["workspace_used_at"] = None  # noted in the browser once written
    state[COPIED_FROM] = original  # a rerun still sending the link's id keeps the copy
    state["workspace_notice"] = ("info", f"The workspace of this link was opened as a copy of your own, saved as "
                                         f"?ws={copy}: your changes go there, and the original stays as its author "
                                         "left it.")


def _last_workspace() -> tuple[str, workspace.Workspace | None]:
    """The most recent workspace of this browser that is saved, or a new id; one that cannot be read is said and
    passed over."""
    problems = []
    for workspace_id, used in recent.recent_workspaces():
        try:
            saved = workspace.load_workspace(workspace_id)
        except workspace.WorkspaceError as err:
            problems.append(f"This browser's workspace used {recent.last_used(used)} cannot be opened: {err}.")
            continue
        if saved is not None:
            reopened = f"Reopened this browser's last workspace (used {recent.last_used(used)})."
            st.session_state["workspace_notice"] = ("error", " ".join([*problems, reopened])) if problems else (
                "info", reopened)
            return workspace_id, saved
    if problems:
        st.session_state["workspace_notice"] = ("error", " ".join([*problems, "This session starts a new one."]))
    return workspace.new_workspace_id(), None


def _bind_workspace(workspace_id: str, saved: workspace.Workspace | None) -> None:
    state = st.session_state
    for key in state.get("remembered", {}):  # the last workspace's settings must not leak into this one
        state.pop(key, None)
    state["workspace_id"], state["remembered"] = workspace_id, {}
    state.pop("workspace_mark", None)
    state.pop(COPIED_FROM, None)
    state["workspace_used_at"] = None if saved is None else int(time.time())  # noted in the browser once saved
    if saved is None:  # nothing is written until something differs from an empty workspace
        state["seed_sets"], state["settings"] = {}, {}
        state["workspace_digest"] = _digest(workspace.workspace_to_bytes(workspace.Workspace()))
        return
    # As read, without building the file again (a copy of all its seeds): its mark, so that the first save builds
    # nothing unless opening dropped something; no digest, so that a change is written.
    state["workspace_digest"], state["workspace_mark"] = None, (_mark(saved), None)
    saved.fit(_registered_shapes(saved.seed_sets))
    saved.dropped += check_settings(saved.settings)  # each setting against its schema, before any page reads it
    state["seed_sets"], state["settings"] = saved.seed_sets, dict(saved.settings)
    state[DROPPED] = list(saved.dropped)


def _registered_shapes(names) -> dict[str, tuple[int, ...]]:
    """The latent shapes of the registered models among ``names`` (loading them, once per server process)."""
    shapes = {}
    for name in names:
        if name in models.MODELS:
            try:
                shapes[name] = tuple(get_model(name).latent_shape)
            except Exception:  # noqa: BLE001 - a model that cannot load says why when it is chosen; its seeds wait
                continue
    return shapes


def fit_seeds(model_name: str, latent_shape) -> None:
    """Drop the model's seed set if its latents are not of ``latent_shape``: a diffusers folder's or a plug-in's
    seeds from a shared workspace, checked when the model is chosen (registered models are checked on opening)."""
    sets = st.session_state.setdefault("seed_sets", {})
    dropped = workspace.Workspace(seed_sets=sets).fit({model_name: tuple(latent_shape)})  # edits ``sets``
    st.session_state.setdefault(DROPPED, []).extend(dropped)


def show_dropped() -> None:
    """Say once what was left out of the workspace since it was last said."""
    dropped = st.session_state.pop(DROPPED, [])
    if dropped:
        st.warning(plain(workspace.describe_dropped(dropped)))


def _mark(ws: workspace.Workspace) -> tuple:
    """What tells a changed workspace without building its file: the settings' JSON, the seed sets' versions."""
    return json.dumps(ws.settings), [(m, seeds.version) for m, seeds in ws.seed_sets.items() if len(seeds)]


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def current_workspace() -> workspace.Workspace:
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


def save_workspace() -> str | None:
    """Write the workspace if anything in it changed since it was last written or read. Returns why it could not be
    written (too large: what to delete; or the store's error), or ``None``; the caller shows it.

    Every page and fragment run asks, so a run that changed nothing must cost little: the settings' JSON and the
    seed sets' versions (:attr:`SeedSet.version`) are compared with the last run's before the workspace is
    serialised; only then are the file's bytes built and compared with those last written.

    A fragment's rerun (a Subspace slider step) defers its write while the workspace was written less than
    :data:`~ui.server.workspace.SAVE_INTERVAL_S` ago (:data:`ui.server.workspace.SAVES` writes the latest state when
    that is up), so a slider moved step after step writes about once a second, not at every step, and no step waits
    for an ``fsync``. A full run writes at once. A deferred write that failed is said by the next save, which writes
    again."""
    state = st.session_state
    if "workspace_id" not in state:
        return None
    if workspace.SAVES.failure(state["workspace_id"]) is not None:  # a deferred write failed: write again now
        state["workspace_digest"] = None
        state.pop("workspace_mark", None)
    current = current_workspace()
    mark = _mark(current)
    if state.get("workspace_mark", (None,))[0] == mark:
        return state["workspace_mark"][1]  # the same outcome as last time: nothing to write, or still too large
    try:
        data = workspace.workspace_to_bytes(current)
    except workspace.WorkspaceTooLarge as err:  # checked from the seed counts first: cheap
        state["workspace_too_large"] = str(err)
        state["workspace_mark"] = (mark, str(err))
        return str(err)
    state.pop("workspace_too_large", None)
    digest = _digest(data)
    if digest != state.get("workspace_digest"):
        try:
            workspace.SAVES.save(data, state["workspace_id"], defer=_in_fragment_rerun())
        except (OSError, workspace.WorkspaceError) as err:  # not marked: the next run tries again
            return (f"Could not save the workspace ({getattr(err, 'strerror', None) or err}); your work stays in "
                    "this browser tab until it is closed. Download the workspace from the sidebar to keep it.")
        state["workspace_digest"] = digest
        state["workspace_used_at"] = int(time.time())
    state["workspace_mark"] = (mark, None)
    return None


def _in_fragment_rerun() -> bool:
    """Whether this run reruns fragments only (not the whole page)."""
    ctx = get_script_run_ctx()
    return bool(ctx is not None and ctx.fragment_ids_this_run)


def note_workspace() -> None:
    """Note the session's workspace in this browser's list of recent ones once it is saved (see :mod:`ui.recent`);
    called at the end of a page run, after the last save."""
    state = st.session_state
    if state.get("workspace_used_at"):
        recent.note_in_browser(state["workspace_id"], state["workspace_used_at"])


def switch_workspace(opened: workspace.Workspace | None, notice: str, workspace_id: str | None = None) -> None:
    """Continue in another workspace: the saved one ``workspace_id`` (read as ``opened``), ``opened`` alone (an
    upload: written at once under a new id), or an empty one (neither: written when it first holds something, like
    any new session's)."""
    save_workspace()
    if workspace_id is None:
        workspace_id = workspace.new_workspace_id()
        if opened is not None:
            workspace.save_workspace(opened, workspace_id)
    _bind_workspace(workspace_id, opened)
    st.session_state["workspace_notice"] = ("success", notice)
    st.query_params["ws"] = workspace_id
    st.rerun()
