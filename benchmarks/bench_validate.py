"""Benchmark `dl7 validate`: cold (a fresh cache) against cached (the same command again).

Run: python benchmarks/bench_validate.py [--curriculum PATH] [--jobs N ...] [--repeat R] [STEP ...]
Default: the whole course with --jobs 1 and --jobs 2. `--curriculum tests/fixtures/course step1
step3` times the small fixture course (its step2 fails by design). The course is copied to a
temporary folder first, and each configuration uses its own fresh cache file, so "cold" executes
every case and "cached" (the same command again) executes none; the times are medians of
``--repeat`` whole-process runs. The first cold one-kernel run also prints each case's seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(
    course: Path, steps: list[str], jobs: int, cache: Path, *, per_case: bool = False
) -> tuple[float, int]:
    """Wall seconds of one whole `dl7 validate` process, and how many runs it executed."""
    env = {**os.environ, "DL7_VALIDATE_CACHE": str(cache), "COLUMNS": "120"}
    env.pop("DL7_CURRICULUM", None)
    command = [sys.executable, "-m", "dl7", "--curriculum", str(course), "validate", "--jobs", str(jobs)]
    start = time.perf_counter()
    done = subprocess.run([*command, "--json", *steps], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"validate --jobs {jobs} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    if per_case:
        for case in report["cases"]:
            if case["case"] != "static":
                print(f"  {case['notebook']:<50} {case['case']:<12} {case['seconds']:6.1f} s")
    return seconds, int(report["executed"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--curriculum", type=Path, default=ROOT / "curriculum.yaml")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("steps", nargs="*")
    args = parser.parse_args()
    manifest = (
        args.curriculum
        if args.curriculum.suffix in (".yaml", ".yml")
        else args.curriculum / "curriculum.yaml"
    )
    tmp = Path(tempfile.mkdtemp(prefix="dl7-bench-validate-"))
    course = tmp / "course"
    # A copy, so no cache or kernel log is left in the course and no earlier cache is seen.
    shutil.copytree(manifest.parent, course, ignore=shutil.ignore_patterns(".dl7-cache", ".git", ".venv"))
    rows = []
    try:
        for jobs in args.jobs:
            cold, cached, executed = [], [], 0
            for n in range(args.repeat):
                cache = tmp / f"cache-jobs{jobs}-{n}.json"
                seconds, executed = run(
                    course, args.steps, jobs, cache, per_case=jobs == args.jobs[0] and n == 0
                )
                cold.append(seconds)
                seconds, again = run(course, args.steps, jobs, cache)
                assert again == 0, f"the cached run executed {again} runs"
                cached.append(seconds)
            rows.append((f"--jobs {jobs} cold ({executed} runs)", statistics.median(cold)))
            rows.append((f"--jobs {jobs} cached", statistics.median(cached)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'dl7 validate ' + ' '.join(args.steps or ['(all)']):<34} wall time (median of {args.repeat})")
    for name, seconds in rows:
        print(f"{name:<34} {seconds:7.2f} s")


if __name__ == "__main__":
    main()
