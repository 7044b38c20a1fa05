"""``dl7 import nbgrader SOURCE COURSE``: an nbgrader course as a dl7 course.

SOURCE is what a teacher has (nbgrader's documented layout): the course folder (it holds
``source/`` and maybe ``nbgrader_config.py``), its ``source/`` folder, or one assignment folder.
nbgrader keeps an assignment's structure in plain cell metadata (``metadata.nbgrader``:
``grade_id``, ``grade``, ``solution``, ``locked``, ``task``, ``points``), so nothing of
nbgrader itself is needed. Each assignment folder becomes a step (in name order); every
notebook in it is copied without outputs, with the header (``source/header.ipynb``, or the one
``nbgrader_config.py`` names) before its cells as ``nbgrader generate_assignment`` puts it; the
files beside them (data, images) come along and are listed under each notebook's ``files``; and
``curriculum.yaml`` (format 2) gets one exercise per autograded test cell (``test_cell:
<grade_id>``, its points, its title from the nearest heading above it) and lists the manually
graded answers and tasks under ``manual``. A notebook with no autograded test is kept
(``exercises: []``): nbgrader releases it, so the learner gets it.

Each notebook carries nbgrader's release rules (``metadata.dl7.nbgrader``: its stubs and
delimiters, configurable), so the learner's copy is what nbgrader would release: see
:func:`dl7.authoring.nbgrader_release`. Cells are checked as nbgrader checks them
(:mod:`dl7.importers.nbgrader_cells`); what nbgrader refuses is refused with the cell and why.

The whole course is built beside COURSE, loaded as a course, then swapped in
(:mod:`dl7.importers.staging`): a failed import leaves COURSE as it was. Importing again keeps
what the teacher added to the manifest: the course's title and description, each step's title,
summary and readings, each notebook's title and time limits, each exercise's title, hints and
reading, and whole steps that do not come from an assignment (YAML comments are not kept); a
notebook or file the teacher edited in COURSE is backed up before it is replaced, and named.

Only regular files that really lie inside the assignment folder are copied: a symlink (to
``~/.ssh/id_ed25519``, to ``/proc/self/environ``, or anywhere), a device, a pipe or a socket is
left out and named in the report, and a file is opened without following a link, so one swapped
for a link meanwhile is refused too. What the course holds is what the teacher's folder holds.
"""

from __future__ import annotations

import copy
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dl7.authoring import (
    MarkerError,
    NbgraderRules,
    cell_source,
    nbgrader_release,
    solution_regions,
    strip_outputs,
)
from dl7.curriculum import FORMAT_VERSION
from dl7.errors import Dl7Error, os_error
from dl7.importers.nbgrader_cells import normalise, read_config, refuse_autotests
from dl7.importers.staging import Staging
from dl7.testcells import exercise_titles, grade_id, is_manual_cell, is_test_cell, nbgrader_meta

MANIFEST = "curriculum.yaml"
HEADER = "header.ipynb"  # nbgrader's documented place: source/header.ipynb
_SKIP = {".ipynb_checkpoints", "__pycache__", ".dl7-cache", ".git"}
_MARKER = re.compile(r"^\s*#*\s*=*\s*(BEGIN|END) [A-Z ]+=*\s*$")  # marker lines are no headings
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")


