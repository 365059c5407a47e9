"""Plug-in models: a plain GAN and a class-conditional generator written here (tiny, random weights), loaded from
files and from an installed entry point, broken plug-ins refused with their file and problem, the examples the
documentation shows, and the plug-ins on every page of the app (AppTest) with their conditions as sidebar widgets."""

import os
import re
import textwrap
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

import latentcore as lc
import latentcore.models as models
from tests.apptools import ask_for_all, finish_jobs, frame_images, frame_rows

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
EXAMPLES = ROOT / "examples" / "plugins"

PLAIN = """
import torch
from latentcore.models import Plugin


class Generator(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(8, 3 * 8 * 8), torch.nn.Tanh())

    def forward(self, z):
        return self.net(z).view(-1, 3, 8, 8)


model = Plugin("tiny-gan", Generator, latent_shape=(8,), output_range=(-1, 1), kind="gan")
"""

CONDITIONAL = """
import torch
from latentcore.models import Condition, Plugin


class Generator(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(6 + 4, 8 * 8)

    def forward(self, z, label, gain, word):  # one-hot label beside the latent; an NHWC grey image in [0, 255]
        onehot = torch.nn.functional.one_hot(torch.full((len(z),), label), 4).to(z)
        x = torch.sigmoid(gain * self.net(torch.cat([z, onehot], 1)) + 0.1 * len(word))
        return 255 * x.view(-1, 8, 8, 1)


model = Plugin("tiny-cgan", Generator, latent_shape=(6,), prior="logistic", output_range=(0, 255), layout="NHWC",
               description="A tiny class-conditional generator.",
               conditions=[Condition("label", int, 0, "The class", choices=range(4)),
                           Condition("gain", float, 1.0, low=0.0, high=3.0),
                           Condition("word", str, "")])
"""

# Each broken plug-in, and the problem its refusal must name.
BROKEN = {
    "syntax.py": ("def broken(:\n", r"syntax error on line 1"),
    "imports.py": ("import not_a_module_anywhere\n", r"running the file failed: imports\.py line 1: "
                                                      r"ModuleNotFoundError: No module named 'not_a_module_anywhere'"),
    "nothing.py": ("x = 1\n", r"declares no latentcore.models.Plugin"),
    "flat.py": (PLAIN.replace('.view(-1, 3, 8, 8)', '').replace('"tiny-gan"', '"flat"'),
                r"model 'flat': decoding 2 latents gave shape \(2, 192\); expected images \[N, C, H, W\]"),
    "range.py": (PLAIN.replace("torch.nn.Tanh()", "torch.nn.Identity()").replace("self.net(z)", "5 + self.net(z)")
                 .replace('"tiny-gan"', '"range"'),
                 r"model 'range': decoding two samples of its prior gave values from 3\.\d+ to 6\.\d+, outside its "
                 r"declared output_range \(-1, 1\)"),
    "nan.py": (PLAIN.replace("self.net(z)", "float('nan') * self.net(z)").replace('"tiny-gan"', '"nan"'),
               r"model 'nan': decoding two samples of its prior: 384 NaN or Inf values found"),
    "latent.py": (PLAIN.replace("latent_shape=(8,)", "latent_shape=(5,)").replace('"tiny-gan"', '"latent"'),
                  r"model 'latent': decoding two samples of its prior \(latents \[2, 5\]\) failed: latent\.py line "
                  r"\d+: RuntimeError: mat1 and mat2 shapes cannot be multiplied .* Is latent_shape \(5\) what the "
                  r"module takes\?"),
    "builtin.py": (PLAIN.replace('"tiny-gan"', '"digits-vae"'), r"the name 'digits-vae' is taken by a built-in"),
    "prior.py": (PLAIN.replace('kind="gan"', 'prior="cauchy"'),
                 r"prior\.py line \d+: ValueError: plug-in 'tiny-gan': unknown prior 'cauchy'"),
    "weights.txt": ("not python", r"not a Python file"),
}


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory):
    """The plug-in files, written once; the models they register are removed from the registry afterwards."""
    folder = tmp_path_factory.mktemp("plugins")
    (folder / "tiny_gan.py").write_text(PLAIN)
    (folder / "tiny_cgan.py").write_text(CONDITIONAL)
    for name, (text, _) in BROKEN.items():
        (folder / name).write_text(text)
    before = dict(models.MODELS)
    yield folder
    for name in set(models.MODELS) - set(before):
        models.MODELS.pop(name)


