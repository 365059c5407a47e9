"""latentcore.evaluate: its intervals on plain numbers, then runs on digits-vae (real models, small runs):
determinism, valid ranges, the orderings that the LOL paper (arXiv 2408.08558) and Struski et al.'s
"Interpolation in generative models" predict on encoded digits, clear errors, file round trips, the CLI and the
bar chart."""

import io
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from latentcore import evaluate as ev
from latentcore.evaluate import cli
from latentcore.models import load, load_classifier
from latentcore.models.classifier import frechet_distance
from latentcore.models.data import digits
from ui.plots import metric_bars_figure

FAST = dict(seeds="data", pairs=4, frames=5, centroid_sets=3, schemes=["linear", "slerp", "lol"],
            centroid_schemes=["lol", "mean", "rescaled"])


def test_wilson_interval_at_the_extremes():
    assert ev.wilson_interval(0, 10) == pytest.approx((0.0, 1.959964**2 / (10 + 1.959964**2)), abs=1e-6)
    assert ev.wilson_interval(8, 8) == pytest.approx((0.6756, 1.0), abs=1e-4)


def test_bootstrap_interval_brackets_the_mean_and_is_empty_for_equal_values():
    low, high = ev.bootstrap_interval([1.0, 2.0, 3.0, 4.0], torch.Generator().manual_seed(0))
    assert 1.0 <= low < 2.5 < high <= 4.0
    assert ev.bootstrap_interval([0.5] * 6, torch.Generator().manual_seed(0)) == (0.5, 0.5)


def test_frechet_interval_of_gaussian_features_covers_the_distance():
    gen = torch.Generator().manual_seed(0)
    real, shifted = torch.randn(400, 3, generator=gen), torch.randn(200, 3, generator=gen) + 1.0
    point, low, high = ev.frechet_with_interval(shifted, real, gen)
    assert 0 < low < point < high and 2.0 < point < 4.0  # ||m_g - m_r||^2 = 3, equal covariances
    with pytest.raises(ValueError, match="at least two feature vectors"):
        ev.frechet_with_interval(shifted[:1], real, gen)


@pytest.fixture(scope="module")
def vae():
    return load("digits-vae", device="cpu")


@pytest.fixture(scope="module")
def small(vae):
    return ev.evaluate(vae, seed=3, **FAST)


def test_same_seed_gives_the_same_numbers_and_another_seed_other_seeds(vae, small):
    again = ev.evaluate(vae, seed=3, **FAST)
    untimed = [c for c in small.table.columns if c not in ev.TIMINGS]
    pd.testing.assert_frame_equal(small.table[untimed], again.table[untimed])
    pd.testing.assert_frame_equal(small.units, again.units)
    for name, path in small.examples.paths.items():
        assert torch.equal(path, again.examples.paths[name])
    other = ev.evaluate(vae, seed=4, **FAST)
    assert list(other.units["seeds"]) != list(small.units["seeds"])


def _results(evaluation):
    """The table without its timing columns."""
    return evaluation.table.drop(columns=list(ev.TIMINGS)).to_csv(index=False)


def test_table_shape_and_metrics_in_their_ranges(small):
    table = small.table
    assert list(zip(table["task"], table["scheme"])) == [
        ("interpolation", "linear"), ("interpolation", "slerp"), ("interpolation", "lol"),
        ("centroid", "lol"), ("centroid", "mean"), ("centroid", "rescaled")]
    assert list(table["units"]) == [4, 4, 4, 3, 3, 3]
    for metric in ev.METRICS:
        for _, row in table.iterrows():
            values = row[[metric, metric + "_low", metric + "_high"]].to_numpy(dtype=float)
            if row["task"] == "centroid" and metric in ev.INTERPOLATION_ONLY:
                assert np.isnan(values).all()
                continue
            assert np.isfinite(values).all(), (metric, row["scheme"])
            assert values[1] <= values[0] + 1e-12 <= values[2] + 2e-12, (metric, row["scheme"], values)
            if metric in ev.PROPORTIONS or metric.startswith("ri_"):
                assert 0.0 <= values[1] and values[2] <= 1.0
    assert (table["ri_density_min"] <= table["ri_density_mean"] + 1e-12).all()
    assert (table["ri_typical_min"] <= table["ri_typical_mean"] + 1e-12).all()
    paths = table[table["task"] == "interpolation"]
    assert (paths["smoothness"] >= 1.0).all() and (paths["path_length"] > 0).all()
    assert (table["frechet"] > 0).all() and (table[list(ev.TIMINGS)] >= 0).all().all()
    # a centroid is one latent: its mean and minimum index coincide
    cents = table[table["task"] == "centroid"]
    assert np.allclose(cents["ri_density_mean"], cents["ri_density_min"])


