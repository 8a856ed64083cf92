"""A worker among others: its heartbeat, and the reaping of workers that died.

Several processes may work on one campaign (PostgreSQL). Each runs two companions
(``_companions``) beside its engine:

* :class:`Heartbeat` (vital) tells the store every ``interval`` seconds that this
  worker is alive (``store.heartbeat``, clause 15; the store's own clock judges it).
  When the store cannot be reached it pauses the run at once (no trigger leaves without
  a durable intent, and this worker's view of the campaign may be stale) and tries again
  every second; once a heartbeat is stored again, the run settles itself and sends again
  (``_store_outage``; an operator's pause stays theirs). Silent for longer than the reap
  timeout, the worker may have been reaped meanwhile (its holds gone, its calls adopted):
  it still carries on once the store answers, and what the others decided stands.
  ``/healthz`` fails while the heartbeat does, for an orchestrator that prefers a restart.
* :class:`Reaper` settles the workers silent for longer than ``timeout`` (clause 16:
  their claims never sent go back to the queue, their intents that may have been sent
  become ``unknown``, never redialled), then adopts the calls in flight no worker holds
  any more (a dead worker's, or a process's that died: its holds die with its database
  session) and follows them to their end, and re-reads the campaign's counts, so that
  contacts other workers finished, or freed, are seen: the run ends when the whole
  campaign is done, not when this worker's share is. Every ``timeout / 6`` seconds, so a
  dead worker is reaped within about 35 s of its last heartbeat by default. It also
  shares the campaign's ``concurrency`` among the live workers (each takes its whole
  part: ``concurrency // live``), so that calls in flight stay campaign-wide.

Across a crash: both keep nothing of their own; what they act on is in the store.
"""

from __future__ import annotations

import contextlib

from polyout._campaign._companions import EngineHandle
from polyout._campaign._errors import JournalError
from polyout._campaign._store_workers import DEFAULT_REAP_TIMEOUT
from polyout._errors import ConfigurationError
from polyout._log import logger

__all__ = ["DEFAULT_HEARTBEAT", "Heartbeat", "Reaper", "worker_companions"]

_log = logger.getChild("campaign")

#: Seconds between two heartbeats of a worker.
DEFAULT_HEARTBEAT = 5.0
_RETRY = 1.0  # seconds between attempts to reach a store that did not answer


class Heartbeat:
    """Heartbeats ``interval`` apart; pauses the run while the store cannot be reached."""

    name = "heartbeat"
    vital = True

    def __init__(
        self, interval: float = DEFAULT_HEARTBEAT, *, timeout: float = DEFAULT_REAP_TIMEOUT
    ) -> None:
        self.interval = _positive("heartbeat", interval)
        self.timeout = _positive("reap_timeout", timeout)
        self.last_beat: float | None = None
        """Clock time of the latest heartbeat the store took (None before the first)."""
        self.failing_since: float | None = None
        """Clock time the store stopped answering (None while it answers)."""
        self.reaped_warned = False

    async def run(self, engine: EngineHandle) -> None:
        try:
            while True:
                await self.beat(engine)
                await engine.clock.sleep(self.interval if self.failing_since is None else _RETRY)
        finally:
            if engine.stats().in_flight == 0:
                # A clean end: the others (and `status`) know at once that it is gone. One
                # that leaves calls ringing is reaped instead, and its calls adopted.
                with contextlib.suppress(Exception):
                    await engine.store.leave(engine.worker)

    async def beat(self, engine: EngineHandle) -> None:
        """One heartbeat: stored, or the run paused until the store answers."""
        now = engine.clock.time()
        try:
            await engine.store.heartbeat(engine.worker)
        except JournalError as error:
            if self.failing_since is None:
                self.failing_since = now
                _log.warning("heartbeat failed (%s)", error)
                engine.store_lost(error)
            elif not self.reaped_warned and now - self.failing_since > self.timeout:
                self.reaped_warned = True
                _log.warning(
                    "no heartbeat for %.0f s, longer than the reap timeout (%g s): the other "
                    "workers may have reaped this one; it carries on once the store answers, "
                    "and what they decided meanwhile stands",
                    now - self.failing_since,
                    self.timeout,
                )
            return
        self.last_beat = now
        if self.failing_since is not None:
            self.failing_since = None
            self.reaped_warned = False
            _log.info("heartbeat stored again")
            engine.store_answers()

    def age(self, now: float) -> float | None:
        """Seconds since the latest stored heartbeat (None before the first)."""
        return None if self.last_beat is None else max(now - self.last_beat, 0.0)


class Reaper:
    """Reaps dead workers, adopts orphaned calls, re-reads the counts, every ``interval``."""

    name = "reaper"
    vital = False

    def __init__(
        self, timeout: float = DEFAULT_REAP_TIMEOUT, *, interval: float | None = None
    ) -> None:
        self.timeout = _positive("reap_timeout", timeout)
        self.interval = _positive("reap interval", interval or self.timeout / 6)
        self.reaped: list[str] = []
        """Every worker this one reaped, in order."""

    async def run(self, engine: EngineHandle) -> None:
        while True:
            await engine.clock.sleep(self.interval)
            try:
                await self.tick(engine)
            except JournalError as error:  # the heartbeat pauses the run; try again later
                _log.info("reaper could not reach the store (%s)", error)

    async def tick(self, engine: EngineHandle) -> None:
        dead = await engine.store.reap(engine.worker, timeout=self.timeout, now=engine.clock.time())
        if dead:
            self.reaped += dead
            _log.warning(
                "reaped %d silent worker%s (%s): their calls are followed here",
                len(dead),
                "" if len(dead) == 1 else "s",
                ", ".join(dead),
            )
        if not engine.stopping:
            adopted = await engine.adopt_calls()
            if adopted:
                _log.info("following %d calls in flight that no worker held", adopted)
        live = [info for info in await engine.store.workers(timeout=self.timeout) if info.live]
        engine.share_concurrency(len(live))
        await engine.refresh()


def worker_companions(
    timeout: float = DEFAULT_REAP_TIMEOUT, *, heartbeat: float = DEFAULT_HEARTBEAT
) -> tuple[Heartbeat, Reaper]:
    """The two companions of a worker on a store several processes share."""
    return Heartbeat(min(heartbeat, timeout / 3), timeout=timeout), Reaper(timeout)


def _positive(setting: str, value: float) -> float:
    if isinstance(value, bool) or not value > 0 or value == float("inf"):
        raise ConfigurationError(setting, f"must be a positive number of seconds, not {value!r}")
    return float(value)
