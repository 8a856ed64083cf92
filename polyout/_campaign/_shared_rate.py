"""One strict rate for a whole account: every worker, every campaign, one slot row.

On a store several processes share (PostgreSQL), each worker's local
:class:`~polyout._pacing.Pacer` would let N workers send N times the rate.
:class:`SharedPacer` takes its place (``Engine(pacer=...)``): before each send it
reserves a slot in the account's row (``_pg_rate``: ``tat = greatest(tat + interval,
now)`` on the database's clock, GCRA) and sleeps until it. The slots of all workers
follow each other ``1.015 / rate`` apart, so no one-second window as the server sees
it holds more than ``rate`` triggers.

**The safety margin** (documented in the README): slots are 1.5% further apart than
the rate asks (15 ms per second of triggers). A worker that wakes more than
``_LATE_TOLERANCE`` (4 ms) after its slot (a busy machine) gives the slot up and
reserves another, so a late send never lands closer than the margin to the next
worker's; the rest of the margin (11 ms) absorbs the differences between the workers'
trips to the server. The first send after a quiet second opens a connection (measured:
up to 16 ms later), so it pushes the next slot back by ``_COLD_START``.

**A 429 seen by any worker pauses all of them**: its Retry-After (bounded as for the
local pacer) is written to the row, and every reservation lands after it; the rate is
halved in the row at most once per pause (never below a sixteenth), and each later slot
wins back a 25th. A worker sleeping towards its slot when its own 429 arrives reserves
again. The row's count of 429s is followed into ``rate_limited``, so the poll budget
(which halves on a trigger 429) hears of the others' too.

**Across a crash** nothing is lost: a slot is only a time. A slot reserved by a worker
that died stays unused (one interval of throughput). A database that cannot be reached
makes ``acquire`` try again every half second (the heartbeat pauses the run meanwhile;
nothing is sent without the row, nor without an intent).

On a store one process holds (SQLite, memory) the local pacer stays: there is only one
worker, and its rate is its account's as far as polyout knows.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import attrs

from polyout._campaign._companions import Companion, EngineHandle
from polyout._campaign._errors import JournalError
from polyout._campaign._identity import connection_identity
from polyout._campaign._memory_store import MemoryStore
from polyout._campaign._placer import Placer
from polyout._campaign._store import StoredCampaign
from polyout._campaign._worker_life import Heartbeat, worker_companions
from polyout._errors import ConfigurationError
from polyout._log import logger
from polyout._metrics import take_metrics_request
from polyout._pacing import Pacer
from polyout._retry import MAX_RETRY_AFTER

if TYPE_CHECKING:
    from polyout._campaign._opening import Place
    from polyout._campaign._pg_rate import Reservation

__all__ = [
    "REAP_TIMEOUT_ENV",
    "RateRow",
    "SharedPacer",
    "WorkerParts",
    "account_key",
    "reap_timeout_from_env",
    "worker_parts",
]

_log = logger.getChild("campaign")

_GUARD = 1.015  # slots 1.5% further apart than the rate: 15 ms per second of triggers
_LATE_TOLERANCE = 0.004  # seconds late at the slot before it is given up for another
_MAX_REDO = 3  # slots given up in a row before a late one is taken anyway
_COLD_START = 0.03  # seconds the slot after a quiet worker's first send is pushed back
_QUIET = 1.0  # seconds without a send after which a worker counts as quiet
_DEFAULT_PAUSE = 1.0  # a 429 without Retry-After pauses everyone this long
_RECOVERY_STEPS = 25  # slots after a pause to climb from zero back to the full rate
_RETRY = 0.5  # seconds between attempts to reach the row
#: The environment variable that sets the reap timeout (seconds; 30 by default).
REAP_TIMEOUT_ENV = "POLYOUT_REAP_TIMEOUT"


class RateRow(Protocol):
    """The account's slot row (``_pg_rate.PgRateRow``)."""

    async def reserve(self, interval: float, *, extra: float, step: float) -> Reservation: ...

    async def rate_limited(self, pause: float, *, interval: float, floor: float) -> None: ...

    async def aclose(self) -> None: ...


