"""Everything the campaign commands draw: progress while running, tables after.

On a terminal, progress is a live rich bar on stderr; elsewhere (a pipe, a log file,
CI) it is a plain line every few seconds, so logs stay readable. Tables go to stdout.
Nothing here prints a full phone number: contacts are named by id, row and masked number.
"""

from __future__ import annotations

import abc
import collections
import sys
import time
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import TextIO

from rich import box
from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.table import Table
from rich.text import Text

from polyout._campaign._events import CampaignStats
from polyout._cli._progress_line import (
    FINAL_ORDER,
    OPEN_ORDER,
    calls_in_flight,
    fit,
    format_duration,
    plural,
    progress_line,
    progress_parts,
)

__all__ = [
    "FINAL_ORDER",
    "OPEN_ORDER",
    "LiveProgress",
    "PlainProgress",
    "ProgressView",
    "calls_in_flight",
    "format_duration",
    "key_value_table",
    "open_progress",
    "plural",
    "progress_line",
    "stdout_console",
    "table",
]

_ETA_WINDOW = 30.0  # seconds of finishing speed the ETA is based on
_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_BAR_WIDTH = (10, 30)  # columns: a bar narrower than this says nothing; wider, nothing more
_MIN_FOR_BAR = 60  # columns: below this, the numbers need all the room
_HEARTBEAT = 60.0  # seconds: a plain log repeats an unchanged line this often


def stdout_console() -> Console:
    # No highlighting: numbers in ids and sids must not be coloured at random.
    return Console(file=sys.stdout, highlight=False, soft_wrap=False)


class _Eta:
    """Time left, from how fast contacts became final over the last half minute."""

    def __init__(self) -> None:
        self._samples: collections.deque[tuple[float, int]] = collections.deque()

    def estimate(self, stats: CampaignStats, now: float) -> float | None:
        self._samples.append((now, stats.finished))
        while len(self._samples) > 2 and self._samples[0][0] < now - _ETA_WINDOW:
            self._samples.popleft()
        if not stats.input_done:
            return None
        remaining = stats.total - stats.finished
        if remaining <= 0:
            return 0.0
        (then, finished_then), (_, finished_now) = self._samples[0], self._samples[-1]
        if now <= then or finished_now <= finished_then:
            return None
        return remaining / ((finished_now - finished_then) / (now - then))


class ProgressView(abc.ABC):
    """Shows a running campaign; used as ``with view:`` around the run."""

    def __enter__(self) -> ProgressView:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @abc.abstractmethod
    def start(self) -> None:
        """Begin showing (before the first update)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Stop showing (after the last update)."""

    @abc.abstractmethod
    def update(self, stats: CampaignStats) -> None:
        """Show the latest snapshot (called a few times a second)."""

    @abc.abstractmethod
    def note(self, text: str) -> None:
        """Print a line that stays (a 429, a stop request), above any live bar."""


class LiveProgress(ProgressView):
    """One live line on a terminal, redrawn a few times a second to fit its width.

    ``⠋ campaign run ━━━━━━━━━━ final 12/40 · in flight 3 · … · ETA 14s``: the title and
    the bar give way first, then the least useful numbers (see ``_progress_line``).
    """

    def __init__(self, console: Console, title: str, *, resumed: bool = False) -> None:
        self._line = ProgressLine(title, resumed=resumed)
        self._live = Live(self._line, console=console, refresh_per_second=4, transient=False)
        self._eta = _Eta()

    def start(self) -> None:
        self._live.start()

    def close(self) -> None:
        self._live.stop()

    def update(self, stats: CampaignStats) -> None:
        self._line.show(stats, self._eta.estimate(stats, time.monotonic()))

    def note(self, text: str) -> None:
        # Markup off: a note may quote a server's reason or a file name.
        self._live.console.print(text, highlight=False, markup=False)


