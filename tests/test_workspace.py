"""Workspaces on disk (ui.server.workspace): round trips, id validation, corrupt files, atomic writes."""

import json
import os
import struct
import time

import pytest
import safetensors.torch
import torch

from ui.server import workspace
from ui.server.seed_set import SeedSet


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


def test_missing_workspace_is_none_and_the_store_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(workspace.WORKSPACES_ENV, str(tmp_path / "here"))
    assert workspace.workspace_store() == tmp_path / "here"
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


def test_a_crafted_header_is_refused_in_words_without_the_library_s_text():
    nested = safetensors.torch.save({}, metadata={workspace.WORKSPACE_KEY: "[" * 100_000 + "]" * 100_000})
    with pytest.raises(workspace.WorkspaceError) as info:
        workspace.workspace_from_bytes(nested, "deep.safetensors")
    assert str(info.value) == ("deep.safetensors is not a usable Latent Explorer workspace: its names and settings "
                               "cannot be read, as its JSON is nested too deeply (names and settings need only a few "
                               "levels)")
    good = workspace.workspace_to_bytes(workspace.Workspace(seed_sets={"m": SeedSet(torch.ones(2, 3), ["a", "b"])}))
    (length,) = struct.unpack("<Q", good[:8])
    header = json.loads(good[8: 8 + length])
    header["seed_set.0"]["data_offsets"] = [0, 10**6]  # past the data: the library's "incomplete metadata"
    text = json.dumps(header).encode()
    with pytest.raises(workspace.WorkspaceError) as info:
        workspace.workspace_from_bytes(struct.pack("<Q", len(text)) + text + good[8 + length:], "short.safetensors")
    assert str(info.value) == "short.safetensors is not a usable Latent Explorer workspace: it is truncated or corrupt"


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


def test_a_large_seed_set_under_the_limit_round_trips(tmp_path):
    seeds = SeedSet(torch.randn(300, 4, 64, 64, generator=torch.Generator().manual_seed(2)),
                    [f"sd {i}" for i in range(300)])  # 300 Stable Diffusion latents, 18.75 MiB
    big = workspace.Workspace(seed_sets={"sd-folder": seeds}, settings={"model": "x"})
    ws_id = workspace.new_workspace_id()
    path = workspace.save_workspace(big, ws_id, tmp_path)
    assert path.stat().st_size > 18.75 * 2**20
    _same(big, workspace.load_workspace(ws_id, tmp_path))


def test_one_size_limit_for_saving_and_opening(tmp_path, monkeypatch):
    from ui.server import limits

    ws_id = workspace.new_workspace_id()
    small = _workspace()
    workspace.save_workspace(small, ws_id, tmp_path)
    grown = _workspace()
    grown.seed_sets["sd"] = SeedSet(torch.zeros(20, 4, 64, 64), [f"s{i}" for i in range(20)])
    size = len(workspace.workspace_to_bytes(grown))
    monkeypatch.setattr(limits, "MAX_WORKSPACE_BYTES", size)  # exactly this file: it saves and opens
    workspace.save_workspace(grown, ws_id, tmp_path)
    _same(grown, workspace.load_workspace(ws_id, tmp_path))
    workspace.save_workspace(small, ws_id, tmp_path)
    monkeypatch.setattr(limits, "MAX_WORKSPACE_BYTES", size - 1)  # one byte less: not written, and it says why
    with pytest.raises(workspace.WorkspaceTooLarge, match=r"would take 1.3 MiB, more than the 1.3 MiB a workspace may "
                                                         r"take, so it was not saved .* Delete seeds .* the seed sets: "
                                                         r"sd: 20 seeds, 1.2 MiB, /some/diffusers folder: 1 seeds"):
        workspace.save_workspace(grown, ws_id, tmp_path)
    _same(small, workspace.load_workspace(ws_id, tmp_path))  # the last saved state, still readable
    with pytest.raises(workspace.WorkspaceError, match="a workspace may take at most"):
        workspace.workspace_from_bytes(b"\0" * size, "upload.safetensors")  # an upload is held to the same limit


def test_names_and_settings_are_bounded_when_saved_and_opened(tmp_path, monkeypatch):
    from ui.server import limits

    chatty = _workspace()
    chatty.settings["notes"] = "x" * 5000
    data = workspace.workspace_to_bytes(chatty)
    monkeypatch.setattr(limits, "MAX_WORKSPACE_METADATA_BYTES", 4096)
    with pytest.raises(workspace.WorkspaceTooLarge, match=r"names and settings would take 5.3 KiB, more than the 4.0 "
                                                         r"KiB allowed.* The largest: the setting notes \(4.9 KiB\)"):
        workspace.workspace_to_bytes(chatty)
    with pytest.raises(workspace.WorkspaceError, match="its names and settings take 5.5 KiB; at most 4.0 KiB"):
        workspace.workspace_from_bytes(data, "upload.safetensors")


