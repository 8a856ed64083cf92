"""``polyout campaign report REF --html PATH``: the page, written whole or not at all.

plotly (the ``polyout[report]`` extra) is checked for before anything is opened or
written: without it the command says how to get it (exit 2) and leaves no file. The
campaign is opened read-only through its reference (a journal, or ``--store URL
--campaign NAME``), read once through the store's async reads, and the page is written
next to its final name and renamed into place, so nobody opens half a report.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from pathlib import Path
from types import ModuleType

from polyout._campaign._addressing import StoreKind, StoreRef, opened_campaign
from polyout._cli import _interrupt
from polyout._cli._errors import CliError, ExitCode, storage_failure

__all__ = ["REPORT_EXTRA", "html_report", "require_plotly"]

#: What to install for ``--html``.
REPORT_EXTRA = "pip install 'polyout[report]'"
_SUFFIXES = (".html", ".htm")


def require_plotly() -> ModuleType:
    """plotly's offline module, or the one-line error that says how to get it."""
    try:
        return importlib.import_module("plotly.offline")
    except ImportError:
        raise CliError(
            f"--html draws its charts with plotly, which is not installed: {REPORT_EXTRA}",
            ExitCode.USAGE,
        ) from None


def checked_html_path(output: str, ref: StoreRef) -> Path:
    """Where the page goes, refused before any reading if it cannot or must not be written."""
    path = Path(output)
    if path.suffix.lower() not in _SUFFIXES:
        raise CliError(f"--html {output}: name the report file .html", ExitCode.USAGE)
    if not path.parent.is_dir():
        raise CliError(f"--html {output}: the folder {path.parent} does not exist", ExitCode.USAGE)
    if ref.kind is StoreKind.SQLITE:
        store_file = ref.path
        if path.resolve() == store_file.resolve() or (
            path.exists() and store_file.exists() and os.path.samefile(path, store_file)
        ):
            raise CliError(
                f"--html {output} is the campaign's store, which the report would overwrite",
                ExitCode.USAGE,
            )
    return path


def html_report(ref: StoreRef, output: str) -> int:
    """Write the HTML report of the campaign ``ref`` names to ``output``; the exit status."""
    offline = require_plotly()
    path = checked_html_path(output, ref)
    # Imported once plotly is known to be there: the figures module imports it.
    from polyout._report._data import gather
    from polyout._report._html import page

    async def build() -> tuple[str, int]:
        async with opened_campaign(ref, read_only=True) as (named, stored):
            data = await gather(stored, now=time.time(), where=named.shown)
        return page(data, offline.get_plotlyjs()), data.total

    text, contacts = _interrupt.run(lambda _: build())
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        why = storage_failure(exc, writing=True) or f"cannot write {path}: {exc.strerror or exc}"
        raise CliError(why, ExitCode.STORAGE) from None
    size = path.stat().st_size / 1e6
    print(
        f"report: {path} ({contacts:,} contacts, {size:.1f} MB, self-contained; numbers masked)",
        file=sys.stderr,
        flush=True,
    )
    return ExitCode.OK