def test_examples_are_the_first_paths_between_encoded_digits(vae, small):
    images, _ = digits("heldout")
    first = small.units.iloc[0]
    a, b = map(int, first["seeds"].split("-"))
    path = small.examples.paths["lol"]
    assert path.shape == (3, 5, 16)
    encoded = vae.encode(images[[a, b]])
    assert torch.allclose(path[0, 0], encoded[0], atol=1e-5) and torch.allclose(path[0, -1], encoded[1], atol=1e-5)
    assert int(small.examples.path_classes[0]) == int(first["class"])
    assert small.examples.centroids["mean"].shape == (3, 16)
    k = small.examples.centroid_seeds[0].shape[0]
    assert 3 <= k <= 5
    assert torch.allclose(small.examples.centroids["mean"][0], small.examples.centroid_seeds[0].mean(0))


def test_lol_and_slerp_paths_are_more_typical_than_linear_and_geodesics_shorter(vae):
    """Encoded digits (|z| ~ 2.4 against sqrt(16) = 4 for prior samples): linear midpoints shrink further. The
    typical-set index and the normality tests rank LOL > SLERP > linear as the LOL paper argues, while the
    density index, ~1 inside the Gaussian ball, ranks them the other way round (the density index of Struski et
    al. cannot see a too-small norm). ri-optimal paths through the decoder (Struski et al., Eq. 3) with their own
    density index are shorter and more evenly paced in image space than linear ones; with the typical-set index
    (the app's default) they keep their frames at typical norms instead."""
    result = ev.evaluate(vae, seeds="data", pairs=16, frames=9, centroid_sets=0,
                         schemes=["linear", "slerp", "lol", "ri-optimal"],
                         scheme_options={"ri-optimal": {"kind": "density"}})
    t = result.table.set_index("scheme")
    assert t.loc["lol", "ri_typical_mean"] > t.loc["slerp", "ri_typical_mean"] > t.loc["linear", "ri_typical_mean"]
    assert t.loc["lol", "ri_typical_mean_low"] > t.loc["linear", "ri_typical_mean_high"]
    assert t.loc["lol", "normality_pass"] > t.loc["linear", "normality_pass"]
    assert t.loc["linear", "ri_density_mean"] > t.loc["slerp", "ri_density_mean"] > t.loc["lol", "ri_density_mean"]
    assert t.loc["ri-optimal", "path_length"] < t.loc["linear", "path_length"]
    assert t.loc["ri-optimal", "smoothness"] < t.loc["linear", "smoothness"]
    units = result.units.pivot(index="unit", columns="scheme", values="ri_typical_mean")
    assert (units["lol"] > units["linear"]).mean() >= 0.75  # pair by pair, not only on average
    typical = ev.evaluate(vae, seeds="data", pairs=8, frames=9, centroid_sets=0, schemes=["ri-optimal"]).table
    assert typical["typical_band"].item() > 0.9 > t.loc["linear", "typical_band"]


def test_every_default_scheme_runs_on_the_vae_with_progress(vae):
    seen = []
    result = ev.evaluate(vae, pairs=2, frames=4, centroid_sets=2, scheme_options={"nao": {"max_iter": 30},
                         "ri-optimal": {"max_iter": 10}}, centroid_options={"nao": {"max_iter": 30}},
                         progress=lambda f, text: seen.append((f, text)))
    assert list(result.table["scheme"]) == ["linear", "slerp", "lol", "nao", "ri-optimal", "lol", "mean", "rescaled",
                                            "nao"]
    assert result.settings["scheme_options"]["ri-optimal"] == {"kind": "typical", "start": "closed-form", "alpha": 0.9,
                                                               "decoder": "digits-vae", "max_iter": 10}  # the app's
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] >= 0 and fractions[-1] == 1.0
    assert any("ri-optimal" in text for _, text in seen) and any("centroid: nao: set 2 of 2" in t for _, t in seen)


