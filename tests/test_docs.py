"""The repository cites its own docs/, never notes users do not have, and every cited page and anchor exists."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"

INTERNAL_NOTES = re.compile(r"design\.md", re.IGNORECASE)
"""The maintainers' design notes: they live outside the repository, so nothing in it may cite them."""

DOCS_CITATION = re.compile(r"docs/([A-Za-z0-9_.-]+\.md)(?:#([A-Za-z0-9_-]+))?")
"""``docs/<page>.md`` or ``docs/<page>.md#<anchor>``, wherever it appears (docstrings, comments, Markdown)."""

RELATIVE_LINK = re.compile(r"\]\(([A-Za-z0-9_.-]+\.md)?(?:#([A-Za-z0-9_-]+))?\)")
"""A Markdown link from one docs page to another (``[text](labels.md#notations)``) or within it (``(#files)``)."""

INDEX_INSTALL = re.compile(r"pip install\s+['\"]?genimage-cl\b")
"""An install from a package index: genimage-cl is on none yet, so installs name the checkout (``pip install -e .``)."""

HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^ {0,3}(```|~~~)")


def tracked_files() -> list[Path]:
    """The repository's tracked files (git), or every file outside hidden folders and virtual environments."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
        paths = [REPO / name for name in listed.decode().split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        paths = [p for p in REPO.rglob("*")
                 if not any(part.startswith(".") or part == "__pycache__" for part in p.relative_to(REPO).parts)]
    return [p for p in paths if p.is_file() and not p.is_symlink()]


def text_of(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None  # binary or unreadable: cites nothing


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: link targets and code marks dropped, lowercase, punctuation
    removed (letters, digits, ``_`` and ``-`` stay), each space a hyphen."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading anchor of a Markdown page; repeated headings get ``-1``, ``-2``, ... as on GitHub."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    in_fence = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        match = None if in_fence else HEADING.match(line)
        if match:
            base = github_anchor(match.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def tracked_lines():
    """(path, line number, line) of every tracked text file."""
    for path in tracked_files():
        text = text_of(path)
        if text is not None:
            for number, line in enumerate(text.splitlines(), 1):
                yield path, number, line


def citations() -> list[tuple[str, Path, str | None]]:
    """(where, page, anchor) for every docs/ citation in the repository and every link between docs pages."""
    cited = []
    for path, number, line in tracked_lines():
        where = f"{path.relative_to(REPO)}:{number}"
        for match in DOCS_CITATION.finditer(line):
            cited.append((where, DOCS / match.group(1), match.group(2)))
        if path.parent == DOCS and path.suffix == ".md":
            for match in RELATIVE_LINK.finditer(line):
                cited.append((where, DOCS / match.group(1) if match.group(1) else path, match.group(2)))
    return cited


def missing_citations(cited) -> list[str]:
    problems = []
    for where, page, anchor in cited:
        if not page.is_file():
            problems.append(f"{where}: docs/{page.name} does not exist")
        elif anchor is not None and anchor not in anchors(page):
            problems.append(f"{where}: docs/{page.name} has no heading with the anchor #{anchor}")
    return problems


def test_nothing_cites_the_internal_design_notes():
    hits = [f"{path.relative_to(REPO)}:{number}: {line.strip()}" for path, number, line in tracked_lines()
            if INTERNAL_NOTES.search(line)]
    assert not hits, "cite docs/<page>.md#<anchor> instead of the internal notes:\n" + "\n".join(hits)


def test_installs_name_the_checkout_until_the_package_is_on_an_index():
    hits = [f"{path.relative_to(REPO)}:{number}: {line.strip()}" for path, number, line in tracked_lines()
            if INDEX_INSTALL.search(line)]
    assert not hits, "say pip install -e '.[extra]' (from the checkout):\n" + "\n".join(hits)


def test_every_cited_docs_page_and_anchor_exists():
    cited = citations()
    assert len(cited) > 20  # the code and tests do cite docs/
    problems = missing_citations(cited)
    assert not problems, "\n".join(problems)


def test_docs_index_lists_every_page():
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    pages = sorted(p.name for p in DOCS.glob("*.md") if p.name != "README.md")
    assert pages and all(f"]({name})" in index for name in pages)


@pytest.mark.parametrize("heading, anchor", [
    ("Pixel pipeline", "pixel-pipeline"),
    ("Zip parts and checksums", "zip-parts-and-checksums"),
    ("Labels in `y.pt`", "labels-in-ypt"),
    ("How the package reproduces it", "how-the-package-reproduces-it"),
    ("The [paper](https://example.org)'s loader", "the-papers-loader"),
    ("task_label, 0..99", "task_label-099"),
])
def test_github_anchor_rule(heading, anchor):
    assert github_anchor(heading) == anchor


def test_a_bad_citation_is_reported(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n## Files\n\n```\n## not a heading\n```\n\n## Files\n")
    assert anchors(page) == {"title", "files", "files-1"}
    cited = [("x.py:1", page, "files"), ("x.py:2", page, "files-1"), ("x.py:3", page, "not-a-heading"),
             ("x.py:4", tmp_path / "absent.md", None)]
    assert missing_citations(cited) == [f"x.py:3: {DOCS.name}/page.md has no heading with the anchor #not-a-heading",
                                        f"x.py:4: {DOCS.name}/absent.md does not exist"]
