"""YAML with locations: hostile documents fail fast, on one line, with the place named."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dl7.errors import ManifestError
from dl7.yamldoc import MAX_BYTES, MAX_DEPTH, MAX_NODES, LocatedYaml
from tests.conftest import FIXTURE_COURSE


def _error(text: str) -> ManifestError:
    with pytest.raises(ManifestError) as info:
        LocatedYaml("m.yaml", text)
    return info.value


def billion_laughs(levels: int = 9) -> str:
    """Nested anchors and aliases: a few hundred bytes that expand to 9**levels strings."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    previous = "a"
    for name in "bcdefghijklmnop"[: levels - 1]:
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
        previous = name
    return "\n".join(lines) + "\n"


def test_plain_data_and_lines() -> None:
    doc = LocatedYaml("m.yaml", "a: 1\nb:\n  - x\n  - {c: true}\n")
    assert doc.data == {"a": 1, "b": ["x", {"c": True}]}
    assert doc.line(("b", 1, "c")) == 4
    assert doc.line(("b", 0)) == 3


def test_an_alias_is_refused_at_its_anchor() -> None:
    e = _error("title: T\na: &x 1\nb: *x\n")
    assert e.line == 2
    assert "anchors and aliases" in e.problem and "&x" in e.problem


def test_an_unused_anchor_is_refused_too() -> None:
    e = _error("a: 1\nb: &lonely [1, 2]\n")
    assert e.line == 2 and "&lonely" in e.problem


def test_a_merge_key_is_refused() -> None:
    e = _error("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n")
    assert "anchors and aliases" in e.problem


def test_the_alias_bomb_fails_in_well_under_a_second_and_small() -> None:
    # Before: the walk expanded the alias graph as a tree (9**9 strings): minutes and > 300 MB.
    probe = (
        "import sys\n"
        "from dl7.yamldoc import LocatedYaml\n"
        "from dl7.errors import ManifestError\n"
        "try:\n"
        "    LocatedYaml('bomb.yaml', sys.stdin.read())\n"
        "except ManifestError as exc:\n"
        "    print(exc.message)\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')]\n"
        "print(hwm[0].split()[1] if hwm else 0)\n"
    )
    bomb = billion_laughs()
    assert len(bomb) < 600
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", probe], input=bomb, capture_output=True, text=True, timeout=20
    )
    seconds = time.perf_counter() - started
    # The child's own peak (VmHWM, kB, of its own address space). ru_maxrss would not do: Linux
    # carries the forked copy of pytest's memory (GBs, once TensorFlow is loaded) across exec.
    peak_mib = int(done.stdout.split()[-1]) / 1024
    assert done.stdout.startswith("bomb.yaml:1: ") and "anchors and aliases" in done.stdout, done.stderr
    assert seconds < 5, seconds  # the interpreter's start included; the check itself takes ~1 ms
    assert peak_mib < 150, peak_mib


def test_an_alias_is_refused_even_without_the_text_hint() -> None:
    # The walk itself refuses a node met twice, whatever the text looks like.
    e = _error("a: &x [1]\nb: [*x, *x]\n")
    assert "anchors and aliases" in e.problem


@pytest.mark.parametrize("text", ["? [a, b]\n: x\n", "{[1]: 2}\n", "? {k: v}\n: x\n"])
def test_a_non_scalar_key_is_refused_with_its_line(text: str) -> None:
    e = _error(text)
    assert e.line == 1 and "a key must be a plain value" in e.problem


def test_an_absurd_size_is_refused_before_parsing() -> None:
    started = time.perf_counter()
    e = _error("a: " + "x" * MAX_BYTES + "\n")
    assert "too large" in e.problem and time.perf_counter() - started < 1


def test_too_many_nodes_are_refused() -> None:
    e = _error("[" + "1," * (MAX_NODES + 1) + "]\n")
    assert "too many" in e.problem


def test_deep_nesting_is_refused_with_its_line() -> None:
    # Before: RecursionError (a traceback) at 500 levels.
    depth = MAX_DEPTH + 1
    e = _error("x: 1\ny: " + "[" * depth + "]" * depth + "\n")
    assert e.line == 2 and "nested too deeply" in e.problem


@pytest.mark.parametrize(
    ("text", "field"), [("when: 2026-13-45\n", "when"), ("n: " + "9" * 5000 + "\n", "n")]
)
def test_a_value_python_cannot_build_is_located(text: str, field: str) -> None:
    # Before: ValueError tracebacks (month must be in 1..12; int over 4300 digits).
    e = _error(text)
    assert e.line == 1 and e.field == field and "not a valid value" in e.problem


def test_a_python_tag_is_refused() -> None:
    e = _error("a: !!python/object/apply:os.system ['true']\n")
    assert e.line == 1 and e.field == "a"


def test_control_characters_are_stripped_from_every_string_and_key() -> None:
    """An escape sequence in a course string would reach the learner's terminal: OSC 52 writes
    the clipboard, CSI sequences rewrite the screen, a bidi override reorders what is read."""
    text = 'title: "Intro\\e]52;c;cm0gLXJmIH4=\\a"\n"k\\e[2Jey": "\\u202eevil\\x9b31m"\nlines: "a\\tb\\nc"\n'
    data = LocatedYaml("m.yaml", text).data
    assert data == {"title": "Intro]52;c;cm0gLXJmIH4=", "k[2Jey": "evil31m", "lines": "a\tb\nc"}


def test_an_escape_in_a_course_title_never_reaches_the_terminal(tmp_path: Path) -> None:
    course = tmp_path / "course"
    shutil.copytree(FIXTURE_COURSE, course)
    manifest = course / "curriculum.yaml"
    manifest.write_text(
        manifest.read_text().replace("title: Basics", 'title: "Basics\\e]52;c;cm0gLXJmIH4=\\a\\e[2J"', 1)
    )
    env = {**os.environ, "DL7_HOME": str(tmp_path / "home"), "COLUMNS": "100"}
    done = subprocess.run(
        [sys.executable, "-m", "dl7", "--curriculum", str(course), "next"],
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert b"\x1b" not in done.stdout and b"\x07" not in done.stdout
    assert b"Basics]52;c;" in done.stdout  # the text is kept, harmless