def test_bad_arguments_say_what_is_accepted(vae):
    with pytest.raises(ValueError, match="unknown interpolation scheme.*'bezier'.*linear, slerp, lol, nao, ri-optimal"):
        ev.evaluate(vae, schemes=["lol", "bezier"])
    with pytest.raises(ValueError, match="unknown centroid scheme.*'median'.*lol, mean, rescaled, nao"):
        ev.evaluate(vae, centroid_schemes=["median"])
    with pytest.raises(ValueError, match="pairs must be an integer >= 2, got 1"):
        ev.evaluate(vae, pairs=1)
    with pytest.raises(ValueError, match="frames must be an integer >= 3"):
        ev.evaluate(vae, frames=2)
    with pytest.raises(ValueError, match="centroid_sets must be 0 or an integer >= 2"):
        ev.evaluate(vae, centroid_sets=1)
    with pytest.raises(ValueError, match="centroid_sets must be 0 or an integer >= 2, got -1"):
        ev.evaluate(vae, centroid_sets=-1)
    with pytest.raises(ValueError, match="steps sets the sampler steps of diffusion and flow models; digits-vae has"):
        ev.evaluate(vae, steps=10)
    with pytest.raises(ValueError, match="nothing to evaluate"):
        ev.evaluate(vae, schemes=[], centroid_schemes=[])
    images, labels = digits("heldout")
    one_seven = torch.cat([(labels != 7).nonzero().squeeze(1), (labels == 7).nonzero()[:1, 0]])
    with pytest.raises(ValueError, match="class 7 has 1 seed"):
        ev.evaluate(vae, seeds="data", data=(images[one_seven], labels[one_seven]), schemes=["lol"], centroid_sets=0)
    two_sevens = torch.cat([(labels != 7).nonzero().squeeze(1), (labels == 7).nonzero()[:2, 0]])
    with pytest.raises(ValueError, match="class 7 has 2 seed.*centroid sets at least 3"):
        ev.evaluate(vae, seeds="data", data=(images[two_sevens], labels[two_sevens]), schemes=["lol"])
    with pytest.raises(ValueError, match="labels must be classes 0, 1, 2"):
        ev.evaluate(vae, seeds="data", data=(images[:20], labels[:20] - 1))


def test_any_model_is_evaluated_on_prior_samples_and_metrics_without_a_judge_say_why(vae):
    """faces-dcgan has no encoder and no judge: its seeds are prior samples, the metrics of the prior and the
    decoder are all there, and the two that need a judge say why once; LOL keeps the frames typical."""
    faces = load("faces-dcgan", device="cpu")
    assert ev.seed_sources(vae) == (["prior", "data"], {})
    offered, refused = ev.seed_sources(faces)
    assert offered == ["prior"] and "faces-dcgan has no encoder or inversion" in refused["data"]
    with pytest.raises(ValueError, match="seeds from data: faces-dcgan has no encoder.*seeds='prior'"):
        ev.evaluate(faces, seeds="data", **{k: v for k, v in FAST.items() if k != "seeds"})
    result = ev.evaluate(faces, pairs=6, frames=7, centroid_sets=3, schemes=["linear", "slerp", "lol"],
                         centroid_schemes=["lol", "mean"])
    assert result.settings["seeds"] == "prior" and result.settings["judge"] is None
    assert set(result.settings["unavailable"]) == {"class_preservation", "frechet"}
    assert "no judge of faces-dcgan's images" in result.settings["unavailable"]["frechet"]
    table = result.table.set_index(["task", "scheme"])
    assert table[["class_preservation", "frechet"]].isna().all().all()
    judged = [m for m in ev.METRICS if m not in result.settings["unavailable"]]
    assert np.isfinite(table.loc["centroid", [m for m in judged if m not in ev.INTERPOLATION_ONLY]]).all().all()
    assert np.isfinite(table.loc["interpolation", judged]).all().all()
    paths = table.loc["interpolation"]
    assert paths.loc["lol", "typical_band"] == 1.0 > paths.loc["linear", "typical_band"]
    assert paths.loc["lol", "ri_typical_mean"] > paths.loc["linear", "ri_typical_mean"]
    assert ev.unavailable_metrics(vae, None) == {}


