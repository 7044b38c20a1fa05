"""Benchmarks: start-up of the instant commands, and what `dl7 run` adds to raw execution.

Run: python benchmarks/bench_cli.py [--repeat N]
Prints medians of whole-process wall times. Uses throwaway workspaces; touches no user data.
"""

from __future__ import annotations

import argparse
import os
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


def timed(cmd: list[str], env: dict[str, str], repeat: int, ok_codes: tuple[int, ...] = (0,)) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples.append(time.perf_counter() - start)
        if done.returncode not in ok_codes:
            raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}")
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="dl7-bench-"))
    env = {**os.environ, "DL7_HOME": str(tmp / "ws"), "COLUMNS": "120"}
    env.pop("DL7_CURRICULUM", None)
    subprocess.run([*DL7, "status"], env=env, stdout=subprocess.DEVNULL, check=True)  # create the workspace
    rows = [
        ("python -c pass", timed([PY, "-c", "pass"], env, args.repeat)),
        ("python -c 'import typer, rich'", timed([PY, "-c", "import typer, rich"], env, args.repeat)),
        ("dl7 --version", timed([*DL7, "--version"], env, args.repeat)),
        ("dl7 next", timed([*DL7, "next"], env, args.repeat)),
        ("dl7 status", timed([*DL7, "status"], env, args.repeat)),
        ("dl7 status --json", timed([*DL7, "status", "--json"], env, args.repeat)),
    ]
    # `dl7 run` against executing the same notebook with nbclient directly.
    course = tmp / "course"
    shutil.copytree(FIXTURE, course)
    fenv = {**env, "DL7_HOME": str(tmp / "fixture-ws"), "DL7_CURRICULUM": str(course)}
    subprocess.run([*DL7, "status"], env=fenv, stdout=subprocess.DEVNULL, check=True)
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
