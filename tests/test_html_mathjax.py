"""`dl7 run --html`: the export's maths renders offline, from a MathJax on this machine.

nbconvert points its exports at MathJax on a CDN, so offline the maths showed as raw LaTeX.
The export now names a local MathJax 2 (Debian's libjs-mathjax, or a Jupyter package's copy)
by a file URL, and loads no script from the network.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from dl7 import runner
from dl7.curriculum import Notebook
from dl7.errors import Dl7Error
from dl7.notebook_format import nbformat
from dl7.workspace import Workspace

MATHS = "The energy is $E = mc^2$, and the loss $$L = \\sum_i (y_i - \\hat y_i)^2$$"


def _export(tmp_path: Path) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(MATHS)])  # type: ignore[no-untyped-call]
    lost: list[Dl7Error] = []
    path = runner._export_html(
        Workspace(tmp_path / "ws"), Notebook("notebooks/m.ipynb", "M", 10, 10, (), "step1"), nb, lost=lost
    )
    assert path is not None and not lost
    return path


def _scripts(html: str) -> list[str]:
    return re.findall(r"<script[^>]*\bsrc=\"([^\"]*)\"", html)


def test_the_export_names_the_local_mathjax_and_no_cdn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = tmp_path / "mathjax" / "MathJax.js"
    local.parent.mkdir()
    local.write_text("window.MathJax = {};\n")
    monkeypatch.setattr(runner, "MATHJAX_CANDIDATES", (tmp_path / "absent" / "MathJax.js", local))
    html = _export(tmp_path).read_text()
    scripts = _scripts(html)
    assert local.as_uri() + runner.MATHJAX_CONFIG in scripts, scripts
    assert not [s for s in scripts if s.startswith(("http:", "https:", "//"))], scripts
    assert "cdnjs.cloudflare.com/ajax/libs/mathjax" not in html


def test_without_a_local_mathjax_the_export_keeps_nbconvert_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "MATHJAX_CANDIDATES", (tmp_path / "absent" / "MathJax.js",))
    scripts = _scripts(_export(tmp_path).read_text())
    assert any("mathjax" in s.lower() and s.startswith("https:") for s in scripts), scripts


CHROMIUM = next(
    (shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None
)


# In CI (.ci/run sets DL7_REQUIRE_BROWSER and installs both) a missing one fails, never skips.
REQUIRED = bool(os.environ.get("DL7_REQUIRE_BROWSER"))


@pytest.mark.skipif(CHROMIUM is None and not REQUIRED, reason="no Chromium on this machine")
@pytest.mark.skipif(
    runner.local_mathjax() is None and not REQUIRED,
    reason="no local MathJax 2 (Debian: apt-get install libjs-mathjax)",
)
def test_the_maths_renders_in_a_browser_without_network(tmp_path: Path) -> None:
    page = _export(tmp_path)
    assert CHROMIUM is not None
    dom = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--proxy-server=127.0.0.1:9",  # no network: anything from outside fails at once
            "--allow-file-access-from-files",
            "--virtual-time-budget=20000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert "MathJax_CHTML" in dom or "mjx-container" in dom, "MathJax typeset the maths"
    assert "$E = mc^2$" not in dom, "no raw LaTeX left"
