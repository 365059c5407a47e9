"""Hostile and oversized input in the app (AppTest, the real app and models): foreign or ill-typed workspaces,
someone else's link (opened as a copy), workspaces past the size limit, seed floods, the pipeline-folder box as a
probe of the server's files, and upload limits that agree with Streamlit's. Every input is generated here, small
but for the one 100 MiB workspace; the limits are lowered where a real-size input would be slow."""

import json
import re
import shutil
import time
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

import latentcore as lc
from ui import recent
from ui.server import limits, model_folders, workspace
from ui.server.seed_set import SeedSet
from tests.apptools import frame_rows

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(autouse=True)
def _from_the_app_folder(monkeypatch):
    monkeypatch.chdir(Path(APP).parent)  # pages are addressed relative to the app


def _session(ws=None, page=None, own=()):
    """A session of the app on the link ``?ws=ws``, in a browser whose recent workspaces (ui.recent's cookie, which
    AppTest cannot send) are ``own``."""
    at = AppTest.from_file(APP, default_timeout=120)
    if own:
        at.session_state[recent.RECENT] = [(own_id, int(time.time())) for own_id in own]
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
    original = (workspace_folder / f"{ws}.safetensors").read_bytes()
    at = _session(ws)  # opening checks the seeds and the numbers; each page checks its settings' types
    _no_errors(at)
    said = _shown(at.sidebar.warning[0].value)
    assert said == ("Left out of the workspace, as they do not fit: the setting interpolate.frames (not a finite "
                    "number), 3 seeds of digits-vae (shape (7,), the model takes (16,)), the setting "
                    "interpolate.schemes (a list of lists).")
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
    saved = workspace.load_workspace(at.session_state["workspace_id"])  # a link of another browser: a copy
    assert "seeds.count" not in saved.settings and "interpolate.frames" not in saved.settings
    assert torch.equal(saved.seed_sets["a plug-in not loaded now"].latents, torch.zeros(2, 5))  # kept untouched
    assert (workspace_folder / f"{ws}.safetensors").read_bytes() == original  # the link's own, as written


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
    at.number_input[1].set_value(1).run()  # another random seed: 8 other latents
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
    assert workspace.load_workspace(ws).seed_sets["faces-dcgan"].names[0] == "seed 1.0"


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
    at.number_input[1].set_value(1).run()  # another random seed: 8 other latents
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


def _theirs(seeds: int = 3) -> str:
    """A workspace saved by another browser: ``seeds`` digits-vae seeds, digits-vae chosen."""
    ws = workspace.new_workspace_id()
    latents = torch.randn(seeds, 16, generator=torch.Generator().manual_seed(seeds))
    seed_sets = {"digits-vae": SeedSet(latents, [f"theirs {i}" for i in range(seeds)])}
    workspace.save_workspace(workspace.Workspace(seed_sets=seed_sets, settings={"model": "digits-vae"}), ws)
    return ws


def test_someone_elses_link_opens_a_copy_and_their_workspace_stays_as_they_left_it(workspace_folder):
    theirs = _theirs()
    original = (workspace_folder / f"{theirs}.safetensors").read_bytes()
    at = _session(theirs)  # a browser that never used it: a link someone made
    _no_errors(at)
    copy = at.session_state["workspace_id"]
    assert copy != theirs and at.query_params["ws"] == copy  # the address bar shows the copy
    notice = _shown(at.sidebar.info[0].value)
    assert notice == (f"The workspace of this link was opened as a copy of your own, saved as ?ws={copy}: your "
                      "changes go there, and the original stays as its author left it.")
    assert at.sidebar.metric[0].value == "3" and at.sidebar.selectbox[0].value == "digits-vae"
    assert workspace.load_workspace(copy).seed_sets["digits-vae"].names == ["theirs 0", "theirs 1", "theirs 2"]
    assert at.session_state[recent.RECENT][0][0] == copy  # written at once and noted: a reload reopens the copy
    at.switch_page("pages/seeds.py").run()
    at.button[0].click().run()  # 8 seeds of one's own
    _no_errors(at)
    assert at.session_state["workspace_id"] == copy and at.sidebar.metric[0].value == "11"
    assert len(workspace.load_workspace(copy).seed_sets["digits-vae"]) == 11
    assert (workspace_folder / f"{theirs}.safetensors").read_bytes() == original  # the author sees nothing new
    assert sorted(p.name for p in workspace_folder.iterdir()) == sorted([f"{theirs}.safetensors",
                                                                         f"{copy}.safetensors"])  # one copy
    again = _session(copy, own=[own for own, _ in at.session_state[recent.RECENT]])  # the copy's link, reloaded
    _no_errors(again)
    assert again.session_state["workspace_id"] == copy and again.sidebar.metric[0].value == "11"
    assert not [i for i in again.sidebar.info if "opened as a copy" in i.value]


