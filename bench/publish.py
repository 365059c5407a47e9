"""Copy the saved benchmark reports (``docs/benchmarks/NAME.md``, written by a bench run with ``--save``) into the
README between ``<!-- bench: NAME -->`` and ``<!-- /bench -->``.

    python -m bench.publish [--check]

``--check`` changes nothing and exits with status 1, naming the blocks, where a block differs from its report or
names none.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from bench.report import REPORTS

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"(<!-- bench: (?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- /bench -->)", re.S)


def published(text: str) -> tuple[str, list[str]]:
    """``text`` with every block replaced by its report, and the problems: blocks whose report is missing."""
    missing = []

    def fill(match: re.Match) -> str:
        report = REPORTS / f"{match['name']}.md"
        if not report.is_file():
            missing.append(f"{match['name']}: no report {report.relative_to(README.parent)}")
            return match[0]
        return f"{match[1]}{report.read_text()}{match[4]}"

    return BLOCK.sub(fill, text), missing


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.publish", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; fail where the README is out of date")
    args = parser.parse_args()
    text = README.read_text()
    new, missing = published(text)
    stale = [m["name"] for m in BLOCK.finditer(text)
             if (REPORTS / f"{m['name']}.md").is_file() and m["body"] != (REPORTS / f"{m['name']}.md").read_text()]
    for problem in missing:
        print(problem, file=sys.stderr)
    if args.check:
        for name in stale:
            print(f"{name}: the README's block differs from docs/benchmarks/{name}.md; run python -m bench.publish",
                  file=sys.stderr)
        sys.exit(1 if stale or missing else 0)
    README.write_text(new)
    print(f"{len(stale)} block(s) updated: {', '.join(stale) or 'none'}")
    sys.exit(1 if missing else 0)


if __name__ == "__main__":
    main()
