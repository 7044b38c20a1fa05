"""Kernels: the course declares their environment; each one is stopped with its whole process group."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from dl7 import kernels
from dl7.curriculum import DEFAULT_WARM_TIMEOUT, KernelNeeds, load
from dl7.errors import ManifestError
from tests.processes import CHILD_CELL, kill_if_alive, wait_for_file, wait_gone

KERNEL_BLOCK = """\
kernel:
  env:
    COURSE_GREETING: "bonjour"
    TF_CPP_MIN_LOG_LEVEL: "2"
  warm_timeout: 90
  libraries: [json, scipy.signal]
"""


def with_kernel_block(course: Path, block: str = KERNEL_BLOCK) -> Path:
    manifest = course / "curriculum.yaml"
    text = manifest.read_text()
    manifest.write_text(text.replace("steps:\n", block + "steps:\n", 1))
    return manifest


def test_a_course_declares_what_its_kernel_needs(course: Path) -> None:
    with_kernel_block(course)
    needs = load(course).kernel
    assert needs == KernelNeeds(
        {"COURSE_GREETING": "bonjour", "TF_CPP_MIN_LOG_LEVEL": "2"}, 90, ("json", "scipy.signal")
    )


def test_without_a_kernel_block_the_runner_defaults_hold(course: Path) -> None:
    assert load(course).kernel == KernelNeeds({}, DEFAULT_WARM_TIMEOUT, ())


def test_the_kernel_block_survives_the_manifest_cache(
    course: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dl7 import manifest_cache

    with_kernel_block(course)
    dot = tmp_path / "dot"
    dot.mkdir()
    parsed = manifest_cache.load(course, dot)
    assert any(dot.iterdir()), "the parse was cached"

    def no_parse(path: object) -> None:
        raise AssertionError("parsed again instead of read from the cache")

    monkeypatch.setattr("dl7.curriculum.load", no_parse)
    assert (
        manifest_cache.load(course, dot).kernel
        == parsed.kernel
        == KernelNeeds(
            {"COURSE_GREETING": "bonjour", "TF_CPP_MIN_LOG_LEVEL": "2"}, 90, ("json", "scipy.signal")
        )
    )


@pytest.mark.parametrize(
    ("block", "below", "field", "words"),
    [
        ("kernel:\n  warm_timeout: slow\n", 1, "kernel.warm_timeout", "expected an int, got a string"),
        ("kernel:\n  warm_timeout: 0\n", 1, "kernel.warm_timeout", "positive"),
        ("kernel:\n  env:\n    LEVEL: 2\n", 2, "kernel.env.LEVEL", "expected a string"),
        ("kernel:\n  env:\n    2BAD: x\n", 2, "kernel.env.2BAD", "not an environment variable name"),
        ("kernel:\n  env:\n    DL7_CHECKERS: x\n", 2, "kernel.env.DL7_CHECKERS", "set by dl7 itself"),
        ("kernel:\n  env: [A]\n", 1, "kernel.env", "expected a dict, got a list"),
        ("kernel:\n  imports: [numpy]\n", 1, "kernel.imports", "unknown key"),
        ("kernel:\n  libraries: [numpy, 'not a module']\n", 1, "kernel.libraries[1]", "not a module name"),
        ("kernel: [numpy]\n", 0, "kernel", "expected a dict, got a list"),
    ],
)
def test_a_wrong_kernel_block_is_located_by_file_line_and_field(
    course: Path, block: str, below: int, field: str, words: str
) -> None:
    manifest = with_kernel_block(course, block)
    line = manifest.read_text().splitlines().index("kernel:" if below else block.strip()) + 1 + below
    with pytest.raises(ManifestError) as info:
        load(course)
    e = info.value
    assert (e.line, e.field) == (line, field), str(e)
    assert words in str(e) and f"curriculum.yaml:{line}: {field}" in str(e)


def test_the_environment_layers_runner_course_validate_then_checkers() -> None:
    env = kernels.environment({"MPLBACKEND": "agg", "A": "course"}, ("one", "two"), {"A": "validate"})
    assert env["MPLBACKEND"] == "agg", "a course may override the runner's default"
    assert env["A"] == "validate" and env["PYDEVD_DISABLE_FILE_VALIDATION"] == "1"
    assert env["DL7_CHECKERS"] == os.pathsep.join(("one", "two"))
    assert "TF_CPP_MIN_LOG_LEVEL" not in kernels.environment(), "the runner knows no library"


def test_stopping_a_kernel_that_never_started_does_nothing() -> None:
    km = kernels.manager({})
    kernels.kill(km)
    kernels.stop(km)
    kernels.stop(None)


def start(cwd: Path, env: dict[str, str]) -> tuple[Any, Any]:
    km = kernels.manager(env)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(km.start_kernel(**kernels.launch_options(cwd)))
    finally:
        loop.close()
    kc = km.blocking_client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    return km, kc


@pytest.mark.kernel
def test_a_kernel_leads_its_own_process_group_and_stop_kills_all_of_it(tmp_path: Path) -> None:
    km, kc = start(tmp_path, kernels.environment({"COURSE_GREETING": "bonjour"}))
    child = None
    try:
        process = km.provisioner.process
        # jupyter_client starts kernels with start_new_session: the kernel leads its own group
        assert km.pgid == process.pid == os.getpgid(process.pid) != os.getpgrp()
        seen: list[str] = []
        kc.execute_interactive(
            CHILD_CELL + "print(os.environ['COURSE_GREETING'])",
            timeout=60,
            output_hook=lambda msg: seen.append(msg["content"].get("text", "")),
        )
        assert "bonjour" in "".join(seen), "the course's environment reached the kernel"
        child = int(wait_for_file(tmp_path / "child.pid"))
        assert os.getpgid(child) == process.pid, "the kernel's children are in its group"
        kc.stop_channels()
        kernels.stop(km)
        assert process.poll() is not None, "the kernel is reaped"
        assert wait_gone(child), "a process the kernel started outlived it"
        assert not Path(km.connection_file).exists(), "its connection file is removed"
        kernels.stop(km)  # twice is harmless
    finally:
        kill_if_alive(child)
        kernels.stop(km)


def cell(source: str) -> dict[str, Any]:
    return {"cell_type": "code", "metadata": {}, "source": source, "outputs": [], "execution_count": None}


@pytest.mark.kernel
@pytest.mark.parametrize(
    ("last", "outcome"),
    [("print('done')", "completed"), ("import time\ntime.sleep(120)", "timeout"), ("os._exit(1)", "dead")],
)
def test_execute_leaves_no_process_of_the_kernel_behind(tmp_path: Path, last: str, outcome: str) -> None:
    from dl7.execute import execute

    nb = {"cells": [cell(CHILD_CELL), cell(last)], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    child = None
    try:
        execution = execute(nb, tmp_path, cell_timeout=5, budget=60, course_env={"COURSE_GREETING": "x"})
        assert execution.outcome == outcome, execution.message
        child = int(wait_for_file(tmp_path / "child.pid"))
        assert wait_gone(child), f"a process the kernel started outlived a {outcome} run"
    finally:
        kill_if_alive(child)


def test_no_module_of_the_runner_names_a_library_of_the_course() -> None:
    import dl7

    here = Path(dl7.__file__).parent
    for path in sorted(here.rglob("*.py")):
        if path.relative_to(here).parts[:2] in {("checks", f"step{n}") for n in range(1, 9)}:
            continue  # being moved out of the runner
        code = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
        for name in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS"):  # the course declares them
            assert not any(name in line for line in code), (path, name)