def test_a_link_to_one_of_this_browsers_own_workspaces_is_adopted(workspace_folder):
    mine = _theirs()
    at = _session(mine, own=[mine])  # a reload, or a browser coming back to its own link
    _no_errors(at)
    assert at.session_state["workspace_id"] == mine and at.query_params["ws"] == mine
    assert not [i for i in at.sidebar.info if "opened as a copy" in i.value]
    at.switch_page("pages/seeds.py").run()
    at.button[0].click().run()
    _no_errors(at)
    assert len(workspace.load_workspace(mine).seed_sets["digits-vae"]) == 11
    assert [p.name for p in workspace_folder.iterdir()] == [f"{mine}.safetensors"]


@pytest.mark.parametrize("ip, headers, local", [
    (None, {}, True),  # no browser at all: the script run in process (AppTest)
    (None, {"Host": "localhost:8501"}, True),  # Streamlit says None for 127.0.0.1 and ::1
    (None, {"Host": "127.0.0.1:8501"}, True),
    (None, {"host": "[::1]:8501"}, True),
    ("127.0.0.2", {"Host": "localhost"}, True),
    ("::ffff:127.0.0.1", {"Host": "app.localhost:8501"}, True),
    ("192.168.1.20", {"Host": "localhost:8501"}, False),  # another machine, whatever Host it sends
    ("203.0.113.9", {"Host": "class.example.org"}, False),
    (None, {"Host": "class.example.org"}, False),  # through a proxy on this machine that passes the Host on
    (None, {"Host": "localhost:8501", "X-Forwarded-For": "203.0.113.9"}, False),  # a proxy that says who
    (None, {"Host": "localhost:8501", "Forwarded": "for=203.0.113.9"}, False),
    (None, {"Host": "localhost", "x-real-ip": "203.0.113.9"}, False),
])
def test_only_a_browser_on_the_servers_own_machine_counts_as_local(ip, headers, local):
    assert model_folders.on_this_machine(ip, headers) is local


def test_a_path_outside_the_allowed_folders_gets_one_answer_whatever_it_is(tmp_path):
    root, outside = tmp_path / "models", tmp_path / "private"
    for folder in (root / "pipe", outside / "pipe"):
        folder.mkdir(parents=True)
        (folder / "model_index.json").write_text("{}")
    (outside / "notes.txt").write_text("not for the browser")
    (root / "escape").symlink_to(outside)  # a link inside the root that leads out of it
    roots = (str(root.resolve()),)
    inside = str((root / "pipe").resolve())
    assert model_folders.check_model_folder(str(root / "pipe"), roots) == inside
    assert model_folders.check_model_folder(f" {root}/pipe/../pipe ", roots) == inside
    assert model_folders.check_model_folder(str(root / "missing"), roots) == str(root.resolve() / "missing")
    answers = set()
    for probe in [outside / "pipe", outside / "notes.txt", outside, outside / "missing", root / "escape" / "pipe",
                  f"{root}/../private/pipe", f"{root}/escape/../private/pipe", root.parent, "/", "/etc/passwd",
                  "relative/pipe", "org/model", "~", "a\0b"]:
        with pytest.raises(model_folders.FolderNotAllowed) as refused:
            model_folders.check_model_folder(str(probe), roots)
        answers.add(str(refused.value))
    assert answers == {f"that path is not inside the folders this server allows: {roots[0]}"}
    assert model_folders.check_model_folder("any/thing", ()) == "any/thing"  # no roots: as typed (a local browser)


