"""``dl7 validate``: prove every notebook works solved, that no check passes unsolved, and that
every known mistake makes its exercise fail.

For each notebook of the course (or of the chosen steps): static checks
(:mod:`~dl7.validate.static`), then kernel runs (:mod:`~dl7.validate.cases`): solved, unsolved,
and a few runs of known mistakes planned by :mod:`~dl7.validate.rounds`. Runs go in parallel
(threads, one kernel each) and are skipped while nothing that could change their verdict has
changed (:mod:`~dl7.validate.cache`). :mod:`~dl7.validate.reports` writes JSON and JUnit XML.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from dl7.authoring import strip_outputs
from dl7.curriculum import Curriculum, Notebook
from dl7.validate.cache import (
    CACHE_ENV,
    Cache,
    cache_file,
    case_key,
    fingerprint,
    package_digest,
    package_lock,
)
from dl7.validate.cases import run_case
from dl7.validate.model import CaseResult, KnownMistake, MistakeOutcome, Problem, Report
from dl7.validate.reports import junit_xml, report_json
from dl7.validate.rounds import plan
from dl7.validate.static import static_checks

__all__ = [
    "CACHE_ENV",
    "CaseResult",
    "KnownMistake",
    "MistakeOutcome",
    "Problem",
    "Report",
    "cache_file",
    "junit_xml",
    "report_json",
    "run_case",
    "static_checks",
    "validate",
]

Listener = Callable[[str, str, str, "CaseResult | None"], None]  # (notebook, case, event, result)


@dataclass
class _Job:
    nb: Notebook
    case: str
    key: str
    data: dict[str, Any]
    chosen: tuple[KnownMistake, ...] = ()
    replay: bool = False


def validate(
    curriculum: Curriculum,
    steps: tuple[str, ...] = (),
    *,
    jobs: int | None = None,
    use_cache: bool = True,
    listener: Listener | None = None,
) -> Report:
    start = time.monotonic()
    chosen = [curriculum.step(s).id for s in steps] if steps else [s.id for s in curriculum.steps]
    notebooks = [nb for step in curriculum.steps if step.id in chosen for nb in step.notebooks]
    cache = Cache(curriculum)  # read even with --no-cache, so other notebooks' entries survive
    lock = package_lock()
    package = package_digest(curriculum)
    cases: list[CaseResult] = []
    pending: list[_Job] = []
    for nb in notebooks:
        static, data, known = static_checks(curriculum, nb)
        cases.append(static)
        if not static.ok:
            cases += [
                CaseResult(
                    nb.path, c, False, (Problem(None, "not run: the static checks failed"),), skipped=True
                )
                for c in ("solved", "unsolved")
            ]
            continue
        source = strip_outputs(data)
        plans: list[tuple[str, tuple[KnownMistake, ...], bool]] = [
            ("solved", (), False),
            ("unsolved", (), False),
        ]
        plans += [(f"mistakes {n}", r, replay) for n, (r, replay) in enumerate(plan(data, known), start=1)]
        cache.forget_other_cases(nb.path, {case for case, _, _ in plans})
        for case, round_, replay in plans:
            extra = [replay, [(k.exercise, k.label, k.mistake.cell, k.mistake.start_line) for k in round_]]
            key = case_key(curriculum, nb, case, source, extra, lock, package)
            entry = cache.lookup(key) if use_cache else None
            if entry is not None:
                outcomes = tuple(
                    MistakeOutcome(k.exercise, k.label, str(s), "", True)
                    for k, s in zip(round_, entry.get("statuses", ["failed"] * len(round_)), strict=False)
                )
                cases.append(CaseResult(nb.path, case, True, cached=True, mistakes=outcomes))
                if listener:
                    listener(nb.path, case, "cached", cases[-1])
            else:
                pending.append(_Job(nb, case, key, data, round_, replay))
    workers = max(1, jobs or os.cpu_count() or 1)

    def work(job: _Job) -> tuple[CaseResult, list[str] | None]:
        if listener:
            listener(job.nb.path, job.case, "start", None)
        result, imported = run_case(curriculum, job.nb, job.case, job.data, job.chosen, job.replay)
        if listener:
            listener(job.nb.path, job.case, "done", result)
        return result, imported

    # Longest first would need timings; manifest order keeps output predictable.
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dl7-validate") as pool:
        finished = list(pool.map(work, pending))
    for job, (result, imported) in zip(pending, finished, strict=True):
        cases.append(result)
        if result.ok and imported is not None:
            cache.store(
                job.key,
                job.nb.path,
                job.case,
                {
                    "seconds": round(result.seconds, 2),
                    "deps": fingerprint(imported, curriculum),
                    **({"statuses": [m.status for m in result.mistakes]} if result.mistakes else {}),
                },
            )
    unsaved = cache.write() if finished or use_cache else None
    order = {nb.path: i for i, nb in enumerate(notebooks)}
    cases.sort(key=lambda c: (order[c.notebook], _rank(c.case)))
    return Report(
        curriculum.id,
        tuple(cases),
        time.monotonic() - start,
        len(pending),
        str(curriculum.path),
        warnings=(unsaved,) if unsaved else (),
    )


def _rank(case: str) -> tuple[int, int]:
    if case.startswith("mistakes "):
        return 3, int(case.split()[1])
    return {"static": 0, "solved": 1, "unsolved": 2}.get(case, 9), 0
