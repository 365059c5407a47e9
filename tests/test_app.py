"""The Streamlit app through AppTest (the real app and models, no browser): every page renders, the demo, sampling,
deleting, and every registered scheme on Interpolate."""

import html
import re
from pathlib import Path

import pandas as pd
import pytest
import torch
from streamlit.testing.v1 import AppTest

import latentcore as lc
from ui.server import workspace
from ui.server.seed_set import SeedSet
from tests.apptools import ask_for_all, finish_jobs, frame_bodies, frame_images, frame_rows
from ui.sidebar import DEFAULT_MODEL

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture
def app(monkeypatch):
    monkeypatch.chdir(Path(APP).parent)  # pages are addressed relative to the app
    return AppTest.from_file(APP, default_timeout=120).run()


def _shown(markdown: str) -> str:
    """What a Markdown message reads as on screen (user text in it is escaped, see ui.plain)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def _no_errors(at):
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


PAGES = ["pages/home.py", "pages/seeds.py", "pages/interpolate.py", "pages/subspace.py", "pages/diagnostics.py",
         "pages/compare.py", "pages/centroids.py", "pages/playground.py"]
PAGES_ON_DISK = [f"pages/{p.name}" for p in (Path(APP).parent / "pages").glob("*.py")]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders(app, page):
    app.switch_page(page).run()
    _no_errors(app)


def test_demo_samples_seeds_and_opens_interpolate(app):
    app.button[0].click().run()
    _no_errors(app)
    assert app.title[0].value == "Interpolate"
    rows = frame_rows(app)
    assert len(rows) == 3  # the default schemes: linear, SLERP, LOL, one row of frames each, every frame's t under it
    assert all(row == ["demo 0", "0.14", "0.29", "0.43", "0.57", "0.71", "0.86", "demo 1"] for row in rows)


def test_every_scheme_runs_on_interpolate(app):
    app.sidebar.selectbox[0].set_value("digits-vae").run()  # ri-optimal paths through a small decoder: quick
    app.button[0].click().run()
    app.multiselect[0].set_value(list(lc.SCHEMES)).run()
    app.slider[0].set_value(6).run()
    _no_errors(app)
    for _ in lc.SCHEMES:  # those not started by themselves, one press per run (a press draws the page anew)
        offered = [b for b in app.button if b.label.startswith("Compute (")]
        if offered:
            offered[0].click().run()
    # each iterative path is asked for: computing, waiting its turn, or (on a fast or a busy machine) already done
    assert not [b.label for b in app.button if b.label.startswith("Compute (")]
    said = [c.value for c in app.caption if re.match(r".* path: (computing|waiting)", c.value)]
    assert len(said) + len(frame_rows(app)) >= len(lc.SCHEMES), said  # a computing path may show its last result
    finish_jobs(app)  # NAO and ri-optimal paths run as jobs
    _no_errors(app)
    assert len(frame_rows(app)) == len(lc.SCHEMES)


def test_a_long_iterative_path_waits_to_be_asked_for_and_an_earlier_one_is_shown_as_out_of_date(app):
    app.button[0].click().run()  # faces-dcgan: a ri-optimal path takes seconds, so it is offered, not started
    app.slider[0].set_value(4).run()
    [s for s in app.sidebar.slider if s.label.startswith("Time budget")][0].set_value(5).run()  # the least
    app.multiselect[0].set_value(["lol", "ri-optimal"]).run()
    _no_errors(app)
    compute = [b for b in app.button if b.label.startswith("Compute (about ")]
    assert len(compute) == 1 and not app.session_state["jobs"].active() and len(frame_rows(app)) == 1
    compute[0].click().run()
    finish_jobs(app)
    _no_errors(app)
    assert len(frame_rows(app)) == 2 and not [b for b in app.button if b.label.startswith("Compute")]
    app.slider[0].set_value(5).run()  # more frames: LOL is redrawn at once, the ri-optimal path is out of date
    _no_errors(app)
    assert not app.session_state["jobs"].active()
    rows = frame_rows(app)
    assert rows[0] == ["demo 0", "0.25", "0.50", "0.75", "demo 1"] and len(rows[1]) == 4
    assert any(c.value.startswith("Out of date, not in the charts below: computed for 4 frames through demo 0 → demo 1")
               for c in app.caption)
    assert [b for b in app.button if b.label.startswith("Compute (about ")]
    app.slider[0].set_value(4).run()  # back to the inputs it was computed for: current again, no new job
    assert len(frame_rows(app)) == 2 and not app.session_state["jobs"].active()
    assert not any(c.value.startswith("Out of date") for c in app.caption)


def test_a_page_without_seeds_offers_a_button_to_the_seeds_page(app):
    app.switch_page("pages/interpolate.py").run()
    _no_errors(app)
    [b for b in app.button if b.label == "Go to Seeds"][0].click().run()
    _no_errors(app)
    assert app.title[0].value == "Seeds"  # and beside the latent uploader, the shapes it takes
    assert any("takes one latent (100, 1, 1), a batch (N, 100, 1, 1), or a flat batch (N, 100)" in c.value
               for c in app.caption)


def test_sample_and_delete_seeds(app):
    app.switch_page("pages/seeds.py").run()
    app.number_input[0].set_value(3).run()
    app.button[0].click().run()  # Sample
    _no_errors(app)
    assert len(frame_rows(app)[0]) == 3
    app.multiselect[0].set_value([app.multiselect[0].options[0]]).run()
    [b for b in app.button if b.label == "Delete selected"][0].click().run()
    _no_errors(app)
    assert len(frame_rows(app)[0]) == 2


def test_subspace_slider_changes_the_image_and_adds_a_seed(app):
    import latentcore.models as models

    app.button[0].click().run()  # demo seeds
    app.switch_page("pages/subspace.py").run()
    _no_errors(app)
    sub = lc.Subspace(app.session_state["seed_sets"][DEFAULT_MODEL].select(["demo 0", "demo 1", "demo 2"]),
                      prior=models.load(DEFAULT_MODEL, device="cpu").prior)
    listed = [c.value for c in app.caption if c.value.startswith("seeds: ")]  # each seed's own coordinates
    assert listed[0] == "seeds: " + " · ".join(f"demo {i}: {v:.2f}" for i, v in enumerate(sub.seed_coordinates[:, 0]))
    before = app.main.get("image")[0].proto.imgs[0].url
    app.slider[0].set_value(app.slider[0].min).run()
    _no_errors(app)
    assert app.main.get("image")[0].proto.imgs[0].url != before
    [b for b in app.button if b.label == "Add to the seeds"][0].click().run()
    _no_errors(app)
    assert app.sidebar.metric[0].value == "9"


def test_diagnostics_flags_the_constant_vector(app):
    app.button[0].click().run()
    app.switch_page("pages/diagnostics.py").run()
    _no_errors(app)
    table = app.dataframe[0].value.set_index("latent")
    constant = table.loc["constant vector with a likely norm"]
    assert constant["Kolmogorov-Smirnov"] < 1e-3 and constant["Chi-square of the squared norm"] > 0.5
    assert table.loc["LOL midpoint of the two seeds", "Kolmogorov-Smirnov"] > 1e-3
    # the middle frame of each path the demo drew (8 frames: the 5th, t = 4/7), counted as people count
    assert "LOL path, frame 5 of 8" in [m for m in app.multiselect if m.label.startswith("Middle frames")][0].options


def test_rename_a_seed_and_refuse_a_taken_name(app):
    app.switch_page("pages/seeds.py").run()
    app.button[0].click().run()  # Sample 8
    rename = lambda: [s for s in app.selectbox if s.label == "Rename a seed"][0]  # noqa: E731
    old, other = rename().options[0], rename().options[1]
    app.text_input[0].set_value("my favourite").run()
    [b for b in app.button if b.label == "Rename"][0].click().run()
    _no_errors(app)
    assert "my favourite" in rename().options and old not in rename().options
    app.text_input[0].set_value(other).run()
    [b for b in app.button if b.label == "Rename"][0].click().run()
    assert "already called" in app.warning[0].value
    assert rename().options.count(other) == 1


def test_chain_through_three_seeds(app):
    app.button[0].click().run()
    app.toggle[0].set_value(True).run()
    _no_errors(app)
    rows = frame_rows(app)
    assert len(rows) == 3 and all(len(row) == 2 * 7 + 1 for row in rows)  # 8 frames per leg, the middle seed once
    assert [rows[0][i] for i in (0, 7, 14)] == ["demo 0", "demo 1", "demo 2"]


@pytest.mark.parametrize("model", ["digits-ddim", pytest.param("digits-flow", marks=pytest.mark.slow),
                                   "semicircle-gen"])
def test_pages_on_other_builtin_models(monkeypatch, model):
    monkeypatch.chdir(Path(APP).parent)
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params["model"] = model
    at.run()
    at.button[0].click().run()  # demo on this model, then Interpolate
    _no_errors(at)
    for page in PAGES[1:]:
        at.switch_page(page).run()
        _no_errors(at)
    assert at.sidebar.selectbox[0].value == model


def _raise_unexpected(*args, **kwargs):
    raise ZeroDivisionError("injected fault")


def _only_folded_details(at, message):
    """Each error is a message; tracebacks appear only inside the messages' Details expanders."""
    assert at.error and all(message in e.value for e in at.error)
    details = [e for e in at.expander if e.label == "Details"]
    assert len(details) == len(at.error) == len(at.exception)
    assert all(len(d.exception) == 1 for d in details)


