"""The session's workspace: its seed sets (one per model, so switching models loses nothing) and every setting a
page registers with :func:`remember`, kept on the server by :mod:`latentcore.workspace`.

The workspace id is in the URL (``?ws=...``), so a reload or a shared link restores the same state; the workspace
is saved after every run of a page that changed something. The browser keeps a list of the workspaces it used
(:mod:`ui.recent`): the plain address reopens the last one, and the Workspace panel lists them.

A workspace comes from a link or an upload, so from anyone: what does not fit is dropped and said once. Seed sets
of another shape than their model's (registered models when the workspace opens, any other model when it is
chosen) and settings that are not finite are listed in the sidebar; a setting of another type than
:func:`remember`'s default is said where its widget is, when the page that has it first runs.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import time

import streamlit as st

import latentcore.models as models
from latentcore import limits, workspace
from latentcore.latent_files import FORMATS
from latentcore.seed_set import SeedSet

from . import recent
from .errors import stop
from .models import get_model
from .text import plain

DROPPED = "workspace_dropped"  # session key: what was left out of the workspace, shown once in the sidebar


@st.cache_resource(show_spinner=False)
def _stale_temporaries_removed() -> int:
    """Once per server process: the temporary files of saves that a killed server left behind. A store that cannot
    be listed is left to say why when a workspace is read or written."""
    try:
        return workspace.remove_stale_temporaries()
    except (OSError, workspace.WorkspaceError):
        return 0


def open_workspace() -> None:
    """Bind the session to the URL's workspace (``?ws=``), loading it once; without one, reopen this browser's last
    workspace (:func:`ui.recent.recent_workspaces`), or start a new one.

    An id that is malformed or names an unreadable file leaves that file untouched and continues in a new
    workspace, with a message in the sidebar. A well-formed id with nothing saved under it is not adopted: ids are
    issued by this server, and adopting a chosen one (``?ws=AAAAAAAAAAAAAAAA``) would file the work where anyone
    who guesses that link can open it. The same holds for the ids a browser's cookie names.
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
        _bind_workspace(*_last_workspace())
        if st.query_params.get("model") in models.available():  # e.g. ?model=digits-ddim
            st.session_state["settings"]["model"] = st.query_params["model"]
    st.query_params["ws"] = st.session_state["workspace_id"]  # page links drop query parameters


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
    state["workspace_used_at"] = None if saved is None else int(time.time())  # noted in the browser once saved
    if saved is None:  # nothing is written until something differs from an empty workspace
        state["seed_sets"], state["settings"] = {}, {}
        state["workspace_digest"] = _digest(workspace.workspace_to_bytes(workspace.Workspace()))
        return
    state["workspace_digest"] = _digest(workspace.workspace_to_bytes(saved))  # as read: a drop is saved later
    saved.fit(_registered_shapes(saved.seed_sets))
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


def save_workspace() -> str | None:
    """Write the workspace if anything in it changed since it was last written or read. Returns why it could not be
    written (too large: what to delete; or the store's error), or ``None``; the caller shows it.

    Every page and fragment run asks, so a run that changed nothing must cost little: the settings' JSON and the
    seed sets' versions (:attr:`SeedSet.version`) are compared with the last run's before the workspace is
    serialised; only then are the file's bytes built and compared with those last written."""
    state = st.session_state
    if "workspace_id" not in state:
        return None
    current = _current_workspace()
    mark = (json.dumps(current.settings), [(m, seeds.version) for m, seeds in current.seed_sets.items()])
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
            workspace.save_workspace_bytes(data, state["workspace_id"])
        except (OSError, workspace.WorkspaceError) as err:  # not marked: the next run tries again
            return (f"Could not save the workspace ({getattr(err, 'strerror', None) or err}); your work stays in "
                    "this browser tab until it is closed. Download the workspace from the sidebar to keep it.")
        state["workspace_digest"] = digest
        state["workspace_used_at"] = int(time.time())
    state["workspace_mark"] = (mark, None)
    return None


def note_workspace() -> None:
    """Note the session's workspace in this browser's list of recent ones once it is saved (see :mod:`ui.recent`);
    called at the end of a page run, after the last save."""
    state = st.session_state
    if state.get("workspace_used_at"):
        recent.note_in_browser(state["workspace_id"], state["workspace_used_at"])


def remember(key: str, default, options=None, bounds: tuple[float, float] | None = None, *,
             shared: bool = True) -> str:
    """Use as a widget's ``key``: its value is kept in the workspace and comes back after a reload, a page switch
    or a server restart. ``options`` (for select widgets) and ``bounds`` (for sliders) drop restored values that
    no longer fit, such as a deleted seed's name. The widget itself must not be given a default value.

    A value restored from the workspace must also be of the default's type (a bool, a whole number, a finite
    number, a string, a list of the default's element type; any JSON value when the default is ``None``): one
    that is not is dropped and the default used, with a message where the widget goes (a shared workspace may hold
    anything).

    ``shared=False``: kept across page switches of this session only, never written to or read from a workspace
    (e.g. a folder on the server, which a shared link must not make the server open)."""
    state = st.session_state
    if shared:
        state.setdefault("remembered", {})[key] = default
    else:
        state.setdefault("session_only", set()).add(key)
    saved = state.get("settings", {}) if shared else {}
    if key in state:
        value = state[key]
    elif key in saved and (why := misfit(saved[key], default)):
        st.warning(plain(f"Left out of the workspace, as it does not fit: the setting {key[:40]} ({why}); the "
                         f"default {str(default)[:40]} is used."))
        value = default
    else:
        value = saved.get(key, default)
    if options is not None:
        try:
            allowed = set(options)  # a set: a restored list may be long
        except TypeError:  # unhashable options
            allowed = list(options)
        if isinstance(default, list):
            value = [v for v in value if _member(v, allowed)] if isinstance(value, list) else default
        elif not _member(value, allowed):
            value = default
    if bounds is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = min(max(value, bounds[0]), bounds[1])
    state[key] = value
    return key