def test_the_callers_latents_as_seeds_with_the_judges_labels_as_classes(vae):
    latents = vae.prior.sample(40, seed=5)
    result = ev.evaluate(vae, seeds=latents, pairs=3, frames=5, centroid_sets=0, schemes=["lol"])
    assert result.settings["seeds"] == "given" and result.settings["seed_pool"] == 40
    assert "digits-classifier's labels" in result.settings["classes"]
    labels = vae.judge.labels(vae.decode(latents))
    for _, unit in result.units.iterrows():
        a, b = map(int, unit["seeds"].split("-"))
        assert int(labels[a]) == int(labels[b]) == unit["class"]  # the pair shares its class
    assert np.isfinite(result.table["frechet"]).all() and "model's own samples" in result.settings["frechet_reference"]
    with pytest.raises(ValueError, match="seeds must hold at least 2 latents"):
        ev.evaluate(vae, seeds=latents[:1])


def test_csv_json_and_markdown_round_trip(small, tmp_path):
    pd.testing.assert_frame_equal(pd.read_csv(io.StringIO(small.to_csv())), small.table)
    text = small.to_json()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"JSON holds {c}"))
    back = ev.Evaluation.from_json(text)
    pd.testing.assert_frame_equal(back.table, small.table)
    pd.testing.assert_frame_equal(back.units, small.units)
    assert back.settings == small.settings
    csv, js, md = small.write(tmp_path)
    assert csv.name == "digits-vae.csv" and js.read_text() == text
    lines = md.read_text().splitlines()
    assert sum(line.startswith("| `") for line in lines) == len(small.table)


def test_cli_writes_the_three_files_and_resumes_from_its_chunks(tmp_path, capsys):
    command = ["--model", "digits-vae", "--pairs", "3", "--frames", "3", "--centroid-sets", "2", "--chunk-units", "2",
               "--schemes", "linear", "lol", "--centroid-schemes", "mean", "--out", str(tmp_path)]
    result = cli.main(command)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits-vae.chunks", "digits-vae.csv", "digits-vae.json",
                                                          "digits-vae.md"]
    out = capsys.readouterr()
    assert "| `lol` |" in out.out and "run time" in out.out and "interpolation: lol" in out.err
    assert result.settings["pairs"] == 3 and result.settings["chunks_reused"] == 0
    (stored,) = (tmp_path / "digits-vae.chunks").iterdir()  # one folder per settings
    assert sorted(p.name for p in stored.glob("*.safetensors")) == [
        "centroid-mean-0000.safetensors", "interpolation-linear-0000.safetensors",
        "interpolation-linear-0001.safetensors", "interpolation-lol-0000.safetensors",
        "interpolation-lol-0001.safetensors"]
    (stored / "interpolation-lol-0001.safetensors").unlink()          # as if the run had stopped before it
    (stored / "interpolation-linear-0001.safetensors").write_bytes(b"half a chunk")  # unreadable: measured again
    again = cli.main(command)
    assert again.settings["chunks_reused"] == 3 and "reused 3 chunks" in capsys.readouterr().err
    assert _results(again) == _results(result)
    other = cli.main(command[:-2] + ["--seed", "1", "--out", str(tmp_path)])  # other settings: nothing reused
    assert other.settings["chunks_reused"] == 0 and len(list((tmp_path / "digits-vae.chunks").iterdir())) == 2
    with pytest.raises(SystemExit):
        cli.main(["--model", "digits-vae", "--schemes", "bezier", "--out", str(tmp_path)])
    assert "unknown interpolation scheme" in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")  # scipy's sqrtm in the reference, singular features
def test_frechet_matches_the_classifier_module():
    classifier = load_classifier(device="cpu")
    images, _ = digits("heldout")
    train, _ = digits("train")
    real, fake = classifier.features(images), classifier.features(train[:150])
    point, low, high = ev.frechet_with_interval(fake, real, torch.Generator().manual_seed(0))
    assert math.isclose(point, frechet_distance(fake, real), rel_tol=1e-6)
    assert 0 <= low < point < high
    same = ev.frechet_with_interval(real, real, torch.Generator().manual_seed(0))[0]
    assert same < 1e-6 * point


