"""Benchmark: save to verdict, `dl7 watch` against `dl7 run`, on a numpy and a TensorFlow notebook.

Run: python benchmarks/bench_watch.py [--repeat N] [--think S] [--only STEP/NOTEBOOK ...]

For each notebook, a throwaway workspace gets the course's solved notebook (known mistakes
dropped), so every run does the notebook's full work and passes.

* `dl7 run`: the learner saves, then types `dl7 run STEP NOTEBOOK`; save to verdict is that
  process's wall time (Python, dl7, a kernel start, the imports, the notebook, the report).
* `dl7 watch STEP NOTEBOOK --json`: after its first run, the learner "thinks" for S seconds
  (the next kernel starts and imports meanwhile), then saves an edit to a code cell; save to
  verdict is the time from the write to the run's JSON line on watch's stdout.

Also printed: the notebook's own time as dl7 reports it (``seconds``: from the execute call to
the kernel's end, so for `dl7 run` it includes the kernel start and the imports, for watch
not). Medians of N. Other processes loading the machine inflate every figure: say so with them.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
DEFAULT = ("step2/01_linear_algebra.ipynb", "step4/01_autodiff.ipynb")  # numpy; TensorFlow


def solved_copy(step: str, name: str, home: Path) -> Path:
    from dl7.authoring import solved_version

    source = json.loads((ROOT / "notebooks" / step / name).read_text(encoding="utf-8"))
    target = home / "notebooks" / step / name
    target.write_text(json.dumps(solved_version(source), indent=1), encoding="utf-8")
    return target


def edit(path: Path, n: int) -> None:
    """A save that changes code: a comment at the end of the first code cell."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code")
    source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    cell["source"] = source.rstrip("\n") + f"\n# edit {n}\n"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    os.replace(tmp, path)  # as Jupyter saves: write aside, then rename over


def bench_run(env: dict[str, str], step: str, name: str, repeat: int) -> tuple[list[float], list[float]]:
    walls, own = [], []
    for _ in range(repeat):
        start = time.monotonic()
        done = subprocess.run(
            [PY, "-m", "dl7", "run", step, name, "--json"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        walls.append(time.monotonic() - start)
        data = json.loads(done.stdout)
        assert data["passed"], data
        own.append(data["notebooks"][0]["seconds"])
    return walls, own


def bench_watch(
    env: dict[str, str], step: str, name: str, path: Path, repeat: int, think: float
) -> tuple[list[float], list[float]]:
    lines: queue.Queue[tuple[float, str]] = queue.Queue()
    proc = subprocess.Popen(
        [PY, "-m", "dl7", "watch", step, name, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put((time.monotonic(), line))

    threading.Thread(target=read, daemon=True).start()

    def next_json(timeout: float = 600) -> tuple[float, dict[str, Any]]:
        while True:
            at, line = lines.get(timeout=timeout)
            if line.startswith("{"):
                return at, json.loads(line)

    walls, own = [], []
    try:
        _, first = next_json()
        assert first["passed"], first
        next_json()  # watching
        for n in range(repeat):
            time.sleep(think)  # the learner types; the next kernel starts and imports
            saved = time.monotonic()
            edit(path, n)
            at, data = next_json()
            assert data["passed"], data
            walls.append(at - saved)
            own.append(data["notebooks"][0]["seconds"])
            next_json()  # watching again
    finally:
        proc.send_signal(2)
        proc.wait(60)
    return walls, own


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--think", type=float, default=20.0, help="seconds between saves (default 20)")
    parser.add_argument("--only", nargs="*", default=list(DEFAULT), metavar="STEP/NOTEBOOK")
    args = parser.parse_args()
    print(
        f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f} (other work inflates every figure)"
    )
    print(f"{'notebook':<34} {'how':<6} {'save→verdict (median)':>22} {'notebook own':>13}  each")
    for ref in args.only:
        step, name = ref.split("/")
        with tempfile.TemporaryDirectory(prefix="dl7-bench-watch-") as tmp:
            home = Path(tmp)
            env = {**os.environ, "DL7_HOME": str(home), "COLUMNS": "100"}
            env.pop("DL7_CURRICULUM", None)
            subprocess.run([PY, "-m", "dl7", "next"], capture_output=True, env=env, check=True)
            path = solved_copy(step, name, home)
            for how, (walls, own) in (
                ("run", bench_run(env, step, name, args.repeat)),
                ("watch", bench_watch(env, step, name, path, args.repeat, args.think)),
            ):
                each = ", ".join(f"{w:.2f}" for w in walls)
                wall, mine = statistics.median(walls), statistics.median(own)
                print(f"{ref:<34} {how:<6} {wall:>20.2f} s {mine:>11.2f} s  [{each}]", flush=True)


if __name__ == "__main__":
    main()
