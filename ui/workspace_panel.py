"""The sidebar's Workspace panel: the workspace's link, download and upload, this browser's recent workspaces and
a fresh start; nothing here discards a workspace."""

from __future__ import annotations

import streamlit as st

from .server import limits, workspace
from latentcore.latent_files import LATENT_FORMATS

from . import recent
from .text import plain
from .uploads import upload_help, upload_limit_problem, upload_mib
from .workspace import current_workspace, switch_workspace


def workspace_panel() -> None:
    """The workspace's link, download and upload, and a fresh start; nothing here discards a workspace."""
    with st.expander("Workspace", expanded="workspace_notice" in st.session_state):
        if "workspace_notice" in st.session_state:  # shown once
            kind, notice = st.session_state.pop("workspace_notice")
            {"error": st.error, "info": st.info}.get(kind, st.success)(plain(notice))  # names a file or an id
        workspace_id = st.session_state["workspace_id"]
        st.caption(f"Saved on this server after every change as `{workspace_id}`. The address bar holds its link: "
                   "reload it to come back to exactly this state, or share it: whoever opens it gets a copy of "
                   "their own, and this one stays yours.")
        current = current_workspace()  # written out only when the button is pressed
        too_large = st.session_state.get("workspace_too_large")
        st.download_button("Download the workspace", lambda: workspace.workspace_to_bytes(current),
                           file_name=f"workspace-{workspace_id[:8]}.safetensors", on_click="ignore",
                           disabled=too_large is not None, help=too_large and plain(too_large))
        upload = st.file_uploader("Open a workspace file (.safetensors)", type=["safetensors"],
                                  key="workspace_upload", max_upload_size=upload_mib(limits.MAX_WORKSPACE_BYTES),
                                  help=upload_help("A file downloaded here; it opens as a new workspace, this one "
                                                   "stays saved", limits.MAX_WORKSPACE_BYTES))
        if mismatch := upload_limit_problem(limits.MAX_WORKSPACE_BYTES, "a workspace"):
            st.warning(plain(mismatch))
        st.caption(f"Only workspace files downloaded from this panel; latent files ({', '.join(LATENT_FORMATS)}) "
                   "go on the Seeds page.")
        if upload is not None and st.session_state.get("workspace_upload_result", (None,))[0] != upload.file_id:
            try:  # read once per file; a bad file's message stays while it is in the uploader
                opened = workspace.workspace_from_bytes(upload.getvalue(), upload.name)
            except workspace.WorkspaceError as err:
                st.session_state["workspace_upload_result"] = (upload.file_id, f"{err}. This workspace is unchanged.")
            else:
                st.session_state["workspace_upload_result"] = (upload.file_id, None)
                switch_workspace(opened, f"Opened {upload.name} as a new workspace; the previous one is still at "
                                          f"?ws={workspace_id}.")
        file_id, problem = st.session_state.get("workspace_upload_result", (None, None))
        if upload is not None and file_id == upload.file_id and problem:
            st.error(plain(problem))  # the file's name is the uploader's text
        if st.button("New empty workspace", help="This one stays saved under its link; the new one is written once it "
                                                 "holds something"):
            switch_workspace(None, f"Started a new workspace; the previous one is still at ?ws={workspace_id}.")
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
                switch_workspace(opened, f"Opened workspace {other}; the previous one is still at "
                                          f"?ws={workspace_id}.", other)
            saved[other] = False
            st.session_state["workspace_notice"] = ("error", f"Could not open that workspace: {problem}. This one "
                                                             "is unchanged.")
            st.rerun()
