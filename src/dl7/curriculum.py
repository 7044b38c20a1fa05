"""The course manifest (``curriculum.yaml``): schema, loading, and cross-checks.

Loading gives a typed, frozen :class:`Curriculum` in which every id is unique, every path
lies inside the course root and exists, every reading reference resolves, and every exercise
has a registered checker. Every problem is a :class:`ManifestError` naming the file, the line
and the field (``curriculum.yaml:41: steps[1].notebooks[0].exercises[2].id: ...``).

Checker registration is found statically (``@checker("id")`` decorators found in the source),
so loading a manifest never imports numpy, TensorFlow or the course's checker code.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dl7.errors import Dl7Error, ManifestError

FORMAT_VERSION = 1
CURRICULUM_ENV = "DL7_CURRICULUM"
_ID = re.compile(r"^[a-z][a-z0-9_-]*$")
_EXERCISE_ID = re.compile(r"^[a-z][a-z0-9_-]*\.[a-z_][a-z0-9_]*$")

# libyaml's loader composes the manifest ~10x faster than the pure-Python one, with the same marks.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

DEFAULT_CELL_TIMEOUT = 120
DEFAULT_BUDGET = 600


@dataclass(frozen=True)
class Reading:
    id: str
    title: str
    author: str
    kind: str
    url: str
    minutes: int
    optional: bool = False


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    reading: str | None
    hints: tuple[str, ...]
    notebook: str  # the notebook's path relative to the course root

    @property
    def name(self) -> str:
        return self.id.split(".", 1)[1]


@dataclass(frozen=True)
class Notebook:
    path: str  # relative to the course root, POSIX separators
    title: str
    cell_timeout: int
    budget: int
    exercises: tuple[Exercise, ...]
    step: str

    @property
    def name(self) -> str:
        return Path(self.path).stem


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    summary: str
    readings: tuple[Reading, ...]
    notebooks: tuple[Notebook, ...]

    @property
    def exercises(self) -> tuple[Exercise, ...]:
        return tuple(e for nb in self.notebooks for e in nb.exercises)

    @property
    def number(self) -> str:
        return self.id.removeprefix("step")


@dataclass(frozen=True)
class Curriculum:
    path: Path  # the manifest file
    id: str
    title: str
    description: str
    checkers: tuple[str, ...]  # dotted module names, or absolute paths of .py files
    steps: tuple[Step, ...]
    source: dict[str, str] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.path.parent

    def step(self, ref: str) -> Step:
        """The step called ``ref``; ``5`` is accepted for ``step5``."""
        ref = ref.strip()
        for candidate in (ref, f"step{ref}"):
            for step in self.steps:
                if step.id == candidate:
                    return step
        known = ", ".join(s.id for s in self.steps)
        raise Dl7Error(f"unknown step {ref!r}", hint=f"steps in this course: {known}")

    def notebook(self, step: Step, ref: str | None) -> tuple[Notebook, ...]:
        """All of a step's notebooks, or the one matching ``ref`` (file name, stem or path)."""
        if ref is None:
            return step.notebooks
        for nb in step.notebooks:
            if ref in (nb.path, Path(nb.path).name, nb.name):
                return (nb,)
        known = ", ".join(nb.name for nb in step.notebooks) or "none"
        raise Dl7Error(f"step {step.id} has no notebook {ref!r}", hint=f"its notebooks: {known}")

    def exercise(self, exercise_id: str) -> Exercise:
        for step in self.steps:
            for ex in step.exercises:
                if ex.id == exercise_id:
                    return ex
        raise Dl7Error(f"unknown exercise {exercise_id!r}")

    def source_path(self, nb: Notebook) -> Path:
        return self.root / nb.path

    @property
    def notebooks(self) -> Iterator[Notebook]:
        for step in self.steps:
            yield from step.notebooks


# -- locating -------------------------------------------------------------------------------


def default_path() -> Path:
    """The seven-step course: inside the installed package, or the source checkout's root."""
    packaged = Path(__file__).resolve().parent / "course" / "curriculum.yaml"
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parents[2] / "curriculum.yaml"


def resolve_path(explicit: str | os.PathLike[str] | None) -> Path:
    chosen = explicit or os.environ.get(CURRICULUM_ENV)
    if not chosen:
        return default_path()
    path = Path(chosen).expanduser()
    if path.is_dir():
        path = path / "curriculum.yaml"
    return path.resolve()


# -- loading --------------------------------------------------------------------------------


class _Doc:
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


