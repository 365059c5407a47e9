"""Workspaces on disk (latentcore.workspace): round trips, id validation, corrupt files, atomic writes."""

import json
import os
import struct
import time

import pytest
import safetensors.torch
import torch

from latentcore import workspace
from latentcore.seed_set import SeedSet


def _workspace():
    g = torch.Generator().manual_seed(0)
    return workspace.Workspace(
        seed_sets={"digits-vae": SeedSet(torch.randn(3, 16, generator=g), ["a", "b", "c"]),
                   "digits-ddim": SeedSet(),
                   "/some/diffusers folder": SeedSet(torch.randn(1, 4, 8, 8, generator=g), ["x"])},
        settings={"model": "digits-vae", "interpolate.frames": 12, "interpolate.schemes": ["LOL", "SLERP"],
                  "subspace.h0.a-b": 0.25})


def _same(a, b):
    assert a.settings == b.settings and a.seed_sets.keys() == b.seed_sets.keys()
    for model, seeds in a.seed_sets.items():
        other = b.seed_sets[model]
        assert seeds.names == other.names
        assert (seeds.latents is None and other.latents is None) or torch.equal(seeds.latents, other.latents)


def test_round_trip_through_the_folder(tmp_path):
    ws_id = workspace.new_workspace_id()
    saved = _workspace()
    path = workspace.save_workspace(saved, ws_id, tmp_path)
    assert path.parent == tmp_path and path.name == f"{ws_id}.safetensors"
    _same(saved, workspace.load_workspace(ws_id, tmp_path))
    _same(saved, workspace.workspace_from_bytes(workspace.workspace_to_bytes(saved)))


def test_missing_workspace_is_none_and_the_folder_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(workspace.WORKSPACES_ENV, str(tmp_path / "here"))
    assert workspace.workspace_folder() == tmp_path / "here"
    ws_id = workspace.new_workspace_id()
    assert workspace.load_workspace(ws_id) is None
    workspace.save_workspace(workspace.Workspace(), ws_id)
    assert (tmp_path / "here" / f"{ws_id}.safetensors").exists()


