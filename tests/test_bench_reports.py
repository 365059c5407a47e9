"""The README's benchmark tables are the benches' own saved reports (bench.report, bench.publish), never typed."""

from bench.publish import BLOCK, README, published
from bench.report import REPORTS


def test_every_benchmark_block_of_the_readme_is_its_saved_report():
    text = README.read_text()
    blocks = list(BLOCK.finditer(text))
    assert len(blocks) >= 7
    for block in blocks:
        report = REPORTS / f"{block['name']}.md"
        assert report.is_file(), f"{block['name']}: no saved report in docs/benchmarks"
        saved = report.read_text()
        assert saved.startswith("Made by `python -m bench."), f"{report.name} does not say how it was made"
        assert block["body"] == saved, f"{block['name']}: out of date; run python -m bench.publish"
    assert published(text) == (text, [])


def test_publishing_replaces_a_typed_table_with_the_report():
    name = BLOCK.search(README.read_text())["name"]
    typed = f"before\n<!-- bench: {name} -->\n| a typed | table |\n<!-- /bench -->\nafter\n"
    text, missing = published(typed)
    assert missing == [] and "| a typed |" not in text and (REPORTS / f"{name}.md").read_text() in text
    assert published("<!-- bench: no-such -->\nx\n<!-- /bench -->\n")[1] == [
        "no-such: no report docs/benchmarks/no-such.md"]
