"""Workspaces on disk (latentcore.io): round trips, id validation, corrupt files, atomic writes."""

import json
import os
import struct

import pytest
import safetensors.torch
import torch

from latentcore import io


def _workspace():
    g = torch.Generator().manual_seed(0)
    return io.Workspace(
        seed_sets={"digits-vae": {"latents": torch.randn(3, 16, generator=g), "names": ["a", "b", "c"]},
                   "digits-ddim": {"latents": None, "names": []},
                   "/some/diffusers folder": {"latents": torch.randn(1, 4, 8, 8, generator=g), "names": ["x"]}},
        settings={"model": "digits-vae", "interpolate.frames": 12, "interpolate.schemes": ["LOL", "SLERP"],
                  "subspace.h0.a-b": 0.25})


def _same(a, b):
    assert a.settings == b.settings and a.seed_sets.keys() == b.seed_sets.keys()
    for model, seeds in a.seed_sets.items():
        other = b.seed_sets[model]
        assert seeds["names"] == other["names"]
        assert (seeds["latents"] is None and other["latents"] is None) or torch.equal(seeds["latents"],
                                                                                     other["latents"])


def test_round_trip_through_the_folder(tmp_path):
    ws_id = io.new_workspace_id()
    saved = _workspace()
    path = io.save_workspace(saved, ws_id, tmp_path)
    assert path.parent == tmp_path and path.name == f"{ws_id}.safetensors"
    _same(saved, io.load_workspace(ws_id, tmp_path))
    _same(saved, io.workspace_from_bytes(io.workspace_to_bytes(saved)))


def test_missing_workspace_is_none_and_the_folder_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(io.WORKSPACES_ENV, str(tmp_path / "here"))
    assert io.workspace_folder() == tmp_path / "here"
    ws_id = io.new_workspace_id()
    assert io.load_workspace(ws_id) is None
    io.save_workspace(io.Workspace(), ws_id)
    assert (tmp_path / "here" / f"{ws_id}.safetensors").exists()


def test_ids_are_random_and_never_name_a_path(tmp_path):
    ids = {io.new_workspace_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(io.WORKSPACE_ID.fullmatch(i) for i in ids)
    for bad in ["../../etc/passwd", "..", "a/b" * 10, "a\\b" * 10, "", "short", "x" * 65, "abcdefghijklmnop.x",
                "%2e%2e%2fabcdefghijklmnop", None, 12345678901234567890]:
        with pytest.raises(io.WorkspaceError, match="is not a workspace id"):
            io.check_workspace_id(bad)
        with pytest.raises(io.WorkspaceError):
            io.load_workspace(bad, tmp_path)
    assert list(tmp_path.iterdir()) == []


def _with_state(state: dict, tensors=None) -> bytes:
    return safetensors.torch.save(tensors or {}, metadata={io.WORKSPACE_KEY: json.dumps(state)})


@pytest.mark.parametrize("data, pattern", [
    (b"", "truncated or corrupt"),
    (b"garbage that is not a workspace", "truncated or corrupt"),
    (io.workspace_to_bytes(io.Workspace(settings={"model": "x"}))[:-3] + b"\x00", "truncated or corrupt"),
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
    with pytest.raises(io.WorkspaceError, match=pattern) as info:
        io.workspace_from_bytes(data, "upload.safetensors")
    assert "upload.safetensors is not a usable Latent Explorer workspace" in str(info.value)


def test_a_corrupt_workspace_harms_no_other(tmp_path):
    good, bad = io.new_workspace_id(), io.new_workspace_id()
    io.save_workspace(_workspace(), good, tmp_path)
    io.save_workspace(_workspace(), bad, tmp_path)
    (tmp_path / f"{bad}.safetensors").write_bytes(struct.pack("<Q", 10**12) + b"{")
    with pytest.raises(io.WorkspaceError, match=f"workspace {bad} is not a usable"):
        io.load_workspace(bad, tmp_path)
    _same(_workspace(), io.load_workspace(good, tmp_path))


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_a_crash_mid_write_leaves_the_previous_state_readable(tmp_path, monkeypatch, failing):
    ws_id = io.new_workspace_id()
    before = _workspace()
    io.save_workspace(before, ws_id, tmp_path)
    after = _workspace()
    after.settings["interpolate.frames"] = 64

    def crash(*args, **kwargs):
        raise OSError("the machine went down")

    monkeypatch.setattr(os, failing, crash)
    with pytest.raises(OSError):
        io.save_workspace(after, ws_id, tmp_path)
    monkeypatch.undo()
    _same(before, io.load_workspace(ws_id, tmp_path))
    assert [p.name for p in tmp_path.iterdir()] == [f"{ws_id}.safetensors"]


def test_a_left_over_temporary_file_is_ignored(tmp_path):
    """A crash can leave the temporary file of an unfinished write beside the workspace; it is never read."""
    ws_id = io.new_workspace_id()
    io.save_workspace(_workspace(), ws_id, tmp_path)
    (tmp_path / f".{ws_id}.safetensors.abc123.tmp").write_bytes(io.workspace_to_bytes(io.Workspace())[:40])
    _same(_workspace(), io.load_workspace(ws_id, tmp_path))
