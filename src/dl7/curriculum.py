"""The course manifest (``curriculum.yaml``): schema, loading, and cross-checks.

Loading gives a typed, frozen :class:`Curriculum` in which every id is unique, every path
lies inside the course root and exists, every reading reference resolves, and every exercise
has a registered checker. Every problem is a :class:`ManifestError` naming the file, the line
and the field (``curriculum.yaml:41: steps[1].notebooks[0].exercises[2].id: ...``).

Checker registration is found statically (``@checker("id")`` decorators found in the source),
so loading a manifest never imports the course's libraries or its checker code.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from dl7 import locations
from dl7.errors import Dl7Error, ManifestError

if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec

    from dl7.yamldoc import LocatedYaml, Mapping

FORMAT_VERSION = 2  # what dl7 writes; it reads every version in FORMATS
FORMATS = (1, 2)  # 2 adds test-cell exercises, points, manually graded cells and side files
CURRICULUM_ENV = locations.CURRICULUM_ENV
_ID = re.compile(r"^[a-z][a-z0-9_-]*$")
_EXERCISE_ID = re.compile(r"^[a-z][a-z0-9_-]*\.[a-z_][a-z0-9_]*$")

DEFAULT_CELL_TIMEOUT = 120
DEFAULT_BUDGET = 600
DEFAULT_WARM_TIMEOUT = 60  # seconds `dl7 watch` waits for a warm kernel; a course may need more
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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
    # format 2: an exercise whose check is a test cell of the source notebook (nbgrader's
    # autograder tests), found by that cell's ``nbgrader.grade_id``; no checker module needed.
    test_cell: str | None = None
    points: float | None = None

    @property
    def name(self) -> str:
        return self.id.split(".", 1)[1]


@dataclass(frozen=True)
class ManualCell:
    """A cell a teacher grades by hand (nbgrader ``solution`` and ``grade``): listed, never
    checked, and it does not keep a step from completing."""

    grade_id: str
    title: str
    points: float | None = None


@dataclass(frozen=True)
class Notebook:
    path: str  # relative to the course root, POSIX separators
    title: str
    cell_timeout: int
    budget: int
    exercises: tuple[Exercise, ...]
    step: str
    files: tuple[str, ...] = ()  # format 2: files beside the notebook, copied to the workspace
    manual: tuple[ManualCell, ...] = ()  # format 2: manually graded cells

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
    # After the course proper (the seven steps' attention and transformers): offered once the
    # steps before it are done, and counted apart ("step 3 of 7"; "after the 7 steps").
    epilogue: bool = False

    @property
    def exercises(self) -> tuple[Exercise, ...]:
        return tuple(e for nb in self.notebooks for e in nb.exercises)

    @property
    def number(self) -> str:
        return self.id.removeprefix("step")


@dataclass(frozen=True)
class Ref:
    """What :meth:`Curriculum.resolve` found: a step, and the exercise when one was named."""

    step: Step
    exercise: Exercise | None = None
    notebook: Notebook | None = None  # named by its path (`dl7 open notebooks/step2/01_x.ipynb`)

    @property
    def notebooks(self) -> tuple[Notebook, ...]:
        """The named notebook, or the named exercise's; else every notebook of the step."""
        if self.notebook is not None:
            return (self.notebook,)
        if self.exercise is None:
            return self.step.notebooks
        return tuple(nb for nb in self.step.notebooks if self.exercise in nb.exercises)


@dataclass(frozen=True)
class KernelNeeds:
    """What the course needs from its kernel (the manifest's ``kernel:`` block)."""

    env: dict[str, str] = field(default_factory=dict)  # set in every kernel (run, watch, validate, lab)
    warm_timeout: int = DEFAULT_WARM_TIMEOUT  # seconds `dl7 watch` waits for a kernel started ahead
    libraries: tuple[str, ...] = ()  # modules `dl7 doctor` imports in a fresh interpreter, timed
    install: str = ""  # the course's own line for installing them (`pip install -r requirements.txt`)


