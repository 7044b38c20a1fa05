"""Where the learner stands: each step's exercises, readings and last run, and what is next.

Pure data from the manifest and the progress store; no kernel, no notebook parsing, so
``dl7 next`` and ``dl7 status`` stay instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dl7.curriculum import Curriculum, Reading, Step
from dl7.progress import Progress
from dl7.statuses import NOT_RUN, passing

COMPLETED = "completed"  # the outcome of a run that reached its end (dl7.execute.Execution)


@dataclass(frozen=True)
class ExerciseState:
    id: str
    title: str
    status: str  # one of dl7.statuses.STATUSES
    message: str
    # Whether a whole run in a fresh kernel passed it too: a pass checked only inside the
    # learner's notebook (whose kernel may hold code no longer in the file) shows, but does not
    # complete a step.
    run_passed: bool = True


@dataclass(frozen=True)
class StepState:
    step: Step
    exercises: tuple[ExerciseState, ...]
    readings_done: frozenset[str]
    last_run: str | None
    # Notebooks whose last run did not end cleanly: a cell raised outside the checks, or the run
    # stopped (a timeout, a dead kernel) where no exercise's result says so.
    cell_errors: tuple[str, ...] = ()

    @property
    def passed(self) -> int:
        return sum(passing(e.status) for e in self.exercises)

    @property
    def complete(self) -> bool:
        if self.exercises:
            proven = all(e.run_passed for e in self.exercises)
            return self.passed == len(self.exercises) and proven and not self.cell_errors
        read = all(r.id in self.readings_done for r in self.step.readings if not r.optional)
        if self.step.notebooks:  # nothing in them is checked (graded by a person): run them once
            return read and self.last_run is not None and not self.cell_errors
        return read

    @property
    def readings_count(self) -> int:
        return sum(r.id in self.readings_done for r in self.step.readings)

    @property
    def points(self) -> tuple[float, float] | None:
        """Points earned by the checked exercises, and possible in the step: the checked
        exercises' and those of the cells a person grades (courses that give points, such as
        nbgrader imports); None when nothing in the step has points."""
        worth = {e.id: e.points for e in self.step.exercises if e.points is not None}
        if not worth and not self.manual_points:
            return None
        earned = sum(worth.get(e.id, 0.0) for e in self.exercises if passing(e.status))
        return earned, sum(worth.values()) + self.manual_points

    @property
    def manual_points(self) -> float:
        """Points of the cells a teacher grades by hand (never checked by dl7)."""
        return sum(m.points or 0.0 for nb in self.step.notebooks for m in nb.manual)


@dataclass(frozen=True)
class Journey:
    workspace: Path
    course_title: str
    steps: tuple[StepState, ...]

    @property
    def current(self) -> StepState | None:
        """The first step that is not complete; None when the course is done."""
        return next((s for s in self.steps if not s.complete), None)

    def state(self, step_id: str) -> StepState:
        return next(s for s in self.steps if s.step.id == step_id)

    @property
    def exercises_passed(self) -> int:
        return sum(s.passed for s in self.steps)

    @property
    def points(self) -> tuple[float, float] | None:
        """Points earned and possible over the whole course; None when it gives no points."""
        given = [p for s in self.steps if (p := s.points) is not None]
        if not given:
            return None
        return sum(p[0] for p in given), sum(p[1] for p in given)

    def unread(self) -> tuple[Unread, ...]:
        """Readings not marked done, for a learner who finished the exercises: the last step's
        first (a course ends with its pointers onward, as the article ends with Bengio's survey and
        Mohamed's statistical view), then the earlier steps' in course order."""
        order = [*self.steps[-1:], *self.steps[:-1]]
        return tuple(
            Unread(s.step.id, n, r)
            for s in order
            for n, r in enumerate(s.step.readings, start=1)
            if r.id not in s.readings_done
        )


@dataclass(frozen=True)
class Unread:
    """A reading not yet marked done; ``number`` is its place in its step, as `dl7 read` takes it."""

    step_id: str
    number: int
    reading: Reading


def journey(curriculum: Curriculum, progress: Progress, workspace: Path) -> Journey:
    latest = progress.latest_results()
    done = frozenset(progress.readings_done())
    attempts = progress.last_attempts()
    outcomes = progress.notebook_outcomes()
    steps = []
    for step in curriculum.steps:
        exercises = []
        for ex in step.exercises:
            record = latest.get(ex.id)
            exercises.append(
                ExerciseState(
                    ex.id,
                    ex.title,
                    record.status if record else NOT_RUN,
                    record.message if record else "",
                    record is not None and record.run_status is not None and passing(record.run_status),
                )
            )
        last = attempts.get(step.id)
        # Any end but "completed" (a cell raised after the checks, a timeout, a dead kernel) keeps
        # the step open; an interrupted run is not among the outcomes (it saw too little).
        raised = tuple(nb.path for nb in step.notebooks if outcomes.get(nb.path, COMPLETED) != COMPLETED)
        steps.append(StepState(step, tuple(exercises), done, last.started_at if last else None, raised))
    return Journey(workspace, curriculum.title, tuple(steps))