def test_the_folder_box_is_offered_elsewhere_only_under_the_allowed_folders(monkeypatch, tmp_path, tmp_path_factory,
                                                                          tiny_unet2d_folder):
    monkeypatch.setattr(model_folders, "on_this_machine", lambda ip, headers: False)  # a browser on another machine
    at = _session()
    at.sidebar.selectbox[0].set_value("Load a diffusers folder ...").run()
    _no_errors(at)
    assert not at.sidebar.text_input  # no box: nothing to probe with
    assert "start the server with LATENT_EXPLORER_MODEL_FOLDERS" in _shown(at.sidebar.info[0].value).replace("`", "")
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    shutil.copytree(tiny_unet2d_folder, elsewhere / "pipe")  # a loadable pipeline, outside the allowed folder
    (elsewhere / "notes.txt").write_text("not for the browser")
    (tmp_path / "link").symlink_to(elsewhere)
    root = str(tmp_path.resolve())
    monkeypatch.setattr(limits, "MODEL_FOLDERS", (root,))
    at.run()
    assert f"Only folders under {root}." in _shown(at.sidebar.info[0].value)
    answers = set()
    for probe in [elsewhere / "pipe", elsewhere / "notes.txt", elsewhere, elsewhere / "missing",
                  tmp_path / "link" / "pipe", f"{tmp_path}/../{elsewhere.name}/pipe"]:
        at.sidebar.text_input[0].set_value(str(probe)).run()
        assert not at.exception and len(at.sidebar.error) == 1
        answers.add(_shown(at.sidebar.error[0].value))
        assert "latent 1x8x8" not in " ".join(c.value for c in at.sidebar.caption)  # the default model meanwhile
    assert answers == {f"Could not load that model: that path is not inside the folders this server allows: {root}."}
    at.sidebar.text_input[0].set_value(str(tiny_unet2d_folder)).run()  # under the allowed folder: it loads
    _no_errors(at)
    assert "latent 1x8x8" in " ".join(c.value for c in at.sidebar.caption)


def _workspace_uploader(at):
    return [u for u in at.sidebar.get("file_uploader") if u.label == "Open a workspace file (.safetensors)"][0]


def test_the_upload_limits_are_streamlits_and_the_uploaders_say_them():
    from ui import uploads

    config = (Path(APP).parent / ".streamlit" / "config.toml").read_text()
    server_mib = int(re.search(r"^maxUploadSize\s*=\s*(\d+)", config, re.M).group(1))
    assert server_mib * limits.MiB >= max(limits.MAX_WORKSPACE_BYTES, limits.MAX_FILE_BYTES)  # nothing a 413
    assert uploads.server_upload_mib() == server_mib  # the setting the server runs with
    at = _session(page="pages/seeds.py")
    _no_errors(at)
    for uploader, limit in [(_workspace_uploader(at), limits.MAX_WORKSPACE_BYTES),
                            (_latent_uploader(at), limits.MAX_FILE_BYTES)]:
        assert uploader.proto.max_upload_size_mb == limit // limits.MiB  # what the browser checks, in words
        assert uploader.proto.help.endswith(f"At most {limit // limits.MiB} MiB a file")
    assert not at.warning


def test_a_server_that_takes_less_than_a_workspace_says_so_beside_the_uploader(monkeypatch):
    from ui import uploads

    server_mib = uploads.server_upload_mib()
    monkeypatch.setattr(limits, "MAX_WORKSPACE_BYTES", (server_mib + 256) * limits.MiB)  # e.g. an environment override
    at = _session()
    assert not at.exception
    assert _workspace_uploader(at).proto.max_upload_size_mb == server_mib  # the true limit, not a 413 to come
    warning = _shown(at.sidebar.warning[0].value)
    assert warning.startswith(f"This server takes uploads of at most {server_mib} MiB (Streamlit's "
                              f"server.maxUploadSize), less than the {server_mib + 256} MiB a workspace may take")
    assert f"server.maxUploadSize = {server_mib + 256}" in warning