def test_unexpected_error_on_a_page_is_a_message_not_a_traceback(app, monkeypatch):
    app.button[0].click().run()
    monkeypatch.setattr(lc, "interpolate_chain", _raise_unexpected)  # a fault the page does not expect
    app.slider[0].set_value(5).run()
    _only_folded_details(app, "ZeroDivisionError: injected fault")
    assert app.sidebar.metric[0].value == "8"  # the seed set is kept
    monkeypatch.undo()
    app.slider[0].set_value(6).run()  # and the page recovers once the fault is gone
    _no_errors(app)


def test_unexpected_error_in_a_fragment_is_a_message(app, monkeypatch):
    app.button[0].click().run()
    app.switch_page("pages/subspace.py").run()
    monkeypatch.setattr(lc.Subspace, "to_latents", _raise_unexpected)
    app.slider[0].set_value(app.slider[0].min).run()
    _only_folded_details(app, "ZeroDivisionError: injected fault")  # the slider's fragment and the grid below it
    assert len(app.error) == 2


def _session(ws=None, **params):
    at = AppTest.from_file(APP, default_timeout=120)
    if ws:
        at.query_params["ws"] = ws
    at.query_params.update(params)
    return at.run()


def test_a_new_session_on_the_same_workspace_gets_seeds_and_settings_back(app):
    app.button[0].click().run()  # demo: 8 seeds, Interpolate
    app.slider[0].set_value(12).run()
    app.multiselect[0].set_value(["lol", "nao"]).run()
    ws = app.session_state["workspace_id"]
    again = _session(ws)  # what a shared link does: a copy, with the same seeds and settings (tests/test_hostile.py)
    _no_errors(again)
    assert again.sidebar.metric[0].value == "8"
    again.switch_page("pages/interpolate.py").run()
    assert again.slider[0].value == 12 and again.multiselect[0].value == ["lol", "nao"]  # kept by key
    assert torch.equal(again.session_state["seed_sets"][DEFAULT_MODEL].latents,
                       app.session_state["seed_sets"][DEFAULT_MODEL].latents)
    app.sidebar.selectbox[0].set_value("semicircle-gen").run()  # the model is part of the workspace too
    assert _session(ws).sidebar.selectbox[0].value == "semicircle-gen"


