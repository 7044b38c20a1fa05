"""Prove the install on every supported Python this machine has: the README's learner path.

Run: python scripts/check_pythons.py [python3.12 python3.13 ...]

For each interpreter (default: every ``python3.X`` on PATH whose version is inside the range that
``pyproject.toml``'s ``requires-python`` allows): a fresh venv, ``pip install ".[seven-steps]"``
(a real wheel build, not editable), ``dl7 next``, and ``dl7 validate step4`` — step 4's notebooks import
TensorFlow in a kernel started from that venv, solved and unsolved. It prints one line per
stage with its wall time and exits non-zero if any stage fails. An interpreter outside the range
is tried too when named explicitly, and must be refused by pip (exit 0 means it was refused).

Too slow for every CI run (a TensorFlow install per version); run it when widening the range.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def supported_range() -> tuple[tuple[int, int], tuple[int, int]]:
    spec = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    low = re.search(r">=\s*3\.(\d+)", spec)
    high = re.search(r"<\s*3\.(\d+)", spec)
    if not low or not high:
        sys.exit(f"pyproject.toml: requires-python {spec!r} is not of the form '>=3.A,<3.B'")
    return (3, int(low.group(1))), (3, int(high.group(1)))


def version_of(python: str) -> tuple[int, int] | None:
    try:
        done = subprocess.run(
            [python, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True, text=True
        )
    except OSError:
        return None
    if done.returncode != 0:  # e.g. a pyenv shim for a version that is installed but not selected
        return None
    major, minor = done.stdout.split()
    return int(major), int(minor)


def find_python(minor: int) -> str | None:
    """``python3.MINOR`` from PATH, else from pyenv's versions folder."""
    candidates = [shutil.which(f"python3.{minor}")]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += sorted(str(p) for p in pyenv.glob(f"3.{minor}.*/bin/python3.{minor}"))
    return next((c for c in candidates if c and version_of(c) == (3, minor)), None)


def stage(name: str, cmd: list[str], env: dict[str, str], *, expect: int | tuple[int, ...] = 0) -> str:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    allowed = (expect,) if isinstance(expect, int) else expect
    ok = done.returncode in allowed
    print(f"  {name:<34} {seconds:7.1f} s  exit {done.returncode}  {'ok' if ok else 'FAILED'}", flush=True)
    if not ok:
        print((done.stdout + done.stderr)[-3000:], file=sys.stderr)
        raise SystemExit(1)
    return done.stdout + done.stderr


def check(python: str, low: tuple[int, int], high: tuple[int, int]) -> None:
    version = version_of(python)
    if version is None:
        raise SystemExit(f"{python}: cannot run it")
    inside = low <= version < high
    print(f"{python} (Python {version[0]}.{version[1]}, {'supported' if inside else 'outside the range'})")
    with tempfile.TemporaryDirectory(prefix="dl7-py") as tmp:
        venv = Path(tmp) / "venv"
        env = {**os.environ, "DL7_HOME": str(Path(tmp) / "home"), "DL7_VALIDATE_CACHE": str(Path(tmp) / "c")}
        env.pop("DL7_CURRICULUM", None)
        env.pop("VIRTUAL_ENV", None)
        stage("python -m venv", [python, "-m", "venv", str(venv)], env)
        bin_ = venv / "bin"
        if not inside:
            pip = [str(bin_ / "pip"), "install", str(ROOT)]
            out = stage("pip install . (must be refused)", pip, env, expect=1)
            refusal = [line for line in out.splitlines() if "requires a different Python" in line]
            if not refusal:
                print(out[-2000:], file=sys.stderr)
                raise SystemExit(f"{python}: pip failed, but not because of requires-python")
            print(f"  pip says: {refusal[0]}")
            return
        stage(
            'pip install ".[seven-steps]"', [str(bin_ / "pip"), "install", "-q", f"{ROOT}[seven-steps]"], env
        )
        stage("dl7 next", [str(bin_ / "dl7"), "next"], env)
        stage("dl7 validate step4 (TensorFlow)", [str(bin_ / "dl7"), "validate", "step4", "--jobs", "1"], env)


def main() -> None:
    low, high = supported_range()
    pythons = sys.argv[1:] or [p for minor in range(low[1], high[1]) if (p := find_python(minor))]
    print(f"requires-python: >={low[0]}.{low[1]},<{high[0]}.{high[1]}; trying {', '.join(pythons)}")
    start = time.perf_counter()
    for python in pythons:
        check(python, low, high)
    print(f"all {len(pythons)} interpreters behaved as required in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
