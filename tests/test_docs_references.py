"""The repository cites only documents it contains, and only sections those documents have.

Users get the repository and nothing else, so a comment, a protocol reason or a doc page that
names ``SOMETHING.md`` must name a file that ships with it, and nothing may point at paths outside
it. Citations of the two reference pages carry a section (``docs/paper.md §10.4``,
``docs/formats.md §4 and P5``); that section must be a heading of the page. Headings are numbered
``## 10. Title``, ``### 10.4 Title`` and, for the file-format primitives of docs/formats.md,
``#### P5. Title``.

Each failure lists every offender as ``file:line: citation`` so that all of them can be fixed in
one pass.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Where documents may be cited from (folders and single files, relative to the root).
CITING = ("dpbench", "datasets", "docs", "baselines", "README.md")
#: Where section citations of docs/paper.md and docs/formats.md are looked for.
SECTION_CITING = (*CITING, "benchmarks", "tests")
#: The reference pages whose sections are cited, relative to the root.
SECTIONED_DOCS = ("docs/paper.md", "docs/formats.md")
#: Suggested replacements for documents that lived outside the repository.
KNOWN_MOVES = {
    "PAPER.md": "docs/paper.md",
    "FORMATS.md": "docs/formats.md",
    "DESIGN.md": "docs/ARCHITECTURE.md",
}

_SKIP_DIRS = {"__pycache__", "build", "dist", "node_modules", "venv", "runs"}
# A token ending in .md: a plain name (README.md), a relative path (docs/paper.md) or an absolute
# one (/somewhere/notes.md). "*.md" (a glob) is not a citation.
_MD_TOKEN = re.compile(r"(?<![\w./~-])([\w./~-]*[\w-]\.md)(?![\w-])")
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://\S+")
# A file that a command in the same file writes (``--out report.md``) is not a citation.
_OUTPUT = re.compile(r"--out[ =]+([\w./~-]+\.md)\b")
_PRIVATE = re.compile(r"\.\./shared|/work/")
_HEADING = re.compile(r"^#{2,4} (P\d+|\d+(?:\.\d+)*)\.?\s", re.MULTILINE)
_SECTION_REF = r"(?:§\s?\d+(?:\.\d+)*|P\d+\b)"
# Between the page and its sections, and between sections. A citation may wrap onto the next
# line of a comment, so "#" and ":" count as separators too.
_SEP = r"(?:[\s#:]*,[\s#:]*|[\s#:]+and[\s#:]+|[\s#:]+)"
_CITATION = re.compile(r"(docs/(?:paper|formats)\.md)`?((?:" + _SEP + _SECTION_REF + r")+)")
_SECTION = re.compile(r"§\s?(\d+(?:\.\d+)*)|\b(P\d+)\b")


def _walk(entries: tuple[str, ...]) -> Iterator[Path]:
    """Every file under ``entries`` (relative to the root), skipping caches and hidden folders."""
    for entry in entries:
        path = ROOT / entry
        if path.is_file():
            yield path
            continue
        for folder, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS
                             and not d.endswith(".egg-info"))
            for name in sorted(files):
                yield Path(folder) / name


def _text_lines(path: Path) -> list[str] | None:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (UnicodeDecodeError, OSError):
        return None  # binary data (images, archives) cites nothing


def _repo_names() -> set[str]:
    """Base names of every file in the repository."""
    names = set()
    for _folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS
                   and not d.endswith(".egg-info")]
        names.update(files)
    return names


def _exists(token: str, citing_file: Path, names: set[str]) -> bool:
    if token.startswith(("/", "~")):
        return False  # outside the repository by construction
    if "/" not in token:
        return token in names
    relative = token.removeprefix("./")
    return (ROOT / relative).is_file() or (citing_file.parent / relative).is_file()


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _md_offenders() -> list[str]:
    names = _repo_names()
    offenders = []
    for path in _walk(CITING):
        lines = _text_lines(path)
        if lines is None:
            continue
        outputs = set(_OUTPUT.findall("\n".join(lines)))
        for number, line in enumerate(lines, start=1):
            for match in _MD_TOKEN.finditer(_URL.sub(lambda m: " " * len(m.group()), line)):
                token = match.group(1)
                if token in outputs or _exists(token, path, names):
                    continue
                hint = KNOWN_MOVES.get(Path(token).name)
                offenders.append(f"{_rel(path)}:{number}: {token}" + (f" → {hint}" if hint else ""))
    return offenders


def test_cited_markdown_files_exist():
    offenders = _md_offenders()
    assert not offenders, (
        f"{len(offenders)} citation(s) of .md files the repository does not contain "
        "(cite a file in the repository, e.g. docs/paper.md §N or docs/formats.md §N):\n"
        + "\n".join(offenders)
    )


def test_no_paths_outside_the_repository():
    offenders = []
    for path in _walk(CITING):
        for number, line in enumerate(_text_lines(path) or [], start=1):
            for match in _PRIVATE.finditer(line):
                offenders.append(f"{_rel(path)}:{number}: {match.group()} in {line.strip()[:120]!r}")
    assert not offenders, (
        f"{len(offenders)} reference(s) to paths users do not have (../shared, /work/):\n"
        + "\n".join(offenders)
    )


def _sections(doc: str) -> set[str]:
    ids = _HEADING.findall((ROOT / doc).read_text(encoding="utf-8"))
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates, f"{doc}: section numbers used twice: {duplicates}"
    return set(ids)


def _line_of(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def _cited_sections(text: str) -> Iterator[tuple[int, str, str]]:
    """(line, doc, section id) for every section a citation in ``text`` names."""
    for match in _CITATION.finditer(text):
        for number, label in _SECTION.findall(match.group(2)):
            yield _line_of(text, match.start()), match.group(1), number or label


def test_reference_pages_have_numbered_sections():
    for doc in SECTIONED_DOCS:
        sections = _sections(doc)
        assert {"1", "2", "10"} <= sections, f"{doc}: expected numbered '## N. Title' headings"
    assert {f"P{i}" for i in range(1, 8)} <= _sections("docs/formats.md")


def test_cited_sections_exist():
    sections = {doc: _sections(doc) for doc in SECTIONED_DOCS}
    this_file = Path(__file__).resolve()
    offenders = []
    for path in _walk(SECTION_CITING):
        if path.resolve() == this_file:
            continue
        text = "\n".join(_text_lines(path) or [])
        for line, doc, section in _cited_sections(text):
            if section not in sections[doc]:
                offenders.append(f"{_rel(path)}:{line}: {doc} §{section}".replace("§P", "P"))
    # A bare "§N" inside a reference page refers to that page itself.
    for doc in SECTIONED_DOCS:
        text = (ROOT / doc).read_text(encoding="utf-8")
        text = _CITATION.sub(lambda m: "\n" * m.group().count("\n"), text)
        for match in _SECTION.finditer(text):
            section = match.group(1) or match.group(2)
            if match.group(2) and doc != "docs/formats.md":
                continue  # "P<n>" labels exist only in docs/formats.md
            if section not in sections[doc]:
                offenders.append(f"{doc}:{_line_of(text, match.start())}: §{section} "
                                 f"(a section of {doc} itself)".replace("§P", "P"))
    assert not offenders, (
        f"{len(offenders)} citation(s) of sections that do not exist (headings are "
        "'## N. Title', '### N.M Title', '#### Pn. Title'):\n" + "\n".join(offenders)
    )