def test_metric_bars_figure_has_error_bars_and_skips_metrics_that_do_not_apply(small):
    fig = metric_bars_figure(small.table, "smoothness", "Smoothness", "max / mean step")
    assert [trace.name for trace in fig.data] == ["interpolation"]
    fig = metric_bars_figure(small.table, "class_preservation", "Class preservation", "fraction")
    assert [trace.name for trace in fig.data] == ["interpolation", "centroid"]
    bar = fig.data[0]
    rows = small.table[small.table["task"] == "interpolation"]
    assert list(bar.x) == list(rows["scheme"])
    assert np.allclose(np.asarray(bar.error_y.array) + np.asarray(bar.y), rows["class_preservation_high"])
    assert np.allclose(np.asarray(bar.y) - np.asarray(bar.error_y.arrayminus), rows["class_preservation_low"])
    long = "fraction of interior frames (centroids) labelled with the seeds' class"  # was cut at 1024 px
    title = metric_bars_figure(small.table, "class_preservation", long, "fraction").layout.title.text
    assert title.replace("<br>", " ") == long and all(len(line) <= 48 for line in title.split("<br>"))


@pytest.fixture
def pattern_cgan():
    """The judged class-conditional test plug-in (tests/data/patterns_plugin.py), registered for the test."""
    from pathlib import Path

    from latentcore import models

    file = Path(__file__).parent / "data" / "patterns_plugin.py"
    report = models.load_plugins([file], entry_points=False)
    assert not report.refused, report.refused
    yield file, load("pattern-cgan", device="cpu")
    models.MODELS.pop("pattern-cgan")


def test_a_judged_conditional_plugin_keeps_its_class_along_lol_paths_and_loses_it_at_linear_midpoints(pattern_cgan):
    """The plug-in's pattern fades at atypically small norms and its judge then names no class: the condition is
    the class to preserve, and the metrics tell LOL from linear interpolation as the LOL paper's do."""
    _, model = pattern_cgan
    result = ev.evaluate(model, pairs=8, frames=7, centroid_sets=3, schemes=["linear", "lol"],
                         centroid_schemes=["lol", "mean"], conditions={"label": 2})
    assert result.settings["judge"] == "pattern-correlator" and result.settings["unavailable"] == {}
    assert result.settings["classes"] == "the condition label" and set(result.units["class"]) == {2}
    table = result.table.set_index(["task", "scheme"])
    assert table.loc[("interpolation", "lol"), "class_preservation"] == 1.0
    assert table.loc[("interpolation", "linear"), "class_preservation"] < 0.8
    assert table.loc[("centroid", "lol"), "class_preservation"] == 1.0 > table.loc[("centroid", "mean"),
                                                                                  "class_preservation"]
    assert (table["frechet"] > 0).all()
    assert table.loc[("interpolation", "lol"), "frechet"] < table.loc[("interpolation", "linear"), "frechet"]


def test_the_cli_loads_plugin_files_and_runs_on_a_diffusers_folder(pattern_cgan, tiny_unet2d_folder, tmp_path,
                                                                   capsys):
    file, _ = pattern_cgan
    out = tmp_path / "plug"
    cli.main(["--model", "pattern-cgan", "--models", str(file), "--pairs", "2", "--frames", "3",
              "--centroid-sets", "0", "--schemes", "lol", "--out", str(out), "--no-checkpoint"])
    assert sorted(p.name for p in out.iterdir()) == ["pattern-cgan.csv", "pattern-cgan.json", "pattern-cgan.md"]
    assert "left" in capsys.readouterr().err  # progress with the time left
    folder = cli.main(["--model", str(tiny_unet2d_folder), "--steps", "4", "--pairs", "2", "--frames", "3",
                       "--centroid-sets", "2", "--schemes", "linear", "lol", "--out", str(tmp_path / "pipe")])
    assert folder.settings["steps"] == 4 and folder.settings["judge"] is None
    assert np.isfinite(folder.table["ri_typical_mean"]).all() and folder.table["frechet"].isna().all()
