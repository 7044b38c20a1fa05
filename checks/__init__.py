"""The checkers of the seven-step course, one package per step (``step1`` ... ``step7``).

This is course code, laid out as a teacher lays out theirs: ``curriculum.yaml`` names each
step's package under ``checkers:`` (``checks/step1``), and the runner loads them from here as
it loads any course's checkers. Nothing in ``dl7`` itself knows these steps. A checker uses
only the runner's in-notebook API (``from dl7.checks import checker, CheckFailed`` and the
helpers in :mod:`dl7.checks.helpers`); a step shares code within its package with relative
imports (``from ._common import ...``).

Importing this package imports no step: each step's package loads when one of its exercises
is first checked.
"""
