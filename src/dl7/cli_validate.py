"""``dl7 validate``: the author's and CI's command, kept apart from the learner's commands."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from dl7.cli_common import course_manifest, err, out
from dl7.cli_common import print_json as _print_json
from dl7.cli_types import JsonOpt
from dl7.errors import ExitCode, os_error


def validate(
    steps: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="STEP|NOTEBOOK...",
            help="Only these steps or notebooks (a path, file name or stem; default: all). "
            "With --merge: the shards' JSON reports.",
            show_default=False,
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", min=1, help="Notebooks run at once (default: number of cores)."),
    ] = None,
    junit: Annotated[
        Path | None,
        typer.Option("--junit", metavar="FILE", help="Write JUnit XML: one test case per notebook and case."),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Run every notebook, even unchanged ones.")
    ] = False,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard",
            metavar="K/N",
            help="Run only shard K of N: a fixed share of the cases, balanced by their recorded times.",
        ),
    ] = None,
    durations: Annotated[
        Path | None,
        typer.Option(
            "--durations",
            metavar="REPORT",
            help="With --shard: balance by the case times of this JSON report (an earlier merged one).",
        ),
    ] = None,
    merge: Annotated[
        bool,
        typer.Option("--merge", help="Merge the shards' JSON reports (given as arguments) into one report."),
    ] = False,
    messages: Annotated[
        bool,
        typer.Option("--messages", help="Show what a learner is told for each known mistake."),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Prove the course sound: every solution passes, no check passes unsolved, and every known
    mistake (### BEGIN MISTAKE label) fails its exercise.

    Also checks the manifest and each notebook (no outputs, balanced solution and mistake
    markers, every check listed and every listed exercise checked). Exit 0 when all holds, 1 when
    anything fails, 2 when the manifest itself is broken.

    For a CI matrix: `--shard K/N --json` in each of N jobs, then `--merge` of their reports gives
    the report (JSON, JUnit, or the table) of one unsharded run.
    """
    from dl7.curriculum import resolve_path
    from dl7.errors import Dl7Error, ManifestError
    from dl7.manifest_cache import load
    from dl7.validate import chosen_notebooks, junit_xml, report_json
    from dl7.validate import validate as run_validation
    from dl7.validate.cache import cache_file_at
    from dl7.validate.shards import durations_from_report, parse_shard
    from dl7.validate.shards import merge as merge_reports
    from dl7.views import ValidateProgress, render_validate

    if merge:
        given = [
            name
            for name, value in (("--shard", shard), ("--durations", durations), ("--jobs", jobs))
            if value
        ]
        if given or no_cache:
            raise Dl7Error(
                f"--merge reads reports and runs nothing: drop {', '.join(given or ['--no-cache'])}"
            )
        report = merge_reports([Path(name) for name in steps or []])
    else:
        chosen = parse_shard(shard) if shard is not None else None  # bad usage before any work
        if durations is not None and chosen is None:
            raise Dl7Error("--durations only balances shards: use it with --shard K/N")
        times = durations_from_report(durations) if durations is not None else None
        try:
            # Parsed once per change of its files, as for the learner's commands; the parse is kept
            # beside the run cache (in the per-user cache), once that folder exists.
            manifest = resolve_path(course_manifest()[0])  # named, where you stand, or the default
            curriculum = load(manifest, cache_file_at(manifest.parent).parent)
        except ManifestError as exc:
            err.print(f"[bold red]invalid manifest:[/] {escape(exc.message)}")
            if exc.hint:
                err.print(f"[dim]hint: {escape(exc.hint)}[/]")
            raise typer.Exit(int(ExitCode.BAD_INPUT)) from None  # bad input, as for every command
        picked = chosen_notebooks(curriculum, tuple(steps or ()))  # an unknown step or notebook fails here
        if not as_json:  # which course, always: a teacher in the wrong folder sees it at once
            err.print(
                f"validating [bold]{escape(curriculum.title)}[/] ({escape(curriculum.id)}, "
                f"{escape(str(manifest))}): {len(picked)} notebook(s)"
            )
        run = functools.partial(
            run_validation,
            curriculum,
            tuple(steps or ()),
            jobs=jobs,
            use_cache=not no_cache,
            shard=chosen,
            durations=times,
        )
        if as_json:
            report = run()
        else:
            with ValidateProgress(out) as bars:
                report = run(listener=bars.event)
    if junit is not None:
        from dl7.atomic import write_atomic

        try:
            write_atomic(junit, junit_xml(report))  # whole or not at all, even on a full disk
        except OSError as exc:
            raise os_error(exc, "cannot write the JUnit report", junit) from None
    if as_json:
        _print_json(report_json(report))
    else:
        render_validate(out, report, messages=messages)
    for warning in report.warnings:  # the verdict above stands; only the cache was not kept
        err.print(f"[yellow]warning:[/] {escape(warning)}")
    raise typer.Exit(int(ExitCode.OK if report.ok else ExitCode.NOT_PASSING))
