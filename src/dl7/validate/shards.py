"""Shards: one deterministic share of a validation's cases, for a CI matrix, and the merge of the
shards' reports into the report one unsharded run gives.

The unit shared out is what validate schedules: a notebook's static checks, its solved run
(with the replayed mistakes that run inside it), its unsolved run, each further run of known
mistakes. Every shard plans the whole course (static checks and rounds need no kernel), then
assigns the units longest first, each to the shard with the least work so far (greedy LPT),
ties broken by the lower shard and the units taken in a stable order (notebook, case): the same
course and the same durations give the same assignment on every machine, and every case lands
in exactly one shard. A unit's length is the sum of its cases' recorded seconds (an unsharded
run keeps every executed case's time in the validate cache, or ``--durations`` reads them from
an earlier report, a merged one say); a unit without a record is estimated from the manifest's
budget, scaled by how the recorded units compare with their own estimates. A shard records no
times itself, so shards run one after another on one machine all plan alike.

Each shard's JSON report carries the digest of the whole assignment. The merge refuses shards
that planned differently (other durations, another version of the course), a shard missing or
given twice, and a case reported twice, so a mismatch is an error instead of a case never run.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dl7.errors import Dl7Error
from dl7.validate.model import Report, ShardPlan
from dl7.validate.reports import report_from_json

MAX_SHARDS = 1000
Durations = Mapping[str, Mapping[str, float]]  # notebook -> case -> seconds


@dataclass(frozen=True)
class Shard:
    index: int  # K of K/N, from 1
    count: int  # N


@dataclass(frozen=True)
class Unit:
    """Cases that one kernel run decides (or, for ``static``, no kernel at all)."""

    notebook: str
    cases: tuple[str, ...]
    estimate: float  # seconds guessed from the manifest, for a unit never timed


def parse_shard(text: str) -> Shard:
    """``K/N`` with 1 <= K <= N; anything else is one line of bad usage."""
    found = re.fullmatch(r"\s*(\d{1,9})\s*/\s*(\d{1,9})\s*", text)
    if found is None or not 1 <= int(found[1]) <= int(found[2]) <= MAX_SHARDS:
        raise Dl7Error(f"--shard {text!r}: expected K/N with 1 <= K <= N <= {MAX_SHARDS}, such as 2/3")
    return Shard(int(found[1]), int(found[2]))


def assign(units: list[Unit], count: int, durations: Durations) -> list[int]:
    """The shard (1 to ``count``) of each unit: longest first to the least-loaded shard."""
    costs = _costs(units, durations)
    order = sorted(range(len(units)), key=lambda i: (-costs[i], units[i].notebook, units[i].cases))
    loads = [(0, shard) for shard in range(1, count + 1)]  # a heap: least work, then lowest shard
    shard_of = [0] * len(units)
    for i in order:
        load, shard = heapq.heappop(loads)
        shard_of[i] = shard
        heapq.heappush(loads, (load + costs[i], shard))
    return shard_of


def _costs(units: list[Unit], durations: Durations) -> list[int]:
    """Each unit's length in centiseconds (integers: the same sums on every machine)."""
    recorded: list[float | None] = []
    for unit in units:
        times = durations.get(unit.notebook, {})
        timed = unit.estimate > 0 and all(case in times for case in unit.cases)
        recorded.append(sum(float(times[case]) for case in unit.cases) if timed else None)
    known = [(r, u.estimate) for r, u in zip(recorded, units, strict=True) if r is not None]
    spent, guessed = sum(r for r, _ in known), sum(e for _, e in known)
    scale = spent / guessed if spent > 0 and guessed > 0 else 1.0
    return [
        round(100 * (r if r is not None else u.estimate * scale))
        for r, u in zip(recorded, units, strict=True)
    ]


