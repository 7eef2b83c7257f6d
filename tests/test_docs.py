"""The README and the pages in docs/ link only to what exists: every relative link names a file or folder of the
repository, and every link to a section names a heading of the page it points to."""

import glob
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = [
    "README.md",
    *sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True)),
]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def anchors(path):
    """GitHub's anchors of a Markdown file's headings: lower case, punctuation dropped, spaces as hyphens."""
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    headings = re.findall(r"^#+\s+(.*?)\s*$", text, flags=re.M)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def links(page):
    text = open(os.path.join(ROOT, page), encoding="utf-8").read()
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # commands, not links
    return [target for target in LINK.findall(text) if not re.match(r"[a-z]+:", target)]


@pytest.mark.parametrize("page", PAGES)
def test_every_relative_link_resolves(page):
    for target in links(page):
        path, _, anchor = target.partition("#")
        resolved = (
            os.path.normpath(os.path.join(ROOT, os.path.dirname(page), path)) if path else os.path.join(ROOT, page)
        )
        assert os.path.exists(resolved), f"{page}: {target} does not exist"
        if anchor and resolved.endswith(".md"):
            assert anchor in anchors(resolved), (
                f"{page}: {target} names no heading of {os.path.relpath(resolved, ROOT)}"
            )


def test_the_checker_sees_a_broken_link(tmp_path, monkeypatch):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[ok](#title) [gone](missing.png) [far](https://example.org/x)\n")
    monkeypatch.setattr("tests.test_docs.ROOT", str(tmp_path))
    assert links("page.md") == ["#title", "missing.png"]
    with pytest.raises(AssertionError, match="missing.png does not exist"):
        test_every_relative_link_resolves("page.md")
