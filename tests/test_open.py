"""`dl7 open`: JupyterLab on the workspace, checked in a real headless Chromium.

The browser test needs Chromium (Debian: `apt-get install chromium`); `.ci/run` installs it
and sets DL7_REQUIRE_BROWSER=1, so in CI a missing browser is a failure, never a skip.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
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


def fake_browser(folder: Path) -> tuple[Path, Path]:
    """A `BROWSER` command that writes down the one argument it is given: (command, record)."""
    record, script = folder / "browser-was-given", folder / "browser"
    script.write_text(f'#!/bin/sh\nprintf "%s" "$1" > "{record}.part" && mv "{record}.part" "{record}"\n')
    script.chmod(0o755)
    return script, record


def start_open(
    course: Path,
    home: Path,
    runtime: Path,
    *extra: str,
    browser: Path | None = None,
    session: bool = False,
) -> tuple[subprocess.Popen[str], str]:
    """`dl7 open` as a subprocess (with `--no-browser` unless a ``browser`` command is given;
    in a session of its own if ``session``), once it has printed its URL."""
    env = {
        **os.environ,
        "DL7_HOME": str(home),
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "BROWSER": str(browser or "false"),
    }
    command = [sys.executable, "-m", "dl7", "open", "--curriculum", str(course)]
    command += [] if browser else ["--no-browser"]
    proc = subprocess.Popen(
        [*command, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=session,
    )
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

    assert CliRunner().invoke(app, ["--curriculum", str(course), "next"]).exit_code == 0
    mine = isolated / "notebooks" / "basics.ipynb"
    nb = json.loads(mine.read_text())
    solved = json.loads((course / "notebooks" / "basics.ipynb").read_text())
    nb["cells"][2] = solved["cells"][2]
    mine.write_text(json.dumps(nb))

    # The way a learner's browser gets there: `dl7 open` hands it a private page that redirects.
    command, record = fake_browser(tmp_path)
    proc, url = start_open(
        course, isolated, tmp_path / "runtime", "--", "--LabApp.expose_app_in_browser=True", browser=command
    )
    chromium = Chromium(browser, tmp_path / "profile")
    try:
        wait_until(record.exists, 60, "dl7 open handed the browser its page")
        chromium.call("Page.navigate", url=record.read_text())
        # JupyterLab takes the token out of the address bar once it has logged the page in.
        page = json.dumps(url.split("?")[0])
        chromium.until(f"location.origin + location.pathname === {page}", 60, "the redirect to JupyterLab")
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


# -- the token stays private, and the server dies with dl7 (issue 22) ---------------------------


def processes() -> dict[int, tuple[int, int, bytes]]:
    """Every process on the machine: pid -> (parent pid, process group, command line)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                after = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                found[int(entry.name)] = (int(after[1]), int(after[2]), (entry / "cmdline").read_bytes())
            except (OSError, IndexError, ValueError):  # it ended while we looked
                continue
    return found


def children_of(pid: int) -> list[int]:
    return [child for child, (parent, _, _) in processes().items() if parent == pid]