@dataclass(frozen=True)
class Curriculum:
    path: Path  # the manifest file
    id: str
    title: str
    description: str
    checkers: tuple[str, ...]  # dotted module names, or absolute paths of .py files
    steps: tuple[Step, ...]
    source: dict[str, str] = field(default_factory=dict)
    kernel: KernelNeeds = field(default_factory=KernelNeeds)
    datasets: str | None = None  # the module declaring the course's data sets (absolute .py path or dotted)

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

    def resolve(self, ref: str, within: Step | None = None) -> Ref:
        """What a command's argument names, in every form a learner meets: a step (``step4``,
        ``4``), an exercise by its full id (``step4.tape_derivative``, as verdicts and notebooks
        print it, or ``4.tape_derivative``) or by its name alone (``tape_derivative``, when one
        step alone has it). ``within``: the step the command was given before (``dl7 hint 4
        tape_derivative``), of which ``ref`` must be an exercise. Every command that takes a step
        or an exercise resolves it here; nothing found is one line naming the closest ids."""
        text = ref.strip()
        if within is None and (text.endswith(".ipynb") or "/" in text or os.sep in text):
            # A notebook by its path: the course's, or the learner's copy in the workspace.
            nb = self.find_notebook(text)
            if nb is not None:
                return Ref(self.step(nb.step), notebook=nb)
        if within is None:
            for candidate in (text, f"step{text}"):
                for step in self.steps:
                    if step.id == candidate:
                        return Ref(step)
        steps = (within,) if within is not None else self.steps
        pool = [(step, ex) for step in steps for ex in step.exercises]
        head, _, tail = text.partition(".")
        found = (
            [p for p in pool if p[1].id == text]
            or [p for p in pool if tail and p[1].id == f"step{head}.{tail}"]
            or [p for p in pool if p[1].name == text]
        )
        if len(found) == 1:
            return Ref(*found[0])
        if found:
            ids = ", ".join(ex.id for _, ex in found)
            raise Dl7Error(f"{text!r} is an exercise of several steps: {ids}", hint="name one by its full id")
        import difflib  # only on the way to an error

        forms = {ex.id: ex.id for _, ex in pool} | {ex.name: ex.id for _, ex in pool}
        if within is None:
            forms |= {s.id: s.id for s in self.steps}
        score = {f: difflib.SequenceMatcher(None, text, f).ratio() for f in forms}
        best = max(score.values(), default=0.0)
        # The closest few, and only those nearly as close as the best: a typo names its exercise.
        near = sorted((f for f in forms if score[f] >= max(0.6, best - 0.1)), key=lambda f: -score[f])
        close = list(dict.fromkeys(forms[f] for f in near))[:3]
        maybe = f"; did you mean {' or '.join(close)}?" if close else ""
        if within is not None:
            known = ", ".join(ex.name for ex in within.exercises) or "none"
            raise Dl7Error(
                f"step {within.id} has no exercise {text!r}{maybe}", hint=f"its exercises: {known}"
            )
        known = ", ".join(s.id for s in self.steps)
        # What it looks like it meant to be: `step1.gret` an exercise, `9` or `step9` a step.
        kind = (
            "exercise" if "." in text else "step" if re.fullmatch(r"(step)?\d+", text) else "step or exercise"
        )
        raise Dl7Error(
            f"unknown {kind} {text!r}{maybe}",
            hint=f"steps in this course: {known}; `dl7 show STEP` lists a step's exercises",
        )

    def notebook(self, step: Step, ref: str | None) -> tuple[Notebook, ...]:
        """All of a step's notebooks, or the one matching ``ref`` (file name, stem or path)."""
        if ref is None:
            return step.notebooks
        for nb in step.notebooks:
            if ref in (nb.path, Path(nb.path).name, nb.name):
                return (nb,)
        known = ", ".join(nb.name for nb in step.notebooks) or "none"
        raise Dl7Error(f"step {step.id} has no notebook {ref!r}", hint=f"its notebooks: {known}")

    def find_notebook(self, ref: str) -> Notebook | None:
        """The one notebook ``ref`` names: its path from the course folder or from the current
        folder, or its file name or stem when no other notebook of the course shares it."""
        every = list(self.notebooks)
        by_path = [nb for nb in every if ref == nb.path]
        if not by_path and ref.endswith(".ipynb"):
            target = Path(ref).expanduser().resolve()
            by_path = [nb for nb in every if (self.root / nb.path).resolve() == target]
            if not by_path:  # the learner's copy: the same path, under their workspace
                by_path = [
                    nb
                    for nb in every
                    if target.parts[-len(PurePosixPath(nb.path).parts) :] == PurePosixPath(nb.path).parts
                ]
        by_name = [nb for nb in every if ref in (Path(nb.path).name, nb.name)]
        found = by_path or by_name
        return found[0] if len(found) == 1 else None

    def exercise(self, exercise_id: str) -> Exercise:
        for step in self.steps:
            for ex in step.exercises:
                if ex.id == exercise_id:
                    return ex
        raise Dl7Error(f"unknown exercise {exercise_id!r}")

    def source_path(self, nb: Notebook) -> Path:
        return path_inside(self.root, nb.path, "the course folder")

    @property
    def notebooks(self) -> Iterator[Notebook]:
        for step in self.steps:
            yield from step.notebooks