class ProgressLine:
    """The live line as a rich renderable: composed at the width rich offers it."""

    def __init__(self, title: str, *, resumed: bool = False) -> None:
        self.title = title
        self._resumed = resumed
        self._stats: CampaignStats | None = None
        self._eta: float | None = None

    def show(self, stats: CampaignStats, eta: float | None) -> None:
        self._stats, self._eta = stats, eta

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.render(options.max_width, frame=int(time.monotonic() * 10))

    def render(self, width: int, *, frame: int = 0) -> Text:
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(_SPINNER[frame % len(_SPINNER)] + " ", style="green")
        room = width - 2
        stats = self._stats
        if stats is None:
            line.append("starting")
            return line
        parts = progress_parts(stats, self._eta, resumed=self._resumed)
        full = fit(parts, 10**6)
        title = self.title + " "
        bar_width = 0
        if stats.input_done and stats.total and room >= _MIN_FOR_BAR:
            bar_width = min(max(room - len(full) - 1, _BAR_WIDTH[0]), _BAR_WIDTH[1])
        if len(title) + bar_width + 1 + len(full) <= room:
            line.append(title, style="bold")
            room -= len(title)
        if bar_width:
            done = round(bar_width * stats.finished / stats.total)
            line.append("━" * done, style="green")
            line.append("━" * (bar_width - done), style="grey37")
            line.append(" ")
            room -= bar_width + 1
        line.append(fit(parts, room))
        return line


class PlainProgress(ProgressView):
    """A line every ``interval`` seconds, for logs and pipes, and one at the end."""

    def __init__(self, stream: TextIO, interval: float, *, resumed: bool = False) -> None:
        self._stream = stream
        self._resumed = resumed
        self._interval = interval
        self._eta = _Eta()
        self._started = time.monotonic()
        self._last_line = float("-inf")
        self._last: CampaignStats | None = None
        self._last_eta: float | None = None
        self._written: CampaignStats | None = None
        self._last_text = ""
        self._last_text_at = float("-inf")

    def start(self) -> None:
        self._started = time.monotonic()

    def close(self) -> None:
        if self._last is not None and self._last is not self._written:
            self._write(self._last, time.monotonic())

    def update(self, stats: CampaignStats) -> None:
        now = time.monotonic()
        self._last_eta = self._eta.estimate(stats, now)
        self._last = stats
        if now - self._last_line >= self._interval:
            self._write(stats, now)

    def _write(self, stats: CampaignStats, now: float) -> None:
        self._last_line = now
        self._written = stats
        line = progress_line(stats, self._last_eta, resumed=self._resumed)
        # The same line again says nothing new, but a log silent for a minute looks hung.
        if line != self._last_text or now - self._last_text_at >= _HEARTBEAT:
            self._last_text, self._last_text_at = line, now
            self.note(f"[{format_duration(now - self._started)}] {line}")

    def note(self, text: str) -> None:
        print(text, file=self._stream, flush=True)


def open_progress(title: str, *, plain_interval: float, resumed: bool = False) -> ProgressView:
    """A live bar when stderr is a terminal, plain lines otherwise."""
    if sys.stderr.isatty():
        return LiveProgress(Console(file=sys.stderr, highlight=False), title, resumed=resumed)
    return PlainProgress(sys.stderr, plain_interval, resumed=resumed)


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> Table:
    """A simple table: columns of numbers right-aligned, text left-aligned."""
    kept = [list(row) for row in rows]
    result = Table(
        title=plain(title), box=box.SIMPLE_HEAD, title_justify="left", title_style="bold"
    )
    for index, name in enumerate(columns):
        numeric = all(isinstance(row[index], int | float) for row in kept if row[index] != "")
        # fold, not "…": an id or a sid cut short cannot be looked up.
        result.add_column(name, justify="right" if numeric else "left", overflow="fold")
    for row in kept:
        result.add_row(*(plain(cell) for cell in row))
    return result


def key_value_table(title: str, rows: Iterable[tuple[str, object]]) -> Table:
    result = Table(title=plain(title), box=None, show_header=False, title_justify="left")
    result.title_style = "bold"
    result.add_column(style="dim")
    result.add_column()
    for name, value in rows:
        result.add_row(plain(name), plain(value))
    return result


def plain(value: object) -> Text:
    """``value`` as text rich shows as it is: a contact id ``[/bold]`` is not markup."""
    return Text(str(value))