@dataclass
class StepReport:
    id: str
    assignment: Path
    notebooks: list[str] = field(default_factory=list)
    exercises: list[tuple[str, float | None, bool]] = field(default_factory=list)  # id, points, hidden
    manual: list[tuple[str, float | None]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    without_tests: list[str] = field(default_factory=list)  # kept: nothing in them is autograded
    refused: list[tuple[str, str]] = field(default_factory=list)  # (path, why): not a regular file inside


@dataclass
class ImportReport:
    course: Path
    manifest: Path
    steps: list[StepReport]
    kept_steps: list[str]  # the teacher's own steps, kept from an earlier manifest
    updated: bool  # an earlier manifest was there
    header: Path | None = None
    backups: list[tuple[str, str]] = field(default_factory=list)  # (file, its backup), in COURSE
    left: list[str] = field(default_factory=list)  # edited files no longer in the source

    @property
    def points(self) -> float:
        return sum(p or 0.0 for s in self.steps for _, p, _ in s.exercises)

    @property
    def manual_points(self) -> float:
        return sum(p or 0.0 for s in self.steps for _, p in s.manual)


@dataclass(frozen=True)
class Layout:
    """Where an nbgrader course's parts are."""

    root: Path | None  # the course folder: nbgrader_config.py, and what its paths are relative to
    source: Path  # the folder of assignments
    folders: list[Path]  # the assignments to import
    header: Path | None
    footer: Path | None


def slug(name: str, *, word: bool = False) -> str:
    """A dl7 id from an nbgrader name: lowercase, other characters as ``_`` (``-`` kept in step
    ids), never starting with a digit."""
    text = re.sub(r"[^a-z0-9_]" if word else r"[^a-z0-9_-]", "_", name.strip().lower())
    text = re.sub(r"_+", "_", text).strip("_") or "x"
    if not text[0].isalpha():
        text = ("t_" if word else "a") + text
    return text


def _notebooks(folder: Path, skip: set[str]) -> list[Path]:
    return sorted(p for p in folder.glob("*.ipynb") if p.name not in skip)


def locate(
    source: Path, *, header: Path | None = None, no_header: bool = False, config: dict[str, Any] | None = None
) -> Layout:
    """nbgrader's layout from what the teacher pointed at: the course folder, ``source/``, or
    one assignment; the header is ``--header``, else nbgrader_config.py's, else
    ``source/header.ipynb``."""
    if not source.is_dir():
        raise Dl7Error(
            f"not a folder: {source}",
            hint="pass an nbgrader course folder, its source/ folder or one assignment",
        )
    side = {HEADER, "footer.ipynb"}
    single = bool(_notebooks(source, side))
    if not single and (source / "source").is_dir():
        root: Path | None = source
        src = source / "source"
    else:
        src = source.parent if single else source
        nbgrader_course = src.name == "source" or (src.parent / "nbgrader_config.py").is_file()
        root = src.parent if nbgrader_course else None
    settings = read_config(root) if config is None else config
    base = root or src.parent

    def named(key: str) -> Path | None:
        value = settings.get(f"IncludeHeaderFooter.{key}")
        return (base / value).resolve() if isinstance(value, str) and value else None

    head = None if no_header else (header.resolve() if header else named("header"))
    if head is None and not no_header and header is None and (src / HEADER).is_file():
        head = (src / HEADER).resolve()
    foot = named("footer")
    for part in (head, foot):
        if part is not None and not part.is_file():
            raise Dl7Error(f"the header or footer notebook {part} is not there")
    if single:
        folders = [source]
    else:
        skip = side | {p.name for p in (head, foot) if p is not None and p.parent == src.resolve()}
        folders = sorted(
            p for p in src.iterdir() if p.is_dir() and p.name not in _SKIP and not p.name.startswith(".")
        )
        folders = [p for p in folders if _notebooks(p, skip)]
    if not folders:
        raise Dl7Error(
            f"no nbgrader assignment in {src}: no notebooks in its folders",
            hint="pass an nbgrader course folder (with source/), its source/ folder "
            "(one folder per assignment) or one assignment folder",
        )
    return Layout(root, src, folders, head, foot)


def assignments(source: Path) -> list[Path]:
    """The assignment folders of SOURCE (see :func:`locate`)."""
    return locate(source).folders


def rules_from(config: dict[str, Any], code_stub: str | None, text_stub: str | None) -> NbgraderRules:
    """nbgrader's release rules: its defaults, then nbgrader_config.py's, then the options'."""
    given: dict[str, str] = {}
    stub = config.get("ClearSolutions.code_stub")
    if isinstance(stub, dict):
        stub = stub.get("python")
    pairs = {
        "code_stub": stub,
        "text_stub": config.get("ClearSolutions.text_stub"),
        "begin_solution": config.get("ClearSolutions.begin_solution_delimeter"),
        "end_solution": config.get("ClearSolutions.end_solution_delimeter"),
        "begin_hidden": config.get("ClearHiddenTests.begin_test_delimeter"),
        "end_hidden": config.get("ClearHiddenTests.end_test_delimeter"),
        "begin_mark_scheme": config.get("ClearMarkScheme.begin_mark_scheme_delimeter"),
        "end_mark_scheme": config.get("ClearMarkScheme.end_mark_scheme_delimeter"),
    }
    for key, value in pairs.items():
        if isinstance(value, str) and value:
            given[key] = value
    if code_stub:
        given["code_stub"] = code_stub
    if text_stub:
        given["text_stub"] = text_stub
    return NbgraderRules(**given)


def import_nbgrader(
    source: Path,
    course: Path,
    *,
    header: Path | None = None,
    no_header: bool = False,
    code_stub: str | None = None,
    text_stub: str | None = None,
) -> ImportReport:
    source, course = source.resolve(), course.resolve()
    if course == source or course.is_relative_to(source):
        raise Dl7Error(f"the course folder {course} must not be inside the source {source}")
    layout = locate(source, header=header, no_header=no_header)
    config = read_config(layout.root)
    rules = rules_from(config, code_stub, text_stub)
    around = (_cells_of(layout.header), _cells_of(layout.footer))
    old = _read_old(course / MANIFEST)
    staging = Staging(course)
    try:
        report = _build(layout, source, course, staging, old, rules, around)
        from dl7.curriculum import load

        load(staging.folder / MANIFEST)  # what was written must load, before it replaces anything
        staging.commit()
    except BaseException:
        staging.abort()
        raise
    report.backups, report.left = staging.backups, staging.left
    return report


def _cells_of(path: Path | None) -> list[Any]:
    if path is None:
        return []
    from dl7.workspace import read_notebook

    return list(strip_outputs(read_notebook(path)).get("cells", []))


def _build(
    layout: Layout,
    source: Path,
    course: Path,
    staging: Staging,
    old: dict[str, Any],
    rules: NbgraderRules,
    around: tuple[list[Any], list[Any]],
) -> ImportReport:
    steps: list[dict[str, Any]] = []
    reports: list[StepReport] = []
    ids: dict[str, Path] = {}
    for folder in layout.folders:
        step_id = slug(folder.name)
        if step_id in ids:
            raise Dl7Error(
                f"the assignments {ids[step_id].name!r} and {folder.name!r} both become step {step_id!r}"
            )
        ids[step_id] = folder
        if not folder.resolve().is_relative_to(source):  # a linked assignment: its files are not the source's
            raise Dl7Error(
                f"the assignment {folder} is a link to {folder.resolve()}, outside {source}",
                hint="copy that assignment into the source folder to import it",
            )
        entry, report = _step(folder, step_id, staging, old["steps"].get(step_id, {}), rules, around)
        steps.append(entry)
        reports.append(report)
    kept = [s for sid, s in old["steps"].items() if sid not in ids]
    top = old["top"]
    name = layout.root.name if layout.root is not None else source.name
    doc: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "id": top.get("id") or slug(course.name),
        "title": top.get("title") or f"{name} (from nbgrader)",
        "description": top.get("description")
        or f"Imported from the nbgrader assignments in {layout.source} with `dl7 import nbgrader`.",
    }
    for key in ("source", "checkers", "defaults", "kernel"):
        if top.get(key):
            doc[key] = top[key]
    # nbgrader autograde runs every notebook with NBGRADER_EXECUTION=autograde (its
    # converters/autograde.py), and a course's tests may read it: so does every dl7 kernel.
    kernel = doc.setdefault("kernel", {})
    kernel.setdefault("env", {}).setdefault("NBGRADER_EXECUTION", "autograde")
    doc["steps"] = steps + kept
    import yaml

    class _Plain(yaml.SafeDumper):
        """Every value written out in full: dl7 refuses YAML aliases, and so would a teacher."""

        def ignore_aliases(self, data: Any) -> bool:
            return True

    text = (
        "# Written by `dl7 import nbgrader`; importing again keeps titles, summaries, readings and hints.\n"
    )
    text += yaml.dump(doc, Dumper=_Plain, sort_keys=False, allow_unicode=True, width=100)
    _write(staging, MANIFEST, text)
    manifest = course / MANIFEST
    return ImportReport(
        course, manifest, reports, [str(s.get("id")) for s in kept], bool(old["steps"]), layout.header
    )


