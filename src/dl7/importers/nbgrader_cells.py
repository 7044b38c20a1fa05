"""nbgrader's own rules for a source notebook's cells, and the course's ``nbgrader_config.py``.

Each rule is nbgrader 0.9's (``nbgrader/nbgraderformat/v1.py`` and ``v3.py``,
``preprocessors/instantiatetests.py``): metadata without a ``schema_version`` is upgraded as
``nbgrader update`` does (points written as strings become numbers, a blank or missing one 0);
current metadata is refused where nbgrader refuses it, with the cell and the reason. Nothing of
nbgrader is imported: the rules are a few lines each.

``nbgrader_config.py`` is Python; it is never run. Only plain assignments of literals that the
import needs (``c.IncludeHeaderFooter.header = "source/header.ipynb"``, the stubs and delimiters
of ``ClearSolutions``, ``ClearHiddenTests`` and ``ClearMarkScheme``) are read from it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

from dl7.authoring import NBGRADER_AUTOTEST as AUTOTEST
from dl7.errors import Dl7Error

_GRADE_ID = re.compile(r"^[a-zA-Z0-9_\-]*$")  # nbgrader's v3 schema


def normalise(path: Path, index: int, cell: dict[str, Any]) -> None:
    """Upgrade old metadata in place, and refuse what ``nbgrader generate_assignment`` refuses.

    ``index`` is 0-based; errors count cells from 1 and name the grade_id, as Jupyter users see.
    """
    meta = (cell.get("metadata") or {}).get("nbgrader")
    if meta is None:
        return
    where = f"{path}: cell {index + 1}"
    if not isinstance(meta, dict):
        raise Dl7Error(f"{where}: metadata.nbgrader is not a mapping")
    if not meta.get("schema_version"):
        _upgrade_v0(where, cell, meta)
        if "nbgrader" not in cell["metadata"]:
            return
    for key in ("grade", "solution", "locked", "task"):
        if key in meta and not isinstance(meta[key], bool):
            raise Dl7Error(f"{where}: nbgrader {key!r} must be true or false, not {meta[key]!r}")
    grade, solution, locked, task = (bool(meta.get(k)) for k in ("grade", "solution", "locked", "task"))
    gid = meta.get("grade_id")
    if grade or solution or locked:
        if gid is None:
            raise Dl7Error(f"{where}: an nbgrader cell without a grade_id (nbgrader refuses it too)")
        if not isinstance(gid, str) or gid == "":
            raise Dl7Error(f"{where}: the grade_id is empty (nbgrader refuses it too)")
    if isinstance(gid, str) and not _GRADE_ID.match(gid):
        raise Dl7Error(
            f"{where}: grade_id {gid!r} may hold only letters, digits, '_' and '-' (as in nbgrader)"
        )
    name = f"{where} ({gid!r})"
    if grade:
        if "points" not in meta:
            raise Dl7Error(f"{name}: a graded cell without points (nbgrader refuses it too)")
        points = meta["points"]
        if isinstance(points, bool) or not isinstance(points, int | float):
            raise Dl7Error(f"{name}: points must be a number, not {points!r} (nbgrader refuses it too)")
        if points < 0:
            raise Dl7Error(f"{name}: points must be 0 or more, not {points!r} (nbgrader refuses it too)")
    kind = cell.get("cell_type")
    if task:
        if kind != "markdown":
            raise Dl7Error(f"{name}: a task cell must be Markdown (nbgrader refuses it too)")
    elif kind == "markdown" and grade and not solution:
        raise Dl7Error(
            f"{name}: a graded Markdown cell that is not a solution cell (nbgrader refuses it too)"
        )
    elif kind == "markdown" and solution and not grade:
        raise Dl7Error(
            f"{name}: a Markdown solution cell that is not graded (nbgrader refuses it too)",
            hint="mark it 'Manually graded answer' in the Create Assignment toolbar",
        )


def _upgrade_v0(where: str, cell: dict[str, Any], meta: dict[str, Any]) -> None:
    """nbgrader's ``_upgrade_v0_to_v1``: the metadata of notebooks written before 0.4."""
    for key in ("grade", "solution", "locked"):
        meta.setdefault(key, False)
    if not (meta["grade"] or meta["solution"] or meta["locked"]):
        del cell["metadata"]["nbgrader"]
        return
    if not meta["grade"]:
        meta.pop("points", None)
    elif meta.get("points") in (None, ""):
        meta["points"] = 0.0
    else:
        try:
            points = float(meta["points"])
        except (TypeError, ValueError):
            raise Dl7Error(f"{where}: points {meta['points']!r} is not a number") from None
        meta["points"] = max(points, 0.0)
    meta["schema_version"] = 3


def refuse_autotests(path: Path, index: int, cell: dict[str, Any]) -> None:
    """nbgrader >= 0.9 turns ``### AUTOTEST expr`` lines into tests at release time, by running
    a kernel against ``autotests.yml``; dl7 does not, and would run them as comments."""
    if cell.get("cell_type") != "code":
        return
    source = cell.get("source", "")
    text = "".join(source) if isinstance(source, list) else str(source)
    for lineno, line in enumerate(text.split("\n"), start=1):
        if AUTOTEST in line:
            raise Dl7Error(
                f"{path}: cell {index + 1}, line {lineno}: {line.strip()!r}: nbgrader's generated "
                "tests (AUTOTEST, autotests.yml) are not supported",
                hint="write the asserts they stand for in the test cell, then import again",
            )


def read_config(course_root: Path | None) -> dict[str, Any]:
    """The literal settings of ``nbgrader_config.py`` that the import uses, as
    ``{"IncludeHeaderFooter.header": "source/header.ipynb", ...}``."""
    if course_root is None:
        return {}
    path = course_root / "nbgrader_config.py"
    if not path.is_file():
        return {}
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError, SyntaxError) as exc:
        raise Dl7Error(f"cannot read {path}: {exc}") from None
    found: dict[str, Any] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        target = node.targets[0]
        if not (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Attribute)
            and isinstance(target.value.value, ast.Name)
            and target.value.value.id == "c"
        ):
            continue
        try:
            value = ast.literal_eval(node.value)
        except ValueError:
            continue  # computed at nbgrader's run time: not ours to guess
        found[f"{target.value.attr}.{target.attr}"] = value
    return found