def test_plugin_files_are_checked_registered_and_decode(plugin_dir):
    report = models.load_plugins([plugin_dir / "tiny_gan.py", plugin_dir / "tiny_cgan.py"], entry_points=False)
    assert report.refused == []
    assert report.loaded == {"tiny-gan": str(plugin_dir / "tiny_gan.py"), "tiny-cgan": str(plugin_dir / "tiny_cgan.py")}
    assert {"tiny-gan", "tiny-cgan"} <= set(models.available())
    gan, cgan = models.load("tiny-gan"), models.load("tiny-cgan")
    assert models.load("tiny-gan") is gan and isinstance(gan, models.GenerativeModel)
    assert (gan.image_shape, cgan.image_shape) == ((3, 8, 8), (1, 8, 8))   # NHWC turned to NCHW
    assert isinstance(cgan.prior, lc.Independent) and cgan.description == "A tiny class-conditional generator."
    z = cgan.prior.sample(5, seed=0)
    images = cgan.decode(z)
    assert images.shape == (5, 1, 8, 8) and 0 <= float(images.min()) and float(images.max()) <= 1
    net = cgan.module.net  # the declared range maps to [0, 1]: 255 * sigmoid(.) / 255
    onehot = torch.nn.functional.one_hot(torch.full((5,), 2), 4).float()
    torch.testing.assert_close(cgan.decode(z, label=2, gain=0.5), torch.sigmoid(
        0.5 * net(torch.cat([z, onehot], 1))).view(5, 1, 8, 8))
    assert not torch.equal(cgan.decode(z, label=1), images)            # the class conditions the image
    assert not torch.equal(cgan.decode(z, word="abc"), images)
    with pytest.raises(ValueError, match="condition gain must be between 0.0 and 3.0, got 4"):
        cgan.decode(z, gain=4)
    with pytest.raises(ValueError, match="condition label must be one of 0, 1, 2, 3, got 7"):
        cgan.decode(z, label=7)
    with pytest.raises(ValueError, match="tiny-gan takes no condition label"):
        gan.decode(gan.prior.sample(1, seed=0), label=1)
    # a scheme that uses the decoder (ri-optimal paths) decodes with the conditions it is given
    decoder = lc.SCHEMES["ri-optimal"].options(cgan, context="interactive", decoding=cgan.decoding(label=3))["decoder"]
    torch.testing.assert_close(decoder(z), cgan.decode(z, label=3))
    path = lc.interpolate(z[0], z[1], 5, scheme="ri-optimal", prior=cgan.prior, decoder=decoder, max_iter=5)
    assert path.shape == (5, 6) and torch.isfinite(path).all()


def test_loading_a_file_again_replaces_its_models_and_the_checked_model_is_reused(plugin_dir):
    first = models.load_plugins([plugin_dir / "tiny_gan.py"], entry_points=False)
    model = models.load("tiny-gan")
    again = models.load_plugins([plugin_dir / "tiny_gan.py"], entry_points=False)
    assert first.loaded == again.loaded and again.refused == []
    assert models.load("tiny-gan") is not model  # the file ran again: a new module, built and checked anew
    assert isinstance(models.MODELS["tiny-gan"], models.PluginSpec)


def test_broken_plugins_are_refused_naming_the_file_and_the_problem(plugin_dir):
    files = [plugin_dir / name for name in BROKEN] + [plugin_dir / "missing.py", plugin_dir / "tiny_gan.py"]
    report = models.load_plugins(files, entry_points=False)
    assert list(report.loaded) == ["tiny-gan"]  # the others do not stop a good one
    refusals = {r.source: str(r) for r in report.refused}
    assert set(refusals) == {str(plugin_dir / n) for n in [*BROKEN, "missing.py"]}
    for name, (_, problem) in BROKEN.items():
        message = refusals[str(plugin_dir / name)]
        assert message.startswith(f"{plugin_dir / name}: ") and re.search(problem, message), message
    assert refusals[str(plugin_dir / "missing.py")].endswith("missing.py: no such file")
    assert not {"flat", "range", "nan", "latent"} & set(models.MODELS)
    assert type(models.load("digits-vae")).__name__ == "VAEModel"  # a plug-in cannot take a built-in's name