def _write(staging: Staging, rel: str, text: str) -> None:
    from dl7.atomic import write_atomic

    path = staging.before_write(rel)
    try:
        write_atomic(path, text)
    except OSError as exc:
        raise os_error(exc, "cannot write", path) from None
    staging.wrote(rel)


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
    folder: Path,
    step_id: str,
    staging: Staging,
    old: dict[str, Any],
    rules: NbgraderRules,
    around: tuple[list[Any], list[Any]],
) -> tuple[dict[str, Any], StepReport]:
    report = StepReport(step_id, folder)
    files = _side_files(folder, report.refused)
    for rel in list(files):
        dest = staging.before_write(f"{step_id}/{rel}")
        why = _copy_regular(folder / rel, dest)
        if why is not None:  # changed into a link or a special file since the walk
            files.remove(rel)
            report.refused.append((rel, why))
        else:
            staging.wrote(f"{step_id}/{rel}")
    report.files = files
    old_notebooks = {str(n.get("path")): n for n in old.get("notebooks") or [] if isinstance(n, dict)}
    notebooks: list[dict[str, Any]] = []
    first_title = ""
    inside = folder.resolve()
    names: set[str] = set()  # exercise names of the step: two notebooks may share a grade_id
    for path in _notebooks(folder, set()):
        why = _not_regular_inside(path, inside)
        if why is not None:
            report.refused.append((path.name, why))
            continue
        rel = f"{step_id}/{path.name}"
        entry, title, text = _notebook(
            path, rel, step_id, files, old_notebooks.get(rel, {}), report, rules, around, names
        )
        _write(staging, rel, text)
        first_title = first_title or title
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