def wait_until(condition: Any, timeout: float, what: str) -> float:
    """Wait for ``condition()``, at most ``timeout`` s; how long it took."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.1)
    return time.monotonic() - start


def api(base: str, token: str, path: str, method: str = "GET") -> Any:
    request = urllib.request.Request(
        f"{base}/{path}", method=method, data=b"{}" if method == "POST" else None
    )
    request.add_header("Authorization", f"token {token}")
    with urllib.request.urlopen(request, timeout=60) as r:
        return json.load(r)


@pytest.fixture
def groups() -> Iterator[list[int]]:
    """Process groups a test started; whatever of them a failing test left behind is killed."""
    started: list[int] = []
    yield started
    for pgid in started:
        with contextlib.suppress(OSError):
            os.killpg(pgid, signal.SIGKILL)


def serving(proc_pid: int, base: str, token: str, groups: list[int]) -> tuple[int, int]:
    """The JupyterLab server under ``dl7 open`` (pid ``proc_pid``) and a kernel it started;
    each leads a process group of its own."""
    servers = [pid for pid in children_of(proc_pid) if b"jupyterlab" in processes()[pid][2]]
    assert len(servers) == 1, f"one JupyterLab under dl7 open, not {servers}"
    groups.append(servers[0])
    kernel_id = api(base, token, "api/kernels", "POST")["id"]
    kernel = next(pid for pid, (_, _, cmd) in processes().items() if kernel_id.encode() in cmd)
    groups.append(kernel)
    assert processes()[servers[0]][1] == servers[0] and processes()[kernel][1] == kernel
    return servers[0], kernel


@pytest.mark.kernel
def test_the_token_is_on_no_command_line_and_the_browser_gets_a_private_redirect_page(
    course: Path, isolated: Path, tmp_path: Path, groups: list[int]
) -> None:
    browser, record = fake_browser(tmp_path)
    proc, url = start_open(course, isolated, tmp_path / "runtime", browser=browser)
    try:
        base, token = url.split("/lab/")[0], url.split("token=")[1]
        wait_until(record.exists, 60, "the browser was opened")
        opened = record.read_text()
        server, kernel = serving(proc.pid, base, token, groups)
        # Every process on the machine, the server, its kernel and the browser's command included.
        leaks = {pid: cmd for pid, (_, _, cmd) in processes().items() if token.encode() in cmd}
        assert leaks == {}, "the token is on a command line any local user can read"
        assert token not in opened and opened.startswith("file:///"), opened
        page = Path(urllib.request.url2pathname(opened.removeprefix("file://")))
        assert page.stat().st_mode & 0o777 == 0o600 and page.stat().st_uid == os.getuid()
        assert page.parent.stat().st_mode & 0o777 == 0o700 and page.parent.stat().st_uid == os.getuid()
        redirect = re.search(r'http-equiv="refresh" content="0;url=([^"]+)"', page.read_text())
        assert redirect is not None and redirect.group(1).replace("&amp;", "&") == url
        with urllib.request.urlopen(redirect.group(1).replace("&amp;", "&"), timeout=30) as r:
            assert r.status == 200, "the page the browser is sent to is served"
        assert api(base, token, "api/status")["kernels"] == 1, "the server takes the token"
        with pytest.raises(urllib.error.HTTPError) as denied:
            api(base, "not-" + token, "api/status")
        assert denied.value.code == 403, "and no other"
    finally:
        assert stop(proc) == 130
    assert not page.parent.exists(), "the redirect page outlived the server"
    wait_until(lambda: not ({server, kernel} & set(processes())), 60, "the server and its kernel stopped")


def open_in_a_terminal(
    course: Path, home: Path, runtime: Path, browser: Path
) -> tuple[subprocess.Popen[bytes], int]:
    """`dl7 open` on a pseudo-terminal of its own, as its controlling process (as in a terminal
    window); returns it and the terminal's master side, which the test closes to hang up."""
    setsid = shutil.which("setsid")
    if setsid is None:
        pytest.skip("needs util-linux's setsid to give dl7 a controlling terminal")
    master, slave = os.openpty()
    env = {**os.environ, "DL7_HOME": str(home), "JUPYTER_RUNTIME_DIR": str(runtime), "BROWSER": str(browser)}
    # setsid -c: a session of its own with the pty as its controlling terminal (dl7 is not a
    # group leader here, so setsid execs it in place: the pid is dl7's).
    command = [setsid, "-c", sys.executable, "-m", "dl7", "open", "--curriculum", str(course)]
    proc = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    return proc, master


def read_terminal_until(master: int, pattern: bytes, timeout: float) -> re.Match[bytes]:
    """Read the terminal's output (without a thread: a read blocked on the master keeps the
    terminal from hanging up when the test closes it) until ``pattern`` shows."""
    seen, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                seen += os.read(master, 65536)
            except OSError:  # EIO: nothing holds the terminal any more
                break
            found = re.search(pattern, seen)
            if found:
                return found
    raise AssertionError(f"no {pattern!r} within {timeout} s; the terminal shows: {seen!r}")