def test_two_files_declaring_one_name(plugin_dir, tmp_path):
    other = tmp_path / "other.py"
    other.write_text(PLAIN)
    report = models.load_plugins([plugin_dir / "tiny_gan.py", other], entry_points=False)
    assert report.loaded == {"tiny-gan": str(plugin_dir / "tiny_gan.py")}
    assert f"the name 'tiny-gan' is taken by the plug-in from {plugin_dir / 'tiny_gan.py'}" in str(report.refused[0])


def test_declarations_that_cannot_work_are_refused_where_they_are_made():
    net = torch.nn.Linear(4, 12)
    for kwargs, problem in [({"latent_shape": (0,)}, "latent_shape must be positive integers"),
                            ({"output_range": (1, -1)}, "output_range must be two finite numbers"),
                            ({"layout": "CHW"}, "layout must be one of NCHW, NHWC"),
                            ({"kind": "ebm"}, "kind must be one of gan, vae, diffusion, flow"),
                            ({"prior": lc.StandardNormal(5)}, r"the prior is over latents \(5,\)"),
                            ({"name": "a b"}, "the name must be"),
                            ({"module": 3}, "module must be a torch.nn.Module")]:
        with pytest.raises(ValueError, match=problem):
            models.Plugin(**{"name": "x", "module": net, "latent_shape": (4,), **kwargs})
    for kwargs, problem in [({"default": 5, "choices": (0, 1)}, "the default does not fit: condition c must be one of"),
                            ({"default": 0.0, "low": 1.0, "high": 0.5}, r"low \(1.0\) is above high"),
                            ({"default": "", "low": 0}, "low must be a finite number"),
                            ({"name": "steps"}, "a condition's name must be a Python identifier other than")]:
        with pytest.raises(ValueError, match=problem):
            models.Condition(**{"name": "c", "type": type(kwargs.get("default", 0.0)), "default": 0.0, **kwargs})


def test_a_module_given_itself_is_copied_for_each_model():
    net = torch.nn.Sequential(torch.nn.Linear(4, 12), torch.nn.Sigmoid(), torch.nn.Unflatten(1, (3, 2, 2)))
    model = models.PluginModel(models.Plugin("given", net, latent_shape=4, output_range=(0, 1)), "cpu")
    assert model.module is not net and model.image_shape == (3, 2, 2)
    assert all(p.requires_grad for p in net.parameters())  # the declared module is left as it was
    exploding = models.Plugin("exploding", net, latent_shape=4, output_range=(0, 1), decode=lambda module, z: (
        module(z) if float(z.abs().max()) < 50 else module(z) * float("nan")))
    model = models.PluginModel(exploding, "cpu")  # passes its check on two prior samples
    with pytest.raises(ValueError, match="exploding's decoded images: 12 NaN or Inf values found"):
        model.decode(torch.full((1, 4), 100.0))  # never silently


def test_a_plugin_with_an_encoder_inverts_images():
    decoder = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Unflatten(1, (1, 4, 4)))
    plugin = models.Plugin("tiny-ae", decoder, latent_shape=(4,), output_range=(-10, 10), kind="vae",
                           encode=lambda module, images: torch.linalg.lstsq(
                               module[0].weight, (images.flatten(1) - module[0].bias).T).solution.T)
    model = models.PluginModel(plugin, "cpu")
    z = model.prior.sample(3, seed=1)
    assert model.can_encode
    torch.testing.assert_close(model.encode(model.decode(z)), z, atol=1e-4, rtol=1e-4)


def test_files_named_on_the_command_line_and_in_the_environment():
    argv = ["--models", "a.py", "b.py", "--server.port", "1", "--models=c.py", "x.py"]
    environ = {models.plugins.FILES_ENV: os.pathsep.join(["d.py", "", "a.py"])}
    assert models.configured_files(argv, environ) == ["a.py", "b.py", "c.py", "d.py"]
    assert models.configured_files(["tests/test_app.py", "-q"], {}) == []


