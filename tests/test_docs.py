"""The documentation's figures are the benches' own saved reports, included as they are, and the README's links
lead somewhere. (The site itself is built with warnings as errors and nitpicky references by the README's docs
command, which fails on a dangling cross-reference, a missing page, image or included file.)"""

import re
from pathlib import Path

from bench.report import REPORTS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
INCLUDE = re.compile(r"^```\{include\} (?P<path>\S+)$", re.M)
LINK = re.compile(r"\]\((?P<target>[^)#\s]+)(?:#[^)]*)?\)")


def included_reports() -> dict[str, list[str]]:
    """Saved report file name -> the pages that include it."""
    found: dict[str, list[str]] = {}
    for page in DOCS.glob("*.md"):
        for match in INCLUDE.finditer(page.read_text()):
            target = (page.parent / match["path"]).resolve()
            if target.parent == REPORTS:
                found.setdefault(target.name, []).append(page.name)
    return found


def test_every_saved_report_is_included_by_a_page_and_says_how_it_was_made():
    included = included_reports()
    saved = sorted(p.name for p in REPORTS.glob("*.md"))
    assert len(saved) >= 20
    assert sorted(included) == saved, f"not included anywhere: {sorted(set(saved) - set(included))}"
    for name in saved:
        assert (REPORTS / name).read_text().startswith("Made by `python -m bench."), f"{name}: how was it made?"


def test_every_include_names_a_file_that_exists():
    for page in DOCS.glob("*.md"):
        for match in INCLUDE.finditer(page.read_text()):
            assert (page.parent / match["path"]).is_file(), f"{page.name} includes a missing {match['path']}"


def test_the_readme_is_short_and_its_links_lead_to_files_that_exist():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 150
    targets = [m["target"] for m in LINK.finditer(text) if not m["target"].startswith(("http://", "https://"))]
    assert len(targets) >= 10
    for target in targets:
        assert (ROOT / target).exists(), f"README links to a missing {target}"
    # ri_optimal_models.md is a table bench.figures.ri_optimal writes, which docs/ri-optimal.md includes
    pages = {f"docs/{p.name}" for p in DOCS.glob("*.md") if p.name not in ("index.md", "ri_optimal_models.md")}
    assert pages <= set(targets), f"pages the README does not link to: {sorted(pages - set(targets))}"
