"""``dl7 import nbgrader SOURCE COURSE``: an nbgrader course's ``source/`` folder as a dl7 course.

nbgrader keeps an assignment's structure in plain cell metadata (``metadata.nbgrader``:
``grade_id``, ``grade``, ``solution``, ``locked``, ``points``), so nothing of nbgrader itself
is needed. Each assignment folder becomes a step (in name order): its notebooks are copied
without outputs, the files beside them (data, images) come along and are listed under the
notebook's ``files``, and ``curriculum.yaml`` (format 2) gets one exercise per autograded test
cell (``test_cell: <grade_id>``, its points, its title from the nearest heading above it) and
lists the manually graded cells under ``manual``.

Importing again into the same COURSE updates it from the source and keeps what the teacher
added to the manifest: the course's title and description, each step's title, summary and
readings, each notebook's title and time limits, each exercise's title, hints and reading,
and whole steps that do not come from an assignment. (YAML comments are not kept.)
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dl7.authoring import (
    BEGIN_HIDDEN,
    MarkerError,
    cell_source,
    learner_version,
    solution_regions,
    strip_outputs,
)
from dl7.curriculum import FORMAT_VERSION
from dl7.errors import Dl7Error, os_error
from dl7.testcells import grade_id, is_manual_cell, is_test_cell, nbgrader_meta

MANIFEST = "curriculum.yaml"
_SKIP = {".ipynb_checkpoints", "__pycache__", ".dl7-cache", ".git"}
_MARKER = re.compile(r"^\s*### (BEGIN|END) [A-Z ]+$")  # solution and hidden-test markers
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")


@dataclass
class StepReport:
    id: str
    assignment: Path
    notebooks: list[str] = field(default_factory=list)
    exercises: list[tuple[str, float | None, bool]] = field(default_factory=list)  # id, points, hidden
    manual: list[tuple[str, float | None]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # notebooks with no autograded test


@dataclass
class ImportReport:
    course: Path
    manifest: Path
    steps: list[StepReport]
    kept_steps: list[str]  # the teacher's own steps, kept from an earlier manifest
    updated: bool  # an earlier manifest was there

    @property
    def points(self) -> float:
        return sum(p or 0.0 for s in self.steps for _, p, _ in s.exercises)


def slug(name: str, *, word: bool = False) -> str:
    """A dl7 id from an nbgrader name: lowercase, other characters as ``_`` (``-`` kept in step
    ids), never starting with a digit."""
    text = re.sub(r"[^a-z0-9_]" if word else r"[^a-z0-9_-]", "_", name.strip().lower())
    text = re.sub(r"_+", "_", text).strip("_") or "x"
    if not text[0].isalpha():
        text = ("t_" if word else "a") + text
    return text


def assignments(source: Path) -> list[Path]:
    """SOURCE is one assignment (it holds notebooks) or a folder of assignment folders."""
    if not source.is_dir():
        raise Dl7Error(
            f"not a folder: {source}", hint="pass an nbgrader course's source/ folder or one assignment"
        )
    if any(source.glob("*.ipynb")):
        return [source]
    found = sorted(
        p for p in source.iterdir() if p.is_dir() and p.name not in _SKIP and not p.name.startswith(".")
    )
    found = [p for p in found if any(p.glob("*.ipynb"))]
    if not found:
        raise Dl7Error(
            f"no nbgrader assignment in {source}: no notebooks in it or in its folders",
            hint="pass an nbgrader course's source/ folder (one folder per assignment) "
            "or one assignment folder",
        )
    return found


def import_nbgrader(source: Path, course: Path) -> ImportReport:
    source, course = source.resolve(), course.resolve()
    if course == source or course.is_relative_to(source):
        raise Dl7Error(f"the course folder {course} must not be inside the source {source}")
    folders = assignments(source)
    manifest = course / MANIFEST
    old = _read_old(manifest)
    steps: list[dict[str, Any]] = []
    reports: list[StepReport] = []
    ids: dict[str, Path] = {}
    for folder in folders:
        step_id = slug(folder.name)
        if step_id in ids:
            raise Dl7Error(
                f"the assignments {ids[step_id].name!r} and {folder.name!r} both become step {step_id!r}"
            )
        ids[step_id] = folder
        entry, report = _step(folder, step_id, course, old["steps"].get(step_id, {}), source)
        steps.append(entry)
        reports.append(report)
    kept = [s for sid, s in old["steps"].items() if sid not in ids]
    top = old["top"]
    doc: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "id": top.get("id") or slug(course.name),
        "title": top.get("title")
        or f"{source.parent.name if source.name == 'source' else source.name} (from nbgrader)",
        "description": top.get("description")
        or f"Imported from the nbgrader assignments in {source} with `dl7 import nbgrader`.",
    }
    for key in ("source", "checkers", "defaults"):
        if top.get(key):
            doc[key] = top[key]
    doc["steps"] = steps + kept
    import yaml

    text = (
        "# Written by `dl7 import nbgrader`; importing again keeps titles, summaries, readings and hints.\n"
    )
    text += yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
    from dl7.atomic import write_atomic

    try:
        write_atomic(manifest, text)
    except OSError as exc:
        raise os_error(exc, "cannot write", manifest) from None
    return ImportReport(course, manifest, reports, [str(s.get("id")) for s in kept], bool(old["steps"]))


def _read_old(manifest: Path) -> dict[str, Any]:
    """What the teacher may have added to an earlier import, by step id."""
    if not manifest.exists():
        return {"top": {}, "steps": {}}
    import yaml

    try:
        data = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise Dl7Error(
            f"cannot read the existing {manifest}: {exc}",
            hint="fix it or move it away; an import keeps what the teacher added to it",
        ) from None
    if not isinstance(data, dict):
        raise Dl7Error(f"{manifest}: not a dl7 manifest (expected a mapping)")
    steps = {
        str(s["id"]): s
        for s in data.get("steps") or []
        if isinstance(s, dict) and isinstance(s.get("id"), str)
    }
    return {"top": data, "steps": steps}


def _step(
    folder: Path, step_id: str, course: Path, old: dict[str, Any], source: Path
) -> tuple[dict[str, Any], StepReport]:
    report = StepReport(step_id, folder)
    target = course / step_id
    files = _side_files(folder)
    for rel in files:
        dest = target / rel
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / rel, dest)
        except OSError as exc:
            raise os_error(exc, "cannot copy", dest) from None
    report.files = files
    old_notebooks = {str(n.get("path")): n for n in old.get("notebooks") or [] if isinstance(n, dict)}
    notebooks: list[dict[str, Any]] = []
    first_title = ""
    for path in sorted(folder.glob("*.ipynb")):
        rel = f"{step_id}/{path.name}"
        entry, title = _notebook(path, rel, step_id, course, files, old_notebooks.get(rel, {}), report)
        first_title = first_title or title
        if entry is not None:
            notebooks.append(entry)
            report.notebooks.append(rel)
    step: dict[str, Any] = {
        "id": step_id,
        "title": old.get("title") or first_title or folder.name,
        "summary": old.get("summary") or f"The nbgrader assignment {folder.name!r}.",
    }
    if old.get("readings"):
        step["readings"] = old["readings"]
    step["notebooks"] = notebooks
    return step, report


def _side_files(folder: Path) -> list[str]:
    found = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(p in _SKIP or p.startswith(".") for p in rel.parts) or not path.is_file():
            continue
        if path.suffix == ".ipynb" and len(rel.parts) == 1:
            continue
        found.append(rel.as_posix())
    return found


def _notebook(
    path: Path,
    rel: str,
    step_id: str,
    course: Path,
    files: list[str],
    old: dict[str, Any],
    report: StepReport,
) -> tuple[dict[str, Any] | None, str]:
    from dl7.workspace import notebook_text, read_notebook

    data = strip_outputs(read_notebook(path))
    cells = data.get("cells", [])
    seen: dict[str, int] = {}
    for index, cell in enumerate(cells):
        meta = nbgrader_meta(cell)
        if not meta:
            continue
        gid = grade_id(cell)
        if (meta.get("grade") or meta.get("solution") or meta.get("locked")) and not gid:
            raise Dl7Error(f"{path}: cell {index + 1}: an nbgrader cell without a grade_id")
        if gid in seen:
            raise Dl7Error(f"{path}: cell {index + 1}: grade_id {gid!r} is used by cell {seen[gid] + 1} too")
        if gid:
            seen[gid] = index
        if meta.get("locked") or is_test_cell(cell):
            # Jupyter keeps a locked cell from being edited or deleted (nbgrader's own flags)
            cell.setdefault("metadata", {}).update({"editable": False, "deletable": False})
    try:
        solution_regions(data)
        learner_version(data)
    except MarkerError as exc:
        raise Dl7Error(f"{path}: {exc}") from None
    spec = data.setdefault("metadata", {}).setdefault("kernelspec", {})
    if spec.get("name") != "python3":  # dl7 runs every notebook with its own Python
        spec.update({"name": "python3", "display_name": "Python 3", "language": "python"})
    old_ex = {str(e.get("id")): e for e in old.get("exercises") or [] if isinstance(e, dict)}
    exercises: list[dict[str, Any]] = []
    manual: list[dict[str, Any]] = []
    titles: set[str] = set()
    heading = ""
    nb_title = ""
    names: set[str] = set()
    for cell in cells:
        for line in cell_source(cell).splitlines() if cell.get("cell_type") == "markdown" else []:
            match = None if _MARKER.match(line) else _HEADING.match(line)
            if match:
                heading = match.group(1).strip()
                nb_title = nb_title or heading
        gid = grade_id(cell)
        if gid is None:
            continue
        points = _points(nbgrader_meta(cell).get("points"))
        title = heading or gid
        if title in titles:
            title = f"{title} ({gid})"
        if is_test_cell(cell):
            titles.add(title)
            name = slug(gid, word=True)
            while name in names:
                name += "_"
            names.add(name)
            eid = f"{step_id}.{name}"
            ex: dict[str, Any] = {"id": eid, "title": title, "test_cell": gid}
            if points is not None:
                ex["points"] = points
            kept = old_ex.get(eid, {})
            for key in ("title", "reading", "hints"):
                if kept.get(key):
                    ex[key] = kept[key]
            exercises.append(ex)
            report.exercises.append((eid, points, BEGIN_HIDDEN in cell_source(cell)))
        elif is_manual_cell(cell):
            m: dict[str, Any] = {"grade_id": gid, "title": title}
            if points is not None:
                m["points"] = points
            manual.append(m)
            report.manual.append((gid, points))
    if not exercises:
        report.skipped.append(rel)
        return None, nb_title
    target = course / rel
    from dl7.atomic import write_atomic

    try:
        write_atomic(target, notebook_text(data))
    except OSError as exc:
        raise os_error(exc, "cannot write", target) from None
    entry: dict[str, Any] = {"path": rel, "title": old.get("title") or nb_title or path.stem}
    for key in ("cell_timeout", "budget"):
        if old.get(key):
            entry[key] = old[key]
    if files:
        entry["files"] = files
    entry["exercises"] = exercises
    if manual:
        entry["manual"] = manual
    return entry, nb_title


def _points(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if float(value).is_integer() else float(value)  # type: ignore[return-value]


def summary(report: ImportReport) -> dict[str, Any]:
    """The import as JSON."""
    return {
        "course": str(report.course),
        "manifest": str(report.manifest),
        "updated": report.updated,
        "points": report.points,
        "kept_steps": report.kept_steps,
        "steps": [
            {
                "id": s.id,
                "assignment": str(s.assignment),
                "notebooks": s.notebooks,
                "exercises": [{"id": e, "points": p, "hidden_tests": h} for e, p, h in s.exercises],
                "manual": [{"grade_id": g, "points": p} for g, p in s.manual],
                "files": s.files,
                "skipped": s.skipped,
            }
            for s in report.steps
        ],
    }