def test_installed_entry_points_are_loaded(tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "tiny_plugins").mkdir(parents=True)
    (site / "tiny_plugins" / "__init__.py").write_text(PLAIN.replace('"tiny-gan"', '"ep-gan"') + textwrap.dedent("""
        from latentcore.models import Plugin as _Plugin
        both = [model, _Plugin("ep-gan-2", Generator, latent_shape=8)]
        """))
    info = site / "tiny_plugins-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tiny-plugins\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[latent_explorer.models]\none = tiny_plugins:model\n"
                                           "two = tiny_plugins:both\nwrong = tiny_plugins:Generator\n"
                                           "gone = tiny_plugins_missing:model\n")
    monkeypatch.syspath_prepend(str(site))
    before = set(models.MODELS)
    try:
        report = models.load_plugins([], entry_points=True)
        assert report.loaded == {"ep-gan": "entry point one = tiny_plugins:model (package tiny-plugins)",
                                 "ep-gan-2": "entry point two = tiny_plugins:both (package tiny-plugins)"}
        problems = sorted(str(r) for r in report.refused)
        assert len(problems) == 3
        assert problems[0].startswith("entry point gone = tiny_plugins_missing:model (package tiny-plugins): "
                                      "importing it failed: ModuleNotFoundError")
        assert "the name 'ep-gan' is taken by the plug-in from entry point one" in problems[1]
        assert problems[2].startswith("entry point wrong = tiny_plugins:Generator (package tiny-plugins): it names "
                                      "a type; an entry point of latent_explorer.models names a "
                                      "latentcore.models.Plugin")
        assert models.load("ep-gan").decode(torch.zeros(2, 8)).shape == (2, 3, 8, 8)
    finally:
        for name in set(models.MODELS) - before:
            models.MODELS.pop(name)


def test_the_documentation_shows_the_example_files_and_they_load():
    page = (ROOT / "docs" / "own-model.md").read_text()
    examples = sorted(EXAMPLES.glob("*.py"))
    assert [e.name for e in examples] == ["conditional_gan.py", "plain_gan.py"]
    for example in examples:
        assert f"```{{literalinclude}} ../examples/plugins/{example.name}\n" in page, f"docs do not show {example.name}"
    before = set(models.MODELS)
    try:
        report = models.load_plugins(examples, entry_points=False)
        assert report.refused == [] and set(report.loaded) == {"example-gan", "example-cgan"}
        gan, cgan = models.load("example-gan"), models.load("example-cgan")
        assert gan.image_shape == cgan.image_shape == (3, 32, 32)
        z = cgan.prior.sample(2, seed=0)
        assert not torch.equal(cgan.decode(z, label="cat"), cgan.decode(z, label="dog"))
        torch.testing.assert_close(gan.decode(gan.prior.sample(2, seed=0)),
                                   models.PluginModel(gan.plugin, "cpu").decode(gan.prior.sample(2, seed=0)))
    finally:
        for name in set(models.MODELS) - before:
            models.MODELS.pop(name)


# --- the app ---------------------------------------------------------------------------------------------------

PAGES = ["pages/seeds.py", "pages/subspace.py", "pages/diagnostics.py", "pages/compare.py", "pages/centroids.py",
         "pages/home.py"]


def _no_errors(at):
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _widget(elements, label):
    return [w for w in elements if w.label == label][0]


