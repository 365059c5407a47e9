"""The workspaces this browser used, kept in the browser itself: a cookie that a small script in the page writes and
the server reads when a session starts (``st.context.cookies``). The plain address reopens the most recent one that
is saved, and the Workspace panel lists them. The server keeps no list: each browser sends its own, so no one sees
another's.

The cookie holds up to :data:`KEPT` entries ``<workspace id>:<Unix time of last use>`` joined by ``.``, most recent
first. It comes from the browser, so it is read as untrusted text: at most :data:`MAX_CHARS` characters, ids that
:func:`ui.server.workspace.check_workspace_id` refuses and malformed times are left out without a word (they name
nothing that could be opened). An id read here is still only a candidate: the caller adopts it only when a
workspace is saved under it.

The list also says which ``?ws=`` links are this browser's own: :func:`ui.workspace.open_workspace` adopts a link
to one of them (a reload, a returning browser) and opens any other as a copy, so the list only ever holds
workspaces this browser made (a fresh start, an upload, a copy).
"""

from __future__ import annotations

import json
import time

import streamlit as st

from .server import workspace

COOKIE = "latent_explorer_recent"
KEPT = 8  # entries kept, most recent first
MAX_CHARS = 2048  # room for KEPT entries of the longest ids, and then some
MAX_AGE_S = 365 * 24 * 3600  # the cookie's lifetime after the last use
RECENT = "recent_workspaces"  # session key: this browser's list as the session knows it


def parse_recent(text) -> list[tuple[str, int]]:
    """The cookie's entries as ``(workspace id, Unix time)``, most recent first, at most :data:`KEPT`, each id once
    (its latest time); whatever is malformed is left out, and text longer than :data:`MAX_CHARS` is ignored."""
    if not isinstance(text, str) or len(text) > MAX_CHARS:
        return []
    entries = {}
    for entry in text.split("."):
        workspace_id, _, when = entry.partition(":")
        try:
            workspace.check_workspace_id(workspace_id)
        except workspace.WorkspaceError:
            continue
        if when.isascii() and when.isdigit() and len(when) <= 12:
            entries[workspace_id] = max(int(when), entries.get(workspace_id, 0))
    return merged(entries.items())


def merged(entries, workspace_id: str | None = None, when: int = 0) -> list[tuple[str, int]]:
    """``entries`` with ``workspace_id`` used at ``when``: each id once at its latest time, most recent first, at
    most :data:`KEPT`. The script in the page does the same with the cookie it finds, so notes from several tabs,
    or one note written twice, come to the same list."""
    latest = {}
    for key, used in [*entries, *([(workspace_id, when)] if workspace_id else [])]:
        latest[key] = max(used, latest.get(key, 0))
    return sorted(latest.items(), key=lambda item: (-item[1], item[0] != workspace_id))[:KEPT]  # a tie: the note


def recent_workspaces() -> list[tuple[str, int]]:
    """This browser's recent workspaces, most recent first: the cookie as the session's first run read it, with the
    session's own notes since."""
    state = st.session_state
    if RECENT not in state:
        state[RECENT] = parse_recent(st.context.cookies.get(COOKIE))
    return state[RECENT]


def note_in_browser(workspace_id: str, when: int) -> None:
    """Record in this browser's cookie that ``workspace_id`` (a checked id) was used at ``when`` (Unix seconds):
    a script at the end of the sidebar, run by the browser whenever the note changes. The session's list follows."""
    state = st.session_state
    state[RECENT] = merged(recent_workspaces(), workspace_id, when)
    args = [COOKIE, workspace.check_workspace_id(workspace_id), int(when), KEPT, MAX_AGE_S,
            workspace.WORKSPACE_ID.pattern]
    script = _NOTE.replace("ARGS", json.dumps(args))
    st.sidebar.html(f"<script>{script}</script>", unsafe_allow_javascript=True)


# merged() in the browser: the cookie as it is now (other tabs may have written it), this note added.
_NOTE = """(([name, id, when, kept, maxAge, idPattern]) => {
  const isId = new RegExp("^(?:" + idPattern + ")$");
  const latest = new Map();
  const cookie = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
  for (const entry of (cookie ? cookie.slice(name.length + 1) : "").split(".")) {
    const [key, used] = entry.split(":");
    if (isId.test(key) && /^[0-9]{1,12}$/.test(used)) {
      latest.set(key, Math.max(Number(used), latest.get(key) || 0));
    }
  }
  latest.set(id, Math.max(when, latest.get(id) || 0));
  const value = [...latest].sort((a, b) => b[1] - a[1] || (b[0] === id) - (a[0] === id)).slice(0, kept)
    .map(([k, t]) => k + ":" + t).join(".");
  document.cookie = `${name}=${value}; path=/; max-age=${maxAge}; samesite=lax`;
})(ARGS);"""


def last_used(when: int, now: float | None = None) -> str:
    """When a workspace was last used, said briefly: ``just now``, ``5 min ago``, ``3 h ago``, ``2 days ago``."""
    seconds = max(0.0, (time.time() if now is None else now) - when)
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    days = int(seconds // 86400)
    return f"{days} day{'s' if days > 1 else ''} ago"
