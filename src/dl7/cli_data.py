"""``dl7 data``: list the registered data sets and fetch the downloadable ones.

A thin layer over :mod:`dl7.datasets`: parse arguments, call one function, render the result.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.filesize import decimal

if TYPE_CHECKING:  # dl7.datasets and Rich's tables and bars load only when a data command runs
    from dl7 import datasets

app = typer.Typer(help="List and fetch data sets.", no_args_is_help=True)


def _out() -> Console:
    return Console()


def _err() -> Console:
    return Console(stderr=True)


def _size(info: datasets.DatasetInfo) -> str:
    size = decimal(info.size_bytes) if info.size_bytes is not None else ""
    if info.bundled:
        return f"bundled, {size}" if size else "bundled"
    return size or "?"


@app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the data sets: name, size, whether it is available offline, source."""
    from rich.table import Table

    from dl7 import datasets

    rows = datasets.registry()
    if as_json:
        typer.echo(json.dumps([r.to_json() for r in rows], indent=2))
        return
    table = Table(
        title="Data sets",
        caption=f"Cache: {datasets.cache_dir()}\nDownload one with: dl7 data fetch NAME",
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("name", style="bold")
    table.add_column("size", justify="right")
    table.add_column("cached")
    table.add_column("source", overflow="fold")
    for r in rows:
        cached = "[green]yes[/]" if r.cached else "[dim]no[/]"
        table.add_row(r.name, _size(r), cached, r.url or r.origin)
    _out().print(table)


@app.command()
def fetch(
    name: Annotated[str, typer.Argument(help="Data set to download, e.g. mnist.")],
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

    err = _err()
    progress = Progress(
        TextColumn(f"[bold]{name}[/]"),
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
        folder = datasets.fetch(name, progress=advance, force=force)
    except datasets.DatasetError as exc:
        stop_bar()
        err.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        if exc.hint:
            err.print(f"[dim]hint: {exc.hint}[/]", highlight=False, soft_wrap=True)
        raise typer.Exit(int(exc.exit_code)) from None
    except KeyboardInterrupt:
        stop_bar()
        err.print("interrupted; nothing was kept")
        raise typer.Exit(130) from None
    stop_bar()
    if folder is None:
        _out().print(f"{name} ships with an installed package; there is nothing to download.")
    else:
        _out().print(f"{name} is ready in {folder}", highlight=False, soft_wrap=True)