def test_settings_survive_a_page_switch(app):
    app.button[0].click().run()
    app.slider[0].set_value(20).run()
    app.switch_page("pages/seeds.py").run()
    app.switch_page("pages/interpolate.py").run()
    assert app.slider[0].value == 20


def test_a_visit_that_changes_nothing_writes_no_workspace(app, workspace_folder):
    app.switch_page("pages/playground.py").run()
    assert list(workspace_folder.iterdir()) == []
    [s for s in app.slider if s.label.startswith("alpha")][0].set_value(0.5).run()
    assert [p.name for p in workspace_folder.iterdir()] == [f"{app.session_state['workspace_id']}.safetensors"]


def test_sessions_without_a_shared_link_never_see_each_others_seeds(app):
    app.button[0].click().run()
    other = _session()
    assert other.session_state["workspace_id"] != app.session_state["workspace_id"]
    assert other.sidebar.metric[0].value == "0"


def test_a_corrupt_workspace_gives_a_message_and_is_left_as_it_was(monkeypatch, workspace_folder):
    monkeypatch.chdir(Path(APP).parent)
    ws = workspace.new_workspace_id()
    corrupt = workspace_folder / f"{ws}.safetensors"
    corrupt.write_bytes(b"\x00" * 100)
    at = _session(ws)
    assert not at.exception
    assert "is not a usable Latent Explorer workspace" in at.sidebar.error[0].value
    assert at.session_state["workspace_id"] != ws
    at.switch_page("pages/seeds.py").run()
    at.button[0].click().run()  # work goes on in the new workspace
    _no_errors(at)
    assert corrupt.read_bytes() == b"\x00" * 100
    assert workspace.load_workspace(at.session_state["workspace_id"]).seed_sets[DEFAULT_MODEL].names[0] == "seed 0.0"


def _remembered_after_a_rename():
    import streamlit as st

    from ui.state import remember

    st.session_state.setdefault("settings", {"compare.schemes": ["lol", "geodesic", "bezier"],
                                             "interpolate.geodesic.alpha": 0.5, "interpolate.from": "geodesic",
                                             "interpolate.to": "geodesic"})
    schemes = ["lol", "ri-optimal"]
    st.multiselect("schemes", schemes, key=remember("compare.schemes", ["lol"], options=schemes))
    st.slider("alpha", 0.05, 1.0, key=remember("interpolate.ri-optimal.alpha", 0.9, bounds=(0.05, 1.0)))
    st.selectbox("from", ["a", "b"], key=remember("interpolate.from", "a", options=["a", "b"]))
    st.selectbox("to", ["a", "geodesic"], key=remember("interpolate.to", "a", options=["a", "geodesic"]))


def test_a_workspace_saved_before_a_scheme_was_renamed_still_fits():
    """The scheme "geodesic" is "ri-optimal" now: a saved selection of it and its settings follow the new name,
    while a seed that happens to be called "geodesic" stays what it is."""
    at = AppTest.from_function(_remembered_after_a_rename).run()
    _no_errors(at)
    assert at.multiselect[0].value == ["lol", "ri-optimal"] and at.slider[0].value == 0.5
    assert at.selectbox[0].value == "a" and at.selectbox[1].value == "geodesic"
    assert "interpolate.geodesic.alpha" not in at.session_state["settings"]  # moved to the new key


def test_compare_opens_a_workspace_that_chose_the_geodesic_scheme_with_ri_optimal_chosen(app, workspace_folder):
    ws = workspace.new_workspace_id()
    workspace.save_workspace(workspace.Workspace(settings={"compare.schemes": ["lol", "geodesic"]}), ws)
    at = _session(ws)
    at.switch_page("pages/compare.py").run()
    _no_errors(at)
    assert [m for m in at.multiselect if m.label == "Interpolation schemes"][0].value == ["lol", "ri-optimal"]


def test_the_page_table_lists_every_page_once():
    from ui.navigation import HOME, PAGES

    scripts = [page.script for page in PAGES]
    assert HOME is PAGES[0] and sorted(scripts) == sorted(set(scripts)) == sorted(PAGES_ON_DISK)


def test_a_malformed_workspace_id_is_refused(app):
    at = _session("../../etc")
    assert not at.exception
    assert "is not a workspace id" in at.sidebar.error[0].value


def test_playground_draws_every_path_and_follows_its_inputs(app):
    app.switch_page("pages/playground.py").run()
    _no_errors(app)
    table = app.dataframe[0].value.set_index("path")
    assert list(table.index) == ["Linear", "SLERP", "LOL", "ri-optimal"]
    assert table.loc["ri-optimal", "path index"] > table.loc["Linear", "path index"]
    [s for s in app.selectbox if s.label == "Prior"][0].set_value("two-moons").run()
    _no_errors(app)  # the semicircle's endpoints lie off the two moons' map: they move to the moons' own
    moons = lc.make_prior("two-moons", 2)
    expected = [round(float(v), 2) for end in lc.default_endpoints(moons) for v in end]
    assert [n.value for n in app.number_input if n.label in ("start x1", "start x2", "end x1", "end x2")] == expected
    field = lambda label: [n for n in app.number_input if n.label == label][0]  # noqa: E731
    field("start x1").set_value(field("end x1").value)  # both at once, then one run
    field("start x2").set_value(field("end x2").value)
    app.run()
    assert "same point" in app.info[0].value