@pytest.mark.slow
def test_a_100_mib_workspace_is_uploaded_and_opens(workspace_folder):
    folder_model = "/srv/pipelines/sd-1.5"  # a pipeline folder's seeds (64 KiB each), kept as they are until chosen
    latents = torch.randn(1600, 4, 64, 64, generator=torch.Generator().manual_seed(0))
    data = workspace.workspace_to_bytes(workspace.Workspace(seed_sets={
        folder_model: SeedSet(latents, [f"sd {i}" for i in range(1600)])}))
    assert len(data) > 100 * limits.MiB
    at = _session()
    _workspace_uploader(at).set_value(("big.safetensors", data, "application/octet-stream")).run()
    _no_errors(at)
    assert _shown(at.sidebar.success[0].value).startswith("Opened big.safetensors as a new workspace")
    assert torch.equal(workspace.load_workspace(at.session_state["workspace_id"]).seed_sets[folder_model].latents,
                       latents)


# Text that fetches an image or makes a link wherever it is read as Markdown or HTML (nothing listens on port 9;
# tests/test_hostile_browser.py counts what a real browser asks for).
EVIL = ('![x](http://127.0.0.1:9/md.png) <img src="http://127.0.0.1:9/tag.png"> '
        '<a href="http://127.0.0.1:9/link">link</a>')


def comparison(text: str = "x", **changes) -> str:
    """The JSON of a small comparison's result as the Compare page keeps it (``compare.result``), with ``text`` in
    every text the page shows; ``changes`` replace entries of its settings."""
    from latentcore.evaluate import METRICS, TASKS

    figures = {m + end: 0.5 for m in METRICS for end in ("", "_low", "_high")}
    table = [{"task": task, "scheme": f"{text} {k}", "label": f"{text} {k}", "units": 2, **figures, "seconds": 0.1,
              "decode_seconds": 0.1} for task in TASKS for k in (1, 2)]
    settings = {"model": text, "seeds": "prior", "classes": text, "judge": text, "frechet_reference": text,
                "unavailable": {}, "stopped_early": {text: "budget"}, "pairs": 2, "centroid_sets": 2, "seed": 0,
                "total_seconds": 1.5, "steps": None, "scheduler": None, "conditions": {}, **changes}
    units = [{"task": "interpolation", "scheme": text, "unit": 0, "seeds": "1-2", "smoothness": 1.0}]
    return json.dumps({"settings": settings, "table": table, "units": units})


def _saved(settings=None, names=None) -> str:
    """A workspace saved by someone else: ``settings``, and faces-dcgan seeds called ``names``."""
    seed_sets = {}
    if names:
        latents = torch.randn(len(names), 100, 1, 1, generator=torch.Generator().manual_seed(0))
        seed_sets["faces-dcgan"] = SeedSet(latents, names)
    ws = workspace.new_workspace_id()
    workspace.save_workspace(workspace.Workspace(seed_sets=seed_sets, settings=settings or {}), ws)
    return ws


def _fetches(at) -> list[str]:
    """Texts of the page that a browser would turn into an image or a link: Markdown elements with the address
    unescaped (ui.plain escapes its ':' and '.'), tags in HTML elements and in the charts' texts."""
    found = [e.value for kind in ("markdown", "caption", "subheader", "warning", "info", "success", "error")
             for e in at.get(kind) if "127.0.0.1:9" in e.value]
    found += [e.proto.body for e in at.get("html") if "<img src=\"http" in e.proto.body or "<a href" in e.proto.body]
    for chart in at.get("plotly_chart"):
        stack = [json.loads(chart.proto.spec)]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, str) and ("<img" in item or "<a " in item):
                found.append(item)
    found += [im.caption for e in at.main if type(e).__name__ == "Image" for im in e.proto.imgs
              if "127.0.0.1:9" in im.caption]
    return found


