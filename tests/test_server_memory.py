"""What a server keeps of a workspace: one copy of its seeds while a session has it open, and nothing once the
session has ended (ui.memory). The real server and browser are in tests/test_server_memory_browser.py."""

import ctypes
from pathlib import Path
from types import SimpleNamespace

import pytest
import safetensors.torch
import torch
from streamlit.runtime.state import SessionState
from streamlit.testing.v1 import AppTest

from latentcore.latent_files import safetensors_metadata
from ui import memory, recent
from ui.server import workspace
from ui.server.seed_set import SeedSet


ROOT = Path(__file__).resolve().parents[1]  # pages are addressed relative to the app


def _address(data: bytes) -> range:
    start = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value
    return range(start, start + len(data))


def _sets(*counts) -> dict:
    g = torch.Generator().manual_seed(0)
    return {f"model {i} é": SeedSet(torch.randn(n, 4, 8, generator=g), [f"ü {j}" for j in range(n)])
            for i, n in enumerate(counts)}


@pytest.mark.parametrize("counts", [(), (3,), tuple(range(1, 13))])  # 12 sets: names sort as text
def test_a_workspace_file_is_what_safetensors_writes_byte_for_byte(counts):
    data = workspace.workspace_to_bytes(workspace.Workspace(seed_sets=_sets(*counts), settings={"x": "é \u2028"}))
    assert safetensors.torch.save(safetensors.torch.load(data), metadata=safetensors_metadata(data)) == data


def test_opening_a_workspace_holds_its_seeds_once():
    data = workspace.workspace_to_bytes(workspace.Workspace(seed_sets=_sets(500, 300)))
    opened = workspace.workspace_from_bytes(data)
    for name, seeds in _sets(500, 300).items():
        latents = opened.seed_sets[name].latents
        assert torch.equal(latents, seeds.latents)
        assert latents.data_ptr() in _address(data)  # read where the file's bytes are, not copied
    chatty = workspace.workspace_to_bytes(workspace.Workspace(seed_sets=_sets(2), settings={"notes": "x" * 9000}))
    latents = next(iter(workspace.workspace_from_bytes(chatty).seed_sets.values())).latents
    assert latents.data_ptr() not in _address(chatty)  # copied: a view would keep the long header too


def _returning(entries, **params):
    """A session of a browser whose cookie held ``entries`` (what ui.recent read from it; AppTest has no cookies)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state[recent.RECENT] = entries
    at.query_params.update(params)
    return at.run()


def _counted(monkeypatch) -> list:
    built, real = [], workspace.workspace_to_bytes
    monkeypatch.setattr(workspace, "workspace_to_bytes", lambda ws: built.append(1) or real(ws))
    return built


def test_opening_a_workspace_builds_its_file_only_to_write_a_copy(monkeypatch, workspace_folder):
    monkeypatch.chdir(ROOT)
    mine, theirs = (workspace.new_workspace_id() for _ in range(2))
    for ws in (mine, theirs):
        workspace.save_workspace(workspace.Workspace(seed_sets=_sets(40), settings={"notes": "kept"}), ws)
    written = (workspace_folder / f"{mine}.safetensors").read_bytes()
    built = _counted(monkeypatch)
    at = _returning([(mine, 1_700_000_000)], ws=mine)  # one of this browser's own: adopted, nothing to write
    assert not at.exception and at.session_state["workspace_id"] == mine
    assert built == [] and (workspace_folder / f"{mine}.safetensors").read_bytes() == written
    at = _returning([], ws=theirs)  # someone else's link: a copy, built once to be written
    assert not at.exception and at.session_state["workspace_id"] != theirs
    assert built == [1] and workspace.load_workspace(at.session_state["workspace_id"]).seed_sets.keys() == \
        _sets(40).keys()


class _Runtime:
    """What ui.memory asks of Streamlit's runtime, with sessions connected or not as a test says."""

    def __init__(self):
        self.active, self.sessions, self.removed = set(), {}, []
        self.uploaded_file_mgr = SimpleNamespace(remove_session_files=lambda sid: self.removed.append(("files", sid)))
        self.dataframe_source_mgr = SimpleNamespace(
            clear_all_for_session=lambda sid: self.removed.append(("dataframes", sid)))
        self.media_file_mgr = SimpleNamespace(clear_session_refs=lambda sid: self.removed.append(("media", sid)),
                                              remove_orphaned_files=lambda: None)

    def is_active_session(self, session_id):
        return session_id in self.active

    def get_app_session(self, session_id):
        return self.sessions.get(session_id)


def test_a_sessions_state_is_dropped_once_it_has_been_disconnected_past_the_expiry(monkeypatch):
    runtime = _Runtime()
    monkeypatch.setattr(memory, "_server", lambda: runtime)
    monkeypatch.setattr(memory, "_noted", {})
    monkeypatch.setattr(memory, "_inactive_since", {})
    monkeypatch.setattr(memory, "_releaser", SimpleNamespace(is_alive=lambda: True))  # no thread: the test looks
    ttl = memory.st.get_option("server.disconnectedSessionTTL")
    states = {}
    for session_id in ("closed", "back"):
        states[session_id] = SessionState()
        states[session_id]["seed_sets"] = {"m": "a large set"}
        runtime.sessions[session_id] = SimpleNamespace(session_state=states[session_id])
        runtime.active.add(session_id)
        monkeypatch.setattr(memory, "get_script_run_ctx", lambda sid=session_id: SimpleNamespace(session_id=sid))
        memory.release_when_ended()
    assert memory.release_ended(now=0) == []  # connected
    runtime.active.clear()  # both tabs closed
    assert memory.release_ended(now=10) == []  # seen disconnected: a tab may still come back
    runtime.active.add("back")  # one does
    assert memory.release_ended(now=10 + ttl - 1) == []
    runtime.active.clear()  # and goes again
    assert memory.release_ended(now=10 + ttl) == ["closed"]
    assert "seed_sets" not in states["closed"] and states["back"]["seed_sets"] == {"m": "a large set"}
    assert runtime.removed == [("files", "closed"), ("dataframes", "closed"), ("media", "closed")]
    assert memory.release_ended(now=10 + 2 * ttl) == ["back"] and "seed_sets" not in states["back"]
    assert memory.release_ended(now=10 + 3 * ttl) == []  # each once
