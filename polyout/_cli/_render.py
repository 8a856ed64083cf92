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
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import TextIO

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table

from polyout._campaign._events import CampaignStats

__all__ = [
    "FINAL_ORDER",
    "LiveProgress",
    "PlainProgress",
    "ProgressView",
    "calls_in_flight",
    "format_duration",
    "key_value_table",
    "open_progress",
    "progress_line",
    "stdout_console",
    "table",
]

#: Final states in the order an operator reads them: good news first, then what to act on.
FINAL_ORDER = (
    "success",
    "no_answer",
    "busy",
    "failure",
    "cancelled",
    "expired",
    "unknown",
    "invalid",
    "duplicate",
    "suppressed",
)
#: States a contact of a stopped campaign can still be in.
OPEN_ORDER = ("scheduled", "dialing", "in_flight")
_ETA_WINDOW = 30.0  # seconds of finishing speed the ETA is based on


def stdout_console() -> Console:
    # No highlighting: numbers in ids and sids must not be coloured at random.
    return Console(file=sys.stdout, highlight=False, soft_wrap=False)


def format_duration(seconds: float | None) -> str:
    """``0:42``, ``12:05``, ``3:04:05``; ``-`` when unknown."""
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "-"
    whole = max(round(seconds), 0)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


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


def _state_counts(states: Mapping[str, int], order: Iterable[str]) -> list[str]:
    return [f"{state} {states[state]}" for state in order if states.get(state)]


def calls_in_flight(stats: CampaignStats) -> int:
    """Contacts with a call being placed or followed.

    Counted from the journal's states: ``CampaignStats.in_flight`` also counts the
    concurrency slots that workers hold while they wait for a due contact.
    """
    return stats.states.get("dialing", 0) + stats.states.get("in_flight", 0)


def progress_line(stats: CampaignStats, eta: float | None) -> str:
    """One line of progress: what a plain log shows and what the live bar spells out."""
    total = str(stats.total) if stats.input_done else f"{stats.total}+"
    parts = [
        f"final {stats.finished}/{total}",
        f"dialled {stats.placed}",
        f"in flight {calls_in_flight(stats)}",
        *_state_counts(stats.states, FINAL_ORDER),
    ]
    if stats.scheduled:
        parts.append(f"waiting {stats.scheduled}")
    if stats.rate_limited:
        parts.append(f"429s {stats.rate_limited}")
    parts.append(f"{stats.achieved_rate:.1f} calls/s")
    parts.append("stopping" if stats.stopping else f"ETA {format_duration(eta)}")
    return " · ".join(parts)


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
    """A rich progress bar on a terminal: final / total, with the line's details beside it."""

    def __init__(self, console: Console, title: str) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            console=console,
            refresh_per_second=4,
        )
        self._task = self._progress.add_task(title, total=None, detail="starting")
        self._eta = _Eta()

    def start(self) -> None:
        self._progress.start()

    def close(self) -> None:
        self._progress.stop()

    def update(self, stats: CampaignStats) -> None:
        eta = self._eta.estimate(stats, time.monotonic())
        # The bar shows final/total itself: the detail starts after that part.
        detail = progress_line(stats, eta).split(" · ", 1)[1]
        self._progress.update(
            self._task,
            completed=stats.finished,
            total=stats.total if stats.input_done else None,
            detail=detail,
        )

    def note(self, text: str) -> None:
        self._progress.console.print(text, highlight=False)


class PlainProgress(ProgressView):
    """A line every ``interval`` seconds, for logs and pipes, and one at the end."""

    def __init__(self, stream: TextIO, interval: float) -> None:
        self._stream = stream
        self._interval = interval
        self._eta = _Eta()
        self._started = time.monotonic()
        self._last_line = float("-inf")
        self._last: CampaignStats | None = None
        self._last_eta: float | None = None
        self._written: CampaignStats | None = None

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
        eta = self._last_eta
        elapsed = format_duration(now - self._started)
        self.note(f"[{elapsed}] {progress_line(stats, eta)}")

    def note(self, text: str) -> None:
        print(text, file=self._stream, flush=True)


def open_progress(title: str, *, plain_interval: float) -> ProgressView:
    """A live bar when stderr is a terminal, plain lines otherwise."""
    if sys.stderr.isatty():
        return LiveProgress(Console(file=sys.stderr, highlight=False), title)
    return PlainProgress(sys.stderr, plain_interval)


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> Table:
    """A simple table: columns of numbers right-aligned, text left-aligned."""
    kept = [list(row) for row in rows]
    result = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", title_style="bold")
    for index, name in enumerate(columns):
        numeric = all(isinstance(row[index], int | float) for row in kept if row[index] != "")
        result.add_column(name, justify="right" if numeric else "left")
    for row in kept:
        result.add_row(*(str(cell) for cell in row))
    return result


def key_value_table(title: str, rows: Iterable[tuple[str, object]]) -> Table:
    result = Table(title=title, box=None, show_header=False, title_justify="left")
    result.title_style = "bold"
    result.add_column(style="dim")
    result.add_column()
    for name, value in rows:
        result.add_row(name, str(value))
    return result