@pytest.mark.parametrize("changes, why", [
    ({}, None),
    ({"total_seconds": "soon"}, "its run time is not a number"),
    ({"model": ["a", "list"]}, "no model name"),
    ({"pairs": 2.5}, "its pairs, centroid sets and seed are not whole numbers"),
    ({"unavailable": {"not a metric": "why"}}, "its unavailable is not a record of metrics"),
    ({"stopped_early": {"x": {"a": "record"}}}, "a value that is not a text or a number"),
    ({"judge": "j" * 5000}, "its judge: a text of 5000 characters, more than the 4096 a setting holds"),
])
def test_a_comparison_result_is_checked_against_its_schema(changes, why):
    from ui.schemas import evaluation_misfit

    assert evaluation_misfit(comparison(**changes)) == (why and f"a comparison's result: {why}")
    missing = json.loads(comparison())
    for row in missing["table"]:
        del row["frechet"]  # a metric the page charts
    assert evaluation_misfit(json.dumps(missing)) == "a comparison's result: a table row whose figures are not numbers"
    assert evaluation_misfit({"settings": {}}) == "not the text of a comparison"
    assert evaluation_misfit(comparison().replace("1.5", "NaN")) == "not a comparison's JSON"


def test_settings_that_do_not_fit_their_schema_are_left_out_when_a_workspace_opens(workspace_folder):
    from latentcore.playground import default_endpoints

    ws = _saved({"compare.result": {"settings": {"model": "a dict, not the JSON text"}}, "playground.start_x": 1e308,
                 "playground.end_y": -1e30, "seeds.seed": 10**30, "subspace.basis": [{"a": "record"}]})
    at = _session(ws)
    _no_errors(at)
    assert _shown(at.sidebar.warning[0].value) == (
        "Left out of the workspace, as they do not fit: the setting compare.result (not the text of a comparison), "
        "the setting playground.start_x (outside -1000 to 1000, the most the playground draws), the setting "
        "playground.end_y (outside -1000 to 1000, the most the playground draws) and 2 more.")
    at.switch_page("pages/compare.py").run()
    _no_errors(at)
    assert at.info[-1].value == "Choose the seeds and schemes, then run the comparison."
    at.switch_page("pages/playground.py").run()
    _no_errors(at)
    expected = [round(float(v), 2) for end in default_endpoints(lc.make_prior("semicircle", 2)) for v in end]
    assert [n.value for n in at.number_input] == expected and not at.warning
    at.switch_page("pages/seeds.py").run()
    _no_errors(at)
    assert at.number_input[1].value == 0 and not at.warning  # the random seed: its default


def test_a_playground_endpoint_off_the_map_is_left_out_where_the_page_draws_it(workspace_folder):
    at = _session(_saved({"playground.start_x": 500.0, "playground.end_x": 3.0}), page="pages/playground.py")
    _no_errors(at)
    assert _shown(at.warning[0].value) == ("Left out of the workspace, as it does not fit: the setting "
                                           "playground.start_x (outside the map, -10.56 to 14.64); the default 2.9 is "
                                           "used.")
    assert [n.value for n in at.number_input][::2] == [2.9, 3.0]  # start x1 and end x1
    assert at.dataframe[0].value["path index"].notna().all()


def test_a_comparison_result_from_a_workspace_is_shown_as_plain_text(workspace_folder):
    at = _session(_saved({"compare.result": comparison(EVIL)}), page="pages/compare.py")
    _no_errors(at)
    assert _shown(at.subheader[0].value) == f"{EVIL}: 2 pairs, 2 centroid sets, seed 0, 1.5 s"
    assert _shown(at.warning[0].value).startswith(f"{EVIL} was stopped early (time budget spent)")
    assert f"classes from {EVIL}; judged by {EVIL}." in _shown(" ".join(c.value for c in at.caption))
    assert at.dataframe[0].value["label"].tolist() == [f"{EVIL} 1", f"{EVIL} 2"]  # a table's cells are plain text
    assert len(at.get("plotly_chart")) == 5 and not _fetches(at)


