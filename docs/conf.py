"""Sphinx configuration of the Latent Explorer documentation (MyST Markdown pages, furo, the API from docstrings).

    python -m sphinx -W -n -b html docs docs/_build/html
"""

from __future__ import annotations

import builtins
import importlib
import inspect
import pkgutil
import re
import sys
from pathlib import Path

from sphinx.pycode import ModuleAnalyzer

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


def defined_in(package, name: str, modules: list[str]) -> str:
    """The full name of what ``package`` exports as ``name``, in the module that defines it: a class's or a
    function's own module (a cached function's too), else the module whose source assigns ``name`` (a registry, a
    constant)."""
    obj = getattr(package, name)
    if inspect.isclass(obj) or inspect.isfunction(inspect.unwrap(obj)):
        return f"{obj.__module__}.{obj.__qualname__}"
    assigned = re.compile(rf"^{re.escape(name)}\s*[:=]", re.M)
    for module in modules:
        loaded = importlib.import_module(module)
        if getattr(loaded, name, MISSING) is obj and assigned.search(inspect.getsource(loaded)):
            return f"{module}.{name}"
    raise ValueError(f"{package.__name__}.{name}: no module of latentcore defines it")


ROLE = re.compile(r":(?:\w+:)*\w+:`~?\.?(?:[^`<]*<)?([^`>]+)>?`")


def summary(full_name: str, obj) -> str:
    """The first sentence of ``obj``'s docstring (of a constant, its ``#:`` comment), its cross-references as plain
    literals (it is shown out of its module, where short names would not resolve)."""
    if callable(obj):  # a class or a function
        doc = inspect.getdoc(obj) or ""
    else:
        module, name = full_name.rsplit(".", 1)
        doc = "\n".join(ModuleAnalyzer.for_module(module).find_attr_docs().get(("", name), []))
    lines = []
    for line in doc.splitlines():
        if not line.strip():
            break
        lines.append(line.strip())
    text = ROLE.sub(lambda m: f"``{m[1].rsplit('.', 1)[-1]}``", " ".join(lines))
    return text.split(". ", 1)[0].rstrip(".") + "." if text else ""


def module_page(name: str, modules: list[str]) -> str:
    """A module's page: its docstring and members; then, for a package, a table of the names it exports."""
    text = f"{name}\n{'=' * len(name)}\n\n.. automodule:: {name}\n"
    package = importlib.import_module(name)
    if hasattr(package, "__path__") and hasattr(package, "__all__"):
        rows = []
        for exported in package.__all__:
            full_name = defined_in(package, exported, modules)
            rows.append(f"   * - :py:obj:`~{full_name}`\n     - {summary(full_name, getattr(package, exported))}\n")
        text += (f"\n.. rubric:: What ``{name}`` exports\n\nEach is documented in the module that defines it.\n\n"
                 f".. list-table::\n   :widths: 1 3\n\n{''.join(rows)}")
    return text


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
        text = module_page(name, names)
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