def _member(value, allowed) -> bool:
    try:
        return value in allowed
    except TypeError:  # an unhashable value (a list where a name belongs) is in no set of options
        return False


def misfit(value, default) -> str | None:
    """Why a restored ``value`` is not of the type of ``default``, or ``None`` when it is."""
    if default is None:
        return None
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "not true or false"
    if isinstance(value, bool):  # JSON true is not a number here
        return "not a number"
    if isinstance(default, numbers.Integral):
        return None if isinstance(value, int) else "not a whole number"
    if isinstance(default, numbers.Real):
        return None if isinstance(value, (int, float)) and math.isfinite(value) else "not a finite number"
    if isinstance(default, str):
        return None if isinstance(value, str) else "not text"
    if isinstance(default, list):
        if not isinstance(value, list):
            return "not a list"
        kinds = {type(v) for v in default} or {str, int, float}
        return None if all(type(v) in kinds for v in value) else "a list of the wrong kind of values"
    return None


def seed_set(model_name: str) -> SeedSet:
    """The session's seed set for one model (empty at first); pages edit it through its methods."""
    sets = st.session_state.setdefault("seed_sets", {})
    return sets.setdefault(model_name, SeedSet())


def go_to_seeds() -> None:
    """A button (not a link that reads as plain text) that opens the Seeds page."""
    if st.button("Go to Seeds", icon=":material/arrow_forward:"):
        st.switch_page("pages/seeds.py")


def seeds_or_stop(model_name: str, what: str) -> SeedSet:
    """The model's seed set when it holds at least two seeds; otherwise says that ``what`` needs two, links to
    the Seeds page and stops the page."""
    seeds = seed_set(model_name)
    if len(seeds) < 2:
        st.info(f"{what} at least two seeds: sample or upload some on the Seeds page.")
        go_to_seeds()
        stop()
    return seeds


def workspace_panel() -> None:
    """The workspace's link, download and upload, and a fresh start; nothing here discards a workspace."""
    with st.expander("Workspace", expanded="workspace_notice" in st.session_state):
        if "workspace_notice" in st.session_state:  # shown once
            kind, notice = st.session_state.pop("workspace_notice")
            {"error": st.error, "info": st.info}.get(kind, st.success)(plain(notice))  # names a file or an id
        workspace_id = st.session_state["workspace_id"]
        st.caption(f"Saved on this server after every change as `{workspace_id}`. The address bar holds its link: "
                   "reload it or share it to come back to exactly this state.")
        current = _current_workspace()  # written out only when the button is pressed
        too_large = st.session_state.get("workspace_too_large")
        st.download_button("Download the workspace", lambda: workspace.workspace_to_bytes(current),
                           file_name=f"workspace-{workspace_id[:8]}.safetensors", on_click="ignore",
                           disabled=too_large is not None, help=too_large and plain(too_large))
        upload = st.file_uploader("Open a workspace file (.safetensors)", type=["safetensors"],
                                  key="workspace_upload",
                                  max_upload_size=max(1, limits.MAX_WORKSPACE_BYTES // limits.MiB),
                                  help="A file downloaded here; it opens as a new workspace, this one stays saved")
        st.caption(f"Only workspace files downloaded from this panel; latent files ({', '.join(FORMATS)}) go on "
                   "the Seeds page.")
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
            st.error(plain(problem))  # the file's name is the uploader's text
        if st.button("New empty workspace", help="This one stays saved under its link; the new one is written once it "
                                                 "holds something"):
            _switch_workspace(None, f"Started a new workspace; the previous one is still at ?ws={workspace_id}.")
        _recent_panel(workspace_id)


def _recent_panel(workspace_id: str) -> None:
    """This browser's other recent workspaces that are saved (checked once per session), each a button that opens it."""
    saved = st.session_state.setdefault("recent_saved", {})
    others = []
    for other, used in recent.recent_workspaces():
        if other != workspace_id and other not in saved:
            saved[other] = workspace.workspace_exists(other)
        if other != workspace_id and saved[other]:
            others.append((other, used))
    if others:
        st.caption("This browser's recent workspaces (the list stays in this browser):")
    for other, used in others:
        if st.button(f"{other[:8]}… used {recent.last_used(used)}", key=f"recent.{other}", width="stretch",
                     help=f"Open workspace {other}; this one stays saved under its link"):
            try:
                opened = workspace.load_workspace(other)
            except workspace.WorkspaceError as err:
                opened, problem = None, str(err)
            else:
                problem = f"nothing is saved under {other} any more"
            if opened is not None:
                _switch_workspace(opened, f"Opened workspace {other}; the previous one is still at "
                                          f"?ws={workspace_id}.", other)
            saved[other] = False
            st.session_state["workspace_notice"] = ("error", f"Could not open that workspace: {problem}. This one "
                                                             "is unchanged.")
            st.rerun()


def _switch_workspace(opened: workspace.Workspace | None, notice: str, workspace_id: str | None = None) -> None:
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
