"""Rebuild movieReviewSnippets_GroundTruth.txt.gz from the vaderSentiment 3.3.2 sdist.

Every step is checked against a pinned sha256: the sdist, the tarball inside it, and the text
file inside that. The text file is shipped byte for byte (CRLF line ends and all), only
gzip-compressed, with no file name and mtime 0 in the gzip header so that the same zlib writes
the same bytes. Run from anywhere:

    python data/movie-reviews/build.py                 # downloads the sdist with pip (online)
    python data/movie-reviews/build.py --sdist PATH    # uses a vaderSentiment-3.3.2.tar.gz you have
    python data/movie-reviews/build.py --check         # rebuild and compare with the shipped file

Exit status: 0 when every checksum matches (and, with --check, the rebuilt file equals the
shipped one), 1 otherwise.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "movieReviewSnippets_GroundTruth.txt.gz"

SDIST = "vaderSentiment-3.3.2.tar.gz"
SDIST_SHA256 = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
INNER = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
INNER_SHA256 = "d5bb07d87474b3eb8d30b4deccbc23f19d742a6c5718fbacc65485b70b95c5fa"
MEMBER = "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"
MEMBER_SHA256 = "c8293b0d942e90e223ea2c0955d969040d1a1be514a978b9af0698940bd13350"


class BuildError(Exception):
    pass


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verified(data: bytes, expected: str, what: str) -> bytes:
    digest = sha256(data)
    if digest != expected:
        raise BuildError(f"{what}: sha256 is {digest}, expected {expected}")
    print(f"ok  {expected}  {what}")
    return data


def member(archive: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        try:
            f = tar.extractfile(name)
        except KeyError:
            f = None
        if f is None:
            raise BuildError(f"{name} is not a regular file in the archive")
        return f.read()


def download_sdist(folder: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps"]
    cmd += ["vaderSentiment==3.3.2", "-d", str(folder)]
    subprocess.run(cmd, check=True)
    return folder / SDIST


def compress(text: bytes) -> bytes:
    buf = io.BytesIO()
    # filename="" and mtime=0 keep the header free of anything that varies between builds.
    with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=buf, mtime=0) as gz:
        gz.write(text)
    return buf.getvalue()


def counts(text: bytes) -> dict[str, int]:
    tally = {"positive": 0, "negative": 0, "neutral": 0}
    for line in text.decode("utf-8").split("\r\n"):
        rating = float(line.split("\t")[1])
        tally["positive" if rating > 0 else "negative" if rating < 0 else "neutral"] += 1
    return tally


def build(sdist: Path) -> bytes:
    outer = verified(sdist.read_bytes(), SDIST_SHA256, sdist.name)
    inner = verified(member(outer, INNER), INNER_SHA256, INNER)
    text = verified(member(inner, MEMBER), MEMBER_SHA256, MEMBER)
    tally = counts(text)
    print(f"    {sum(tally.values())} sentences: " + ", ".join(f"{v} {k}" for k, v in tally.items()))
    if tally != {"positive": 5242, "negative": 5326, "neutral": 37}:
        raise BuildError(f"unexpected label counts {tally}")
    return compress(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdist", type=Path, help=f"a local {SDIST} (default: pip download it)")
    parser.add_argument("--check", action="store_true", help="compare with the shipped file, write nothing")
    args = parser.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            packed = build(args.sdist or download_sdist(Path(tmp)))
        if args.check:
            shipped = OUTPUT.read_bytes()
            if gzip.decompress(shipped) != gzip.decompress(packed):
                raise BuildError(f"{OUTPUT.name} does not hold the sdist's text")
            same = "byte for byte" if shipped == packed else "same text (this zlib compresses differently)"
            print(f"ok  {sha256(shipped)}  {OUTPUT.name}: {same}")
        else:
            OUTPUT.write_bytes(packed)
            print(f"wrote {OUTPUT} ({len(packed):,} bytes, sha256 {sha256(packed)})")
    except (BuildError, OSError, tarfile.TarError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
