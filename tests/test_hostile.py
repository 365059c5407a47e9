"""Hostile and oversized input in the app (AppTest, the real app and models): foreign or ill-typed workspaces,
workspaces past the size limit, seed floods. Every input is generated here, small; the limits are lowered where a
real-size input would be slow."""

import re
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

import latentcore as lc
from ui.server import limits, workspace
from ui.server.seed_set import SeedSet
from tests.apptools import frame_rows

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(autouse=True)
def _from_the_app_folder(monkeypatch):
    monkeypatch.chdir(Path(APP).parent)  # pages are addressed relative to the app


def _session(ws=None, page=None):
    at = AppTest.from_file(APP, default_timeout=120)
    if ws:
        at.query_params["ws"] = ws
    at.run()
    return at.switch_page(page).run() if page else at


def _shown(markdown: str) -> str:
    """What a Markdown message reads as on screen (user text in it is escaped, see ui.plain)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def _no_errors(at):
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_a_foreign_and_ill_typed_workspace_opens_without_what_does_not_fit(workspace_folder):
    settings = {"model": "digits-vae", "seeds.count": "eight", "interpolate.frames": float("nan"),
                "seeds.seed": 7, "interpolate.schemes": [["not", "a", "label"]]}
    seed_sets = {"digits-vae": SeedSet(torch.zeros(3, 7), ["a", "b", "c"]),  # 7 numbers: not digits-vae's 16
                 "a plug-in not loaded now": SeedSet(torch.zeros(2, 5), ["p", "q"])}
    ws = workspace.new_workspace_id()
    workspace.save_workspace(workspace.Workspace(seed_sets=seed_sets, settings=settings), ws)
    at = _session(ws)  # opening checks the seeds and the numbers; each page checks its settings' types
    _no_errors(at)
    said = _shown(at.sidebar.warning[0].value)
    assert said == ("Left out of the workspace, as they do not fit: the setting interpolate.frames (not a finite "
                    "number), 3 seeds of digits-vae (shape (7,), the model takes (16,)).")
    at.switch_page("pages/seeds.py").run()
    _no_errors(at)
    assert _shown(at.main.warning[0].value) == ("Left out of the workspace, as it does not fit: the setting "
                                                "seeds.count (not a whole number); the default 8 is used.")
    assert at.number_input[0].value == 8 and at.number_input[1].value == 7  # the default, and a setting that fits
    assert at.sidebar.metric[0].value == "0"
    at.button[0].click().run()  # sampling works on the emptied set
    _no_errors(at)
    assert at.sidebar.metric[0].value == "8" and not at.warning  # said once
    at.switch_page("pages/interpolate.py").run()
    _no_errors(at)
    assert at.slider[0].value == 8 and at.multiselect[0].value == ["linear", "slerp", "lol"]
    saved = workspace.load_workspace(ws)
    assert "seeds.count" not in saved.settings and "interpolate.frames" not in saved.settings
    assert torch.equal(saved.seed_sets["a plug-in not loaded now"].latents, torch.zeros(2, 5))  # kept untouched


def test_a_folder_models_seeds_of_another_shape_are_dropped_when_it_is_chosen(tmp_path, tiny_unet2d_folder):
    ws = workspace.new_workspace_id()
    workspace.save_workspace(workspace.Workspace(seed_sets={
        str(tiny_unet2d_folder): SeedSet(torch.zeros(2, 16), ["x", "y"])}), ws)  # the folder takes 1x8x8
    at = _session(ws)
    at.sidebar.selectbox[0].set_value("Load a diffusers folder ...").run()
    at.sidebar.text_input[0].set_value(str(tiny_unet2d_folder)).run()
    _no_errors(at)
    assert "2 seeds of" in _shown(at.sidebar.warning[0].value)
    assert at.sidebar.metric[0].value == "0"


def test_new_empty_workspace_writes_nothing_until_it_holds_something(workspace_folder):
    at = _session(page="pages/seeds.py")
    at.button[0].click().run()  # 8 seeds: the first workspace is written
    first = at.session_state["workspace_id"]
    [b for b in at.sidebar.button if b.label == "New empty workspace"][0].click().run()
    _no_errors(at)
    assert at.session_state["workspace_id"] != first
    assert [p.name for p in workspace_folder.iterdir()] == [f"{first}.safetensors"]
    at.button[0].click().run()
    assert (workspace_folder / f"{at.session_state['workspace_id']}.safetensors").exists()


def test_a_workspace_past_the_size_limit_is_not_saved_and_the_page_says_what_to_delete(monkeypatch,
                                                                                        workspace_folder):
    at = _session(page="pages/seeds.py")
    at.button[0].click().run()  # 8 faces-dcgan seeds, 3.1 KiB
    ws = at.session_state["workspace_id"]
    monkeypatch.setattr(limits, "MAX_WORKSPACE_BYTES", 5000)
    at.button[0].click().run()  # 8 more: past the lowered limit
    assert not at.exception
    warning = _shown(at.warning[0].value)
    assert "more than the 4.9 KiB a workspace may take, so it was not saved" in warning
    assert "Delete seeds" in warning and "faces-dcgan: 16 seeds, 6.2 KiB" in warning
    assert len(workspace.load_workspace(ws).seed_sets["faces-dcgan"]) == 8  # the last saved state, readable
    assert at.sidebar.get("download_button")[0].proto.disabled
    names = [o for o in at.multiselect[0].options][:8]
    at.multiselect[0].set_value(names).run()
    [b for b in at.button if b.label == "Delete selected"][0].click().run()
    _no_errors(at)
    assert not at.warning and len(workspace.load_workspace(ws).seed_sets["faces-dcgan"]) == 8
    assert workspace.load_workspace(ws).seed_sets["faces-dcgan"].names[0] == "seed 0.0 (2)"


def test_an_uploaded_workspace_past_the_limits_is_refused(monkeypatch):
    at = _session()
    chatty = workspace.workspace_to_bytes(workspace.Workspace(settings={"notes": "x" * 5000}))
    monkeypatch.setattr(limits, "MAX_WORKSPACE_METADATA_BYTES", 4096)
    def uploader():
        return [u for u in at.sidebar.get("file_uploader") if u.label == "Open a workspace file (.safetensors)"][0]

    uploader().set_value(("chatty.safetensors", chatty, "application/octet-stream")).run()
    assert not at.exception
    assert "its names and settings take 5.0 KiB; at most 4.0 KiB are read" in _shown(at.sidebar.error[0].value)
    assert uploader().proto.max_upload_size_mb == limits.MAX_WORKSPACE_BYTES // limits.MiB  # the browser's limit


def _latent_uploader(at):
    return [u for u in at.get("file_uploader") if u.label == "A latent file"][0]


def test_a_seed_flood_is_refused_and_a_large_set_is_paged():
    import io

    import numpy as np

    at = _session(page="pages/seeds.py")
    at.sidebar.selectbox[0].set_value("digits-vae").run()
    flood = io.BytesIO()
    np.savez_compressed(flood, latents=np.zeros((20_000, 16), dtype=np.float32))  # 1.5 KB, 20 000 latents
    _latent_uploader(at).set_value(("flood.npz", flood.getvalue(), "application/octet-stream")).run()
    assert not at.exception
    assert _shown(at.error[0].value) == ("flood.npz holds 20000 latents; at most 1024 are accepted (one file adds at "
                                         "most 1024 latents). Your seed set is unchanged.")
    many = lc.latents_to_bytes(lc.StandardNormal(16).sample(1000, seed=1), fmt=".npy")
    _latent_uploader(at).set_value(("many.npy", many, "application/octet-stream")).run()
    _no_errors(at)
    assert at.sidebar.metric[0].value == "1000" and len(frame_rows(at)[0]) == 64  # one page of the gallery
    assert any(_shown(c.value) == "Seeds 1 to 64 of 1000 (page 1 of 16)." for c in at.caption)
    page = [n for n in at.number_input if n.label.startswith("Page of the gallery")][0]
    page.set_value(16).run()
    _no_errors(at)
    assert len(frame_rows(at)[0]) == 1000 - 15 * 64
    [b for b in at.button if b.label == "Delete the 40 seeds on this page"][0].click().run()
    _no_errors(at)
    assert at.sidebar.metric[0].value == "960" and len(frame_rows(at)[0]) == 64  # back on the last page left


def test_a_seed_set_at_its_limit_takes_no_more(monkeypatch):
    monkeypatch.setattr(limits, "MAX_SEEDS", 10)
    at = _session(page="pages/seeds.py")
    at.button[0].click().run()  # 8
    at.button[0].click().run()  # 8 more do not fit
    assert not at.exception
    assert _shown(at.warning[0].value) == ("The seed set holds 8 seeds and a set holds at most 10, so these 8 do not "
                                           "fit (room for 2); delete seeds on the Seeds page first")
    assert at.sidebar.metric[0].value == "8"
    at.switch_page("pages/home.py").run()
    at.button[0].click().run()  # the demo's 8 seeds, added by another page: the same message, no traceback
    assert not at.exception and "so these 8 do not fit (room for 2)" in _shown(at.warning[0].value)
    at.switch_page("pages/seeds.py").run()
    many = lc.latents_to_bytes(lc.StandardNormal(100).sample(5, seed=1), fmt=".npy")
    _latent_uploader(at).set_value(("five.npy", many, "application/octet-stream")).run()
    assert _shown(at.error[0].value) == ("five.npy holds 5 latents; at most 2 are accepted (the seed set holds 8 seeds "
                                         "and a set holds at most 10; delete seeds to make room). Your seed set is "
                                         "unchanged.")