def test_playground_says_when_an_endpoint_lies_where_the_prior_has_no_density(app):
    app.switch_page("pages/playground.py").run()
    _no_errors(app)
    assert not app.warning  # the semicircle's own endpoints lie on it
    field = lambda label: [n for n in app.number_input if n.label == label][0]  # noqa: E731
    field("start x1").set_value(14.0)  # a corner of the map, far from the three Gaussians
    field("start x2").set_value(12.0)
    app.run()
    _no_errors(app)
    assert [w.value for w in app.warning] == [
        "The start lies where the Semicircle prior has almost no density (realisticity index below 0.01), so every "
        "path scores about 0 there. Click on the blue region of the map to move it, or:"]
    assert app.dataframe[0].value["path index"].max() < 1e-3
    [b for b in app.button if b.label == "Put both endpoints at this prior's defaults"][0].click().run()
    _no_errors(app)
    expected = [round(float(v), 2) for end in lc.default_endpoints(lc.make_prior("semicircle", 2)) for v in end]
    assert [n.value for n in app.number_input if n.label in ("start x1", "start x2", "end x1", "end x2")] == expected
    assert not app.warning


def test_centroids_and_reconstruction(app):
    app.button[0].click().run()  # 8 demo seeds
    app.switch_page("pages/centroids.py").run()
    ask_for_all(app)  # the NAO centroid
    _no_errors(app)
    table = app.dataframe[0].value.set_index("centroid")
    assert list(table.index) == [c.label for c in lc.CENTROIDS.values()]
    notes = [html.unescape(n) for n in re.findall(r'<div class="le-note">(.*?)</div>', frame_bodies(app)[0])]
    for note, (_, row) in zip(notes, table.iterrows()):  # each badge names the test that decided it, with its p
        badge = note.split(" · ")[-1]
        assert badge == "normal" or re.fullmatch(r"atypical \((KS|CvM|AD|χ² of the norm), p [0-9.e+-]+\)", badge)
        assert (badge == "normal") == (min(row["typical-set index (two-sided χ² p of the squared norm)"],
                                           row["smallest normality-test p-value (KS, CvM, AD)"]) >= 0.01)
    assert "· atypical (χ² of the norm, p " in notes[1]  # the arithmetic mean: its norm decides
    # the arithmetic mean of 4 Gaussian seeds has about half the typical norm; LOL keeps it typical
    assert table.loc["Arithmetic mean", "norm"] < 0.7 * table.loc[lc.CENTROIDS["lol"].label, "norm"]
    typical = "typical-set index (two-sided χ² p of the squared norm)"
    assert table.loc["Arithmetic mean", typical] < 0.01
    assert table.loc[lc.CENTROIDS["lol"].label, typical] > 0.01
    assert app.metric[0].label.startswith("Latent distance")
    residual = float(app.metric[0].value)
    [s for s in app.slider if s.label == "k (neighbours)"][0].set_value(7).run()  # all 7 other seeds
    _no_errors(app)
    assert float(app.metric[0].value) < residual
    [b for b in app.button if b.label == "Add to the seeds"][0].click().run()
    _no_errors(app)
    assert app.sidebar.metric[0].value == "9"
    [r for r in app.radio if r.label == "Target"][0].set_value("A fresh sample").run()
    _no_errors(app)  # the centroids, labelled; the target and its reconstruction; its 7 neighbours with their weights
    rows = frame_rows(app)
    assert rows[0] == [c.label for c in lc.CENTROIDS.values()] and rows[1] == ["target", "k-NN reconstruction"]
    assert len(rows[2]) == 7


def test_compare_runs_shows_metrics_and_keeps_the_result_in_the_workspace(app):
    app.sidebar.selectbox[0].set_value("digits-vae").run()  # judged by the digits classifier
    app.switch_page("pages/compare.py").run()
    _no_errors(app)
    assert "run the comparison" in app.info[0].value
    [s for s in app.slider if s.label == "Pairs"][0].set_value(4).run()
    [s for s in app.select_slider if s.label.startswith("Centroid sets")][0].set_value(2).run()
    [b for b in app.button if b.label == "Run the comparison"][0].click().run()
    finish_jobs(app)
    _no_errors(app)
    table = pd.concat([app.dataframe[0].value, app.dataframe[1].value])  # interpolation, then centroids
    assert list(table["label"]) == [lc.SCHEMES[s].label for s in ("linear", "slerp", "lol")] + [
        lc.CENTROIDS[s].label for s in ("lol", "mean", "rescaled")]
    assert table["class_preservation"].between(0, 1).all() and table["typical_band"].between(0, 1).all()
    assert len(app.get("plotly_chart")) == 5
    assert any("Samples of the prior" in r.label or "prior" in str(r.options) for r in app.radio)
    rows = frame_rows(app)  # one filmstrip per scheme; the centroid seeds and the centroids, each labelled
    assert len(rows) == 3 + 2 and rows[0][0] == "start" and rows[0][-1] == "end"
    assert rows[-1] == [lc.CENTROIDS[k].label for k in ("lol", "mean", "rescaled")]
    again = _session(app.session_state["workspace_id"])  # a reload keeps the table
    again.switch_page("pages/compare.py").run()
    _no_errors(again)
    assert pd.concat([again.dataframe[0].value, again.dataframe[1].value]).equals(table)


def test_compare_runs_on_the_face_gan_and_says_what_it_cannot_measure(app):
    """faces-dcgan (the default model) has no encoder and no judge: seeds are prior samples, and class
    preservation and the Frechet distance say once why they are not measured."""
    app.switch_page("pages/compare.py").run()
    _no_errors(app)
    source = [r for r in app.radio if r.label == "Seeds"][0]
    assert source.options == ["Samples of the prior"] and source.value == "prior"
    captions = _shown(" ".join(c.value for c in app.caption))
    assert "Encodings of real data: not offered, faces-dcgan has no encoder" in captions
    assert captions.count("Class kept and Frechet: not measured, no judge of faces-dcgan's images") == 1
    [b for b in app.button if b.label == "Run the comparison"][0].click().run()
    finish_jobs(app)
    _no_errors(app)
    table = app.dataframe[0].value
    assert "class_preservation" not in table and table["ri_typical_mean"].between(0, 1).all()
    assert len(app.get("plotly_chart")) == 3  # the metrics measured of the five charted by default