@pytest.mark.kernel
@pytest.mark.parametrize("how", ["the terminal closes", "SIGTERM", "SIGINT"])
def test_jupyterlab_its_kernels_and_the_redirect_page_go_when_dl7_open_is_stopped(
    how: str, course: Path, isolated: Path, tmp_path: Path, groups: list[int]
) -> None:
    browser, record = fake_browser(tmp_path)
    proc: subprocess.Popen[Any] | None = None
    master = -1
    try:
        if how == "the terminal closes":
            proc, master = open_in_a_terminal(course, isolated, tmp_path / "runtime", browser)
            # On a terminal Rich writes the link as an OSC 8 hyperlink too: stop at its ESC.
            url = read_terminal_until(master, rb"http://[^\s\x1b]+token=[0-9a-f]+", 180).group(0).decode()
        else:  # in a session of its own, so that the signal reaches dl7 alone
            proc, url = start_open(course, isolated, tmp_path / "runtime", browser=browser, session=True)
        base, token = url.split("/lab/")[0], url.split("token=")[1]
        wait_until(record.exists, 60, "the browser was opened")
        page = Path(urllib.request.url2pathname(record.read_text().removeprefix("file://")))
        server, kernel = serving(proc.pid, base, token, groups)
        assert page.exists()
        if how == "the terminal closes":
            os.close(master)  # the terminal window goes: the kernel sends dl7 SIGHUP
            master = -1
        else:
            proc.send_signal(getattr(signal, how))
        took = wait_until(
            lambda: (
                not any(pgid == server for _, pgid, _ in processes().values()) and kernel not in processes()
            ),
            60,
            "JupyterLab's process group and its kernel gone",
        )
        assert proc.wait(30) == 130, "the one-line `interrupted`, never a traceback on a dead terminal"
        assert took < 20, f"stopping took {took:.1f} s"
        assert not page.exists() and not page.parent.exists(), "the redirect page outlived the server"
        assert server_gone(f"{base}/api/status")
    finally:
        if master >= 0:
            os.close(master)
        if proc is not None and proc.poll() is None:
            proc.kill()


# -- one server per workspace (issue 26) -----------------------------------------------------------


def open_once(course: Path, home: Path, runtime: Path) -> subprocess.CompletedProcess[str]:
    """`dl7 open --no-browser` run to its end (a refusal ends it at once)."""
    env = {**os.environ, "DL7_HOME": str(home), "JUPYTER_RUNTIME_DIR": str(runtime), "BROWSER": "false"}
    command = [sys.executable, "-m", "dl7", "open", "--no-browser", "--curriculum", str(course)]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=180, check=False)


@pytest.mark.kernel
def test_a_second_open_refuses_naming_the_first_ones_url_without_its_token(
    course: Path, isolated: Path, tmp_path: Path, groups: list[int]
) -> None:
    first, url = start_open(course, isolated, tmp_path / "runtime")
    try:
        base, token = url.split("/lab/")[0], url.split("token=")[1]
        groups.extend(pid for pid in children_of(first.pid) if b"jupyterlab" in processes()[pid][2])
        second = open_once(course, isolated, tmp_path / "runtime")
        assert second.returncode == 2, second.stdout + second.stderr
        error = [line for line in second.stderr.splitlines() if line.startswith("error:")]
        assert error == [
            f"error: JupyterLab is already serving this workspace at {base}/lab (`dl7 open`, pid {first.pid})"
        ], second.stderr
        assert token not in second.stdout + second.stderr and "http" not in second.stdout
        root = f"--ServerApp.root_dir={isolated}".encode()
        servers = [p for p, (_, _, cmd) in processes().items() if b"jupyterlab" in cmd and root in cmd]
        assert len(servers) == 1, "no second server on the workspace"
    finally:
        stopped = stop(first)
    assert stopped == 130
    # Stopped, the workspace is free again: the next `dl7 open` serves it.
    again, _ = start_open(course, isolated, tmp_path / "runtime")
    assert stop(again) == 130


@pytest.mark.kernel
def test_the_lock_of_a_killed_open_is_taken_over(
    course: Path, isolated: Path, tmp_path: Path, groups: list[int]
) -> None:
    first, url = start_open(course, isolated, tmp_path / "runtime")
    server = next(pid for pid in children_of(first.pid) if b"jupyterlab" in processes()[pid][2])
    groups.append(server)  # SIGKILL leaves dl7 no chance to stop it: the test does, at the end
    first.kill()
    first.wait(60)
    lock = isolated / ".dl7" / "jupyter.lock"
    assert f'"pid": {first.pid}' in lock.read_text(), "the dead one's lock is left behind"
    second, second_url = start_open(course, isolated, tmp_path / "runtime")
    try:
        assert second_url.split("/lab/")[0] != url.split("/lab/")[0]
        assert f'"pid": {second.pid}' in lock.read_text()
    finally:
        stopped = stop(second)
    assert stopped == 130
