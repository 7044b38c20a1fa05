"""The data-set API notebooks and checkers use; the data sets themselves are the course's.

A course declares its sets in one Python module that its manifest names (``datasets:
data/datasets.py``): ``SOURCES``, a sequence of :class:`Source` (labelled sets, bundled or
downloadable), and ``TEXTS``, a sequence of :class:`Text` (plain text for character models).
``load(name)`` and ``text(name)`` find that module the way the kernel finds the course's
checkers: the runner names it in ``$DL7_DATASETS``; without it (a notebook opened in
JupyterLab) the enclosing workspace's ``workspace.json`` does, else the enclosing
``curriculum.yaml``, else the course dl7 uses by default (``$DL7_CURRICULUM`` or the one it
ships). A name the course does not declare is a :class:`DatasetError` naming those it does.

A downloadable set is fetched only on request: :func:`fetch` (``dl7 data fetch NAME``) streams
the file into a temporary file in the cache, verifies its sha256, extracts archives safely and
moves the finished folder into place with one rename, so the cache never holds half a data
set, whatever goes wrong (Ctrl-C included). Nothing here touches the network unless
:func:`fetch` is called; importing this module imports neither numpy nor typer nor rich.

An archive's files are checked again each time they are read: :func:`fetch` records the sha256
of every file it unpacked from the verified archive (``.dl7-sha256`` in the set's folder, in
``sha256sum`` format), and a loader that unpickles reads through :func:`read_verified`, which
hands back the bytes only when they match that record, and the record only when it is this
user's and nobody else can write it. Unpickling runs code: a cache file changed after the
download (by another user, by a hand) is refused, never unpickled.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dl7 import locations
from dl7.errors import DatasetError as DatasetError  # re-exported: notebooks catch it here
from dl7.errors import Dl7Error, ExitCode, os_error
from dl7.splits import DEFAULT_TEST_FRACTION as DEFAULT_TEST_FRACTION
from dl7.splits import Dataset as Dataset  # re-exported: the public API is dl7.datasets
from dl7.splits import Split as Split
from dl7.splits import Split3 as Split3
from dl7.splits import TextDataset as TextDataset

if TYPE_CHECKING:
    from dl7.curriculum import Curriculum
    from dl7.download import Progress

DATA_ENV = locations.DATA_ENV
DATASETS_ENV = locations.DATASETS_ENV
DIGESTS_FILE = ".dl7-sha256"  # in a fetched archive's folder: the sha256 of each file unpacked


@dataclass(frozen=True)
class Source:
    """A labelled data set a course declares. ``url is None``: it is available offline, from
    ``bundled_file`` (shipped with the course) or from an installed package."""

    name: str
    description: str
    loader: Callable[[Path | None], Dataset | TextDataset]  # gets the bundled or cached file (or folder)
    url: str | None = None
    sha256: str | None = None
    size_bytes: int | None = None  # of the download
    filename: str | None = None  # the downloaded file's name inside the data set's folder
    extract: bool = False  # the download is a tar archive to unpack
    homepage: str = ""
    notes: str = ""
    bundled_file: Path | None = None  # a bundled set's file, as an absolute path
    origin: str = ""  # where an offline set comes from, for `dl7 data list`
    test_fraction: float | None = None  # the share of each class split() holds out by default


@dataclass(frozen=True)
class Text:
    """Plain text a course declares for character-level models; ``read()`` returns it."""

    name: str
    description: str
    read: Callable[[], str]


@dataclass(frozen=True)
class Declarations:
    """What one course declares, and the module that declares it (``None``: nothing)."""

    spec: str | None
    sources: tuple[Source, ...] = ()
    texts: tuple[Text, ...] = ()


@dataclass(frozen=True)
class DatasetInfo:
    """One row of :func:`registry`."""

    name: str
    description: str
    size_bytes: int | None
    url: str | None
    sha256: str | None
    bundled: bool
    cached: bool
    path: str | None
    origin: str

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


# The course's declarations ------------------------------------------------------------------

_LOADED: dict[str, Declarations] = {}
_MANIFESTS: dict[tuple[str, int], str | None] = {}  # (manifest, mtime) → its `datasets`


def declarations(course: Curriculum | None = None) -> Declarations:
    """The data sets of ``course``, or of the course this process serves (see the module's doc)."""
    spec = course.datasets if course is not None else _discover()
    if spec is None:
        return Declarations(None)
    if spec not in _LOADED:
        _LOADED[spec] = _load_declarations(spec)
    return _LOADED[spec]


def _discover() -> str | None:
    env = os.environ.get(DATASETS_ENV)
    if env is not None:  # set by the runner; empty: the course declares none
        return env.strip() or None
    workspace = locations.enclosing_workspace()
    if workspace is not None:
        dot = workspace / locations.DOT
        info = locations.read_info(dot) if locations.trusted(locations.info_file(dot)) else {}
        if "datasets" in info:
            value = info["datasets"]
            return value if isinstance(value, str) and value else None
        recorded = locations.recorded_course(dot)  # a workspace made before dl7 recorded data sets
        if recorded is not None:
            return _declared_by(Path(recorded))
    from dl7.curriculum import resolve_path

    return _declared_by(locations.enclosing_course() or resolve_path(None))


def _declared_by(manifest: Path) -> str | None:
    """The ``datasets`` a manifest names; parsed once per version of the file (PyYAML loads
    only here: a kernel the runner started has ``$DL7_DATASETS`` and never comes here)."""
    try:
        key = (str(manifest), manifest.stat().st_mtime_ns)
    except OSError:
        key = (str(manifest), -1)
    if key not in _MANIFESTS:
        from dl7.curriculum import load

        try:
            _MANIFESTS[key] = load(manifest).datasets
        except Dl7Error as exc:
            raise DatasetError(
                f"cannot tell which data sets the course declares: {exc.message}",
                hint=exc.hint,
                exit_code=ExitCode.BAD_INPUT,
            ) from None
    return _MANIFESTS[key]


def _load_declarations(spec: str) -> Declarations:
    # The checker loader imports a course's module by path or dotted name, under a name of its
    # own; the declarations are course code like the checkers and load the same way.
    from dl7.checks import load_failure, load_module

    try:
        module = load_module(spec)
    except Exception as exc:  # a SyntaxError, an ImportError, anything its import raises
        raise DatasetError(
            load_failure(spec, exc, "data-set declarations"), exit_code=ExitCode.BAD_INPUT
        ) from None
    if not hasattr(module, "SOURCES") and not hasattr(module, "TEXTS"):
        raise DatasetError(
            f"{spec} declares no data sets: it defines neither SOURCES nor TEXTS",
            hint="list the sets as SOURCES = [Source(...)] and TEXTS = [Text(...)]",
            exit_code=ExitCode.BAD_INPUT,
        )
    sources = tuple(_entries(spec, module, "SOURCES", Source))
    texts = tuple(_entries(spec, module, "TEXTS", Text))
    for source in sources:
        try:
            _check(source)
        except ValueError as exc:
            raise DatasetError(f"{spec}: {exc}", exit_code=ExitCode.BAD_INPUT) from None
    return Declarations(spec, sources, texts)


def _entries(spec: str, module: Any, attribute: str, kind: type[Any]) -> list[Any]:
    value = getattr(module, attribute, ())
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise DatasetError(
            f"{spec}: {attribute} must be a list of {kind.__name__}", exit_code=ExitCode.BAD_INPUT
        )
    seen: set[str] = set()
    for i, entry in enumerate(value):
        if not isinstance(entry, kind):
            raise DatasetError(
                f"{spec}: {attribute}[{i}] is a {type(entry).__name__}, not a dl7.datasets.{kind.__name__}",
                exit_code=ExitCode.BAD_INPUT,
            )
        if entry.name in seen:
            raise DatasetError(
                f"{spec}: {attribute} names {entry.name!r} twice", exit_code=ExitCode.BAD_INPUT
            )
        seen.add(entry.name)
    return list(value)


def _check(source: Source) -> None:
    if source.url is not None and not (source.sha256 and source.filename):
        raise ValueError(f"{source.name}: a downloadable data set needs sha256 and filename")
    if source.test_fraction is not None and not 0.0 < source.test_fraction < 1.0:
        raise ValueError(f"{source.name}: test_fraction must be between 0 and 1; got {source.test_fraction}")


# The registry: the course's sets, and any a notebook or a test adds ---------------------------

_EXTRA: dict[str, Source] = {}


def register(source: Source, *, replace_existing: bool = False) -> Source:
    """Add a data set beside the course's; a name is taken once."""
    _check(source)
    if not replace_existing and (source.name in _EXTRA or source.name in _course_names()):
        raise ValueError(f"a data set named {source.name!r} is already registered")
    _EXTRA[source.name] = source
    return source


def unregister(name: str) -> None:
    _EXTRA.pop(name, None)


def _course_names() -> set[str]:
    try:
        return {s.name for s in declarations().sources}
    except DatasetError:  # no course to ask: only the added sets count
        return set()


def _sources(course: Curriculum | None = None) -> dict[str, Source]:
    return {**{s.name: s for s in declarations(course).sources}, **_EXTRA}


def names(course: Curriculum | None = None) -> list[str]:
    return list(_sources(course))


def cache_dir() -> Path:
    """``$DL7_DATA`` if set, else the per-user cache (platformdirs) ``.../dl7/datasets``."""
    return locations.data_cache_dir()


def dataset_dir(name: str) -> Path:
    return cache_dir() / name


def registry(course: Curriculum | None = None) -> list[DatasetInfo]:
    """Every data set of the course (and any added), and whether it is available offline now."""
    rows = []
    for s in _sources(course).values():
        bundled = s.url is None
        folder = dataset_dir(s.name)
        cached = bundled or folder.is_dir()
        path = str(folder) if (cached and not bundled) else None
        size = s.size_bytes
        if s.bundled_file is not None:
            path, size = (
                str(s.bundled_file),
                (s.bundled_file.stat().st_size if s.bundled_file.is_file() else None),
            )
        info = DatasetInfo(s.name, s.description, size, s.url, s.sha256, bundled, cached, path, s.origin)
        rows.append(info)
    return rows


def _source(name: str, course: Curriculum | None = None) -> Source:
    sources = _sources(course)
    if name in sources:
        return sources[name]
    raise DatasetError(
        _unknown("data set", name, list(sources), declarations(course).spec), exit_code=ExitCode.BAD_INPUT
    )


def _unknown(kind: str, name: str, known: list[str], spec: str | None) -> str:
    if known:
        return f"unknown {kind} {name!r}; known {kind}s: {', '.join(known)}"
    if spec is None:
        return (
            f"unknown {kind} {name!r}: this course declares no data sets (a `datasets:` file in its manifest)"
        )
    return f"unknown {kind} {name!r}: the course's {spec} declares no {kind}s"


def _megabytes(n: int | None) -> str:
    return "" if n is None else f" ({n / 1e6:.0f} MB)"


# Loading ------------------------------------------------------------------------------------


def load(name: str) -> Dataset | TextDataset:
    """Load a data set: offline ones always, downloaded ones once ``dl7 data fetch NAME`` ran."""
    source = _source(name)
    if source.url is None:
        return _as_declared(source.loader(source.bundled_file), source)
    folder = dataset_dir(name)
    if not folder.is_dir():
        raise DatasetError(
            f"the {name} data set is not downloaded yet{_megabytes(source.size_bytes)}; "
            f"run `dl7 data fetch {name}` once while online, then try again"
        )
    target = folder if source.extract else folder / str(source.filename)
    import pickle  # only for the error it may raise: a corrupt pickled cache

    try:
        data = source.loader(target)
    except (OSError, ValueError, KeyError, EOFError, pickle.UnpicklingError) as exc:
        raise DatasetError(
            f"the cached {name} data set in {folder} could not be read ({exc}); "
            f"run `dl7 data fetch {name} --force` to download it again"
        ) from exc
    return _as_declared(data, source)


def _as_declared(data: Dataset | TextDataset, source: Source) -> Dataset | TextDataset:
    if source.test_fraction is None:
        return replace(data, name=source.name)
    return replace(data, name=source.name, test_fraction=source.test_fraction)


def text(name: str) -> str:
    """Plain text for character-level models, available offline; lines end in ``"\\n"``."""
    declared = declarations()
    texts = {t.name: t for t in declared.texts}
    if name not in texts:
        raise DatasetError(_unknown("text", name, list(texts), declared.spec), exit_code=ExitCode.BAD_INPUT)
    return texts[name].read()


def load_npz_images(path: Path | None) -> Dataset:
    """An ``.npz`` with ``x_train, y_train, x_test, y_test`` (uint8 or float images, N×H×W or
    N×H×W×C, as ``numpy.savez`` writes them under those names); its test part is the official split."""
    import numpy as np

    assert path is not None
    with np.load(path, allow_pickle=False) as f:
        x_train, y_train, x_test, y_test = (f[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    x = np.concatenate([x_train, x_test])
    images = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    if images.ndim == 3:
        images = images[..., None]  # (N, H, W) -> (N, H, W, 1)
    labels = np.concatenate([y_train, y_test]).astype(np.int64).ravel()
    classes = tuple(str(i) for i in range(int(labels.max()) + 1))
    return Dataset(path.stem, images, labels, classes, test_start=len(x_train))


# Fetching -----------------------------------------------------------------------------------


def fetch(
    name: str, *, progress: Progress | None = None, force: bool = False, course: Curriculum | None = None
) -> Path | None:
    """Download, verify and install a data set into the cache; return its folder.

    Returns ``None`` for an offline set (nothing to download) and the existing folder when the
    set is cached already (unless ``force``). On any failure, Ctrl-C included, the temporary
    files are removed and the cache is left as it was.
    """
    source = _source(name, course)
    if source.url is None:
        return None
    final = dataset_dir(name)
    if final.is_dir() and not force:
        return final
    import shutil  # the download machinery loads only when something is downloaded

    from dl7.atomic import new_file, new_folder
    from dl7.download import download, extract_tar, install

    root = cache_dir()
    part: Path | None = None
    staging: Path | None = None
    try:
        root.mkdir(parents=True, exist_ok=True)
        # not mkstemp/mkdtemp: their owner-only modes would stick to the cached files
        fd, part = new_file(root, f".{name}-", ".part")
        with os.fdopen(fd, "wb") as out:
            digest = download(
                str(source.url), out, name=source.name, size_hint=source.size_bytes, progress=progress
            )
            out.flush()
            os.fsync(out.fileno())
        if digest != source.sha256:
            raise DatasetError(
                f"the download of {name} is corrupt: its sha256 is {digest}, expected {source.sha256}; "
                "the file was deleted. Try again; if it keeps happening the file on the server has changed"
            )
        staging = new_folder(root, f".{name}-", ".staging")
        if source.extract:
            extract_tar(part, staging, label=source.filename)
            _record_digests(staging)
        else:
            os.replace(part, staging / str(source.filename))
            part = None
        install(staging, final)
        staging = None
        return final
    except OSError as exc:  # a full, read-only or forbidden cache: one line, nothing kept
        error = os_error(exc, f"cannot save the data set {name} in", root, env=DATA_ENV)
        raise DatasetError(error.message, hint=error.hint, exit_code=ExitCode.BAD_INPUT) from None
    finally:  # runs on errors and on KeyboardInterrupt alike: never leave half a file behind
        if part is not None:
            part.unlink(missing_ok=True)
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


# Reading what a download unpacked, verified --------------------------------------------------


def _record_digests(folder: Path) -> None:
    """Write the sha256 of every file under ``folder`` (just unpacked from the verified archive,
    in a staging folder of this user's) to its :data:`DIGESTS_FILE`, readable by all, writable
    by this user only."""
    import hashlib

    lines = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if rel == DIGESTS_FILE or not path.is_file():
            continue
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        lines.append(f"{digest.hexdigest()}  {rel}\n")
    record = folder / DIGESTS_FILE
    record.unlink(missing_ok=True)  # an archive member of that name is not the record
    fd = os.open(record, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        os.fchmod(f.fileno(), 0o644)  # whatever the umask: nobody else may write the record
        f.write("".join(lines))


def _recorded_digests(folder: Path) -> dict[str, str]:
    """``{relative path: sha256}`` from ``folder``'s record, which must be this user's (or
    root's) and writable by no one else; opened without following a link."""
    name = folder.name
    again = f"run `dl7 data fetch {name} --force` to download it again"
    record = folder / DIGESTS_FILE
    try:
        fd = os.open(record, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise DatasetError(
            f"the cached {name} data set in {folder} has no record of its files' sha256 "
            f"(fetched by an older dl7, or not by dl7), so it is not loaded; {again}"
        ) from None
    except OSError as exc:
        raise DatasetError(f"cannot read {record} ({exc.strerror or exc}); {again}") from None
    with os.fdopen(fd, "r", encoding="utf-8", errors="replace") as f:
        from dl7.locations import distrust_stat

        why = distrust_stat(os.fstat(f.fileno()), group=True)
        if why is not None:
            raise DatasetError(
                f"{record} is not yours or others can write it ({why}), so the {name} data set is not "
                f"loaded (its files are checked against it); {again}"
            )
        text = f.read()
    found: dict[str, str] = {}
    for line in text.splitlines():
        digest, _, rel = line.partition("  ")
        if len(digest) == 64 and rel:
            found[rel] = digest
    return found


def read_verified(folder: Path, relative: str) -> bytes:
    """The bytes of ``relative`` inside a fetched archive's ``folder`` (the one a loader is
    given), once their sha256 matches what :func:`fetch` recorded when it unpacked them.
    The bytes checked are the bytes returned: unpickle these, never the file again."""
    import hashlib

    name = folder.name
    again = f"run `dl7 data fetch {name} --force` to download it again"
    expected = _recorded_digests(folder).get(relative)
    path = folder / relative
    if expected is None:
        raise DatasetError(f"{path} is not a file the {name} download unpacked, so it is not loaded; {again}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"cannot read {path} ({exc.strerror or exc}); {again}") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise DatasetError(
            f"{path} was changed after it was downloaded (sha256 {actual[:12]}…, recorded "
            f"{expected[:12]}…), so it is not loaded; {again}"
        )
    return data
