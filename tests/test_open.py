"""`dl7 open`: JupyterLab on the workspace, checked in a real headless Chromium.

The browser test needs Chromium (Debian: `apt-get install chromium`); `.ci/run` installs it
and sets DL7_REQUIRE_BROWSER=1, so in CI a missing browser is a failure, never a skip.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from dl7.curriculum import load
from dl7.journey import ExerciseState, StepState
from dl7.lab import first_unfinished

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def state_with(course: Path, passed: set[str]) -> StepState:
    step = load(course).step("step1")
    exercises = tuple(
        ExerciseState(e.id, e.title, "passed" if e.id in passed else "not_run", "") for e in step.exercises
    )
    return StepState(step, exercises, frozenset(), None, ())


def test_first_unfinished_notebook_is_the_one_opened(course: Path) -> None:
    assert first_unfinished(state_with(course, set())).path == "notebooks/basics.ipynb"
    assert first_unfinished(state_with(course, {"step1.double"})).path == "notebooks/basics.ipynb"
    done = state_with(course, {"step1.double", "step1.greet"})
    assert first_unfinished(done).path == "notebooks/basics.ipynb", "all done: the step's first notebook"


class Output:
    """A subprocess's output lines, read in a thread, to wait on with a timeout."""

    def __init__(self, stream: Any) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=lambda: [self.lines.put(line) for line in stream], daemon=True).start()

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            self.seen.append(line)
            found = re.search(pattern, line)
            if found:
                return found
        raise AssertionError(f"no {pattern!r} within {timeout} s; output so far: {''.join(self.seen)}")


def start_open(course: Path, home: Path, runtime: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "DL7_HOME": str(home), "JUPYTER_RUNTIME_DIR": str(runtime), "BROWSER": "false"}
    command = [sys.executable, "-m", "dl7", "open", "--curriculum", str(course), "--no-browser", *extra]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert proc.stdout is not None
    out = Output(proc.stdout)
    url = out.wait_for(r"(http://\S+)", 180).group(1)
    return proc, url


def stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()


def server_gone(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2)
    except (urllib.error.URLError, OSError):
        return True
    return False


@pytest.mark.kernel
def test_no_browser_prints_a_local_url_with_a_token_and_ctrl_c_stops_it(
    course: Path, isolated: Path, tmp_path: Path
) -> None:
    proc, url = start_open(course, isolated, tmp_path / "runtime")
    try:
        assert url.startswith("http://127.0.0.1:") and "/lab/tree/notebooks/basics.ipynb?token=" in url
        base, token = url.split("/lab/")[0], url.split("token=")[1]
        with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=10) as r:
            assert r.status == 200
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(f"{base}/api/contents/notebooks", timeout=10)
        assert denied.value.code == 403, "nothing is served without the token"
        with urllib.request.urlopen(f"{base}/api/contents/notebooks?token={token}", timeout=10) as r:
            names = {item["name"] for item in json.load(r)["content"]}
        assert "basics.ipynb" in names, "the server's root is the workspace"
    finally:
        assert stop(proc) == 130
    assert server_gone(f"{base}/api/status"), "JupyterLab outlived dl7 open"


class Chromium:
    """Headless Chromium driven over the DevTools protocol (websocket-client, a Jupyter dependency)."""

    def __init__(self, binary: str, profile: Path) -> None:
        import websocket

        args = [binary, "--headless=new", "--disable-gpu", "--no-first-run", "--remote-debugging-port=0"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
        args += [f"--user-data-dir={profile}", "--window-size=1280,2000", "about:blank"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert self.proc.stderr is not None
        port = (
            Output(self.proc.stderr).wait_for(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", 60).group(1)
        )
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            page = next(t for t in json.load(r) if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60, suppress_origin=True)
        self.next_id = 0

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                return dict(reply.get("result", {}))

    def js(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result.get("result", {}).get("value")

    def until(self, expression: str, timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.js(expression)
            if value:
                return value
            time.sleep(0.5)
        text = self.js("document.body ? document.body.innerText.slice(0, 2000) : ''")
        raise AssertionError(f"{what}: not within {timeout} s; the page shows: {text!r}")

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:  # the browser may be gone already
            pass
        self.proc.kill()
        self.proc.wait(10)


def find_browser() -> str | None:
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


@pytest.mark.kernel
@pytest.mark.slow
def test_the_notebook_opens_in_a_real_browser_and_a_check_cell_shows_its_verdict(
    course: Path, isolated: Path, tmp_path: Path
) -> None:
    browser = find_browser()
    if browser is None:
        if os.environ.get("DL7_REQUIRE_BROWSER"):
            pytest.fail("DL7_REQUIRE_BROWSER is set but no Chromium is installed (.ci/run installs it)")
        pytest.skip("no Chromium on this machine (Debian: apt-get install chromium); .ci/run installs it")
    # The learner has solved `double` (its check passes) and not yet `greet`.
    from typer.testing import CliRunner

    from dl7.cli import app

    assert CliRunner().invoke(app, ["--curriculum", str(course), "status"]).exit_code == 0
    mine = isolated / "notebooks" / "basics.ipynb"
    nb = json.loads(mine.read_text())
    solved = json.loads((course / "notebooks" / "basics.ipynb").read_text())
    nb["cells"][2] = solved["cells"][2]
    mine.write_text(json.dumps(nb))

    proc, url = start_open(
        course, isolated, tmp_path / "runtime", "--", "--LabApp.expose_app_in_browser=True"
    )
    chromium = Chromium(browser, tmp_path / "profile")
    try:
        chromium.call("Page.navigate", url=url)
        chromium.until(
            "!!(window.jupyterapp && document.querySelector('.jp-Notebook .jp-Cell'))", 180, "notebook"
        )
        # The notebook's panel, found by name: a headless page has no focus, so no "current" one.
        panel = (
            "Array.from(window.jupyterapp.shell.widgets('main')).find(w => w.title.label === 'basics.ipynb')"
        )
        kernel_idle = (
            f"(() => {{ const w = {panel}; const s = w && w.sessionContext && w.sessionContext.session;"
            " return !!(s && s.kernel && s.kernel.status === 'idle'); })()"
        )
        chromium.until(kernel_idle, 180, "the notebook's kernel")
        chromium.js(f"window.jupyterapp.shell.activateById({panel}.id)")
        chromium.js("window.jupyterapp.commands.execute('notebook:run-all-cells').then(() => true)")
        verdicts = "document.querySelector('.jp-Notebook').innerText"
        chromium.until(f"{verdicts}.includes('step1.greet: not attempted')", 180, "the verdicts")
        text = chromium.js(verdicts)
        assert "✔ step1.double: passed" in text and "all checks passed" in text
    finally:
        chromium.close()
        code = stop(proc)
    assert code == 130