def test_opening_drops_what_does_not_fit_and_says_what(monkeypatch):
    from ui.server import limits

    state = {"version": 1, "settings": {"model": "digits-vae", "interpolate.frames": float("nan"),
                                        "deep": [1, {"x": [float("inf")]}], "seeds.count": "eight"},
             "seed_sets": [{"model": "digits-vae", "names": [f"v{i}" for i in range(5)], "tensor": "a"},
                           {"model": "digits-ddim", "names": ["d"], "tensor": "b"},
                           {"model": "a plug-in not loaded now", "names": ["p"], "tensor": "c"}]}
    data = _with_state(state, {"a": torch.zeros(5, 16), "b": torch.zeros(1, 16), "c": torch.zeros(1, 7)})
    monkeypatch.setattr(limits, "MAX_SEEDS", 3)
    opened = workspace.workspace_from_bytes(data)
    assert opened.settings == {"model": "digits-vae", "seeds.count": "eight"}  # types are the app's to check
    assert opened.seed_sets["digits-vae"].names == ["v0", "v1", "v2"]
    assert opened.fit({"digits-vae": (16,), "digits-ddim": (1, 16, 16)}) == [
        "1 seeds of digits-ddim (shape (16,), the model takes (1, 16, 16))"]
    assert set(opened.seed_sets) == {"digits-vae", "a plug-in not loaded now"}  # unknown models: kept as they are
    assert opened.dropped == ["the last 2 seeds of digits-vae (a set holds at most 3)",
                              "the setting interpolate.frames (not a finite number)",
                              "the setting deep (not a finite number)",
                              "1 seeds of digits-ddim (shape (16,), the model takes (1, 16, 16))"]
    said = workspace.describe_dropped(opened.dropped)
    assert said.startswith("Left out of the workspace, as they do not fit: the last 2 seeds") and said.endswith(
        "and 1 more.")


@pytest.fixture(params=["folder", "file-url", "memory-url"])
def store(request, tmp_path):
    """A workspace store of each kind: a folder, the same as a file:// URL, and fsspec's in-memory filesystem."""
    import fsspec

    url = f"memory://workspaces-{workspace.new_workspace_id()}"
    yield {"folder": tmp_path / "store", "file-url": f"file://{tmp_path}/store", "memory-url": url}[request.param]
    if fsspec.filesystem("memory").exists(url):
        fsspec.filesystem("memory").rm(url, recursive=True)


def test_every_kind_of_store_round_trips_and_keeps_workspaces_apart(store):
    first, second = workspace.new_workspace_id(), workspace.new_workspace_id()
    assert workspace.load_workspace(first, store) is None and not workspace.workspace_exists(first, store)
    workspace.save_workspace(_workspace(), first, store)
    assert workspace.workspace_exists(first, store) and not workspace.workspace_exists(second, store)
    _same(_workspace(), workspace.load_workspace(first, store))
    changed = _workspace()
    changed.settings["interpolate.frames"] = 64
    workspace.save_workspace(changed, first, store)  # over the first file
    workspace.save_workspace(workspace.Workspace(settings={"model": "x"}), second, store)
    _same(changed, workspace.load_workspace(first, store))
    assert workspace.load_workspace(second, store).settings == {"model": "x"}


def test_a_file_url_is_the_folder_it_names(tmp_path):
    ws_id = workspace.new_workspace_id()
    workspace.save_workspace(_workspace(), ws_id, f"file://{tmp_path}")
    _same(_workspace(), workspace.load_workspace(ws_id, tmp_path))


def test_the_store_may_be_a_url_in_the_environment(monkeypatch):
    url = f"memory://env-{workspace.new_workspace_id()}"
    monkeypatch.setenv(workspace.WORKSPACES_ENV, url)
    assert workspace.workspace_store() == url
    ws_id = workspace.new_workspace_id()
    workspace.save_workspace(_workspace(), ws_id)
    _same(_workspace(), workspace.load_workspace(ws_id, url))


@pytest.mark.parametrize("url, pattern", [("nosuchprotocol://x", "Protocol not known"),
                                          ("s3://bucket/workspaces", "Install s3fs")])