def test_compare_offers_the_seed_set_and_only_the_schemes_suited_to_the_model(app):
    app.sidebar.selectbox[0].set_value("digits-vae").run()
    app.switch_page("pages/compare.py").run()
    def offered():
        return [m for m in app.multiselect if m.label == "Interpolation schemes"][0].options

    assert "ri-optimal" in offered()
    assert [r for r in app.radio if r.label == "Seeds"][0].options == ["Samples of the prior",
                                                                      "Encodings of real data"]
    app.switch_page("pages/seeds.py").run()
    app.button[0].click().run()  # 8 sampled seeds
    app.switch_page("pages/compare.py").run()
    seeds = [r for r in app.radio if r.label == "Seeds"][0]
    assert "This model's seed set" in seeds.options
    seeds.set_value("data").run()
    assert "Encodings of real images are not samples of the prior" in app.info[0].value
    for sampled in ("digits-ddim", "digits-flow"):
        app.sidebar.selectbox[0].set_value(sampled).run()
        _no_errors(app)
        assert "ri-optimal" in offered() and "NAO" in offered()  # ri-optimal paths decode with fewer loop steps


def _uploader(at, label):
    return [u for u in at.get("file_uploader") if u.label == label][0]


def test_uploads_on_seeds_valid_bad_and_an_image(app):
    import io

    import numpy as np
    from PIL import Image

    app.sidebar.selectbox[0].set_value("digits-vae").run()
    app.switch_page("pages/seeds.py").run()
    app.button[0].click().run()  # 8 sampled seeds
    before = app.session_state["seed_sets"]["digits-vae"].latents.clone()
    _uploader(app, "A latent file").set_value(("broken.npy", b"not numpy", "application/octet-stream")).run()
    assert not app.exception
    assert "is not a valid .npy file" in _shown(app.error[0].value)
    assert "Your seed set is unchanged" in _shown(app.error[0].value)
    assert torch.equal(app.session_state["seed_sets"]["digits-vae"].latents, before)

    good = lc.latents_to_bytes(torch.randn(3, 16), ["a", "b", "c"], fmt=".safetensors")
    _uploader(app, "A latent file").set_value(("three.safetensors", good, "application/octet-stream")).run()
    _no_errors(app)
    assert "Added 3 latents from three.safetensors" in _shown(app.success[0].value)
    assert app.sidebar.metric[0].value == "11"

    picture = io.BytesIO()
    Image.fromarray((np.eye(24) * 255).astype(np.uint8)).save(picture, "PNG")
    _uploader(app, "PNG or JPEG images").set_value(("stroke.png", picture.getvalue(), "image/png")).run()
    [b for b in app.button if b.label == "Invert the images"][0].click().run()
    finish_jobs(app)
    _no_errors(app)
    assert app.sidebar.metric[0].value == "12"
    assert any("mean squared error" in m.value for m in app.markdown)
    [b for b in app.button if b.label == "Invert the images"][0].click().run()  # again: the file is added once
    finish_jobs(app)
    _no_errors(app)
    assert app.sidebar.metric[0].value == "12"
    assert any(_shown(i.value).startswith("Already in the seed set, not inverted again: stroke.png") for i in app.info)


def _png(array) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


def _photo_and_own_sample():
    """An 800x600 colour gradient (nothing like a digit) and a digits-vae sample, as PNG uploads."""
    import numpy as np

    import latentcore.models as models
    from latentcore.imaging import to_uint8

    x, y = np.meshgrid(np.linspace(0, 255, 800), np.linspace(0, 255, 600))
    photo = np.stack([x, y, np.full_like(x, 80)], axis=-1).astype(np.uint8)
    model = models.load("digits-vae", device="cpu")
    own = to_uint8(model.decode(model.prior.sample(1, seed=5, device="cpu")))[0]
    return [("photo.png", _png(photo), "image/png"), ("own.png", _png(own), "image/png")]


@pytest.mark.parametrize("method", ["encoder", "optimise"])
def test_inverting_a_photo_warns_and_a_sample_of_the_model_does_not(app, method):
    app.sidebar.selectbox[0].set_value("digits-vae").run()
    app.switch_page("pages/seeds.py").run()
    methods = [r for r in app.radio if r.label == "Method"][0]
    assert methods.options == ["The model's encoder", "Optimisation from prior samples",
                               "The model's encoder, refined by optimisation"]
    methods.set_value(method).run()
    if method == "optimise":
        [n for n in app.number_input if n.label == "Restarts per image"][0].set_value(2).run()
    _uploader(app, "PNG or JPEG images").set_value(_photo_and_own_sample()).run()
    [b for b in app.button if b.label == "Invert the images"][0].click().run()
    finish_jobs(app)
    _no_errors(app)
    assert app.sidebar.metric[0].value == "2"
    warnings = [w.value for w in app.warning]
    assert len(warnings) == 1 and warnings[0].startswith("Far from what digits-vae can make"), warnings
    errors = [m.value for m in app.markdown if "mean squared error" in m.value]
    assert len(errors) == 2 and all("PSNR" in e and "95th percentile" in e for e in errors)
    assert sum("Inverted latent: norm" in c.value for c in app.caption) == 2
    assert any("arXiv 2408.08558" in c.value for c in app.caption)


