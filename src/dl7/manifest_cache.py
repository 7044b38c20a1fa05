"""The parsed manifest, cached in the workspace so `dl7 next` does not parse YAML every time.

An entry is used only while every file the parse read (the manifest, its notebooks, the
checker modules scanned for registrations, and dl7's own parser) has the size and mtime it
had then; anything else (a changed file, another dl7, a corrupt or foreign cache file) means
a normal parse. The cache only ever holds what :func:`dl7.curriculum.load` returned, written
as plain JSON (no pickle), and decoded into the manifest's own dataclasses and nothing else.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from dl7 import __version__, locations
from dl7 import curriculum as _curriculum
from dl7.curriculum import Curriculum

FORMAT = 1
MAX_ENTRIES = 8  # manifests remembered per workspace (a course author may switch between a few)
_OWN_SOURCES = ("curriculum.py", "yamldoc.py", "manifest_cache.py")


def load(path: str | os.PathLike[str] | None, dot: Path | None) -> Curriculum:
    """:func:`dl7.curriculum.load`, answered from ``dot/manifest-cache.json`` when still valid.

    ``dot`` is the workspace's ``.dl7`` folder; nothing is written when it does not exist.
    """
    manifest = _curriculum.resolve_path(path)
    cache = locations.manifest_cache_file(dot) if dot is not None else None
    entries = _read(cache) if cache is not None else {}
    entry = entries.get(str(manifest))
    if isinstance(entry, dict) and _fresh(entry.get("deps")):
        try:
            found = _decode(entry["curriculum"])
        except Exception:  # a corrupt or foreign entry is only a cache miss
            found = None
        if isinstance(found, Curriculum):
            return found
    loaded = _curriculum.load(manifest)
    if cache is not None and cache.parent.is_dir():
        _store(cache, entries, manifest, loaded)
    return loaded


def remember(loaded: Curriculum, dot: Path) -> None:
    """Cache ``loaded`` in a workspace just created (its ``.dl7`` did not exist at load time),
    so the workspace's first command leaves it as every later one will find it."""
    cache = locations.manifest_cache_file(dot)
    if dot.is_dir() and not cache.exists():
        _store(cache, _read(cache), loaded.path, loaded)


# -- what the parse depended on -----------------------------------------------------------


def _deps(manifest: Path, loaded: Curriculum) -> list[Path]:
    here = Path(__file__).resolve().parent
    paths = [manifest, *(here / name for name in _OWN_SOURCES)]
    paths += [loaded.source_path(nb) for nb in loaded.notebooks]
    for spec in loaded.checkers:
        source = _curriculum.checker_source(spec)
        if source is None:
            continue
        if source.name == "__init__.py":  # a package: every module in it was scanned
            folder = source.parent
            paths += [folder, *sorted(folder.rglob("*.py"))]
            paths += sorted(p for p in folder.rglob("*") if p.is_dir())
        else:
            paths.append(source)
    return paths


def _stamp(path: Path) -> list[Any]:
    st = path.stat()
    return [str(path), st.st_size, st.st_mtime_ns]


def _fresh(deps: Any) -> bool:
    if not isinstance(deps, list) or not deps:
        return False
    try:
        return all(_stamp(Path(d[0])) == d for d in deps)
    except (OSError, TypeError, IndexError, KeyError):
        return False


# -- reading and writing --------------------------------------------------------------------


def _read(cache: Path) -> dict[str, Any]:
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("dl7") != __version__:
        return {}
    entries = data.get("entries")
    return entries if isinstance(entries, dict) else {}


def _store(cache: Path, entries: dict[str, Any], manifest: Path, loaded: Curriculum) -> None:
    try:
        encoded = _encode(loaded)
        if _decode(json.loads(json.dumps(encoded))) != loaded:
            return  # something the encoding cannot carry: better no cache than a wrong one
        deps = [_stamp(p) for p in _deps(manifest, loaded)]
    except (OSError, TypeError, ValueError):
        return
    entries.pop(str(manifest), None)
    entries[str(manifest)] = {"deps": deps, "curriculum": encoded}
    kept = dict(list(entries.items())[-MAX_ENTRIES:])
    from dl7.atomic import write_atomic

    try:
        write_atomic(cache, json.dumps({"format": FORMAT, "dl7": __version__, "entries": kept}))
    except OSError:
        pass  # a read-only workspace still works; it just parses every time


# -- JSON for the manifest's dataclasses ----------------------------------------------------


def _classes() -> dict[str, type]:
    return {
        name: obj
        for name, obj in vars(_curriculum).items()
        if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == _curriculum.__name__
    }


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if type(value).__module__ != _curriculum.__name__:
            raise TypeError(f"cannot cache a {type(value).__name__}")
        fields = {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
        return {"__dc__": type(value).__name__, "fields": fields}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, frozenset):
        return {"__frozenset__": [_encode(v) for v in sorted(value)]}
    if isinstance(value, Path):
        return {"__path__": str(value)}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("cannot cache a mapping with keys that are not strings")
        return {"__dict__": {k: _encode(v) for k, v in value.items()}}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"cannot cache a {type(value).__name__}")


def _decode(value: Any, classes: dict[str, type] | None = None) -> Any:
    classes = classes if classes is not None else _classes()
    if isinstance(value, list):
        return [_decode(v, classes) for v in value]
    if not isinstance(value, dict):
        return value
    if "__dc__" in value:
        return classes[value["__dc__"]](**{k: _decode(v, classes) for k, v in value["fields"].items()})
    if "__tuple__" in value:
        return tuple(_decode(v, classes) for v in value["__tuple__"])
    if "__frozenset__" in value:
        return frozenset(_decode(v, classes) for v in value["__frozenset__"])
    if "__path__" in value:
        return Path(value["__path__"])
    if "__dict__" in value:
        return {k: _decode(v, classes) for k, v in value["__dict__"].items()}
    raise ValueError("not a cached manifest")