def test_plugins_on_every_page_with_their_conditions_in_the_sidebar(plugin_dir, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv(models.plugins.FILES_ENV, os.pathsep.join(
        str(plugin_dir / n) for n in ["tiny_gan.py", "tiny_cgan.py", "syntax.py"]))
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["model"] = "tiny-cgan"
    at.run()
    _no_errors(at)
    assert {"tiny-gan", "tiny-cgan", "digits-vae"} <= {o.split(" · ")[0] for o in at.sidebar.selectbox[0].options}
    assert at.sidebar.selectbox[0].value == "tiny-cgan"
    refused = _widget(at.sidebar.expander, "Plug-in models refused (1)")
    shown = re.sub(r"\\(.)", r"\1", refused.warning[0].value)  # the message as it reads on screen (ui.plain)
    assert shown.startswith(f"{plugin_dir / 'syntax.py'}: syntax error on line 1")
    assert [w.label for w in (*at.sidebar.selectbox[1:], *at.sidebar.slider[:-1], *at.sidebar.text_input)
            if w.label != "Precision"] == ["Label", "Gain", "Word"]  # the last slider: the time budget

    at.button[0].click().run()  # the demo on the plug-in, then Interpolate, with ri-optimal paths (decoder in the loop)
    _no_errors(at)
    ask_for_all(at.multiselect[0].set_value(["lol", "ri-optimal"]).run())
    _no_errors(at)
    assert len(frame_rows(at)) == 2
    for page in PAGES:  # the geometry playground has no model; test_app renders it
        at.switch_page(page).run()
        _no_errors(at)

    at.switch_page("pages/seeds.py").run()
    gallery = lambda: frame_images(at)[0]  # noqa: E731
    before = gallery()
    _widget(at.sidebar.selectbox, "Label").set_value(3).run()
    _no_errors(at)
    assert gallery() != before  # the class condition reaches the decoder
    changed = gallery()
    _widget(at.sidebar.slider, "Gain").set_value(2.5).run()
    assert gallery() != changed
    at.switch_page("pages/subspace.py").run()  # remembered like every other setting
    assert _widget(at.sidebar.selectbox, "Label").value == 3 and _widget(at.sidebar.slider, "Gain").value == 2.5
    assert at.session_state["settings"]["condition.tiny-cgan.label"] == 3
    at.sidebar.selectbox[0].set_value("tiny-gan").run()
    _no_errors(at)
    assert not [s for s in at.sidebar.selectbox if s.label == "Label"]  # the plain GAN has no conditions


def test_the_evaluation_decodes_with_the_conditions_it_is_given():
    from latentcore.evaluate import evaluate

    torch.manual_seed(0)
    linear = torch.nn.Linear(16, 256)

    def decode(module, z, offset):
        return torch.sigmoid(module(z) + offset).view(-1, 1, 16, 16)

    def encode(module, images, offset):  # the same latents whatever the offset: only decoding differs
        logits = torch.logit(images.clamp(1e-3, 1 - 1e-3)).flatten(1) - module.bias
        return torch.linalg.lstsq(module.weight, logits.T).solution.T

    plugin = models.Plugin("offset-ae", linear, latent_shape=16, output_range=(0, 1), kind="vae", decode=decode,
                           encode=encode, conditions=[models.Condition("offset", float, 0.0, low=-2, high=2)])
    model = models.PluginModel(plugin, "cpu")
    judge = models.digits_judge("cpu")  # the Frechet distance shows that the condition reaches the decoder
    runs = {o: evaluate(model, judge, seeds="data", schemes=["linear"], pairs=2, centroid_sets=0,
                        conditions={"offset": o}) for o in (0, 1)}
    assert runs[1].settings["conditions"] == {"offset": 1.0} and runs[0].settings["conditions"] == {"offset": 0.0}
    assert runs[0].table["frechet"][0] != runs[1].table["frechet"][0]
    torch.testing.assert_close(runs[0].examples.paths["linear"], runs[1].examples.paths["linear"])


def test_compare_on_a_judged_conditional_plugin_measures_class_preservation_for_the_chosen_class(monkeypatch):
    """The Compare page runs on the plug-in chosen in the sidebar, decoded with the class chosen there, and its
    judge fills the class and Frechet columns (tests/data/patterns_plugin.py)."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv(models.plugins.FILES_ENV, str(ROOT / "tests" / "data" / "patterns_plugin.py"))
    try:
        at = AppTest.from_file(APP, default_timeout=120)
        at.query_params["model"] = "pattern-cgan"
        at.run()
        _no_errors(at)
        _widget(at.sidebar.selectbox, "Label").set_value(3).run()
        at.switch_page("pages/compare.py").run()
        _no_errors(at)
        assert not [c for c in at.caption if "not measured" in c.value]  # its judge measures everything
        [s for s in at.select_slider if s.label.startswith("Centroid sets")][0].set_value(0).run()
        [b for b in at.button if b.label == "Run the comparison"][0].click().run()
        finish_jobs(at)
        _no_errors(at)
        table = at.dataframe[0].value.set_index("label")
        assert table.loc["LOL", "class_preservation"] == 1.0 > table.loc["Linear", "class_preservation"]
        assert table["frechet"].notna().all()
        assert any("classes from the condition label" in c.value for c in at.caption)
    finally:  # the server loaded it: the other tests see the registry without it
        models.MODELS.pop("pattern-cgan", None)