def test_centroids_inverts_an_upload_the_same_way_and_warns(app):
    app.sidebar.selectbox[0].set_value("digits-vae").run()
    app.button[0].click().run()  # demo seeds
    app.switch_page("pages/centroids.py").run()
    [r for r in app.radio if r.label == "Target"][0].set_value("An uploaded image").run()
    _uploader(app, "A PNG or JPEG image").set_value(_photo_and_own_sample()[0]).run()
    _no_errors(app)
    assert any(w.value.startswith("Inverted with PSNR") and "Far from what digits-vae can make" in w.value
               for w in app.warning)
    assert any(m.label.startswith("Latent distance") for m in app.metric)
    # the upload itself beside what its inversion decodes to (the target) and the k-NN reconstruction of that
    assert frame_rows(app)[1] == ["your image", "your image, inverted", "k-NN reconstruction"]
    upload, inverted, _ = frame_images(app)[1]
    assert upload != inverted  # a photo: far from what the model makes of it


def test_uploading_a_workspace_file(app):
    app.sidebar.selectbox[0].set_value("digits-vae").run()
    app.button[0].click().run()
    ws = app.session_state["workspace_id"]
    upload = _uploader(app.sidebar, "Open a workspace file (.safetensors)")
    upload.set_value(("not.safetensors", b"junk", "application/octet-stream")).run()
    assert not app.exception
    assert "is not a usable Latent Explorer workspace" in app.sidebar.error[0].value
    assert app.session_state["workspace_id"] == ws and app.sidebar.metric[0].value == "8"
    mine = workspace.Workspace(settings={"model": "digits-vae"},
                               seed_sets={"digits-vae": SeedSet(torch.zeros(2, 16), ["x", "y"])})
    _uploader(app.sidebar, "Open a workspace file (.safetensors)").set_value(
        ("mine.safetensors", workspace.workspace_to_bytes(mine), "application/octet-stream")).run()
    _no_errors(app)
    assert app.session_state["workspace_id"] != ws and app.sidebar.metric[0].value == "2"
    assert workspace.load_workspace(ws).seed_sets["digits-vae"].names == [f"demo {i}" for i in range(8)]  # kept


def test_iterative_paths_are_not_optimised_again_on_a_rerun(app, monkeypatch):
    app.button[0].click().run()
    calls = []
    real = lc.interpolate_chain

    def counted(*args, **kwargs):
        calls.append(kwargs["scheme"])
        return real(*args, **kwargs)

    monkeypatch.setattr(lc, "interpolate_chain", counted)
    ask_for_all(app.multiselect[0].set_value(["lol", "nao"]).run())
    _no_errors(app)
    assert calls.count("nao") == 1
    ask_for_all(app.toggle[0].set_value(True).run())  # a chain: new endpoints, a new optimisation
    app.toggle[0].set_value(False).run()  # back to the pair: the kept path
    _no_errors(app)
    assert calls.count("nao") == 2 and len(frame_rows(app)) == 2


def test_a_failure_while_setting_up_the_page_is_a_message(app, monkeypatch):
    monkeypatch.setattr(workspace, "load_workspace", _raise_unexpected)  # the disk under the workspace folder fails
    at = _session(workspace.new_workspace_id())
    _only_folded_details(at, "ZeroDivisionError: injected fault")


def test_a_diffusers_folder_from_the_sidebar(app, tmp_path, tiny_unet2d_folder):
    app.sidebar.selectbox[0].set_value("Load a diffusers folder ...").run()
    _no_errors(app)
    assert "Enter the path of a diffusers pipeline folder" in app.sidebar.info[0].value
    app.sidebar.text_input[0].set_value(str(tmp_path / "nowhere")).run()
    _only_folded_details(app, "Could not load that model: the folder")  # the default model is used meanwhile
    assert f"The model now is **{DEFAULT_MODEL}**" in app.markdown[0].value
    app.sidebar.text_input[0].set_value(str(tiny_unet2d_folder)).run()
    _no_errors(app)
    app.switch_page("pages/seeds.py").run()
    app.button[0].click().run()  # sample 8 latents of the folder's model
    _no_errors(app)
    assert app.sidebar.metric[0].value == "8" and len(frame_rows(app)[0]) == 8
    app.switch_page("pages/interpolate.py").run()
    _no_errors(app)
    assert len(frame_rows(app)) == 3


def test_seed_names_from_a_shared_workspace_are_shown_as_plain_text(monkeypatch):
    from markdown_it import MarkdownIt

    import ui

    evil = "![p](http://127.0.0.1:8799/b.png) [link](http://x) :red[x] $x$ **b**"
    ws_id = workspace.new_workspace_id()
    seeds = SeedSet(lc.StandardNormal(16).sample(2, seed=0), [evil, "plain"])
    workspace.save_workspace(workspace.Workspace(settings={"model": "digits-vae"}, seed_sets={"digits-vae": seeds}),
                             ws_id)
    monkeypatch.chdir(Path(APP).parent)
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["ws"] = ws_id
    at.run()
    at.switch_page("pages/seeds.py").run()
    _no_errors(at)
    assert frame_rows(at) == [[evil, "plain"]]  # the gallery's names read as written (HTML-escaped) ...
    body = frame_bodies(at)[0]
    sources = re.findall(r"<img [^>]*src=\"([^\"]*)\"", body)  # ... and form no image or link of their own
    assert len(sources) == 2 and all(s.startswith("data:image/png;base64,") for s in sources) and "<a " not in body
    assert MarkdownIt("commonmark").render(ui.plain("a_b*c")) == "<p>a_b*c</p>\n"


def test_a_chosen_workspace_id_with_nothing_saved_is_not_adopted(monkeypatch, workspace_folder):
    monkeypatch.chdir(Path(APP).parent)
    chosen = "AAAAAAAAAAAAAAAA"  # well formed, never issued
    at = _session(chosen)
    _no_errors(at)
    issued = at.session_state["workspace_id"]
    assert issued != chosen and at.query_params["ws"] == issued
    assert any("starts a new workspace" in i.value for i in at.sidebar.info)
    at.button[0].click().run()  # the demo: something to save
    assert (workspace_folder / f"{issued}.safetensors").exists()
    assert not (workspace_folder / f"{chosen}.safetensors").exists()