def _side_files(folder: Path, refused: list[tuple[str, str]]) -> list[str]:
    """The regular files in ``folder`` and below (but the notebooks beside it), never through a
    link; anything else found is added to ``refused`` with the reason."""
    found = []
    inside = folder.resolve()
    for here, dirs, names in os.walk(folder):  # followlinks=False: a linked folder is not entered
        at = Path(here)
        dirs[:] = sorted(d for d in dirs if d not in _SKIP and not d.startswith("."))
        for name in sorted(names) + [d for d in dirs if (at / d).is_symlink()]:
            path = at / name
            rel = path.relative_to(folder)
            if name in _SKIP or name.startswith(".") or (path.suffix == ".ipynb" and len(rel.parts) == 1):
                continue
            why = _not_regular_inside(path, inside)
            if why is None:
                found.append(rel.as_posix())
            else:
                refused.append((rel.as_posix(), why))
    return sorted(found)


def _not_regular_inside(path: Path, inside: Path) -> str | None:
    """Why ``path`` is not copied (a link, a special file, somewhere outside ``inside``), or None."""
    try:
        st = path.lstat()
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISLNK(st.st_mode):
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        return f"is a symbolic link (to {target}); only regular files are copied"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file (a device, a pipe or a socket); only regular files are copied"
    if not path.resolve().is_relative_to(inside):  # a linked folder above it
        return f"lies outside the assignment folder {inside}"
    return None