class SharedPacer(Pacer):
    """At most ``rate`` sends per second across every worker of the account's row."""

    def __init__(self, rate: float, row: RateRow, *, max_pause: float = MAX_RETRY_AFTER) -> None:
        super().__init__(rate, max_pause=max_pause)
        self._row = row
        self._lock = asyncio.Lock()  # one request on the row's connection at a time
        self._limited = asyncio.Event()  # a 429 here: a worker sleeping to its slot reserves again
        self._reports: list[float] = []  # pauses of 429s not yet written to the row
        self._tasks: set[asyncio.Task[None]] = set()
        self._seen_limited: int | None = None  # the row's count of 429s, last read
        self._last_slot = float("-inf")
        self.given_up = 0
        """Slots given up because this worker woke too late for them."""

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
        redo = 0
        while True:
            self._limited.clear()
            wait = await self._reserve(loop.time())
            slot = loop.time() + max(wait, 0.0)
            if await self._sleep_until(slot):
                continue  # a 429 meanwhile: that slot may lie inside the pause
            late = loop.time() - slot
            if late > _LATE_TOLERANCE and redo < _MAX_REDO:
                redo += 1
                self.given_up += 1
                continue
            self._last_slot = slot
            return

    def sent_now(self) -> None:
        """Nothing to do: the slots are spaced by the row, not by this worker's sends."""

    def on_rate_limited(self, retry_after: float | None) -> None:
        self.rate_limited += 1
        if self._seen_limited is not None:
            self._seen_limited += 1  # this one is counted here already
        if retry_after is None or math.isnan(retry_after):
            pause = _DEFAULT_PAUSE
        else:
            pause = max(0.0, min(retry_after, self.max_pause))
        self._reports.append(pause)
        self._limited.set()
        task = asyncio.ensure_future(self._report())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def on_success(self) -> None:
        """Nothing to do: each reservation after a pause wins some rate back in the row."""

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        async with self._lock:
            await self._row.aclose()

    async def _reserve(self, now: float) -> float:
        """Seconds until this worker's next slot (the row reached, whatever it takes)."""
        extra = _COLD_START if now - self._last_slot >= _QUIET else 0.0
        while True:
            try:
                async with self._lock:
                    await self._write_reports()
                    got = await self._row.reserve(
                        _GUARD / self.target_rate, extra=extra, step=1.0 / _RECOVERY_STEPS
                    )
            except JournalError as error:
                _log.warning("the account's rate row cannot be reached (%s): waiting", error)
                await asyncio.sleep(_RETRY)
                continue
            self.rate = max(self.min_rate, self.target_rate * got.factor)
            if self._seen_limited is not None and got.rate_limited > self._seen_limited:
                self.rate_limited += got.rate_limited - self._seen_limited  # other workers'
            self._seen_limited = got.rate_limited
            return got.wait

    async def _report(self) -> None:
        try:
            async with self._lock:
                await self._write_reports()
        except JournalError as error:  # the next reservation writes it
            _log.info("a 429 could not be written to the rate row yet (%s)", error)

    async def _write_reports(self) -> None:
        while self._reports:
            await self._row.rate_limited(
                self._reports[0],
                interval=_GUARD / self.target_rate,
                floor=self.min_rate / self.target_rate,
            )
            self._reports.pop(0)

    async def _sleep_until(self, slot: float) -> bool:
        """Sleep until ``slot`` (loop time); True if a 429 came first."""
        delay = slot - asyncio.get_running_loop().time()
        if delay <= 0:
            return self._limited.is_set()
        try:
            await asyncio.wait_for(self._limited.wait(), delay)
        except asyncio.TimeoutError:
            return False
        return True


class _RowKeeper:
    """A companion that closes the shared pacer's connection when the run ends."""

    name = "rate-row"
    vital = False

    def __init__(self, pacer: SharedPacer) -> None:
        self._pacer = pacer

    async def run(self, engine: EngineHandle) -> None:
        try:
            await asyncio.Event().wait()  # until the run ends and cancels it
        finally:
            await asyncio.shield(self._pacer.aclose())


def account_key(client: Placer) -> str:
    """The account a rate belongs to: the connection identity a campaign stores."""
    return json.dumps(connection_identity(client), sort_keys=True)


@attrs.frozen
class WorkerParts:
    """What a worker beside others adds to its run: a pacer and companions."""

    pacer: Pacer | None = None
    companions: Sequence[Companion] = ()


def worker_parts(place: Place, stored: StoredCampaign, client: Placer, rate: float) -> WorkerParts:
    """The shared pacer (PostgreSQL) and the heartbeat and reaper, for a store that
    several processes share; the metrics endpoint if ``--metrics-port`` asked for one.
    ``POLYOUT_REAP_TIMEOUT`` (seconds) sets the reap timeout;
    set, it installs the heartbeat and reaper on any store (two workers in one process
    on an in-memory store)."""
    reap_timeout = reap_timeout_from_env()
    shared = not place.exclusive and not isinstance(place.store, MemoryStore)
    companions: list[Companion] = []
    heartbeat: Heartbeat | None = None
    pacer: SharedPacer | None = None
    if shared or reap_timeout is not None:
        heartbeat, reaper = (
            worker_companions() if reap_timeout is None else worker_companions(reap_timeout)
        )
        companions += [heartbeat, reaper]
        row = _pg_row(stored, account_key(client))
        if row is not None:
            pacer = SharedPacer(rate, row)
            companions.append(_RowKeeper(pacer))
    metrics = take_metrics_request()  # --metrics-port
    if metrics is not None:
        from polyout._metrics._endpoint import MetricsEndpoint

        companions.append(MetricsEndpoint(metrics, heartbeat))
    return WorkerParts(pacer=pacer, companions=companions)


def reap_timeout_from_env() -> float | None:
    """``POLYOUT_REAP_TIMEOUT``: seconds of silence after which a worker is reaped."""
    text = os.environ.get(REAP_TIMEOUT_ENV, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ConfigurationError(
            REAP_TIMEOUT_ENV, f"must be a positive number of seconds, not {text!r}"
        )
    return value


def _pg_row(stored: StoredCampaign, account: str) -> RateRow | None:
    from polyout._campaign._pg_campaign import PostgresCampaign

    if not isinstance(stored, PostgresCampaign):
        return None
    from polyout._campaign._pg_rate import PgRateRow

    return PgRateRow(stored._store, account)  # the campaign's own store
