"""Memory that the server takes for one large upload is given back to the operating system when freed.

glibc's malloc serves a block from its own mapping only above a threshold, and raises that threshold to the size
of each mapped block freed (up to 32 MiB); from then on blocks of that size come from the heap of the thread that
asks, and stay with the process when freed. Streamlit runs each page run in a new thread, and Pillow decodes an
image in blocks of 16 MiB, so every large image upload left tens of megabytes behind in some thread's heap (a
4096x4096 image inverted in three sessions took the server from 70 MB to 1.45 GB, and it stayed there).
Fixing the threshold at 1 MiB (``mallopt(M_MMAP_THRESHOLD)``) gives every block of 1 MiB or more its own mapping,
unmapped when freed. Elsewhere (macOS, Windows, other C libraries) nothing changes.

A session's memory is given back when the session ends (:func:`release_when_ended`). Streamlit keeps a closed tab's
session for ``server.disconnectedSessionTTL`` seconds (120 by default) so that the tab can reconnect, then forgets
it at the next disconnect of any session, without shutting it down: its state (a workspace's seed sets, up to
256 MiB), uploaded files and media stay until a garbage collection frees the session's reference cycles, and
forever when :func:`ui.models.get_model` froze them (``gc.freeze``, a model loaded while the session was alive). A
255 MiB workspace opened by link in six sessions took a server from 423 MiB to 2080 MiB, and kept it. So a thread
drops the state, uploaded files and media of every session disconnected past that expiry.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import sys
import threading
import time

import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.runtime.state import SessionState

M_MMAP_THRESHOLD = -3  # glibc's malloc.h
THRESHOLD_BYTES = 2**20


@functools.cache
def return_large_blocks() -> bool:
    """Once per process: glibc serves blocks of :data:`THRESHOLD_BYTES` or more from their own mappings. Whether
    the C library took the setting."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD_BYTES))


RELEASE_POLL_S = 2.0  # how often the sessions noted are looked at
logger = logging.getLogger(__name__)
_noted: dict[str, SessionState] = {}       # session id -> its state (which takes no weak reference)
_inactive_since: dict[str, float] = {}     # session id -> when it was first seen disconnected (time.monotonic)
_noted_lock = threading.Lock()
_releaser: threading.Thread | None = None


def release_when_ended() -> None:
    """Note this run's session (once per session), so that its state, uploaded files and media are dropped once it
    has been disconnected for longer than ``server.disconnectedSessionTTL`` (Streamlit's expiry: after it no tab
    can reconnect to the session). Nothing without a server (AppTest)."""
    global _releaser
    ctx = get_script_run_ctx()
    session = served_session()
    if session is None or ctx.session_id in _noted:
        return
    with _noted_lock:
        _noted[ctx.session_id] = session.session_state  # dropped when released: held no longer than Streamlit's
        if _releaser is None or not _releaser.is_alive():
            _releaser = threading.Thread(target=_release_ended_sessions, name="session-release", daemon=True)
            _releaser.start()


def served_session():
    """The Streamlit session of this script run when a real server runs it; None outside one (AppTest, bare
    mode, a session already gone)."""
    ctx, runtime = get_script_run_ctx(), _server()
    if ctx is None or runtime is None:
        return None
    session = runtime.get_app_session(ctx.session_id)
    return session if isinstance(getattr(session, "session_state", None), SessionState) else None


def release_ended(now: float | None = None) -> list[str]:
    """Drop what every noted session holds once it has been seen disconnected for longer than the session expiry
    (its state, cleared as ``st.session_state.clear()`` would; its uploaded files; its media and dataframe
    sources); returns their ids. A session that reconnects starts over; one released early by a rare reconnect
    between two looks reopens its workspace from its link."""
    runtime = _server()
    if runtime is None:
        return []
    now = time.monotonic() if now is None else now
    ttl = float(st.get_option("server.disconnectedSessionTTL"))
    ended = []
    with _noted_lock:
        for session_id in list(_noted):
            if runtime.is_active_session(session_id):
                _inactive_since.pop(session_id, None)
            elif now - _inactive_since.setdefault(session_id, now) >= ttl:
                ended.append((session_id, _noted.pop(session_id)))
                del _inactive_since[session_id]
    released = []
    for session_id, session_state in ended:
        if runtime.is_active_session(session_id):  # back since it was looked at
            with _noted_lock:
                _noted.setdefault(session_id, session_state)
            continue
        session_state.clear()
        runtime.uploaded_file_mgr.remove_session_files(session_id)
        runtime.dataframe_source_mgr.clear_all_for_session(session_id)
        runtime.media_file_mgr.clear_session_refs(session_id)
        released.append(session_id)
    if released:
        runtime.media_file_mgr.remove_orphaned_files()
    return released


def _server() -> Runtime | None:
    """Streamlit's runtime, or ``None`` outside a server."""
    return Runtime.instance() if Runtime.exists() else None


def _release_ended_sessions() -> None:
    while True:
        time.sleep(RELEASE_POLL_S)
        try:
            release_ended()
        except Exception:  # noqa: BLE001 - the next look tries again; a server never loses this thread
            logger.exception("releasing the state of ended sessions failed")
