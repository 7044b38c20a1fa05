"""``dl7 data``: list the registered data sets and fetch the downloadable ones.

A thin layer over :mod:`dl7.datasets`: parse arguments, call one function, render the result.
It prints through the consoles every command shares and runs inside the one error guard, so
its errors, Ctrl-C and a reader that stops early (`dl7 data list | head -1`, exit 141) end as
every other command's do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.filesize import decimal
from rich.markup import escape

from dl7.cli_common import err, guard, load_course, out, print_json
from dl7.cli_types import JsonOpt

if TYPE_CHECKING:  # dl7.datasets and Rich's tables and bars load only when a data command runs
    from dl7 import datasets

app = typer.Typer(help="List and fetch data sets.", no_args_is_help=True)


def _size(info: datasets.DatasetInfo) -> str:
    size = decimal(info.size_bytes) if info.size_bytes is not None else ""
    if info.bundled:
        return f"bundled, {size}" if size else "bundled"
    return size or "?"


@app.command("list")
@guard
def list_(as_json: JsonOpt = False) -> None:
    """List the data sets: name, size, whether it is available offline, source."""
    from rich.table import Table

    from dl7 import datasets

    rows = datasets.registry(load_course())  # the course's sets: --curriculum, the workspace's, the default
    if as_json:
        print_json([r.to_json() for r in rows])
        return
    table = Table(
        title="Data sets",
        caption=f"Cache: {escape(str(datasets.cache_dir()))}\nDownload one with: dl7 data fetch NAME",
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("name", style="bold")
    table.add_column("size", justify="right")
    table.add_column("cached")
    table.add_column("source", overflow="fold")
    for r in rows:
        cached = "[green]yes[/]" if r.cached else "[dim]no[/]"
        table.add_row(escape(r.name), _size(r), cached, escape(r.url or r.origin))
    out.print(table)


@app.command()
@guard
def fetch(
    name: Annotated[str, typer.Argument(help="Data set to download, as `dl7 data list` names it.")],
    force: Annotated[bool, typer.Option("--force", help="Download again even if cached.")] = False,
) -> None:
    """Download a data set into the cache, verify its sha256, and unpack it."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from dl7 import datasets

    progress = Progress(
        TextColumn(f"[bold]{escape(name)}[/]"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    task = progress.add_task("download", total=None)

    def advance(done: int, total: int | None) -> None:
        if not progress.live.is_started:  # only once bytes flow: errors before that stay one line
            progress.start()
        progress.update(task, completed=done, total=total)

    def stop_bar() -> None:
        if progress.live.is_started:
            progress.stop()

    try:
        folder = datasets.fetch(name, progress=advance, force=force, course=load_course())
    finally:  # the bar goes before the guard prints an error or "interrupted" (nothing is kept)
        stop_bar()
    if folder is None:
        out.print(f"{escape(name)} ships with an installed package; there is nothing to download.")
    else:
        out.print(f"{escape(name)} is ready in {escape(str(folder))}", soft_wrap=True)
