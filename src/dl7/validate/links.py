"""Links in a notebook's markdown: every one is a well-formed web address or a relative path
that exists, so a learner never meets ``[Caffe LeNet]({CAFFE})`` or a link to a file that
was renamed.

Only syntax and local files are checked; nothing is fetched (validate runs offline). Code
spans and fenced code blocks are skipped: a link shown as code is not a link.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from dl7.authoring import cell_source

# [text](target "title") and ![alt](target); the target may hold one level of balanced
# parentheses, as Wikipedia addresses do.
_INLINE = re.compile(
    r"!?\[(?P<text>[^\]]*)\]\(\s*(?P<target><[^>]*>|(?:[^()\s]|\([^()\s]*\))*)(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)"
)
_AUTOLINK = re.compile(r"<(?P<target>[A-Za-z][A-Za-z0-9+.-]*:[^<>\s]*)>")
_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
_WEB = {"http", "https"}
_OTHER_SCHEMES = {"mailto"}


@dataclass(frozen=True)
class BadLink:
    cell: int  # from 1, as every message counts cells
    line: int  # from 1, within the cell
    text: str
    target: str
    why: str

    def __str__(self) -> str:
        return f"cell {self.cell}, line {self.line}: link [{self.text}]({self.target}) {self.why}"


def bad_links(nb: dict[str, Any], notebook_path: Path) -> list[BadLink]:
    """Every link in the markdown cells of ``nb`` that is neither a well-formed http(s) or
    mailto address nor a relative path that exists next to ``notebook_path``."""
    found: list[BadLink] = []
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "markdown":
            continue
        for lineno, line in _prose_lines(cell_source(cell)):
            for text, target in _links(line):
                why = _problem(target, notebook_path.parent)
                if why:
                    found.append(BadLink(index + 1, lineno, text, target, why))
    return found


def _prose_lines(source: str) -> list[tuple[int, str]]:
    """(line number, line without code spans) for every line outside fenced code blocks."""
    out: list[tuple[int, str]] = []
    fence: str | None = None
    for lineno, line in enumerate(source.splitlines(), start=1):
        opening = _FENCE.match(line)
        if fence is not None:
            if opening and opening.group(1) == fence:
                fence = None
            continue
        if opening:
            fence = opening.group(1)
            continue
        out.append((lineno, _CODE_SPAN.sub("", line)))
    return out


def _links(line: str) -> list[tuple[str, str]]:
    found = [(m.group("text"), m.group("target")) for m in _INLINE.finditer(line)]
    found += [(m.group("target"), m.group("target")) for m in _AUTOLINK.finditer(line)]
    return found


def _problem(target: str, folder: Path) -> str | None:
    if target.startswith("<") and target.endswith(">"):
        target = target[1:-1]
    if not target:
        return "has an empty address"
    if "{" in target or "}" in target:
        return "holds a placeholder that was never filled in"
    if target.startswith("#"):
        return None  # a heading of this notebook; Jupyter makes the anchors
    parts = urlsplit(target)
    scheme = parts.scheme.lower()
    if scheme in _WEB:
        host = parts.hostname or ""
        if not host or ("." not in host and host != "localhost") or " " in target:
            return "is not a well-formed web address"
        return None
    if scheme in _OTHER_SCHEMES:
        return None if parts.path else "is not a well-formed address"
    if scheme and len(scheme) > 1:  # a one-letter "scheme" is a Windows drive: a path
        return f"uses {scheme}:, which a learner's browser cannot follow; use https: or a relative path"
    if target.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", target):
        return "is an absolute path, which exists only on the author's machine; use a relative path"
    relative = unquote(parts.path)
    if not relative:
        return None  # only a query or a fragment
    if not (folder / relative).exists():
        return f"points to {relative}, which does not exist next to the notebook"
    return None
