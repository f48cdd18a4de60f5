"""The repository carries its own documentation: code points at docs/, and what it cites there exists."""

import re
import subprocess

from tests.conftest import ROOT

DOCS = ("metrics", "contract", "architecture")
# Documents that live outside the repository (a user who clones it has none of them).
OUTSIDE = re.compile(r"\b(?:METRICS|CONTRACT|STYLE|PRODUCT)\.md\b|\.\./shared/(?!samples\b)")
# `docs/metrics.md "Release gate"`, `docs/metrics.md, settled detail 7`, `docs/contract.md section 3`
CITATION = re.compile(
    r'docs/(?P<doc>metrics|contract|architecture)\.md,? (?:"(?P<title>[^"]+)"|settled details? (?P<detail>\d+)'
    r"|section (?P<section>\d+))"
)


def _tracked_text() -> dict[str, str]:
    names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    texts = {}
    for name in names:
        if name.startswith(("docs/", "data/", "tests/fixtures/")) or not name.endswith(
            (".py", ".sql", ".yml", ".yaml", ".md", ".ipynb", ".toml")
        ):
            continue
        texts[name] = (ROOT / name).read_text(encoding="utf-8")
    return texts


def _headings(doc: str) -> list[str]:
    text = (ROOT / "docs" / f"{doc}.md").read_text(encoding="utf-8")
    return [line.lstrip("#").strip() for line in text.splitlines() if line.startswith("#")]


def test_the_three_documents_exist_and_the_readme_links_them():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for doc in DOCS:
        assert (ROOT / "docs" / f"{doc}.md").is_file()
        assert f"docs/{doc}.md" in readme


def test_nothing_points_at_documents_outside_the_repository():
    offenders = [
        f"{name}:{number}: {line.strip()}"
        for name, text in _tracked_text().items()
        for number, line in enumerate(text.splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert offenders == []


def test_every_cited_section_exists():
    headings = {doc: _headings(doc) for doc in DOCS}
    missing = []
    for name, text in _tracked_text().items():
        for match in CITATION.finditer(text):
            _doc, found = match["doc"], headings[match["doc"]]
            if match["title"]:
                # a title may wrap onto the next comment line
                ok = re.sub(r"\s*\n\s*(?:--|#)?\s*", " ", match["title"]) in found
            elif match["detail"]:
                ok = any(h.startswith(f"{match['detail']}. ") for h in found)
            else:
                ok = any(h.startswith(f"{match['section']}. ") for h in found)
            if not ok:
                missing.append(f"{name}: {match[0]}")
    assert missing == []