def path_inside(root: Path, rel: str, what: str) -> Path:
    """``root / rel``, refusing a ``rel`` that could reach outside ``root`` (absolute, or ``..``).

    The manifest loader refuses such paths already; this holds for any Notebook, whoever
    built it (a cached manifest, a test, a plugin).
    """
    pure = PurePosixPath(rel)
    if pure.is_absolute() or Path(rel).is_absolute() or ".." in pure.parts or not pure.parts:
        raise Dl7Error(
            f"the notebook path {rel!r} points outside {what} {root}",
            hint="notebook paths in the manifest are relative and never use '..'",
        )
    return root / pure


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


def load(path: str | os.PathLike[str] | None = None) -> Curriculum:
    """Load and cross-check a manifest; the default is the seven-step course."""
    from dl7.yamldoc import MAX_BYTES, LocatedYaml  # PyYAML loads only to parse

    manifest = resolve_path(path)
    shown = str(manifest)
    try:
        with open(manifest, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)  # never more: a huge file fails without being read
        if len(raw) > MAX_BYTES:
            raise ManifestError(
                shown, None, "", f"too large: a manifest may have at most {MAX_BYTES // 1024} KiB"
            )
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise Dl7Error(
            f"curriculum not found: {shown}", hint="pass --curriculum PATH to a curriculum.yaml"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise Dl7Error(f"cannot read curriculum {shown}: {exc}") from None
    doc = LocatedYaml(shown, text)
    return _parse(doc, manifest)


_BAD_ID = "is not a valid id (lowercase letters, digits, - and _)"


def _parse(doc: LocatedYaml, manifest: Path) -> Curriculum:
    return _Parser(doc, manifest.parent.resolve()).course(manifest.resolve())


def _mapping(doc: LocatedYaml, path: tuple[Any, ...], value: Any, allowed: set[str]) -> Mapping:
    from dl7.yamldoc import Mapping

    return Mapping(doc, path, value, allowed)


class _Parser:
    """One pass over the document; cross-references are checked once everything is read."""

    def __init__(self, doc: LocatedYaml, root: Path) -> None:
        self.doc, self.root = doc, root
        self.seen: dict[str, tuple[Any, ...]] = {}  # every id → where it was first defined
        self.reading_ids: set[str] = set()
        self.reading_refs: list[tuple[tuple[Any, ...], str]] = []
        self.notebook_paths: set[str] = set()
        self.registered: set[str] = set()
        self.cell_timeout, self.budget = DEFAULT_CELL_TIMEOUT, DEFAULT_BUDGET
        self.version = FORMAT_VERSION
        self.epilogue_seen = False

    def since(self, version: int, value: Mapping, keys: tuple[str, ...]) -> None:
        """Refuse a key that this manifest's format does not have yet."""
        for key in keys:
            if key in value.value and self.version < version:
                raise self.doc.error(
                    value.path + (key,),
                    f"{key!r} needs format {version} or later (this manifest says format {self.version})",
                    hint=f"set `format: {version}` at the top of the manifest",
                )

    def unique(self, kind: str, value: str, path: tuple[Any, ...]) -> None:
        if value in self.seen:
            first = self.doc.line(self.seen[value])
            raise self.doc.error(path, f"duplicate {kind} id {value!r} (first used at line {first})")
        self.seen[value] = path

    def course(self, manifest: Path) -> Curriculum:
        doc = self.doc
        root_keys = {
            "format",
            "id",
            "title",
            "description",
            "source",
            "checkers",
            "defaults",
            "kernel",
            "datasets",
            "steps",
        }
        top = _mapping(doc, (), doc.data, root_keys)
        version = top.get("format", int)
        if version not in FORMATS:
            raise doc.error(
                ("format",),
                f"unsupported format {version}; this dl7 reads formats {', '.join(map(str, FORMATS))}",
            )
        self.version = version
        course_id = top.get("id", str)
        if not _ID.match(course_id):
            raise doc.error(("id",), f"{course_id!r} {_BAD_ID}")
        source = top.get("source", dict, required=False, default={})
        defaults = _mapping(
            doc,
            ("defaults",),
            top.get("defaults", dict, required=False, default={}),
            {"cell_timeout", "budget"},
        )
        self.cell_timeout = defaults.positive("cell_timeout", DEFAULT_CELL_TIMEOUT)
        self.budget = defaults.positive("budget", DEFAULT_BUDGET)
        kernel = self.kernel(top.get("kernel", dict, required=False, default={}))
        checkers: list[str] = []
        for cpath, spec in top.items("checkers", required=False):
            if not isinstance(spec, str) or not spec.strip():
                raise doc.error(cpath, "expected a module name, a path to a .py file or a package folder")
            checkers.append(_checker_spec(doc, cpath, spec, self.root))
        self.registered = _registered_ids(doc, checkers)
        datasets = top.get("datasets", str, required=False)
        datasets = _datasets_spec(doc, ("datasets",), datasets, self.root) if datasets is not None else None
        steps = tuple(self.step(path, value) for path, value in top.items("steps"))
        if not steps:
            raise doc.error(("steps",), "a course needs at least one step")
        for rpath, ref in self.reading_refs:
            if ref not in self.reading_ids:
                raise doc.error(rpath, f"unknown reading {ref!r}")
        return Curriculum(
            manifest,
            course_id,
            top.get("title", str),
            str(top.get("description", str, required=False, default="")).strip(),
            tuple(checkers),
            steps,
            {str(k): str(v) for k, v in source.items()},
            kernel=kernel,
            datasets=datasets,
        )

    def kernel(self, value: Any) -> KernelNeeds:
        """The ``kernel:`` block: environment variables, the warm-up time, the libraries to try."""
        k = _mapping(self.doc, ("kernel",), value, {"env", "warm_timeout", "libraries", "install"})
        env: dict[str, str] = {}
        for name, text in k.get("env", dict, required=False, default={}).items():
            where = ("kernel", "env", name)
            if not isinstance(name, str) or not _ENV_NAME.match(name):
                raise self.doc.error(where, f"{name!r} is not an environment variable name")
            if name.startswith("DL7_"):
                raise self.doc.error(where, "DL7_ variables are set by dl7 itself, not by a course")
            if not isinstance(text, str):  # YAML reads 2 as a number and yes as a boolean
                raise self.doc.error(where, "expected a string", hint=f'quote the value: {name}: "{text}"')
            if "\x00" in text:
                raise self.doc.error(where, "a NUL character cannot be in an environment variable")
            env[name] = text
        libraries = []
        for lpath, name in k.items("libraries", required=False):
            if not isinstance(name, str) or not all(part.isidentifier() for part in name.split(".")):
                raise self.doc.error(lpath, f"{name!r} is not a module name (e.g. numpy or scipy.signal)")
            libraries.append(name)
        install = k.get("install", str, required=False, default="").strip()
        if "\n" in install:
            raise self.doc.error(("kernel", "install"), "one command line, please (it is shown as a fix)")
        return KernelNeeds(env, k.positive("warm_timeout", DEFAULT_WARM_TIMEOUT), tuple(libraries), install)

    def step(self, spath: tuple[Any, ...], value: Any) -> Step:
        s = _mapping(self.doc, spath, value, {"id", "title", "summary", "readings", "notebooks", "epilogue"})
        step_id = s.get("id", str)
        if not _ID.match(step_id):
            raise self.doc.error(spath + ("id",), f"{step_id!r} {_BAD_ID}")
        self.unique("step", step_id, spath + ("id",))
        readings = tuple(self.reading(path, v) for path, v in s.items("readings", required=False))
        notebooks = tuple(self.notebook(path, v, step_id) for path, v in s.items("notebooks", required=False))
        epilogue = bool(s.get("epilogue", bool, required=False, default=False))
        if not epilogue and self.epilogue_seen:
            raise self.doc.error(spath + ("id",), "a step cannot come after an epilogue", hint="move it up")
        self.epilogue_seen = self.epilogue_seen or epilogue
        summary = s.get("summary", str).strip()
        return Step(step_id, s.get("title", str), summary, readings, notebooks, epilogue)

    def reading(self, rpath: tuple[Any, ...], value: Any) -> Reading:
        r = _mapping(self.doc, rpath, value, {"id", "title", "author", "kind", "url", "minutes", "optional"})
        rid = r.get("id", str)
        self.unique("reading", rid, rpath + ("id",))
        self.reading_ids.add(rid)
        url = r.get("url", str)
        if not url.startswith(("http://", "https://")):
            raise self.doc.error(rpath + ("url",), f"{url!r} is not an http(s) URL")
        minutes = r.get("minutes", int)
        if minutes <= 0:
            raise self.doc.error(rpath + ("minutes",), "must be a positive number of minutes")
        optional = bool(r.get("optional", bool, required=False, default=False))
        return Reading(
            rid, r.get("title", str), r.get("author", str), r.get("kind", str), url, minutes, optional
        )

    def notebook(self, npath: tuple[Any, ...], value: Any, step_id: str) -> Notebook:
        n = _mapping(
            self.doc,
            npath,
            value,
            {"path", "title", "cell_timeout", "budget", "exercises", "files", "manual"},
        )
        self.since(2, n, ("files", "manual"))
        rel = _check_notebook_path(self.doc, npath + ("path",), n.get("path", str), self.root)
        if rel in self.notebook_paths:
            raise self.doc.error(npath + ("path",), f"notebook {rel} is listed twice")
        self.notebook_paths.add(rel)
        exercises = tuple(self.exercise(path, v, step_id, rel) for path, v in n.items("exercises"))
        files = tuple(self.side_file(path, v, rel) for path, v in n.items("files", required=False))
        manual = tuple(self.manual_cell(path, v) for path, v in n.items("manual", required=False))
        if not exercises and not (self.version >= 2 and n.value.get("exercises") == []):
            # One rule for every command: a notebook exists to be checked. A step that only
            # asks for readings lists no notebooks at all. Format 2 says `exercises: []` for a
            # notebook nothing checks automatically (an nbgrader notebook graded by hand).
            raise self.doc.error(
                npath + ("exercises",),
                "a notebook needs at least one exercise",
                hint="list its exercises, or drop the notebook from the step",
            )
        return Notebook(
            rel,
            n.get("title", str),
            n.positive("cell_timeout", self.cell_timeout),
            n.positive("budget", self.budget),
            exercises,
            step_id,
            files,
            manual,
        )

    def side_file(self, fpath: tuple[Any, ...], value: Any, notebook: str) -> str:
        """A file beside the notebook (data, images), relative to the notebook's folder."""
        if not isinstance(value, str) or not value.strip():
            raise self.doc.error(fpath, "expected a file path relative to the notebook's folder")
        pure = PurePosixPath(value)
        if pure.is_absolute() or "\\" in value or ".." in pure.parts:
            raise self.doc.error(fpath, f"{value!r} must be a relative POSIX path without '..'")
        full = (self.root / PurePosixPath(notebook).parent / pure).resolve()
        if not full.is_relative_to(self.root) or not full.is_file():
            raise self.doc.error(fpath, f"file not found beside the notebook: {full}")
        return pure.as_posix()

    def manual_cell(self, mpath: tuple[Any, ...], value: Any) -> ManualCell:
        m = _mapping(self.doc, mpath, value, {"grade_id", "title", "points"})
        points = m.get("points", (int, float), required=False)
        return ManualCell(m.get("grade_id", str), m.get("title", str), _points(points))

    def exercise(self, epath: tuple[Any, ...], value: Any, step_id: str, notebook: str) -> Exercise:
        e = _mapping(self.doc, epath, value, {"id", "title", "reading", "hints", "test_cell", "points"})
        self.since(2, e, ("test_cell", "points"))
        test_cell = e.get("test_cell", str, required=False)
        points = e.get("points", (int, float), required=False)
        if points is not None and (isinstance(points, bool) or points < 0):
            raise self.doc.error(epath + ("points",), "points must be a number, 0 or more")
        eid = e.get("id", str)
        if not _EXERCISE_ID.match(eid) or not eid.startswith(step_id + "."):
            raise self.doc.error(
                epath + ("id",), f"{eid!r} must look like {step_id}.name (lowercase, digits, _)"
            )
        self.unique("exercise", eid, epath + ("id",))
        if test_cell is None and eid not in self.registered:
            raise self.doc.error(
                epath + ("id",),
                f"no checker is registered for {eid!r}",
                hint=f'decorate a function with @checker("{eid}") in a module listed under checkers',
            )
        reading = e.get("reading", str, required=False)
        if reading is not None:
            self.reading_refs.append((epath + ("reading",), reading))
        hints = []
        for hpath, hint in e.items("hints", required=False):
            if not isinstance(hint, str) or not hint.strip():
                raise self.doc.error(hpath, "a hint must be a non-empty string")
            hints.append(hint.strip())
        return Exercise(eid, e.get("title", str), reading, tuple(hints), notebook, test_cell, _points(points))


def _points(value: Any) -> float | None:
    return None if value is None or isinstance(value, bool) else float(value)


def _check_notebook_path(doc: LocatedYaml, path: tuple[Any, ...], rel: str, root: Path) -> str:
    """The notebook's path in one spelling (``a//./b`` is ``a/b``), checked to stay in the course.

    ``..`` is refused even where it resolves inside the course folder: the same relative path
    is used in the learner's workspace, where it could point anywhere.
    """
    pure = PurePosixPath(rel)
    if pure.is_absolute() or "\\" in rel or Path(rel).is_absolute():
        raise doc.error(path, f"{rel!r} must be a relative POSIX path inside the course folder")
    if ".." in pure.parts:
        raise doc.error(
            path,
            f"{rel!r} must not contain '..': a path may not reach outside the course folder or the workspace",
        )
    full = (root / pure).resolve()
    if not full.is_relative_to(root):
        raise doc.error(path, f"{rel!r} points outside the course folder {root}")
    if full.suffix != ".ipynb":
        raise doc.error(path, f"{rel!r} is not a .ipynb notebook")
    if not full.is_file():
        raise doc.error(path, f"notebook not found: {full}")
    return pure.as_posix()


def _checker_spec(doc: LocatedYaml, path: tuple[Any, ...], spec: str, root: Path) -> str:
    """A checker module as the kernel will load it: an absolute path of a ``.py`` file or of a
    package's folder inside the course, or a dotted name of an installed module."""
    if spec.endswith(".py") or "/" in spec or spec in (".", ".."):
        full = (root / spec).resolve()
        if not full.is_relative_to(root.resolve()):
            raise doc.error(path, f"{spec!r} points outside the course folder {root}")
        if spec.endswith(".py"):
            if not full.is_file():
                raise doc.error(path, f"checker module not found: {full}")
        elif not (full / "__init__.py").is_file():
            what = "folder not found" if not full.is_dir() else "folder has no __init__.py"
            raise doc.error(path, f"checker package {what}: {full} (a package is a folder with __init__.py)")
        return str(full)
    if not all(part.isidentifier() for part in spec.split(".")):
        raise doc.error(
            path, f"{spec!r} is neither a dotted module name, a .py file nor a package folder (a/b)"
        )
    # A dotted name is looked up in the course first (``linchecks.step1`` is linchecks/step1.py
    # beside the manifest), then among installed modules: a course's own package needs no
    # PYTHONPATH in any shell or kernel.
    inside = root.joinpath(*spec.split("."))
    for candidate in (inside / "__init__.py", inside.with_name(inside.name + ".py")):
        if candidate.is_file() and candidate.resolve().is_relative_to(root.resolve()):
            found = candidate.resolve()
            return str(found.parent if found.name == "__init__.py" else found)
    return spec


def _datasets_spec(doc: LocatedYaml, path: tuple[Any, ...], spec: str, root: Path) -> str:
    """The module declaring the course's data sets (``dl7.datasets``), as the kernel loads it:
    the absolute path of a ``.py`` file inside the course, or a dotted name of an installed module."""
    if spec.endswith(".py"):
        full = (root / spec).resolve()
        if not full.is_relative_to(root.resolve()):
            raise doc.error(path, f"{spec!r} points outside the course folder {root}")
        if not full.is_file():
            raise doc.error(path, f"data-set declarations not found: {full}")
        return str(full)
    if not spec.strip() or not all(part.isidentifier() for part in spec.split(".")):
        raise doc.error(path, f"{spec!r} is neither a .py file in the course nor a dotted module name")
    return spec


def checker_source(spec: str) -> Path | None:
    """The source file of a checker module spec, found without importing anything.

    ``importlib.util.find_spec("a.b.c")`` imports ``a`` and ``a.b`` to find ``c``, which runs
    course code; this asks the same finders, handing each level's search path to the next.
    """
    if spec.endswith(".py"):
        return Path(spec)
    if "/" in spec or os.sep in spec:  # a package's folder
        return Path(spec) / "__init__.py"
    found = _find_spec_without_importing(spec)
    if found is None or not found.origin or not found.origin.endswith(".py"):
        return None
    return Path(found.origin)


def _find_spec_without_importing(name: str) -> ModuleSpec | None:
    loaded = sys.modules.get(name)
    if loaded is not None:
        return getattr(loaded, "__spec__", None)
    parts = name.split(".")
    found: ModuleSpec | None = None
    search: Sequence[str] | None = None
    for depth in range(1, len(parts) + 1):
        if found is not None:
            if found.submodule_search_locations is None:
                return None  # the parent is a plain module, not a package
            search = list(found.submodule_search_locations)
        found = _ask_finders(".".join(parts[:depth]), search)
        if found is None:
            return None
    return found


def _ask_finders(name: str, search: Sequence[str] | None) -> ModuleSpec | None:
    loaded = sys.modules.get(name)
    if loaded is not None:
        return getattr(loaded, "__spec__", None)
    for finder in sys.meta_path:
        find = getattr(finder, "find_spec", None)
        if find is None:
            continue
        try:
            spec = find(name, search)
        except (ImportError, ValueError, OSError):
            continue
        if spec is not None:
            return spec  # type: ignore[no-any-return]
    return None


def _registered_ids(doc: LocatedYaml, checkers: list[str]) -> set[str]:
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
