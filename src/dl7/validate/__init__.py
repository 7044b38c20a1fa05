"""``dl7 validate``: prove every notebook works solved, that no check passes unsolved, and that
every known mistake makes its exercise fail.

For each notebook of the course (or of the chosen steps): static checks
(:mod:`~dl7.validate.static`), then kernel runs (:mod:`~dl7.validate.cases`): solved, unsolved,
and a few runs of known mistakes planned by :mod:`~dl7.validate.rounds`. Runs go in parallel
(threads, one kernel each) and are skipped while nothing that could change their verdict has
changed (:mod:`~dl7.validate.cache`). :mod:`~dl7.validate.reports` writes JSON and JUnit XML.
With a shard (``--shard K/N``), every notebook is still planned, and only this shard's share of
the cases runs (:mod:`~dl7.validate.shards`, which also merges the shards' reports).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dl7.authoring import strip_outputs
from dl7.curriculum import Curriculum, Notebook
from dl7.validate.cache import (
    CACHE_ENV,
    Cache,
    cache_file,
    case_key,
    data_digest,
    fingerprint,
    package_digest,
    runner_lock,
)
from dl7.validate.cases import Imported, run_case, run_solved_with_replays
from dl7.validate.model import CaseResult, KnownMistake, MistakeOutcome, Problem, Report, RunAllStop
from dl7.validate.reports import junit_xml, report_json
from dl7.validate.rounds import last_cell, plan
from dl7.validate.shards import Durations, Shard, Unit, rank, share
from dl7.validate.static import static_checks

__all__ = [
    "CACHE_ENV",
    "CaseResult",
    "KnownMistake",
    "MistakeOutcome",
    "Problem",
    "Report",
    "Shard",
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


@dataclass(frozen=True)
class _Planned:
    """One notebook's static result and the runs it needs (none when the static checks failed)."""

    nb: Notebook
    static: CaseResult
    data: dict[str, Any]
    plans: tuple[tuple[str, tuple[KnownMistake, ...], bool], ...]  # (case, mistakes, replayed?)


def chosen_notebooks(curriculum: Curriculum, refs: tuple[str, ...]) -> list[Notebook]:
    """The notebooks ``refs`` name, in course order: a step takes all of its notebooks, a
    notebook (its path, file name or stem) itself; no refs is the whole course."""
    if not refs:
        return list(curriculum.notebooks)
    wanted: set[str] = set()
    for ref in refs:
        nb = curriculum.find_notebook(ref)
        if nb is not None:
            wanted.add(nb.path)
        else:
            wanted.update(n.path for n in curriculum.step(ref).notebooks)
    return [nb for nb in curriculum.notebooks if nb.path in wanted]


