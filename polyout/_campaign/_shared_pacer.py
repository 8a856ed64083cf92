"""One strict rate for a whole account: every worker, every campaign, one slot row.

On a store several processes share (PostgreSQL), each worker's local
:class:`~polyout._pacing.Pacer` would let N workers send N times the rate.
:class:`SharedPacer` takes its place (``Engine(pacer=...)``): it reserves send times
("slots") in the account's row (``_pg_rate``: GCRA on the database's clock) and sends
each trigger at its slot. Successive slots of the row are at least ``1.015 / rate``
apart, whoever holds them.

**Why no one-second window holds more than R triggers as the server sees them.** Call
a trigger's *delay* the time from its slot to its arrival at the server, beyond the
quickest trip any worker could make. Take any R + 1 triggers and the earliest slot
among them, s. The latest slot among them is at least R slots later, so at least
``R x 1.015 / R = 1.015 s`` after s, plus any gap the row inserted in between
(the gaps below); it arrives no earlier than its slot. The trigger of s arrives at
most its delay after s. So the R + 1 arrivals span at least ``1.015 s + gap - delay``:
more than one second (the server's window) whenever every trigger's delay is under
15 ms plus the gap the row left after its block. That margin does not depend on R: the
guard is 1.5% of every second, and a late send only matters as the *first* trigger of a
second (as the last it stretches the second, in the middle it changes nothing). The
15 ms are spent in two parts:

- ``_LATE_TOLERANCE`` (8 ms), what the pacer measures: how late the worker woke for its
  slot plus how uncertain its reading of the database's clock is (``_db_clock``:
  microseconds once a few round trips are seen), and, through :meth:`sent_now`, the
  wait between the release and the send (a campaign's intent commit). A slot missed by
  more at the release is never used late as it is: when the excess (plus twice the
  last round trip, at least 2 ms) is shorter than a slot, the worker first writes a
  gap of it into the row (durably: a crash after the send leaves it there) and sends;
  otherwise it gives the slot up and takes its next one.
  A send that leaves later than that anyway (a slow commit) cannot be recalled, so the
  worker at once writes a gap of the excess into the row: the slots that could complete
  a second with it lie up to a second ahead, and the row hands out slots at most one
  block (20 ms) per worker ahead, so the gap lands before them.
- The other 7 ms, what the pacer cannot see: the HTTP request's trip from the client's
  hands to the server, as it differs between workers (keep workers at a similar
  network distance from the API).

**Blocks.** One round trip reserves up to ``_BLOCK_SPAN`` (20 ms) of consecutive slots
for one worker: 1 slot up to 101/s, 9 at 500/s, 19 at 1,000/s. The block grows (doubling
from one slot) only while every slot finds the worker waiting, and halves when a slot
passes unused (lost time: a block's slots are never anyone else's) or a send leaves
late (the worker cannot keep up with its block). A worker that gives up ``_MAX_MISSES``
slots in a row (a very busy machine) reserves its next block with a gap after it as
long as its worst recent lateness (at most ``_MAX_CATCH_UP``), and may then be that
much later: slower, never unsafe.

**Waking precisely.** The loop's timer fires up to a millisecond late (epoll counts
whole milliseconds), so the worker sleeps on the loop until ``_EARLY_WAKE`` (1 ms)
before its slot and the rest in one precise sleep (which holds the loop that long).

**A cold connection.** The first send after a quiet second opens a connection
(measured on loopback: up to 16 ms later), so the row owes a gap of ``_COLD_START``
after its block. By the reasoning above the gap may lie anywhere before the R-th slot
after it (1.015 s later at the earliest), so the row pays it before the first block
that starts half a second after the oldest unpaid one: workers starting within half a
second (a new campaign, the end of a pause) share one gap instead of adding theirs up.
On a busy machine that trip took 68 ms (three workers starting beside it): when the
first send's answer (which bounds its arrival) comes later than the tolerance and the
cold gap cover, the worker writes a gap of the rest into the row, as for a late send:
within a trip of the answer, well before the slots that could complete its second.

**The clock.** The first round trips of a connection are slow, and the uncertainty of
the database's clock counts as lateness: while it exceeds ``_CLOCK_PRECISION`` a
worker reads the clock again (at most ``_CLOCK_READINGS`` round trips) before it
reserves.

**A 429 seen by any worker pauses all of them**: its Retry-After (bounded as for the
local pacer) is written to the row, and every reservation lands after it; the rate is
halved in the row at most once per pause (never below a sixteenth), and each later slot
wins back a 25th. The worker that met it drops the rest of its block; the others learn
of it at their next reservation, at most one block (20 ms) later. The row's count of
429s is followed into ``rate_limited``, so the poll budget hears of the others' too.

**Across a crash** nothing is lost: a slot is only a time. The slots of a worker that
died stay unused (at most one block of throughput). The one gap written after a send
(a send later than the tolerance) is written within a round trip of it; a worker
killed in that round trip leaves that one send's excess unguarded. A
database that cannot be reached makes ``acquire`` try again every half second (the
heartbeat pauses the run meanwhile; nothing is sent without the row, nor without an
intent).
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import TYPE_CHECKING, Protocol

from polyout._campaign._db_clock import DbClock
from polyout._campaign._errors import JournalError
from polyout._log import logger
from polyout._pacing import Pacer
from polyout._retry import MAX_RETRY_AFTER

if TYPE_CHECKING:
    from polyout._campaign._pg_rate import Reservation

__all__ = ["RateRow", "SharedPacer"]

_log = logger.getChild("campaign")

_GUARD = 1.015  # slots 1.5% further apart than the rate: 15 ms per second of triggers
_LATE_TOLERANCE = 0.008  # the pacer's part of those 15 ms (see above); the rest: the trip
_BLOCK_SPAN = 0.02  # seconds of consecutive slots one round trip reserves, at most
_HOLD = 8  # blocks a worker keeps its block size after a slot passed unused
_EARLY_WAKE = 0.001  # seconds before a slot the loop's timer wakes the worker
_CLOCK_PRECISION = 0.002  # seconds of uncertainty worth another round trip to narrow
_CLOCK_READINGS = 3  # round trips at most per reservation to narrow it
_PAYMENT_TRIP = 0.002  # seconds (at least twice the last trip) a gap before a late send adds
_MAX_MISSES = 3  # slots given up in a row before the next block is reserved with a gap
_MAX_CATCH_UP = 0.1  # the longest such gap (and extra lateness) in seconds
_COLD_START = 0.03  # seconds of gap after the block of a quiet worker's first send
_LONGEST_FIRST_TRIP = 0.5  # seconds of a first send's late answer made up in the row, at most
_QUIET = 1.0  # seconds without a send after which a worker counts as quiet
_DEFAULT_PAUSE = 1.0  # a 429 without Retry-After pauses everyone this long
_RECOVERY_STEPS = 25  # slots after a pause to climb from zero back to the full rate
_RETRY = 0.5  # seconds between attempts to reach the row


class RateRow(Protocol):
    """The account's slot row (``_pg_rate.PgRateRow``)."""

    async def reserve(
        self, interval: float, *, count: int, extra: float, cold: bool, cold_gap: float, step: float
    ) -> Reservation: ...

    async def clock(self) -> tuple[float, float, float]: ...

    async def rate_limited(self, pause: float, *, interval: float, floor: float) -> None: ...

    async def delay(self, gap: float) -> None: ...

    async def aclose(self) -> None: ...