def share(
    units: list[Unit], shard: Shard, durations: Durations, notebooks: tuple[str, ...]
) -> tuple[set[tuple[str, str]], ShardPlan]:
    """The (notebook, case) pairs of this shard, and the plan its report carries."""
    shard_of = assign(units, shard.count, durations)
    layout = [[u.notebook, list(u.cases), s] for u, s in zip(units, shard_of, strict=True)]
    digest = hashlib.sha256(json.dumps([shard.count, layout]).encode()).hexdigest()
    mine = {
        (u.notebook, case)
        for u, s in zip(units, shard_of, strict=True)
        if s == shard.index
        for case in u.cases
    }
    total = sum(len(u.cases) for u in units)
    return mine, ShardPlan(shard.index, shard.count, digest, total, notebooks)


def durations_from_report(path: Path) -> dict[str, dict[str, float]]:
    """The seconds of every case an earlier report (a merged one, say) executed."""
    report = read_report(path)
    times: dict[str, dict[str, float]] = {}
    for case in report.cases:
        if not case.cached and not case.skipped and case.case != "static":
            times.setdefault(case.notebook, {})[case.case] = case.seconds
    return times


def read_report(path: Path) -> Report:
    """A report written by ``dl7 validate --json``; a one-line error for anything else."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise Dl7Error(f"{path}: cannot read the report: {exc.strerror or exc}") from None
    if text.lstrip().startswith("<"):
        raise Dl7Error(
            f"{path}: this is XML; --merge reads the shards' JSON reports (dl7 validate --json) "
            "and writes the merged JUnit XML with --junit"
        )
    try:
        return report_from_json(json.loads(text))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise Dl7Error(f"{path}: not a report of dl7 validate --json ({exc})") from None


def merge(paths: list[Path]) -> Report:
    """One report from the shards' reports, as an unsharded run of the same course reports it
    (cases in the course's order; the time is the longest shard's, the runs executed add up)."""
    if not paths:
        raise Dl7Error("--merge: name the shards' JSON reports, e.g. dl7 validate --merge shard-*.json")
    reports = [(path, read_report(path)) for path in paths]
    first_path, first = reports[0]
    if first.shard is None:
        raise Dl7Error(f"{first_path}: not a shard's report (it was run without --shard)")
    seen: dict[int, Path] = {}
    for path, report in reports:
        plan = report.shard
        if plan is None:
            raise Dl7Error(f"{path}: not a shard's report (it was run without --shard)")
        if (plan.count, plan.plan, report.course) != (first.shard.count, first.shard.plan, first.course):
            raise Dl7Error(
                f"{path}: shard {plan.index}/{plan.count} was planned differently from {first_path} "
                "(another course version, other steps or other durations): run every shard alike"
            )
        if plan.index in seen:
            raise Dl7Error(
                f"{path}: shard {plan.index}/{plan.count} is given twice (also {seen[plan.index]})"
            )
        seen[plan.index] = path
    missing = sorted(set(range(1, first.shard.count + 1)) - set(seen))
    if missing:
        names = ", ".join(f"{k}/{first.shard.count}" for k in missing)
        raise Dl7Error(f"--merge: shard {names} is missing; every shard's report is needed")
    cases = [case for _, report in reports for case in report.cases]
    twice = sorted(key for key, n in Counter((c.notebook, c.case) for c in cases).items() if n > 1)
    if twice or len(cases) != first.shard.cases:
        what = f"{twice[0][0]} {twice[0][1]} is reported twice" if twice else "cases are missing"
        raise Dl7Error(f"--merge: {what}; the shards do not add up to the plan")
    order = {notebook: n for n, notebook in enumerate(first.shard.notebooks)}
    cases.sort(key=lambda c: (order.get(c.notebook, len(order)), rank(c.case)))
    return Report(
        first.course,
        tuple(cases),
        max(report.seconds for _, report in reports),
        sum(report.executed for _, report in reports),
        warnings=tuple(w for _, report in reports for w in report.warnings),
    )


def rank(case: str) -> tuple[int, int]:
    """A case's place among its notebook's cases: static, solved, unsolved, mistakes 1, 2..."""
    if case.startswith("mistakes "):
        return 3, int(case.split()[1])
    return {"static": 0, "solved": 1, "unsolved": 2}.get(case, 9), 0