def validate(
    curriculum: Curriculum,
    steps: tuple[str, ...] = (),
    *,
    jobs: int | None = None,
    use_cache: bool = True,
    listener: Listener | None = None,
    shard: Shard | None = None,
    durations: Durations | None = None,
) -> Report:
    """Validate the course (or ``steps``); with ``shard``, only that share of the cases, balanced
    by ``durations`` (default: the times the cache recorded)."""
    start = time.monotonic()
    notebooks = chosen_notebooks(curriculum, steps)
    cache = Cache(curriculum)  # read even with --no-cache, so other notebooks' entries survive
    lock = runner_lock()
    package = package_digest(curriculum)
    folders: dict[Path, str] = {}
    planned = [_plan(curriculum, nb, cache) for nb in notebooks]
    mine: set[tuple[str, str]] | None = None
    shard_plan = None
    if shard is not None:
        units = [unit for p in planned for unit in _units(p)]
        times = cache.durations if durations is None else durations
        mine, shard_plan = share(units, shard, times, tuple(nb.path for nb in notebooks))

    def taken(nb: Notebook, case: str) -> bool:
        return mine is None or (nb.path, case) in mine

    cases: list[CaseResult] = []
    pending: list[_Job] = []
    for p in planned:
        nb, data = p.nb, p.data
        if taken(nb, "static"):
            cases.append(p.static)
        if not p.static.ok:
            cases += [
                CaseResult(
                    nb.path, c, False, (Problem(None, "not run: the static checks failed"),), skipped=True
                )
                for c in ("solved", "unsolved")
                if taken(nb, c)
            ]
            continue
        source = strip_outputs(data)
        digest = data_digest(curriculum, nb, folders)
        jobs_here: list[_Job] = []
        for case, round_, replay in p.plans:
            if not taken(nb, case):
                continue
            extra = [replay, [(k.exercise, k.label, k.mistake.cell, k.mistake.start_line) for k in round_]]
            key = case_key(curriculum, nb, case, source, extra, lock, package, digest)
            entry = cache.lookup(key) if use_cache else None
            if entry is not None:
                statuses = entry.get("statuses", ["failed"] * len(round_))
                messages = entry.get("messages", [""] * len(round_))  # kept since 0.3.0
                outcomes = tuple(
                    MistakeOutcome(k.exercise, k.label, str(s), str(m), True)
                    for k, s, m in zip(round_, statuses, messages, strict=False)
                )
                stops = tuple(RunAllStop(int(c), str(e)) for c, e in entry.get("stopped_run_all", []))
                cases.append(
                    CaseResult(nb.path, case, True, cached=True, mistakes=outcomes, stopped_run_all=stops)
                )
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

    def work(job: _Job) -> list[tuple[str, str, CaseResult, Imported | None]]:
        """(case, cache key, result, what the kernel imported) of every case the job's run decides."""
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
            if shard is None:
                # A shard records no times: every shard of one plan must see the same ones, and
                # shards run one after another on one machine would otherwise not.
                cache.record_duration(job.nb.path, case, result.seconds)
            if result.ok and imported is not None:
                cache.store(
                    key,
                    job.nb.path,
                    case,
                    {
                        "seconds": round(result.seconds, 2),
                        "deps": fingerprint(list(imported.files), curriculum),
                        "dists": cache.installed.distributions(imported.modules),
                        **(
                            {"stopped_run_all": [[r.cell, r.error] for r in result.stopped_run_all]}
                            if result.stopped_run_all
                            else {}
                        ),
                        **(
                            {
                                "statuses": [m.status for m in result.mistakes],
                                "messages": [m.message for m in result.mistakes],
                            }
                            if result.mistakes
                            else {}
                        ),
                    },
                )
    unsaved = cache.write() if finished or use_cache else None
    order = {nb.path: i for i, nb in enumerate(notebooks)}
    cases.sort(key=lambda c: (order[c.notebook], rank(c.case)))
    return Report(
        curriculum.id,
        tuple(cases),
        time.monotonic() - start,
        len(pending),
        str(curriculum.path),
        warnings=(unsaved,) if unsaved else (),
        shard=shard_plan,
    )


def _plan(curriculum: Curriculum, nb: Notebook, cache: Cache) -> _Planned:
    """A notebook's static checks and the runs they call for (every shard plans them all)."""
    static, data, known = static_checks(curriculum, nb)
    if not static.ok:
        return _Planned(nb, static, data, ())
    plans: list[tuple[str, tuple[KnownMistake, ...], bool]] = [("solved", (), False), ("unsolved", (), False)]
    plans += [(f"mistakes {n}", r, replay) for n, (r, replay) in enumerate(plan(data, known), start=1)]
    cache.forget_other_cases(nb.path, {case for case, _, _ in plans})
    return _Planned(nb, static, data, tuple(plans))


def _units(p: _Planned) -> list[Unit]:
    """What shards share out: the static checks; the solved run with the replayed mistakes run
    inside it (:func:`_merge_replays`); the unsolved run; each further run of mistakes."""
    nb = p.nb
    if not p.plans:
        return [Unit(nb.path, (case,), 0.0) for case in ("static", "solved", "unsolved")]
    cost = {case: _cost(nb, p.data, case, round_) for case, round_, _ in p.plans}
    replayed = [case for case, _, replay in p.plans if replay]
    units = [Unit(nb.path, ("static",), 0.0), Unit(nb.path, ("solved", *replayed), 0.0)]
    units += [
        Unit(nb.path, (case,), 0.0) for case, _, _ in p.plans if case != "solved" and case not in replayed
    ]
    return [
        Unit(u.notebook, u.cases, 0.0 if u.cases == ("static",) else sum(cost[c] for c in u.cases))
        for u in units
    ]


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
