"""latentcore as a package: installable with its models and weights, no import cycles (in it, ``ui`` and the
pages), and registries that a new entry joins in one call (the app, the playground and the library then list it)."""

import ast
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

import latentcore as lc

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "latentcore"


CHECKED = ("latentcore", "ui", "pages")  # the library, what the pages share, the pages


def _imports(path: Path, modules) -> set[str]:
    """The ``modules`` (of :data:`CHECKED`) that ``path`` imports anywhere in its body (functions included): a
    name imported from a package is its submodule where it is one, else the package."""
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] in CHECKED}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            if base.split(".")[0] in CHECKED:
                found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names}
    return found & set(modules)


def test_no_module_imports_a_module_that_imports_it_back():
    modules = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
               for folder in CHECKED for p in (ROOT / folder).rglob("*.py")}
    graph = {m: _imports(p, modules) - {m} for m, p in modules.items()}
    cycles, done = [], set()

    def visit(node, stack):
        for nxt in sorted(graph[node]):
            if nxt in stack:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in done:
                visit(nxt, stack + [nxt])
        done.add(node)

    for start in sorted(graph):
        visit(start, [start])
    assert {m.split(".")[0] for m in graph} == set(CHECKED) and len(graph) > 60, sorted(graph)
    assert not cycles, cycles
    assert not any(m.startswith("latentcore") and i.split(".")[0] != "latentcore" for m in graph for i in graph[m])


@pytest.mark.slow
def test_the_wheel_holds_the_models_and_weights_and_runs_outside_the_checkout(tmp_path):
    source, wheels = tmp_path / "source", tmp_path / "wheels"  # built from a copy: no build/ in the checkout
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "test-output",
                                                                "docs", "__pycache__", ".hypothesis", ".pytest_cache"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(wheels)], check=True, cwd=tmp_path)
    wheel = next(wheels.glob("latent_explorer-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"latentcore/models/registry.py", "latentcore/assets/models/digits-vae/model.safetensors",
            "latentcore/assets/models/digits-ddim/unet/diffusion_pytorch_model.safetensors"} <= names
    assert not any(n.startswith(("tests/", "pages/", "ui/", "bench/")) for n in names)
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    requires = [line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    app_only = [r for r in requires if r.startswith(("streamlit", "plotly", "fsspec"))]
    assert len(app_only) == 3 and all('extra == "app"' in r for r in app_only), requires  # the library needs none
    # A new environment that sees this interpreter's dependencies (whether the suite runs in a virtual environment
    # or not: --system-site-packages would see the base interpreter's instead) and latentcore only from the wheel:
    # a .pth file lists this interpreter's site folders as plain paths, so their own .pth files (the editable
    # install of this checkout among them) are not processed.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)  # this pip installs
    python = venv / "bin" / "python"
    venv_site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip()
    ours = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (Path(venv_site) / "dependencies.pth").write_text("".join(f"{folder}\n" for folder in ours))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", venv_site,
                    str(wheel)], check=True)
    code = ("import sys; sys.modules.update(streamlit=None, plotly=None, fsspec=None); "  # importing them fails
            "import latentcore, latentcore.models as m; model = m.load('digits-vae'); "
            "images = model.decode(model.prior.sample(2, seed=0)); print(latentcore.__file__); "
            "print(tuple(images.shape), float(images.min()) >= 0, float(images.max()) <= 1)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([str(python), "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    where, result = out.stdout.strip().splitlines()
    assert Path(where).is_relative_to(venv)
    assert result == "(2, 1, 16, 16) True True"


def _halfway_path(z0, z1, t, prior, *, progress=None):
    """A toy scheme: the straight line run at half speed (for the registry test only)."""
    return torch.lerp(z0[:, None], z1[:, None], 0.5 * t.to(z0)[None, :, None])


@pytest.fixture
def toy_scheme():
    scheme = lc.register_scheme(lc.Scheme("halfway", "Halfway line", "The straight line at half speed.",
                                          _halfway_path))
    yield scheme
    del lc.SCHEMES["halfway"]


def test_a_registered_scheme_is_listed_and_runs_in_the_library_the_playground_and_the_app(toy_scheme, monkeypatch):
    z = lc.StandardNormal(4).sample(2, seed=0)
    path = lc.interpolate(z[0], z[1], 5, scheme="halfway")
    torch.testing.assert_close(path[2], torch.lerp(z[0], z[1], 0.25))
    assert "halfway" in lc.playground_schemes()

    monkeypatch.chdir(ROOT)
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    app.button[0].click().run()  # the demo opens Interpolate
    schemes = app.multiselect[0]
    assert "Halfway line" in schemes.options
    schemes.set_value(["halfway"]).run()
    assert not app.exception and not app.error
    assert any("Halfway line" in m.value for m in app.markdown)


def python_blocks(document: str) -> list[str]:
    """The ```python blocks of one of the project's Markdown files, in order."""
    return re.findall(r"^```python\n(.*?)^```$", (ROOT / document).read_text(), flags=re.S | re.M)


def executed(document: str, monkeypatch, tmp_path) -> dict:
    """The names that the first ```python block of ``document`` defines, run in an empty folder."""
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(python_blocks(document)[0], document, "exec"), scope)  # noqa: S102 - the project's own docs
    return scope


def test_the_readme_example_runs_with_the_public_names(monkeypatch, tmp_path):
    assert len(python_blocks("README.md")) == 1
    scope = executed("README.md", monkeypatch, tmp_path)
    assert scope["path"].shape == (8, 16) and scope["images"].shape == (8, 1, 16, 16)
    assert torch.equal(scope["path"][0], scope["z0"]) and torch.equal(scope["path"][-1], scope["z1"])


def test_the_library_guide_example_runs_with_the_public_names(monkeypatch, tmp_path):
    scope = executed("docs/library.md", monkeypatch, tmp_path)
    assert scope["path"].shape == (16, 4, 64, 64) and scope["ri_optimal"].shape == (16, 16)
    assert torch.isfinite(scope["ri_optimal"]).all()


def test_a_registered_prior_family_is_built_by_name_and_drawn_by_the_playground(monkeypatch):
    family = lc.register_prior(lc.PriorFamily("wide-gaussian", "Wide Gaussian", "N(0, 4 I).",
                                              lambda shape: lc.Gaussian(torch.zeros(shape), 2.0), playground=True))
    try:
        prior = lc.make_prior("wide-gaussian", 2)
        assert float(prior.std[0]) == 2.0 and "wide-gaussian" in lc.playground_priors()
        monkeypatch.chdir(ROOT)
        app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
        app.switch_page("pages/playground.py").run()
        chooser = app.selectbox(key="playground.prior")
        assert "Wide Gaussian" in chooser.options  # shown by label
        chooser.set_value("wide-gaussian").run()
        assert not app.exception and not app.error
    finally:
        del lc.PRIORS[family.name]