def test_a_store_that_cannot_be_opened_says_why(url, pattern):
    with pytest.raises(workspace.WorkspaceError, match=f"the workspace store '{url}' cannot be opened .*{pattern}.*"
                                                       "takes a folder or an fsspec URL"):
        workspace.load_workspace(workspace.new_workspace_id(), url)


def test_a_failed_move_on_an_fsspec_store_leaves_the_previous_state_and_no_temporary(monkeypatch):
    import fsspec

    url = f"memory://crash-{workspace.new_workspace_id()}"
    ws_id = workspace.new_workspace_id()
    workspace.save_workspace(_workspace(), ws_id, url)
    memory = fsspec.filesystem("memory")

    def crash(*args, **kwargs):
        raise OSError("the connection dropped")

    monkeypatch.setattr(type(memory), "mv", crash)
    changed = _workspace()
    changed.settings["interpolate.frames"] = 64
    with pytest.raises(OSError, match="connection dropped"):
        workspace.save_workspace(changed, ws_id, url)
    monkeypatch.undo()
    _same(_workspace(), workspace.load_workspace(ws_id, url))
    assert [p.rsplit("/", 1)[1] for p in memory.ls(url.removeprefix("memory:/"), detail=False)] == [
        f"{ws_id}.safetensors"]


def test_stale_temporaries_on_an_fsspec_store(monkeypatch):
    import fsspec

    url = f"memory://stale-{workspace.new_workspace_id()}"
    root = url.removeprefix("memory:/")
    ws_id = workspace.new_workspace_id()
    workspace.save_workspace(_workspace(), ws_id, url)
    memory = fsspec.filesystem("memory")
    memory.pipe_file(f"{root}/.{ws_id}.safetensors.abc123.tmp", b"partial")
    assert workspace.remove_stale_temporaries(url) == 0  # fresh: another server may be writing it
    monkeypatch.setattr(time, "time", lambda: 4e9)  # the year 2096: every temporary is old
    assert workspace.remove_stale_temporaries(url) == 1
    assert memory.ls(root, detail=False) == [f"{root}/{ws_id}.safetensors"]


def test_an_oversized_file_on_an_fsspec_store_is_refused(monkeypatch):
    from ui.server import limits

    url = f"memory://big-{workspace.new_workspace_id()}"
    ws_id = workspace.new_workspace_id()
    workspace.save_workspace(_workspace(), ws_id, url)
    monkeypatch.setattr(limits, "MAX_WORKSPACE_BYTES", 100)
    with pytest.raises(workspace.WorkspaceError, match=f"workspace {ws_id} cannot be read: it is larger than 0.1 KiB"):
        workspace.load_workspace(ws_id, url)


def test_the_store_is_bounded_and_old_workspaces_expire(store, monkeypatch):
    from ui.server import limits

    data = workspace.workspace_to_bytes(_workspace())
    ids = [workspace.new_workspace_id() for _ in range(3)]
    monkeypatch.setattr(limits, "MAX_STORE_BYTES", 2 * len(data) + 100)
    for ws_id in ids[:2]:
        workspace.save_workspace_bytes(data, ws_id, store)
    workspace.save_workspace_bytes(data, ids[0], store)  # a workspace saved again takes no more room
    with pytest.raises(workspace.WorkspaceStoreFull, match=r"this server's workspace store is full: .* it was not "
                                                            r"saved and the last saved state is kept"):
        workspace.save_workspace_bytes(data, ids[2], store)
    assert [workspace.workspace_exists(ws_id, store) for ws_id in ids] == [True, True, False]
    opened = workspace.Store(store)
    assert sorted(opened.workspaces()) == sorted(ids[:2])
    assert workspace.expire_workspaces(store, older_than_days=1) == 0  # both were saved just now
    assert workspace.expire_workspaces(store, older_than_days=0) == 2
    workspace.save_workspace_bytes(data, ids[2], store)  # room again
    assert opened.workspaces().keys() == {ids[2]}


def test_a_save_past_the_bound_first_deletes_the_expired_and_opening_counts_as_use(tmp_path, monkeypatch):
    from ui.server import limits

    data = workspace.workspace_to_bytes(_workspace())
    old, used, new = (workspace.new_workspace_id() for _ in range(3))
    for ws_id in (old, used):
        workspace.save_workspace_bytes(data, ws_id, tmp_path)
        month_ago = time.time() - 31 * 86400
        os.utime(tmp_path / f"{ws_id}.safetensors", (month_ago, month_ago))
    assert workspace.load_workspace(used, tmp_path) is not None  # opened today: its expiry starts again
    monkeypatch.setattr(limits, "MAX_STORE_BYTES", 2 * len(data) + 100)
    monkeypatch.setattr(limits, "WORKSPACE_EXPIRY_DAYS", 30)
    workspace.save_workspace_bytes(data, new, tmp_path)
    assert sorted(workspace.Store(tmp_path).workspaces()) == sorted([used, new])