def test_a_workspace_never_opens_a_folder_on_the_server(monkeypatch, tiny_unet2d_folder):
    settings = {"model": "Load a diffusers folder ...", "diffusers_folder": str(tiny_unet2d_folder)}
    ws_id = workspace.new_workspace_id()
    workspace.save_workspace(workspace.Workspace(settings=settings), ws_id)
    monkeypatch.chdir(Path(APP).parent)
    at = _session(ws_id)  # a shared link to a workspace that names a folder
    _no_errors(at)
    assert at.sidebar.text_input[0].value == ""
    assert "Enter the path of a diffusers pipeline folder" in at.sidebar.info[0].value
    at.sidebar.text_input[0].set_value(str(tiny_unet2d_folder)).run()  # the user's own action loads it
    _no_errors(at)
    assert "latent 1x8x8" in " ".join(c.value for c in at.sidebar.caption)
    saved = workspace.load_workspace(at.session_state["workspace_id"])
    assert saved.settings.get("model") == "Load a diffusers folder ..." and "diffusers_folder" not in saved.settings


def test_subspace_grid_is_labelled_and_drawn_around_the_current_point(app):
    app.button[0].click().run()  # demo seeds
    app.switch_page("pages/subspace.py").run()
    app.slider[0].set_value(app.slider[0].max).run()  # h1 to the top of its range
    [b for b in app.button if b.label == "Redraw the grid around the current point"][0].click().run()
    _no_errors(app)
    body = frame_bodies(app)[-1]
    heads = re.findall(r'<div class="le-head">(.*?)</div>', body)
    assert len(heads) == 5 + 5 and heads[0].startswith("h2 = ") and heads[5].startswith("h1 = ")
    assert body.count("<img") == 25
    marked = body.index('class="le-marked"')  # the nearest to h1 at its top: in the last row
    assert body.count("<figure", 0, marked) >= 20



def test_rows_send_small_frames_exactly_and_large_ones_as_small_jpegs():
    import base64
    import io

    import numpy as np
    from PIL import Image

    from ui import frames

    class Page:
        def html(self, body):
            self.body = body

    sent = []
    for size in (16, 512):
        page = Page()
        picture = np.random.default_rng(size).integers(0, 256, (2, size, size, 3), dtype=np.uint8)
        frames.image_row(picture, ["a", "b"], where=page)
        kind, data = re.findall(r'src="data:image/(png|jpeg);base64,([^"]*)"', page.body)[0]
        sent.append((kind, np.asarray(Image.open(io.BytesIO(base64.b64decode(data)))), picture[0]))
    (small_kind, small, original), (large_kind, large, _) = sent
    assert small_kind == "png" and np.array_equal(small, original)  # 16x16: every pixel as it is
    assert large_kind == "jpeg" and large.shape == (frames.SHOWN_MAX_PX, frames.SHOWN_MAX_PX, 3)


def test_sample_says_beside_its_button_what_its_fields_do_not_take_and_adds_no_copies(app):
    app.switch_page("pages/seeds.py").run()
    count, seed = app.number_input[0], app.number_input[1]
    sample = lambda: [b for b in app.button if b.label == "Sample"][0]  # noqa: E731
    for field, typed, said in [
            (count, 1000, "How many to sample: 1000 is more than 64, the most one Sample adds; enter a whole number "
                          "from 1 to 64."),
            (count, 0, "How many to sample: 0 is less than 1, the least it takes"),
            (seed, 3.7, "The random seed: 3.7 is not a whole number; enter a whole number from 0 to "
                        "9007199254740991."),
            (seed, 2.0**60, "The random seed: 1.15292e+18 is more than 9007199254740991, 2⁵³ − 1, the largest "
                            "whole number a browser holds exactly")]:
        field.set_value(typed).run()
        _no_errors(app)
        assert [w.value for w in app.warning if w.value.startswith(said)], [w.value for w in app.warning]
        assert sample().disabled  # nothing is sampled with another number than the one shown
        field.set_value(3 if field is count else 5).run()
    assert not app.warning and not sample().disabled and app.sidebar.metric[0].value == "0"
    sample().click().run()
    _no_errors(app)
    assert app.sidebar.metric[0].value == "3" and frame_rows(app)[0] == ["seed 5.0", "seed 5.1", "seed 5.2"]
    [s for s in app.selectbox if s.label == "Rename a seed"][0].set_value("seed 5.1").run()
    app.text_input[0].set_value("mine").run()
    [b for b in app.button if b.label == "Rename"][0].click().run()
    sample().click().run()  # the same seed again: the same latents, said, not added as "seed 5.0 (2)"
    _no_errors(app)
    assert app.sidebar.metric[0].value == "3"
    assert _shown(app.info[0].value) == ("3 of these 3 latents are already in the set, as seed 5.0, mine, seed 5.2: "
                                         "the same random seed gives the same latents, so they were not added again.")


