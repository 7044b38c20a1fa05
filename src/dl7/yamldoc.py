"""YAML with locations: plain data plus the line of every node, and typed, strict mappings.

The manifest loader uses it so that every problem names file, line and field
(``curriculum.yaml:41: steps[1].notebooks[0].exercises[2].id: ...``).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from dl7.errors import ManifestError

# libyaml's loader composes the manifest ~10x faster than the pure-Python one, with the same marks.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Limits far above any real course (the seven-step manifest is 36 KB, ~2,000 nodes, 7 levels
# deep) and far below what could make loading slow: a hostile manifest fails in milliseconds.
MAX_BYTES = 1 << 20
MAX_NODES = 100_000
MAX_DEPTH = 32

# Where an anchor (&name) or alias (*name) could start: only then is the event scan needed.
_MAYBE_ANCHOR = re.compile(r"(?:^|[\s\[\]{},])[&*][^\s,\[\]{}]", re.MULTILINE)


class LocatedYaml:
    """A YAML document turned into plain data, with the line of every node kept by path.

    Anchors and aliases are refused: a manifest is a tree, and an alias graph walked as a
    tree grows exponentially (nine nested aliases in 300 bytes make 9**9 strings). Keys must
    be plain values; the text, the number of nodes and their depth are bounded.
    """

    def __init__(self, file: str, text: str) -> None:
        self.file = file
        self.lines: dict[tuple[Any, ...], int] = {}
        if len(text) > MAX_BYTES or (len(text) > MAX_BYTES // 4 and len(text.encode()) > MAX_BYTES):
            raise ManifestError(
                file, None, "", f"too large: a manifest may have at most {MAX_BYTES // 1024} KiB"
            )
        if _MAYBE_ANCHOR.search(text):
            _refuse_anchors(file, text)
        try:
            node = yaml.compose(text, Loader=_LOADER)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            problem = getattr(exc, "problem", None) or str(exc)
            raise ManifestError(file, line, "", f"not valid YAML: {problem}") from None
        self._constructor = yaml.constructor.SafeConstructor()
        self._seen: set[int] = set()  # ids of the nodes walked: an alias is a node met twice
        self.data = self._build(node, (), 0) if node is not None else None
        del self._constructor, self._seen

    def _visit(self, node: yaml.Node, path: tuple[Any, ...], depth: int) -> None:
        line = node.start_mark.line + 1
        if id(node) in self._seen:
            raise ManifestError(self.file, line, _field(path), _ANCHORS)
        self._seen.add(id(node))
        if len(self._seen) > MAX_NODES:
            raise ManifestError(self.file, line, _field(path), f"too many values (over {MAX_NODES})")
        if depth > MAX_DEPTH:
            raise ManifestError(self.file, line, _field(path), f"nested too deeply (over {MAX_DEPTH} levels)")

    def _build(self, node: yaml.Node, path: tuple[Any, ...], depth: int) -> Any:
        self._visit(node, path, depth)
        self.lines[path] = node.start_mark.line + 1
        if not isinstance(node, yaml.ScalarNode) and node.tag not in _COLLECTION_TAGS:
            raise ManifestError(
                self.file, self.lines[path], _field(path), f"not a valid value (unsupported tag {node.tag})"
            )
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                line = key_node.start_mark.line + 1
                if not isinstance(key_node, yaml.ScalarNode):
                    kind = "a list" if isinstance(key_node, yaml.SequenceNode) else "a mapping"
                    raise ManifestError(
                        self.file, line, _field(path), f"a key must be a plain value, not {kind}"
                    )
                self._visit(key_node, path, depth + 1)
                key = without_controls(key_node.value)
                if key in out:
                    raise ManifestError(self.file, line, _field(path + (key,)), "duplicate key")
                out[key] = self._build(value_node, path + (key,), depth + 1)
                self.lines[path + (key,)] = line
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self._build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        try:
            value = self._constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            problem = getattr(exc, "problem", None) or str(exc)
            raise ManifestError(
                self.file, node.start_mark.line + 1, _field(path), f"not a valid value ({problem})"
            ) from None
        return without_controls(value) if isinstance(value, str) else value

    def line(self, path: tuple[Any, ...]) -> int | None:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path)

    def error(self, path: tuple[Any, ...], problem: str, hint: str = "") -> ManifestError:
        return ManifestError(self.file, self.line(path), _field(path), problem, hint=hint)


_COLLECTION_TAGS = {"tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"}

# C0 controls but tab and newline, DEL, C1 controls (0x9b is a one-byte CSI on some terminals),
# and the bidirectional overrides that make text read in another order than it runs.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def without_controls(text: str) -> str:
    """``text`` with every control character removed: a manifest's strings reach the learner's
    terminal, and an escape sequence there could rewrite the screen or the clipboard (OSC 52)."""
    return _CONTROLS.sub("", text) if _CONTROLS.search(text) else text


_ANCHORS = "YAML anchors and aliases are not supported in a manifest; write each value out"


def _refuse_anchors(file: str, text: str) -> None:
    """Refuse the first anchor or alias, at its line (a parse error is left to the composer)."""
    try:
        for event in yaml.parse(text, Loader=_LOADER):
            name = getattr(event, "anchor", None)
            if name is not None:
                sigil = "*" if isinstance(event, yaml.AliasEvent) else "&"
                line = event.start_mark.line + 1 if event.start_mark else None
                raise ManifestError(file, line, "", f"{sigil}{name}: {_ANCHORS}")
    except yaml.YAMLError:
        return


def _field(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class Mapping:
    """Typed access to one mapping of the document, refusing unknown keys."""

    def __init__(self, doc: LocatedYaml, path: tuple[Any, ...], value: Any, allowed: set[str]) -> None:
        if not isinstance(value, dict):
            raise doc.error(path, f"expected a mapping, got {_kind(value)}")
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise doc.error(
                path + (unknown[0],), "unknown key", hint=f"allowed here: {', '.join(sorted(allowed))}"
            )
        self.doc, self.path, self.value = doc, path, value

    def get(
        self, key: str, kind: type | tuple[type, ...], *, required: bool = True, default: Any = None
    ) -> Any:
        if key not in self.value or self.value[key] is None:
            if required:
                raise self.doc.error(self.path, f"missing required key {key!r}")
            return default
        value = self.value[key]
        if kind is int and isinstance(value, bool):
            raise self.doc.error(self.path + (key,), "expected an integer, got a boolean")
        if not isinstance(value, kind):
            want = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.doc.error(self.path + (key,), f"expected {_article(want)}, got {_kind(value)}")
        if isinstance(value, str) and required and not value.strip():
            raise self.doc.error(self.path + (key,), "must not be empty")
        return value

    def items(self, key: str, *, required: bool = True) -> list[tuple[tuple[Any, ...], Any]]:
        value = self.get(key, list, required=required, default=[])
        return [(self.path + (key, i), item) for i, item in enumerate(value)]

    def positive(self, key: str, default: int) -> int:
        value = self.get(key, int, required=False, default=default)
        if value <= 0:
            raise self.doc.error(self.path + (key,), "must be a positive number of seconds")
        return int(value)


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", type(None): "nothing"}.get(
        type(value), _article(type(value).__name__)
    )


def _article(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"
