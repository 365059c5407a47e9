"""Sphinx configuration of the Latent Explorer documentation (MyST Markdown pages, furo, the API from docstrings).

    python -m sphinx -W -n -b html docs docs/_build/html
"""

from __future__ import annotations

import builtins
import importlib
import pkgutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # latentcore and tools import from the checkout

project = "Latent Explorer"
author = "The Latent Explorer developers"
copyright = "2026, " + author
release = "1.0.0"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
# Saved reports and evaluation tables are included by the pages, not pages themselves.
exclude_patterns = ["_build", "benchmarks/*.md", "evaluation/*.md", "ri_optimal_models.md"]

myst_enable_extensions = ["colon_fence", "deflist", "dollarmath"]
myst_heading_anchors = 4

autodoc_default_options = {"members": True, "show-inheritance": True, "ignore-module-all": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = True
napoleon_type_aliases = {"Tensor": "torch.Tensor"}

# No network at build time (no intersphinx): names from the libraries latentcore builds on are left unlinked.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(torch|numpy|np|scipy|pandas|pd|PIL|diffusers|transformers|safetensors|ray|fsspec)(\..*)?"),
    (r"py:.*", r"(pathlib|typing|collections|concurrent|threading|dataclasses|enum|io|os)\..*"),
    (r"py:class", r"Module|Path"),  # torch.nn.Module as autodoc names a base class; pathlib.Path in some hints
    # numpydoc's words in parameter types ("callable, optional", "int, default 8") and Python's builtins
    (r"py:(class|obj)", r"callable|optional|default.*|array[- ]like|scalar"),
    (r"py:(class|obj|exc|func|data)", "|".join(name for name in dir(builtins) if not name.startswith("_"))),
]

html_theme = "furo"
html_title = "Latent Explorer"


MISSING = object()


def _imported(dotted: str):
    """The object a dotted name names (a module, or attributes of one), or :data:`MISSING`."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attribute in parts[cut:]:
                obj = getattr(obj, attribute)
        except AttributeError:
            return MISSING
        return obj
    return MISSING


def resolve_reexport(app, env, node, contnode):
    """Resolve a reference to a name a package re-exports (``latentcore.interpolate`` as the function,
    ``latentcore.models.load``, ``SCHEMES`` within ``latentcore``) to the object's documentation in the module that
    defines it. Only the very same object counts, so a reference to nothing still fails the nitpicky build."""
    if node.get("refdomain") != "py":
        return None
    domain = env.get_domain("py")
    target, module = node["reftarget"].lstrip("~."), node.get("py:module")
    for name in [f"{module}.{target}", target] if module else [target]:
        if not name.startswith("latentcore.") or name.endswith("."):
            continue
        obj = _imported(name)
        if obj is MISSING:
            continue
        parent, short = name.rsplit(".", 1)
        for documented in list(domain.objects):
            if documented == name or documented.rsplit(".", 1)[-1] != short or _imported(documented) is not obj:
                continue
            # None (an attribute's default) is the same object everywhere: then the owners must be the same too
            if obj is None and _imported(documented.rsplit(".", 1)[0]) is not _imported(parent):
                continue
            return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], documented, node, contnode)
    return None


def write_module_pages(app):
    """One page per module of latentcore under ``api/generated/`` (its docstring, then its public members), written
    only where it changed. Modules are named by import path: ``latentcore.invert`` is the module here, not the
    function the package exports under that name."""
    import latentcore

    folder = Path(app.srcdir) / "api" / "generated"
    folder.mkdir(parents=True, exist_ok=True)
    names = ["latentcore"] + sorted(m.name for m in pkgutil.walk_packages(latentcore.__path__, "latentcore.")
                                    if not m.name.endswith("__main__"))
    for name in names:
        page = folder / f"{name}.rst"
        text = f"{name}\n{'=' * len(name)}\n\n.. automodule:: {name}\n"
        if not page.is_file() or page.read_text() != text:
            page.write_text(text)
    for stale in set(folder.glob("*.rst")) - {folder / f"{n}.rst" for n in names}:
        stale.unlink()


def drop_object_base(app, name, obj, options, bases):
    """No "Bases: object" under every plain class."""
    bases[:] = [base for base in bases if base is not object]


def setup(app):
    app.connect("builder-inited", write_module_pages)
    app.connect("autodoc-process-bases", drop_object_base)
    app.connect("missing-reference", resolve_reexport)