def test_seed_names_past_the_limit_are_shortened_when_a_workspace_opens(workspace_folder):
    names = ["n" * 1_000_000, "n" * 300, EVIL, "short"]
    chosen = {"diagnostics.latents": [f"seed: {EVIL}"], "diagnostics.focus": f"seed: {EVIL}", "interpolate.to": EVIL}
    at = _session(_saved(chosen, names))  # the pages then show the name EVIL in captions, charts and tables
    _no_errors(at)
    assert _shown(at.sidebar.warning[0].value) == ("Left out of the workspace, as they do not fit: the ends of 2 seed "
                                                   "names of faces-dcgan (a name holds at most 200 characters).")
    kept = ["n" * 199 + "…", "n" * 195 + "… (2)", EVIL, "short"]
    assert at.session_state["seed_sets"]["faces-dcgan"].names == kept
    for page in ("pages/subspace.py", "pages/diagnostics.py", "pages/interpolate.py", "pages/centroids.py",
                 "pages/seeds.py"):
        at.switch_page(page).run()
        _no_errors(at)
        assert not _fetches(at), page
    assert frame_rows(at)[0] == kept  # the gallery's captions, as written


def test_plotly_text_and_download_names_are_plain():
    import numpy as np

    from ui import plots
    from ui.text import file_stem, plain_html

    assert plain_html('<a href="u">x</a> & \'y\'') == "&lt;a href=&#34;u&#34;&gt;x&lt;/a&gt; &amp; 'y'"
    figure = plots.scatter_figure(np.zeros((1, 2)), [EVIL], title=EVIL)
    assert figure.data[0].text == (plain_html(EVIL),) and "<img" not in figure.layout.title.text
    assert file_stem("../a b/<c>.csv") == "_a_b_c_.csv" and file_stem("...") == "untitled"


def test_the_subspace_chart_is_an_svg_with_every_text_plain_and_every_point_in_its_box():
    import xml.etree.ElementTree as ET

    import numpy as np

    from ui import plots

    points = np.array([[0.0, 1.0], [2.0, -1.0], [1.0, 0.5]])
    svg = plots.scatter_svg(points, [EVIL, "b", "c"], np.array([4.0, -2.0]), title=EVIL, axes=(EVIL, "h2"),
                            bounds=((-1.0, 4.0), (-2.0, 2.0)))
    root = ET.fromstring(svg)  # well formed: the names did not open a tag
    ns = "{http://www.w3.org/2000/svg}"
    texts = [t.text for t in root.iter(f"{ns}text")]
    assert texts.count(EVIL) == 3 and {"b", "c"} <= set(texts)  # as written: title, x axis, first seed
    assert not [e for e in root.iter() if e.tag.split("}")[1] in ("image", "a", "script", "foreignObject")]
    assert not [v for e in root.iter() for v in e.attrib.values() if "http" in v or "url(" in v]  # fetches nothing
    (box,) = [r for r in root.iter(f"{ns}rect") if r.get("fill") == "none"]
    x0, y0 = float(box.get("x")), float(box.get("y"))
    x1, y1 = x0 + float(box.get("width")), y0 + float(box.get("height"))
    dots = [(float(c.get("cx")), float(c.get("cy"))) for c in root.iter(f"{ns}circle")]
    (star,) = list(root.iter(f"{ns}polygon"))
    tips = [tuple(map(float, xy.split(","))) for xy in star.get("points").split()]
    assert len(dots) == 3 and all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in dots)
    centre = np.mean(tips, axis=0)  # the current point, at the box's corner (4, -2): right, bottom
    assert abs(centre[0] - x1) < 2 and abs(centre[1] - y1) < 2
    assert dots[0][0] < dots[2][0] < dots[1][0] and dots[1][1] > dots[2][1] > dots[0][1]  # y grows upwards
