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
from dataclasses import dataclass, replace
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
from dl7.validate.cases import run_case, run_solved_with_replays
from dl7.validate.model import CaseResult, KnownMistake, MistakeOutcome, Problem, Report
from dl7.validate.reports import junit_xml, report_json
from dl7.validate.rounds import last_cell, plan
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
    "kernel_threads",
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
    also: tuple[str, str] | None = None  # (case, key) of replays that run inside this solved run
    cost: float = 0.0  # a guess at its seconds, to start the longest runs first


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
        jobs_here: list[_Job] = []
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
                jobs_here.append(
                    _Job(nb, case, key, data, round_, replay, cost=_cost(nb, data, case, round_))
                )
        pending += _merge_replays(jobs_here)
    # Longest first, so that no long run starts last while the other workers sit idle.
    pending.sort(key=lambda job: -job.cost)
    workers = max(1, jobs or os.cpu_count() or 1)
    env = kernel_threads(workers)

    def work(job: _Job) -> list[tuple[str, str, CaseResult, list[str] | None]]:
        """(case, cache key, result, imported files) of every case the job's run decides."""
        if listener:
            listener(job.nb.path, job.case, "start", None)
        if job.also is not None:
            solved, mistakes, imported = run_solved_with_replays(
                curriculum, job.nb, job.also[0], job.data, job.chosen, env
            )
            done = [(job.case, job.key, solved, imported), (job.also[0], job.also[1], mistakes, imported)]
        else:
            result, imported = run_case(curriculum, job.nb, job.case, job.data, job.chosen, job.replay, env)
            done = [(job.case, job.key, result, imported)]
        if listener:
            for case, _, result, _ in done:
                listener(job.nb.path, case, "done", result)
        return done

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dl7-validate") as pool:
        finished = list(pool.map(work, pending))
    for job, done in zip(pending, finished, strict=True):
        for case, key, result, imported in done:
            cases.append(result)
            if result.ok and imported is not None:
                cache.store(
                    key,
                    job.nb.path,
                    case,
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


THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def kernel_threads(workers: int) -> dict[str, str]:
    """Linear-algebra threads per kernel when ``workers`` kernels run at once: the cores shared
    out, so two kernels on two cores do not each start a thread per core and fight over them
    (a numpy notebook ran 2.5x faster so, measured under load). A value the user set wins."""
    share = str(max(1, (os.cpu_count() or 1) // workers))
    return {name: share for name in THREAD_VARS if workers > 1 and name not in os.environ}


def _merge_replays(jobs: list[_Job]) -> list[_Job]:
    """The replayed mistakes run inside the solved run when both are to run: the replays only
    re-run cells that define, so the solved cells around them see what they would alone, and
    a notebook's heaviest run is not made twice."""
    solved = next((j for j in jobs if j.case == "solved"), None)
    replayed = next((j for j in jobs if j.replay), None)
    if solved is None or replayed is None:
        return jobs
    merged = replace(
        solved, chosen=replayed.chosen, also=(replayed.case, replayed.key), cost=solved.cost + replayed.cost
    )
    return [merged if j is solved else j for j in jobs if j is not replayed]


def _cost(nb: Notebook, data: dict[str, Any], case: str, chosen: tuple[KnownMistake, ...]) -> float:
    """A guess at a run's seconds from the manifest's budget: the whole of it for the solved
    run, the share of the notebook a mistakes run goes through, little for the unsolved one
    (its cells stop at the first missing solution)."""
    if case == "unsolved":
        return nb.budget * 0.2
    if not chosen:
        return float(nb.budget)
    cells = max(1, len(data.get("cells", [])))
    return nb.budget * (last_cell(data, chosen) + 1) / cells


def _rank(case: str) -> tuple[int, int]:
    if case.startswith("mistakes "):
        return 3, int(case.split()[1])
    return {"static": 0, "solved": 1, "unsolved": 2}.get(case, 9), 0
