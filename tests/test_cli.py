"""The command-line entries (``python -m latentcore.evaluate``, ``tools.*``, ``bench.*``): every argparse parser
under latentcore/, tools/ and bench/ names its program as a user types it and gives every argument a help
text, checked in the source (ast; the bench scripts are not imported, some need matplotlib), and one real
``python -m latentcore.evaluate --help``."""

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# At least these entries: a parser that goes missing must fail the test, not shrink it.
ENTRIES = {"latentcore/evaluate/cli.py", "tools/import_weights.py", "tools/quality.py", "tools/train.py"}
BENCH_SCRIPTS = 13


def _module(path: Path) -> str:
    """What follows ``python -m`` to run ``path``: its package when the package's __main__.py imports its main
    (latentcore/evaluate/cli.py runs as latentcore.evaluate)."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    main = path.parent / "__main__.py"
    if main.is_file() and any(isinstance(node, ast.ImportFrom) and node.level == 1 and node.module == path.stem
                              for node in ast.walk(ast.parse(main.read_text()))):
        parts = parts[:-1]
    return ".".join(parts)


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    """Calls of ``name`` or ``anything.name``."""
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)
            and (getattr(node.func, "attr", None) == name or getattr(node.func, "id", None) == name)]


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def test_every_parser_names_its_program_and_helps_every_argument():
    found = set()
    for path in sorted(p for folder in ("latentcore", "tools", "bench") for p in (ROOT / folder).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        parsers = _calls(tree, "ArgumentParser")
        if not parsers:
            continue
        found.add(path.relative_to(ROOT).as_posix())
        for parser in parsers:
            prog = _keyword(parser, "prog")
            assert isinstance(prog, ast.Constant) and prog.value == f"python -m {_module(path)}", \
                f"{path}:{parser.lineno}: prog should be 'python -m {_module(path)}'"
        for argument in _calls(tree, "add_argument"):
            text = _keyword(argument, "help")
            # f-strings and concatenations are non-empty by construction; a constant must not be empty
            assert text is not None and not (isinstance(text, ast.Constant) and not text.value), \
                f"{path}:{argument.lineno}: add_argument without a help text"
    assert ENTRIES <= found, ENTRIES - found
    assert len([f for f in found if f.startswith("bench/")]) >= BENCH_SCRIPTS, found


def test_evaluate_help_names_the_program_and_explains_every_option():
    result = subprocess.run([sys.executable, "-m", "latentcore.evaluate", "--help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, check=True)
    text = result.stdout
    assert text.startswith("usage: python -m latentcore.evaluate"), text
    options = text.split("\noptions:\n", 1)[1].splitlines()
    entries = [i for i, line in enumerate(options) if re.match(r"  -", line)]
    assert len(entries) >= 10, text  # -h and the nine options
    for i in entries:
        # the help follows the option on its line after two spaces or more, else on the next line, indented deeper
        same_line = re.match(r"  -\S.*?\s{2,}\S", options[i])
        next_line = i + 1 < len(options) and re.match(r"   +\S", options[i + 1])
        assert same_line or next_line, f"no help for {options[i].strip()}"