class SharedPacer(Pacer):
    """At most ``rate`` sends per second across every worker of the account's row."""

    def __init__(self, rate: float, row: RateRow, *, max_pause: float = MAX_RETRY_AFTER) -> None:
        super().__init__(rate, max_pause=max_pause)
        self._row = row
        self._clock = DbClock()
        self._lock = asyncio.Lock()  # one request on the row's connection at a time
        self._limited = False  # a 429 here: the block may lie inside the pause
        self._waker: asyncio.Future[None] | None = None  # ends the sleep towards a slot
        self._reports: list[tuple[str, float]] = []  # 429 pauses and gaps not yet written
        self._tasks: set[asyncio.Task[None]] = set()
        self._seen_limited: int | None = None  # the row's count of 429s, last read
        # The block: its next slot (database clock), spacing, slots left, allowed lateness.
        self._next = 0.0
        self._spacing = 0.0
        self._left = 0
        self._allowance = 0.0
        self._size = 1  # slots the next block asks for
        self._hold = 0
        self._unused_in_block = False
        self._misses = 0
        self._worst_miss = 0.0
        self._released: tuple[float, float] | None = None  # the last slot, its lateness allowed
        self._first: tuple[float, float] | None = None  # the same, for a quiet spell's first send
        self._trip = 0.0  # seconds the latest reservation's round trip took
        self._last_release = float("-inf")
        # What happened to this worker's slots (the benchmark and the tests read them):
        self.reservations = 0  # round trips that reserved a block
        self.given_up = 0  # slots it woke too late for, given up
        self.paid = 0  # slots kept by writing a gap of their lateness into the row first
        self.unused = 0  # slots of its blocks that passed before it asked for one
        self.gaps = 0  # gaps written after sends that left later than the tolerance
        self.catch_ups = 0  # blocks reserved with a gap to be late into, after misses

    def __repr__(self) -> str:
        return (
            f"<SharedPacer rate={self.rate:g}/s target={self.target_rate:g}/s "
            f"rate_limited={self.rate_limited}>"
        )

    @property
    def interval(self) -> float:
        return _GUARD / self.rate

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            slot = self._take(loop.time())
            if slot is None:
                await self._reserve(loop.time())
                continue
            if await self._sleep_until(self._clock.local(slot)):
                self._drop_block()  # a 429 meanwhile: the block may lie inside the pause
                continue
            allowed = _LATE_TOLERANCE + self._allowance
            late = loop.time() - self._clock.earliest(slot)
            if late > allowed:
                allowed += await self._pay_for_lateness(slot, allowed)
                late = loop.time() - self._clock.earliest(slot)
            if late > allowed:
                self.given_up += 1
                self._misses += 1
                self._worst_miss = max(self._worst_miss, late - _LATE_TOLERANCE)
                continue
            self._misses, self._worst_miss = 0, 0.0
            self._released = (slot, allowed)
            if loop.time() - self._last_release >= _QUIET:
                self._first = self._released  # its trip opens a connection: see on_success
            self._last_release = loop.time()
            return

    async def _pay_for_lateness(self, slot: float, allowed: float) -> float:
        """Seconds of gap written into the row before a late send (a second payment if
        the first one's round trip was slow), 0 when giving the slot up is cheaper."""
        loop, paid = asyncio.get_running_loop(), 0.0
        for _ in range(2):
            excess = loop.time() - self._clock.earliest(slot) - allowed - paid
            gap = excess + max(_PAYMENT_TRIP, 2 * self._trip)  # the round trip's own time
            if excess <= 0 or paid + gap >= self._spacing:
                break
            try:
                async with self._lock:
                    await self._row.delay(gap)
            except JournalError:
                break
            paid += gap
        if paid:
            self.paid += 1
        return paid

    def sent_now(self) -> None:
        """The send released last leaves now: later than the tolerance, a gap follows it."""
        released, self._released = self._released, None
        if released is None:
            return
        slot, allowed = released  # the tolerance, and any gap written for this slot
        excess = asyncio.get_running_loop().time() - self._clock.earliest(slot) - allowed
        if excess > 0:
            self.gaps += 1
            self._unused_in_block = True  # the caller cannot keep up with its block
            self._write_soon(("gap", excess))

    def on_rate_limited(self, retry_after: float | None) -> None:
        self._first_send_answered()
        self.rate_limited += 1
        if self._seen_limited is not None:
            self._seen_limited += 1  # this one is counted here already
        if retry_after is None or math.isnan(retry_after):
            pause = _DEFAULT_PAUSE
        else:
            pause = max(0.0, min(retry_after, self.max_pause))
        self._limited = True
        if self._waker is not None:
            _wake(self._waker)
        self._drop_block()
        self._write_soon(("pause", pause))

    def on_success(self) -> None:  # the row wins rate back after a pause by itself
        self._first_send_answered()

    def on_not_placed(self) -> None:
        self._first_send_answered()

    def _first_send_answered(self) -> None:
        """A send was answered: if it was a quiet spell's first, it arrived by now, and a
        gap makes up whatever of its trip the tolerance and the cold gap do not cover."""
        first, self._first = self._first, None
        if first is None:
            return
        slot, allowed = first
        excess = asyncio.get_running_loop().time() - self._clock.earliest(slot)
        excess -= allowed + _COLD_START
        if excess > 0:
            self.gaps += 1
            self._write_soon(("gap", min(excess, _LONGEST_FIRST_TRIP)))

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        async with self._lock:
            try:  # a gap or a pause not yet written still guards the others
                await self._write_reports()
            except JournalError as error:
                _log.info("the account's rate row cannot be written (%s)", error)
            await self._row.aclose()

    def _take(self, now: float) -> float | None:
        """The block's next slot this worker can still make (database clock), or None."""
        while self._left > 0:
            slot = self._next
            self._next += self._spacing
            self._left -= 1
            # Usable until the tolerance runs out; one already past it passes unused.
            if now - self._clock.earliest(slot) <= _LATE_TOLERANCE + self._allowance:
                return slot
            self.unused += 1
            self._unused_in_block = True
        return None

    def _drop_block(self) -> None:
        self._left = 0

    def _next_size(self) -> int:
        """Slots the next block asks for: doubling while all are used, at most the span."""
        most = max(1, int(_BLOCK_SPAN * self.rate / _GUARD))
        if self.reservations == 0:
            self._size = 1  # nothing known of the worker's pace yet
        elif self._unused_in_block:
            self._size, self._hold = max(1, self._size // 2), _HOLD
        elif self._hold > 0:
            self._hold -= 1
        else:
            self._size *= 2
        self._unused_in_block = False
        self._size = min(self._size, most)
        return self._size

    async def _reserve(self, now: float) -> None:
        """Reserve the next block (the row reached, whatever it takes)."""
        count = self._next_size()
        cold = now - self._last_release >= _QUIET
        catch_up = 0.0
        if self._misses >= _MAX_MISSES:  # a busy machine: a gap to be late into
            catch_up = min(_MAX_CATCH_UP, self._worst_miss)
            self.catch_ups += 1
        await self._narrow_clock()
        while True:
            try:
                async with self._lock:
                    await self._write_reports()
                    self._limited = False
                    got = await self._row.reserve(
                        _GUARD / self.target_rate,
                        count=count,
                        extra=catch_up,
                        cold=cold,
                        cold_gap=_COLD_START,
                        step=1.0 / _RECOVERY_STEPS,
                    )
            except JournalError as error:
                _log.warning("the account's rate row cannot be reached (%s): waiting", error)
                await asyncio.sleep(_RETRY)
                continue
            break
        self.reservations += 1
        self._clock.observe(got.db_now, got.asked, got.answered)
        self._trip = got.answered - got.asked
        self._next, self._spacing, self._left = got.slot, got.spacing, count
        self._allowance = catch_up
        self.rate = max(self.min_rate, self.target_rate * got.factor)
        if self._seen_limited is not None and got.rate_limited > self._seen_limited:
            self.rate_limited += got.rate_limited - self._seen_limited  # other workers'
        self._seen_limited = got.rate_limited

    async def _narrow_clock(self) -> None:
        """A few more readings of the database's clock while it is known only roughly
        (the first round trips of a connection are slow): its uncertainty counts as
        lateness, and would give slots up."""
        for _ in range(_CLOCK_READINGS):
            if self._clock.uncertainty <= _CLOCK_PRECISION:
                return
            try:
                async with self._lock:
                    self._clock.observe(*await self._row.clock())
            except JournalError:
                return  # the next reservation reaches the row, or waits for it

    def _write_soon(self, report: tuple[str, float]) -> None:
        self._reports.append(report)
        task = asyncio.ensure_future(self._report())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _report(self) -> None:
        try:
            async with self._lock:
                await self._write_reports()
        except JournalError as error:  # the next reservation writes it
            _log.info("the account's rate row cannot be written yet (%s)", error)

    async def _write_reports(self) -> None:
        while self._reports:
            kind, seconds = self._reports[0]
            if kind == "gap":
                await self._row.delay(seconds)
            else:
                await self._row.rate_limited(
                    seconds,
                    interval=_GUARD / self.target_rate,
                    floor=self.min_rate / self.target_rate,
                )
            self._reports.pop(0)

    async def _sleep_until(self, moment: float) -> bool:
        """Sleep until ``moment`` (loop time); True if a 429 came first."""
        loop = asyncio.get_running_loop()
        coarse = moment - _EARLY_WAKE
        if coarse > loop.time() and not self._limited:
            # A future and a timer: a wake costs half what ``wait_for`` (a task) does.
            waker = self._waker = loop.create_future()
            timer = loop.call_at(coarse, _wake, waker)
            try:
                await waker
            finally:
                timer.cancel()
                self._waker = None
        if not self._limited:
            _sleep_precisely(moment - loop.time())
        return self._limited


def _wake(waker: asyncio.Future[None]) -> None:
    if not waker.done():
        waker.set_result(None)


def _sleep_precisely(seconds: float) -> None:
    """Block for the last moment before a slot: at most ``_EARLY_WAKE``, to the microsecond."""
    if seconds > 0:
        time.sleep(seconds)
