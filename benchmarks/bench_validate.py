"""Benchmark `dl7 validate` over the whole course: cold and warm, with --jobs 1 and --jobs 2.

Run: python benchmarks/bench_validate.py
Each configuration uses its own fresh cache file, so "cold" executes every notebook solved and
unsolved, and "warm" (the same command again) executes none. The cold one-kernel run also
prints each notebook's wall time (kernel start included).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(jobs: int, cache: Path, *, per_notebook: bool = False) -> float:
    env = {**os.environ, "DL7_VALIDATE_CACHE": str(cache), "COLUMNS": "120"}
    env.pop("DL7_CURRICULUM", None)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "dl7", "validate", "--jobs", str(jobs), "--json"],
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"validate --jobs {jobs} failed:\n{done.stdout}\n{done.stderr}")
    report = json.loads(done.stdout)
    if per_notebook:
        print(f"{'notebook':<50} {'solved':>8} {'unsolved':>9}")
        cases = {(c["notebook"], c["case"]): c["seconds"] for c in report["cases"]}
        for notebook in dict.fromkeys(c["notebook"] for c in report["cases"]):
            print(f"{notebook:<50} {cases[notebook, 'solved']:6.1f} s {cases[notebook, 'unsolved']:7.1f} s")
    print(f"--jobs {jobs}: {report['executed']} notebook runs executed")
    return seconds


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="dl7-bench-validate-"))
    rows = []
    for jobs in (1, 2):
        cache = tmp / f"cache-jobs{jobs}.json"
        rows.append((f"--jobs {jobs} cold", run(jobs, cache, per_notebook=jobs == 1)))
        rows.append((f"--jobs {jobs} warm", run(jobs, cache)))
    print(f"{'dl7 validate (whole course)':<28} wall time")
    for name, seconds in rows:
        print(f"{name:<28} {seconds:7.1f} s")


if __name__ == "__main__":
    main()