def test_ids_are_random_and_never_name_a_path(tmp_path):
    ids = {workspace.new_workspace_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(workspace.WORKSPACE_ID.fullmatch(i) for i in ids)
    for bad in ["../../etc/passwd", "..", "a/b" * 10, "a\\b" * 10, "", "short", "x" * 65, "abcdefghijklmnop.x",
                "%2e%2e%2fabcdefghijklmnop", None, 12345678901234567890]:
        with pytest.raises(workspace.WorkspaceError, match="is not a workspace id"):
            workspace.check_workspace_id(bad)
        with pytest.raises(workspace.WorkspaceError):
            workspace.load_workspace(bad, tmp_path)
    assert list(tmp_path.iterdir()) == []


def _with_state(state: dict, tensors=None) -> bytes:
    return safetensors.torch.save(tensors or {}, metadata={workspace.WORKSPACE_KEY: json.dumps(state)})


@pytest.mark.parametrize("data, pattern", [
    (b"", "truncated or corrupt"),
    (b"garbage that is not a workspace", "truncated or corrupt"),
    (workspace.workspace_to_bytes(workspace.Workspace(settings={"model": "x"}))[:-3] + b"\x00", "truncated or corrupt"),
    (safetensors.torch.save({"latents": torch.ones(2, 3)}), "without workspace metadata"),
    (_with_state({"version": 99, "seed_sets": [], "settings": {}}), "unknown version 99"),
    (_with_state({"version": 1, "seed_sets": {}, "settings": {}}), "wrong type"),
    (_with_state({"version": 1, "seed_sets": [{"model": "m", "names": ["a"], "tensor": "t"}], "settings": {}}),
     "seeds of m are missing"),
    (_with_state({"version": 1, "seed_sets": [{"model": "m", "names": ["a"], "tensor": "t"}], "settings": {}},
                 {"t": torch.ones(2, 3)}), "1 names for 2 seeds"),
    (_with_state({"version": 1, "seed_sets": [{"model": "m", "names": ["a", "a"], "tensor": "t"}], "settings": {}},
                 {"t": torch.ones(2, 3)}), "distinct strings"),
    (_with_state({"version": 1, "seed_sets": [{"model": "m", "names": ["a"], "tensor": "t"}], "settings": {}},
                 {"t": torch.tensor([[1.0, float("nan")]])}), "NaN"),
    (_with_state({"version": 1, "seed_sets": [{"model": "m", "names": ["a"], "tensor": "t"}], "settings": {}},
                 {"t": torch.ones(1, 3, dtype=torch.int32)}), "floating point"),
])
def test_corrupt_files_raise_workspace_error(data, pattern):
    with pytest.raises(workspace.WorkspaceError, match=pattern) as info:
        workspace.workspace_from_bytes(data, "upload.safetensors")
    assert "upload.safetensors is not a usable Latent Explorer workspace" in str(info.value)


def test_a_file_written_when_seed_sets_were_plain_dicts_still_opens():
    """Version 1 as the app first wrote it: a tensor ``seed_set.<k>`` per non-empty set, the rest as JSON."""
    latents = torch.randn(2, 16, generator=torch.Generator().manual_seed(1))
    state = {"version": 1, "seed_sets": [{"model": "digits-vae", "names": ["a", "b"], "tensor": "seed_set.0"},
                                         {"model": "digits-ddim", "names": [], "tensor": None}],
             "settings": {"model": "digits-vae", "seeds.count": 4}}
    data = _with_state(state, {"seed_set.0": latents})
    opened = workspace.workspace_from_bytes(data)
    assert opened.settings == state["settings"] and len(opened.seed_sets["digits-ddim"]) == 0
    assert opened.seed_sets["digits-vae"].names == ["a", "b"]
    assert torch.equal(opened.seed_sets["digits-vae"].latents, latents)
    assert workspace.workspace_to_bytes(opened) == data  # and written back byte for byte the same


def test_a_corrupt_workspace_harms_no_other(tmp_path):
    good, bad = workspace.new_workspace_id(), workspace.new_workspace_id()
    workspace.save_workspace(_workspace(), good, tmp_path)
    workspace.save_workspace(_workspace(), bad, tmp_path)
    (tmp_path / f"{bad}.safetensors").write_bytes(struct.pack("<Q", 10**12) + b"{")
    with pytest.raises(workspace.WorkspaceError, match=f"workspace {bad} is not a usable"):
        workspace.load_workspace(bad, tmp_path)
    _same(_workspace(), workspace.load_workspace(good, tmp_path))


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_a_crash_mid_write_leaves_the_previous_state_readable(tmp_path, monkeypatch, failing):
    ws_id = workspace.new_workspace_id()
    before = _workspace()
    workspace.save_workspace(before, ws_id, tmp_path)
    after = _workspace()
    after.settings["interpolate.frames"] = 64

    def crash(*args, **kwargs):
        raise OSError("the machine went down")

    monkeypatch.setattr(os, failing, crash)
    with pytest.raises(OSError):
        workspace.save_workspace(after, ws_id, tmp_path)
    monkeypatch.undo()
    _same(before, workspace.load_workspace(ws_id, tmp_path))
    assert [p.name for p in tmp_path.iterdir()] == [f"{ws_id}.safetensors"]


def test_a_left_over_temporary_file_is_ignored(tmp_path):
    """A crash can leave the temporary file of an unfinished write beside the workspace; it is never read."""
    ws_id = workspace.new_workspace_id()
    workspace.save_workspace(_workspace(), ws_id, tmp_path)
    partial = workspace.workspace_to_bytes(workspace.Workspace())[:40]
    (tmp_path / f".{ws_id}.safetensors.abc123.tmp").write_bytes(partial)
    _same(_workspace(), workspace.load_workspace(ws_id, tmp_path))


def test_stale_temporaries_of_interrupted_saves_are_removed_and_nothing_else(tmp_path):
    ws_id = workspace.new_workspace_id()
    kept = workspace.save_workspace(_workspace(), ws_id, tmp_path)
    old = tmp_path / f".{ws_id}.safetensors.abc123.tmp"
    fresh = tmp_path / f".{ws_id}.safetensors.def456.tmp"  # another server may be writing it now
    other = tmp_path / "notes.tmp"
    for path in (old, fresh, other):
        path.write_bytes(b"partial")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    os.utime(other, (an_hour_ago, an_hour_ago))
    assert workspace.remove_stale_temporaries(tmp_path) == 1
    assert not old.exists() and fresh.exists() and other.exists() and kept.exists()
    assert workspace.load_workspace(ws_id, tmp_path) is not None