def _copy_regular(source: Path, dest: Path) -> str | None:
    """Copy ``source`` to ``dest`` if it is still a regular file, opened without following a link
    (the walk looked at it a moment ago; a link put there since is refused, not followed).
    Returns why it was not copied, or None."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(source, flags)  # O_NONBLOCK: a pipe put there does not hang the import
    except OSError as exc:
        if os.path.islink(source):
            return "is a symbolic link; only regular files are copied"
        raise os_error(exc, "cannot read", source) from None
    with os.fdopen(fd, "rb") as src:
        if not stat.S_ISREG(os.fstat(src.fileno()).st_mode):
            return "is not a regular file (a device, a pipe or a socket); only regular files are copied"
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.unlink(missing_ok=True)  # a link left in the course from before is not written through
            with open(dest, "wb") as out:
                import shutil  # only when copying: it pulls in bz2 and lzma

                shutil.copyfileobj(src, out)
        except OSError as exc:
            raise os_error(exc, "cannot copy", dest) from None
    return None


def _notebook(
    path: Path,
    rel: str,
    step_id: str,
    files: list[str],
    old: dict[str, Any],
    report: StepReport,
    rules: NbgraderRules,
    around: tuple[list[Any], list[Any]],
    names: set[str],
) -> tuple[dict[str, Any], str, str]:
    """One notebook as the course holds it (header and footer around its cells, nbgrader's
    rules in its metadata), its manifest entry and its title."""
    from dl7.workspace import notebook_text, read_notebook

    data = strip_outputs(read_notebook(path))
    cells = data.get("cells", [])
    seen: dict[str, int] = {}
    for index, cell in enumerate(cells):
        normalise(path, index, cell)
        refuse_autotests(path, index, cell)
        gid = grade_id(cell)
        meta = nbgrader_meta(cell)
        if not meta:
            continue
        if gid in seen and (meta.get("grade") or meta.get("solution") or meta.get("locked")):
            raise Dl7Error(f"{path}: cell {index + 1}: grade_id {gid!r} is used by cell {seen[gid] + 1} too")
        if gid:
            seen[gid] = index
        if meta.get("locked") or is_test_cell(cell):
            # Jupyter keeps a locked cell from being edited or deleted (nbgrader's own flags)
            cell.setdefault("metadata", {}).update({"editable": False, "deletable": False})
    dl7_meta = data.setdefault("metadata", {}).setdefault("dl7", {})
    dl7_meta["nbgrader"] = rules.as_metadata()
    try:
        solution_regions(data)
        nbgrader_release(data, rules)  # what nbgrader refuses at release, refused here
    except MarkerError as exc:
        raise Dl7Error(f"{path}: {exc}") from None
    header, footer = around
    data["cells"] = copy.deepcopy(header) + cells + copy.deepcopy(footer)
    spec = data["metadata"].setdefault("kernelspec", {})
    if spec.get("name") != "python3":  # dl7 runs every notebook with its own Python
        spec.update({"name": "python3", "display_name": "Python 3", "language": "python"})
    old_ex = {str(e.get("id")): e for e in old.get("exercises") or [] if isinstance(e, dict)}
    exercises: list[dict[str, Any]] = []
    manual: list[dict[str, Any]] = []
    titles: set[str] = set()
    readable = exercise_titles(cells)  # the heading, or the cell's first comment where headings repeat
    heading = ""
    nb_title = ""
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
        title = readable.get(gid) or heading or gid
        if title in titles:
            title = f"{title} ({gid})"
        if is_test_cell(cell):
            titles.add(title)
            name = slug(gid, word=True)
            if name in names:  # the same grade_id in another notebook of the assignment
                name = slug(f"{path.stem}_{gid}", word=True)
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
            hidden = rules.begin_hidden in cell_source(cell)
            report.exercises.append((eid, points, hidden))
        elif is_manual_cell(cell):
            titles.add(title)
            m: dict[str, Any] = {"grade_id": gid, "title": title}
            if points is not None:
                m["points"] = points
            manual.append(m)
            report.manual.append((gid, points))
    if not exercises:
        report.without_tests.append(rel)
    entry: dict[str, Any] = {"path": rel, "title": old.get("title") or nb_title or path.stem}
    for key in ("cell_timeout", "budget"):
        if old.get(key):
            entry[key] = old[key]
    if files:
        entry["files"] = list(files)  # a list of its own: one shared would be dumped as a YAML alias
    entry["exercises"] = exercises
    if manual:
        entry["manual"] = manual
    return entry, nb_title, notebook_text(data)


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
        "header": str(report.header) if report.header else None,
        "points": report.points,
        "manual_points": report.manual_points,
        "kept_steps": report.kept_steps,
        "backups": [{"path": p, "backup": b} for p, b in report.backups],
        "left": report.left,
        "steps": [
            {
                "id": s.id,
                "assignment": str(s.assignment),
                "notebooks": s.notebooks,
                "exercises": [{"id": e, "points": p, "hidden_tests": h} for e, p, h in s.exercises],
                "manual": [{"grade_id": g, "points": p} for g, p in s.manual],
                "files": s.files,
                "without_tests": s.without_tests,
                "refused": [{"path": p, "why": w} for p, w in s.refused],
            }
            for s in report.steps
        ],
    }