def test_a_model_switch_keeps_the_seed_selections_filled_on_subspace_and_centroids(app):
    app.sidebar.selectbox[0].set_value("digits-vae").run()
    app.switch_page("pages/seeds.py").run()
    app.button[0].click().run()  # digits-vae: seed 0.0 ... seed 0.7
    app.sidebar.selectbox[0].set_value(DEFAULT_MODEL).run()
    app.switch_page("pages/home.py").run()
    app.button[0].click().run()  # faces-dcgan: demo 0 ... demo 7
    for page, label, chosen in [("pages/subspace.py", "Basis seeds (2 to 6)", 3),
                                ("pages/centroids.py", "Seeds to average (2 or more)", 4)]:
        app.switch_page(page).run()
        selection = lambda: [m for m in app.multiselect if m.label == label][0].value  # noqa: E731
        assert selection() == [f"demo {i}" for i in range(chosen)]
        app.sidebar.selectbox[0].set_value("digits-vae").run()  # on the page: the new model's seeds, as afresh
        _no_errors(app)
        assert selection() == [f"seed 0.{i}" for i in range(chosen)]
        assert not [i.value for i in app.info if "at least two" in i.value]
        app.sidebar.selectbox[0].set_value(DEFAULT_MODEL).run()
        assert selection() == [f"demo {i}" for i in range(chosen)]


def test_empty_and_zero_dimensional_latent_files_are_refused_in_words(app):
    import io

    import numpy as np

    app.sidebar.selectbox[0].set_value("digits-vae").run()
    app.switch_page("pages/seeds.py").run()
    refused = "holds an empty or scalar array of shape {}; it must hold at least one latent"
    for name, array, said in [("none.npy", np.zeros((0, 16), np.float32), f"none.npy {refused.format('(0, 16)')}"),
                              ("scalar.npy", np.array(1.5, np.float32), f"scalar.npy {refused.format('()')}"),
                              ("zero.npy", None, "zero.npy is empty (0 bytes); a latent file holds at least one "
                                                 "latent")]:
        data = b""
        if array is not None:
            buffer = io.BytesIO()
            np.save(buffer, array)
            data = buffer.getvalue()
        _uploader(app, "A latent file").set_value((name, data, "application/octet-stream")).run()
        assert not app.exception
        assert _shown(app.error[0].value) == f"{said}. Your seed set is unchanged."
        assert app.sidebar.metric[0].value == "0"


def test_a_mixed_batch_of_images_inverts_what_it_can_and_says_what_it_refused_and_what_is_tiny(app):
    import numpy as np

    app.sidebar.selectbox[0].set_value("digits-vae").run()
    app.switch_page("pages/seeds.py").run()
    good = _png((np.eye(24) * 255).astype(np.uint8))
    tiny = _png(np.full((1, 1), 200, np.uint8))
    _uploader(app, "PNG or JPEG images").set_value([("stroke.png", good, "image/png"), ("tiny.png", tiny, "image/png"),
                                                    ("broken.png", b"not an image", "image/png")]).run()
    small = ("tiny.png is 1x1 pixels, much smaller than the 16x16 images the model makes: it is enlarged to that "
             "size, so the reconstruction shows no detail the file lacks")
    assert [w for w in app.warning if _shown(w.value).startswith(small)]  # said before inverting
    [b for b in app.button if b.label == "Invert the images"][0].click().run()
    refused = ("Not inverted, as it cannot be read: broken.png is not a PNG or JPEG image: its content is not an "
               "image format that can be read.")
    # Said at once: beside "being inverted" while the job runs, or alone beside the results where the encoder was
    # done before the page's run ended (the job panel then reruns the page to show them)
    said = [_shown(w.value) for w in app.warning if _shown(w.value).startswith(refused)]
    assert said in ([f"{refused} The other 2 images are being inverted."], [refused]), said
    finish_jobs(app)
    _no_errors(app)
    assert app.sidebar.metric[0].value == "2"
    assert app.session_state["seed_sets"]["digits-vae"].names == ["stroke", "tiny"]
    assert any("Added 2 inverted latents to the seed set" in s.value for s in app.success)
    assert [w for w in app.warning if _shown(w.value) == refused]  # and beside the results
    assert len([w for w in app.warning if _shown(w.value).startswith(small)]) == 2  # the result's note too
    assert sum("mean squared error" in m.value for m in app.markdown) == 2


def _refusals_said():
    import ui

    refused = ["broken.png is not a PNG or JPEG image"]
    ui.say_refused(refused, inverting=2)
    ui.say_refused(refused, inverting=1, skipped=1)
    ui.say_refused(refused)  # the batch has ended
    ui.say_refused(refused, inverting=0)  # nothing else to invert
    ui.say_refused([], inverting=0)  # nothing refused: nothing to say


def test_refused_files_are_said_with_what_became_of_the_others():
    at = AppTest.from_function(_refusals_said).run()
    said = "Not inverted, as it cannot be read: broken.png is not a PNG or JPEG image."
    assert [_shown(w.value) for w in at.warning] == [f"{said} The other 2 images are being inverted.",
                                                     f"{said} The other image is being inverted.", said]
    assert [_shown(e.value) for e in at.error] == [f"{said} Your seed set is unchanged."]


def _a_number_condition():
    import streamlit as st

    import latentcore.models as models
    from ui.widgets import condition_widget

    st.session_state["used"] = condition_widget("m", models.Condition("repeats", int, 4, "How often", low=1),
                                                shared=False)


def test_a_plugin_number_condition_says_beside_its_field_what_it_does_not_take():
    at = AppTest.from_function(_a_number_condition).run()
    _no_errors(at)
    assert at.session_state["used"] == 4 and not at.warning
    accepted = "enter a whole number from 1 to 9007199254740991"  # the most a browser's number holds exactly
    for typed, said in [(0, f"Repeats: 0 is less than 1, the least it takes; {accepted}."),
                        (2.5, f"Repeats: 2.5 is not a whole number; {accepted}."),
                        (2.0**54, "Repeats: 1.80144e+16 is more than 9007199254740991, the most it takes")]:
        at.number_input[0].set_value(typed).run()
        _no_errors(at)
        assert _shown(at.warning[0].value).startswith(said) and at.session_state["used"] == 4
        assert at.warning[0].value.endswith("Meanwhile the default, 4, is used.")
    at.number_input[0].set_value(7).run()
    assert at.session_state["used"] == 7 and not at.warning