def test_a_seed_set_under_a_huge_model_name_is_left_out():
    data = workspace.workspace_to_bytes(workspace.Workspace(seed_sets={
        "m" * 10_000: SeedSet(torch.ones(1, 3), ["a"]), "kept": SeedSet(torch.ones(1, 3), ["b"])}))
    opened = workspace.workspace_from_bytes(data)
    assert list(opened.seed_sets) == ["kept"]
    assert opened.dropped == ["a seed set of a model named by 10000 characters (at most 4096)"]


def _settings_saved(ws_id, store) -> dict:
    return workspace.workspace_from_bytes(workspace.Store(store).read(ws_id)).settings


def test_a_burst_of_deferred_saves_writes_twice_and_ends_with_the_last_state(tmp_path, monkeypatch):
    """Coalesced saves (a slider moved step after step): the first change is written at once, the next 49 within
    the interval only replace the pending state, and reading the workspace writes that last state first."""
    saves = workspace.CoalescedSaves(interval_s=3600)  # no interval ends during the test: nothing written by time
    monkeypatch.setattr(workspace, "SAVES", saves)  # the one load_workspace flushes
    ws_id = workspace.new_workspace_id()
    states = [workspace.workspace_to_bytes(workspace.Workspace(settings={"subspace.h0": k / 10})) for k in range(50)]
    written = [saves.save(data, ws_id, tmp_path, defer=True) for data in states]
    assert written == [True] + [False] * 49 and saves.writes == 1 and saves.pending() == 1
    assert _settings_saved(ws_id, tmp_path) == {"subspace.h0": 0.0}  # the file: the first state, as written
    assert workspace.load_workspace(ws_id, tmp_path).settings == {"subspace.h0": 4.9}  # the last, written first
    assert saves.writes == 2 and saves.pending() == 0
    assert _settings_saved(ws_id, tmp_path) == {"subspace.h0": 4.9}
    assert saves.save(states[0], ws_id, tmp_path) and saves.writes == 3  # not deferred: written at once
    assert _settings_saved(ws_id, tmp_path) == {"subspace.h0": 0.0}


def test_the_writer_thread_writes_the_last_state_without_being_asked(tmp_path):
    """After a session's last change nothing else has to happen: the writer writes the pending state once the
    interval is up, and each workspace's states land in order, the last one last."""
    saves = workspace.CoalescedSaves(interval_s=0.05)
    ids = [workspace.new_workspace_id() for _ in range(3)]
    for k in range(20):
        for n, ws_id in enumerate(ids):
            saves.save(workspace.workspace_to_bytes(workspace.Workspace(settings={"k": k, "n": n})), ws_id, tmp_path,
                       defer=True)
    for _ in range(3000):  # polling the writer thread, up to 30 s on a busy machine
        if not saves.pending():
            break
        time.sleep(0.01)
    assert not saves.pending()  # the writer thread took every last state
    saves.flush()  # waits for a write under way
    assert [_settings_saved(ws_id, tmp_path) for ws_id in ids] == [{"k": 19, "n": n} for n in range(3)]
    assert 3 <= saves.writes <= 60


def test_a_deferred_save_that_fails_is_said_and_the_next_save_writes_at_once(tmp_path, monkeypatch):
    from ui.server import limits

    saves = workspace.CoalescedSaves(interval_s=3600)
    ws_id = workspace.new_workspace_id()
    small = workspace.workspace_to_bytes(workspace.Workspace(settings={"model": "x"}))
    big = workspace.workspace_to_bytes(_workspace())
    assert saves.save(small, ws_id, tmp_path, defer=True)
    assert not saves.save(big, ws_id, tmp_path, defer=True)
    monkeypatch.setattr(limits, "MAX_STORE_BYTES", len(small) + 10)
    saves.flush(ws_id)  # as the writer thread would: the failure is kept, not raised
    assert isinstance(saves.failure(ws_id), workspace.WorkspaceStoreFull) and saves.failure(ws_id) is None
    assert _settings_saved(ws_id, tmp_path) == {"model": "x"}  # the last state written stays readable
    with pytest.raises(workspace.WorkspaceStoreFull):  # due at once, in the caller's thread, even when deferrable
        saves.save(big, ws_id, tmp_path, defer=True)
