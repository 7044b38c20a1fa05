"""Benchmarks: start-up of the instant commands, and what `dl7 run` adds to raw execution.

Run: python benchmarks/bench_cli.py [--repeat N] [--skip-run]
Prints medians of whole-process wall times and of CPU times (user + system, far less disturbed
by other load on the machine), and the ratio of `dl7 next` and `dl7 status` to
`python -c "import typer, rich"` (the goal is at most 1.6). The commands are interleaved, one
round at a time, so a burst of load hits them all alike. Bytecode caching is on, as after a
pip install (PYTHONDONTWRITEBYTECODE would make dl7 compile its own modules on every start).
Uses throwaway workspaces; touches no user data.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "course"
PY = sys.executable
DL7 = [PY, "-m", "dl7"]


def once(cmd: list[str], env: dict[str, str], ok_codes: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``cmd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in ok_codes:
        raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def timed(cmd: list[str], env: dict[str, str], repeat: int, ok_codes: tuple[int, ...] = (0,)) -> float:
    return statistics.median(once(cmd, env, ok_codes)[0] for _ in range(repeat))


def interleaved(
    commands: dict[str, list[str]], env: dict[str, str], repeat: int
) -> dict[str, tuple[float, float]]:
    """Median wall and CPU seconds of each command, measured round-robin."""
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, cmd in commands.items():
            samples[name].append(once(cmd, env))
    return {
        name: (statistics.median(s[0] for s in got), statistics.median(s[1] for s in got))
        for name, got in samples.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--skip-run", action="store_true", help="Only the instant commands.")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="dl7-bench-"))
    env = {**os.environ, "DL7_HOME": str(tmp / "ws"), "COLUMNS": "120"}
    env.pop("DL7_CURRICULUM", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for _ in range(2):  # create the workspace, then warm the bytecode and manifest caches
        subprocess.run([*DL7, "next"], env=env, stdout=subprocess.DEVNULL, check=True)
    instant = interleaved(
        {
            "python -c pass": [PY, "-c", "pass"],
            "python -c 'import typer, rich'": [PY, "-c", "import typer, rich"],
            "dl7 --version": [*DL7, "--version"],
            "dl7 next": [*DL7, "next"],
            "dl7 status": [*DL7, "status"],
            "dl7 status --json": [*DL7, "status", "--json"],
        },
        env,
        args.repeat,
    )
    width = max(len(name) for name in instant)
    print(f"{'command':<{width}}  median wall / CPU time ({args.repeat} runs, interleaved)")
    for name, (wall, cpu) in instant.items():
        print(f"{name:<{width}}  {wall * 1000:6.0f} ms / {cpu * 1000:6.0f} ms")
    base_wall, base_cpu = instant["python -c 'import typer, rich'"]
    for name in ("dl7 next", "dl7 status"):
        wall, cpu = instant[name]
        print(f"ratio {name} / import typer, rich: {wall / base_wall:.2f} (wall), {cpu / base_cpu:.2f} (CPU)")
    if args.skip_run:
        shutil.rmtree(tmp, ignore_errors=True)
        return
    rows: list[tuple[str, float]] = []
    # `dl7 run` against executing the same notebook with nbclient directly.
    course = tmp / "course"
    shutil.copytree(FIXTURE, course)
    fenv = {**env, "DL7_HOME": str(tmp / "fixture-ws"), "DL7_CURRICULUM": str(course)}
    subprocess.run([*DL7, "next"], env=fenv, stdout=subprocess.DEVNULL, check=True)
    shutil.copy(course / "notebooks" / "basics.ipynb", tmp / "fixture-ws" / "notebooks" / "basics.ipynb")
    raw = (
        "import nbformat, sys; from nbclient import NotebookClient; "
        f"nb = nbformat.read({str(course / 'notebooks' / 'basics.ipynb')!r}, 4); "
        "NotebookClient(nb, kernel_name='python3', shutdown_kernel='immediate').execute()"
    )
    rows.append(("nbclient: execute basics.ipynb (raw)", timed([PY, "-c", raw], fenv, args.repeat)))
    rows.append(("dl7 run step1 (fixture, same notebook)", timed([*DL7, "run", "step1"], fenv, args.repeat)))
    width = max(len(name) for name, _ in rows)
    print(f"{'command':<{width}}  median wall time ({args.repeat} runs)")
    for name, seconds in rows:
        print(f"{name:<{width}}  {seconds * 1000:8.0f} ms")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
