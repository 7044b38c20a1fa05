"""Benchmark: starting and stopping one kernel the way dl7 does, and a one-cell notebook end to end.

Run: python benchmarks/bench_kernels.py [--repeat N]

"start" is from asking for a kernel to its answering ``kernel_info`` (ready for a cell); "stop"
is from asking it to stop to the kernel's process being gone and its files removed. Then
``dl7.execute.execute`` runs a one-cell notebook (start, the cell, stop) N times. Medians are
printed; other work on the machine inflates them, so note the load with the figures.

It runs against a dl7 from before ``dl7.kernels`` existed too (jupyter_client's
``shutdown_kernel(now=True)``, which dl7 used then), for before/after figures.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def start_and_stop(cwd: Path) -> tuple[float, float]:
    loop = asyncio.new_event_loop()
    try:
        began = time.perf_counter()
        try:
            from dl7 import kernels
        except ImportError:  # before dl7.kernels: what execute.py did
            from jupyter_client.manager import AsyncKernelManager

            from dl7.execute import KERNEL_ENV, _ThisPython

            km: Any = AsyncKernelManager(
                kernel_name="dl7-python", kernel_spec_manager=_ThisPython(KERNEL_ENV)
            )
            kernels = None
        else:
            km = kernels.manager(kernels.environment())
        loop.run_until_complete(
            km.start_kernel(cwd=str(cwd), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )
        kc = km.client()
        kc.start_channels()
        loop.run_until_complete(kc.wait_for_ready(timeout=60))
        kc.stop_channels()
        ready = time.perf_counter()
        if kernels is not None:
            kernels.stop(km)
        else:
            loop.run_until_complete(km.shutdown_kernel(now=True))
        stopped = time.perf_counter()
    finally:
        loop.close()
    return ready - began, stopped - ready


def one_cell(cwd: Path) -> float:
    from dl7.execute import execute

    cell = {"cell_type": "code", "metadata": {}, "source": "1 + 1", "outputs": [], "execution_count": None}
    nb = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    began = time.perf_counter()
    execution = execute(nb, cwd, cell_timeout=60, budget=120, kernel_log=subprocess.DEVNULL)  # type: ignore[arg-type]
    assert execution.completed, execution.message
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    cwd = Path(tempfile.mkdtemp(prefix="dl7-bench-kernels-"))
    start_and_stop(cwd)  # warm the file cache: the first start reads every module from disk
    starts, stops = zip(*(start_and_stop(cwd) for _ in range(args.repeat)), strict=True)
    cells = [one_cell(cwd) for _ in range(args.repeat)]
    print(f"kernel start and stop ({args.repeat} each, medians; {sys.executable})")
    print(f"  start (to ready)            {statistics.median(starts) * 1000:7.0f} ms")
    print(f"  stop (to gone)              {statistics.median(stops) * 1000:7.0f} ms")
    print(f"  one-cell notebook, execute  {statistics.median(cells) * 1000:7.0f} ms")


if __name__ == "__main__":
    main()
