"""The README and docs/ link to each other by heading anchors: every relative link must reach a file, and every
#anchor a heading of the file it names (GitHub's anchors: lower case, punctuation dropped, spaces to hyphens)."""
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(path: Path) -> set[str]:
    found, seen, code = set(), {}, False
    for line in path.read_text().splitlines():
        code ^= line.startswith("```")
        heading = re.match(r"#{1,6} (.*)", line)
        if heading and not code:
            slug = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            found.add(slug if n == 0 else f"{slug}-{n}")
    return found


def test_slug_follows_github() -> None:
    page = REPO / "README.md"
    assert "the-shipped-qm9-model-model-card" in anchors(page)
    assert "one-ge-for-molecules-and-crystals-joint-qm9--perov-5-issue-13" in anchors(REPO / "docs" / "crystals.md")


@pytest.mark.parametrize("page", DOCS, ids=lambda p: p.name)
def test_links_resolve(page: Path) -> None:
    broken = []
    for target in LINK.findall(page.read_text()):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists() or (anchor and anchor not in anchors(dest)):
            broken.append(target)
    assert not broken, f"{page.name}: links that lead nowhere: {broken}"