class _Reader:
    """Typed access to one mapping of the document, refusing unknown keys."""

    def __init__(self, doc: _Doc, path: tuple[Any, ...], value: Any, allowed: set[str]) -> None:
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


def load(path: str | os.PathLike[str] | None = None) -> Curriculum:
    """Load and cross-check a manifest; the default is the seven-step course."""
    manifest = resolve_path(path)
    shown = str(manifest)
    try:
        text = manifest.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise Dl7Error(
            f"curriculum not found: {shown}", hint="pass --curriculum PATH to a curriculum.yaml"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise Dl7Error(f"cannot read curriculum {shown}: {exc}") from None
    doc = _Doc(shown, text)
    return _parse(doc, manifest)


def _parse(doc: _Doc, manifest: Path) -> Curriculum:
    root_keys = {"format", "id", "title", "description", "source", "checkers", "defaults", "steps"}
    top = _Reader(doc, (), doc.data, root_keys)
    version = top.get("format", int)
    if version != FORMAT_VERSION:
        raise doc.error(("format",), f"unsupported format {version}; this dl7 reads format {FORMAT_VERSION}")
    course_id = top.get("id", str)
    if not _ID.match(course_id):
        raise doc.error(("id",), f"{course_id!r} is not a valid id (lowercase letters, digits, - and _)")
    source = top.get("source", dict, required=False, default={})
    defaults = _Reader(
        doc, ("defaults",), top.get("defaults", dict, required=False, default={}), {"cell_timeout", "budget"}
    )
    cell_timeout = defaults.positive("cell_timeout", DEFAULT_CELL_TIMEOUT)
    budget = defaults.positive("budget", DEFAULT_BUDGET)
    root = manifest.parent.resolve()

    checkers: list[str] = []
    for cpath, spec in top.items("checkers", required=False):
        if not isinstance(spec, str) or not spec.strip():
            raise doc.error(cpath, "expected a module name or a path to a .py file")
        checkers.append(_checker_spec(doc, cpath, spec, root))
    registered = _registered_ids(doc, checkers)

    seen: dict[str, tuple[Any, ...]] = {}

    def unique(kind: str, value: str, path: tuple[Any, ...]) -> None:
        if value in seen:
            raise doc.error(
                path, f"duplicate {kind} id {value!r} (first used at line {doc.line(seen[value])})"
            )
        seen[value] = path

    steps: list[Step] = []
    reading_ids: set[str] = set()
    pending_refs: list[tuple[tuple[Any, ...], str]] = []
    notebook_paths: dict[str, tuple[Any, ...]] = {}
    for spath, sval in top.items("steps"):
        s = _Reader(doc, spath, sval, {"id", "title", "summary", "readings", "notebooks"})
        step_id = s.get("id", str)
        if not _ID.match(step_id):
            raise doc.error(
                spath + ("id",), f"{step_id!r} is not a valid id (lowercase letters, digits, - and _)"
            )
        unique("step", step_id, spath + ("id",))
        readings: list[Reading] = []
        for rpath, rval in s.items("readings", required=False):
            r = _Reader(doc, rpath, rval, {"id", "title", "author", "kind", "url", "minutes", "optional"})
            rid = r.get("id", str)
            unique("reading", rid, rpath + ("id",))
            reading_ids.add(rid)
            url = r.get("url", str)
            if not url.startswith(("http://", "https://")):
                raise doc.error(rpath + ("url",), f"{url!r} is not an http(s) URL")
            minutes = r.get("minutes", int)
            if minutes <= 0:
                raise doc.error(rpath + ("minutes",), "must be a positive number of minutes")
            readings.append(
                Reading(
                    rid,
                    r.get("title", str),
                    r.get("author", str),
                    r.get("kind", str),
                    url,
                    minutes,
                    bool(r.get("optional", bool, required=False, default=False)),
                )
            )
        notebooks: list[Notebook] = []
        for npath, nval in s.items("notebooks", required=False):
            n = _Reader(doc, npath, nval, {"path", "title", "cell_timeout", "budget", "exercises"})
            rel = n.get("path", str)
            _check_notebook_path(doc, npath + ("path",), rel, root)
            if rel in notebook_paths:
                raise doc.error(npath + ("path",), f"notebook {rel} is listed twice")
            notebook_paths[rel] = npath
            exercises: list[Exercise] = []
            for epath, evalue in n.items("exercises"):
                e = _Reader(doc, epath, evalue, {"id", "title", "reading", "hints"})
                eid = e.get("id", str)
                if not _EXERCISE_ID.match(eid) or not eid.startswith(step_id + "."):
                    raise doc.error(
                        epath + ("id",), f"{eid!r} must look like {step_id}.name (lowercase, digits, _)"
                    )
                unique("exercise", eid, epath + ("id",))
                if eid not in registered:
                    raise doc.error(
                        epath + ("id",),
                        f"no checker is registered for {eid!r}",
                        hint='decorate a function with @checker("'
                        + eid
                        + '") in a module listed under checkers',
                    )
                reading = e.get("reading", str, required=False)
                if reading is not None:
                    pending_refs.append((epath + ("reading",), reading))
                hints = []
                for hpath, hint in e.items("hints", required=False):
                    if not isinstance(hint, str) or not hint.strip():
                        raise doc.error(hpath, "a hint must be a non-empty string")
                    hints.append(hint.strip())
                exercises.append(Exercise(eid, e.get("title", str), reading, tuple(hints), rel))
            notebooks.append(
                Notebook(
                    rel,
                    n.get("title", str),
                    n.positive("cell_timeout", cell_timeout),
                    n.positive("budget", budget),
                    tuple(exercises),
                    step_id,
                )
            )
        steps.append(
            Step(
                step_id, s.get("title", str), s.get("summary", str).strip(), tuple(readings), tuple(notebooks)
            )
        )
    if not steps:
        raise doc.error(("steps",), "a course needs at least one step")
    for rpath, ref in pending_refs:
        if ref not in reading_ids:
            raise doc.error(rpath, f"unknown reading {ref!r}")
    return Curriculum(
        manifest.resolve(),
        course_id,
        top.get("title", str),
        str(top.get("description", str, required=False, default="")).strip(),
        tuple(checkers),
        tuple(steps),
        {str(k): str(v) for k, v in source.items()},
    )


def _check_notebook_path(doc: _Doc, path: tuple[Any, ...], rel: str, root: Path) -> None:
    if Path(rel).is_absolute() or "\\" in rel:
        raise doc.error(path, f"{rel!r} must be a relative POSIX path inside the course folder")
    full = (root / rel).resolve()
    if not full.is_relative_to(root):
        raise doc.error(path, f"{rel!r} points outside the course folder {root}")
    if full.suffix != ".ipynb":
        raise doc.error(path, f"{rel!r} is not a .ipynb notebook")
    if not full.is_file():
        raise doc.error(path, f"notebook not found: {full}")


def _checker_spec(doc: _Doc, path: tuple[Any, ...], spec: str, root: Path) -> str:
    if spec.endswith(".py"):
        full = (root / spec).resolve()
        if not full.is_relative_to(root):
            raise doc.error(path, f"{spec!r} points outside the course folder {root}")
        if not full.is_file():
            raise doc.error(path, f"checker module not found: {full}")
        return str(full)
    if not all(part.isidentifier() for part in spec.split(".")):
        raise doc.error(path, f"{spec!r} is neither a dotted module name nor a .py path")
    return spec


def checker_source(spec: str) -> Path | None:
    """The source file of a checker module spec, found without importing the module."""
    if spec.endswith(".py"):
        return Path(spec)
    try:
        found = importlib.util.find_spec(spec)
    except (ImportError, ValueError):
        return None
    if found is None or not found.origin or not found.origin.endswith(".py"):
        return None
    return Path(found.origin)


def _registered_ids(doc: _Doc, checkers: list[str]) -> set[str]:
    ids: set[str] = set()
    for i, spec in enumerate(checkers):
        source = checker_source(spec)
        if source is None:
            raise doc.error(("checkers", i), f"checker module {spec!r} cannot be found")
        # A package registers its checkers in submodules: read every module in its folder.
        sources = sorted(source.parent.rglob("*.py")) if source.name == "__init__.py" else [source]
        for path in sources:
            ids |= registered_in(path)
    return ids


_DECORATOR = re.compile(r"""^[ \t]*@(?:[A-Za-z_][\w.]*\.)?checker\(\s*(['"])([^'"]+)\1""", re.MULTILINE)


def registered_in(source: Path) -> set[str]:
    """Exercise ids registered with ``@checker("...")`` in one module's source.

    A text scan, not an import (and not ``ast``, which cost ~0.2 s for the course's checkers
    on every ``dl7 next``); only literal ids count, which is all the runner can rely on anyway.
    """
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise Dl7Error(f"cannot read checker module {source}: {exc}") from None
    return {match.group(2) for match in _DECORATOR.finditer(text)}
