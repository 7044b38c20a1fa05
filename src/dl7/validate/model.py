"""What validation reports: problems, one result per case, the whole report."""

from __future__ import annotations

from dataclasses import dataclass

from dl7.authoring import Mistake


@dataclass(frozen=True)
class Problem:
    exercise: str | None
    reason: str


@dataclass(frozen=True)
class KnownMistake:
    """A known mistake and the exercise it must make fail."""

    exercise: str
    mistake: Mistake

    @property
    def label(self) -> str:
        return self.mistake.label


@dataclass(frozen=True)
class MistakeOutcome:
    """How the exercise fared with one known mistake in place of its solution."""

    exercise: str
    label: str
    status: str  # the exercise's status in that run: anything but "passed" rejects the mistake
    message: str
    ok: bool


@dataclass(frozen=True)
class RunAllStop:
    """A cell of the learner's copy that raised in the unsolved run: JupyterLab's Run All stops
    there, and the learner sees no verdict below it."""

    cell: int  # 1-based, as the cells are counted in every message
    error: str  # the exception's type, e.g. "NotImplementedError"


@dataclass(frozen=True)
class CaseResult:
    """One test case: a notebook × {static, solved, unsolved, mistakes N}."""

    notebook: str
    case: str  # static | solved | unsolved | mistakes N (one run of several known mistakes)
    ok: bool
    problems: tuple[Problem, ...] = ()
    seconds: float = 0.0
    cached: bool = False
    skipped: bool = False  # not run because the static checks failed
    mistakes: tuple[MistakeOutcome, ...] = ()
    # unsolved case only: information, not a failure (an nbgrader import's stubs raise in its
    # demo cells by design); a course may require none (this repository's tests do)
    stopped_run_all: tuple[RunAllStop, ...] = ()


@dataclass(frozen=True)
class ShardPlan:
    """Which share of the cases a sharded run took, and what the merge needs to check the
    shards belong together (see :mod:`dl7.validate.shards`)."""

    index: int  # K of K/N, from 1
    count: int  # N
    plan: str  # digest of the whole assignment: equal in every shard of one plan
    cases: int  # cases in all N shards together
    notebooks: tuple[str, ...]  # every notebook validated, in the course's order


@dataclass(frozen=True)
class Report:
    course: str
    cases: tuple[CaseResult, ...]
    seconds: float
    executed: int  # notebook runs actually executed (not cached)
    manifest: str = ""
    warnings: tuple[str, ...] = ()  # e.g. the cache could not be saved (a full or read-only disk)
    shard: ShardPlan | None = None  # set when this run was one shard of several

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.cases)

    @property
    def known_mistakes(self) -> int:
        return sum(len(c.mistakes) for c in self.cases)
