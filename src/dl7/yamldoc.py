"""YAML with locations: plain data plus the line of every node, and typed, strict mappings.

The manifest loader uses it so that every problem names file, line and field
(``curriculum.yaml:41: steps[1].notebooks[0].exercises[2].id: ...``).
"""

from __future__ import annotations

from typing import Any

import yaml

from dl7.errors import ManifestError

# libyaml's loader composes the manifest ~10x faster than the pure-Python one, with the same marks.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LocatedYaml:
    """A YAML document turned into plain data, with the line of every node kept by path."""

    def __init__(self, file: str, text: str) -> None:
        self.file = file
        self.lines: dict[tuple[Any, ...], int] = {}
        try:
            node = yaml.compose(text, Loader=_LOADER)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            problem = getattr(exc, "problem", None) or str(exc)
            raise ManifestError(file, line, "", f"not valid YAML: {problem}") from None
        self.data = self._build(node, ()) if node is not None else None

    def _build(self, node: yaml.Node, path: tuple[Any, ...]) -> Any:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = key_node.value
                if key in out:
                    raise ManifestError(
                        self.file, key_node.start_mark.line + 1, _field(path + (key,)), "duplicate key"
                    )
                out[key] = self._build(value_node, path + (key,))
                self.lines[path + (key,)] = key_node.start_mark.line + 1
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self._build(item, path + (i,)) for i, item in enumerate(node.value)]
        return yaml.SafeLoader("").construct_object(node, deep=True)

    def line(self, path: tuple[Any, ...]) -> int | None:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path)

    def error(self, path: tuple[Any, ...], problem: str, hint: str = "") -> ManifestError:
        return ManifestError(self.file, self.line(path), _field(path), problem, hint=hint)


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
