"""Riding out a store that cannot be reached: pause, reconnect, settle, carry on.

A PostgreSQL store raises :class:`StoreUnavailable` when its connection is cut (a
restart, a failover, ``pg_terminate_backend``): the write in question may or may not
have committed, and the batched writes before it are lost. The run does not stop for
it. Every store call the run's own parts make goes through :func:`steady`, which
*persists*: it pauses sending at once (no trigger without a durable intent), tries
again every second on a new connection until the store answers, and then carries on
with what the store says:

* A write tried again after its first answer was lost may find it done already. The
  writes are compare-and-set, so its second try raises :class:`StaleTransition`, which
  here means "done, or settled by another worker meanwhile" and is let go; so it is
  for any settling write once the run crossed an outage (a reap may have moved the
  contact). Three writes say more: ``record_placement`` is a no-op for the sid already
  recorded, and upgrades an ``unknown`` that a reap left (store clause 3b: a call sid
  learned late), else the recorder logs the sid that another decision overrides;
  ``record_outcome`` refused means another worker recorded the end; ``open_intent``
  that committed unseen is closed as not placed (nothing was sent) and the next one
  opened, and one refused means the contact was taken.
* Once the store answers again, this worker settles itself as a restarted process
  would (:meth:`StoreOutage.settle`), but in place: when no send of its own is under
  way, ``recover`` for this worker (its claims go back, what it held is let go), the
  contacts it had claimed are forgotten, the calls in flight are adopted again (those
  whose end was lost with a batch are followed to their end once more), and the counts
  are read again. Then the pause is lifted, unless an operator's pause came meanwhile.

Silent for longer than the reap timeout, the worker may have been reaped by the others:
its open intents are ``unknown``, its calls adopted. It still carries on: a sid it
learns then upgrades the ``unknown``, and whatever the others decided stands (a
transition they made raises StaleTransition here, and the call or contact is let go).

A run asked to stop (Ctrl-C, SIGTERM) does not wait for the store: a write that cannot
be made then ends the run as a store error, resumable (a sid it could not record is
named in the error and the log).

Across a crash nothing is kept here: the store holds what was committed, and a
restarted process recovers as always.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from polyout._campaign._clock import Clock
from polyout._campaign._errors import StoreUnavailable
from polyout._campaign._store import StaleTransition, StoredCampaign
from polyout._log import logger

__all__ = ["STORE_LOST", "StoreOutage", "steady"]

_log = logger.getChild("campaign")
T = TypeVar("T")

#: Why the run pauses while the store cannot be reached.
STORE_LOST = "the store cannot be reached: no trigger without a durable intent"
_RETRY = 1.0  # seconds between two tries of a store that did not answer
_LOUD_EVERY = 30.0  # seconds between two warnings that it still does not answer
_UNSENT = "the store was lost while the intent was written: nothing was sent"
#: The writes that only settle a contact this worker had in hand: across an outage, one
#: that finds the contact moved was overtaken (its own first try, or a reap). Any other
#: StaleTransition (a sid another decision overrides, an end another worker recorded, a
#: feed that disagrees) is raised for the caller to hear of.
_SETTLING = frozenset(
    {
        "release",
        "reschedule",
        "withdraw",
        "close_intent",
        "record_unknown",
        "record_not_placed",
        "record_status",
        "record_poll_error",
        "recover",
    }
)


class StoreOutage:
    """Whether the store answers, and what the run does while it does not."""

    def __init__(
        self,
        clock: Clock,
        *,
        pause: Callable[[str], None],
        unpause: Callable[[], None],
        paused: Callable[[], str | None],
        stopping: Callable[[], bool],
    ) -> None:
        self._clock = clock
        self._stopping = stopping
        self._pause = pause
        self._unpause = unpause
        self._paused = paused
        self.since: float | None = None
        """Clock time the store stopped answering (None while it answers)."""
        self._loud_at = 0.0  # when to say again that it still does not answer
        self.losses = 0
        """Outages seen so far: a call that sees this change crossed one."""
        self.answered = asyncio.Event()
        """Set when the store answers after an outage, until the run settled itself."""

    def lost(self, error: BaseException) -> None:
        """The store did not answer: pause sending (an operator's pause stays theirs)."""
        now = self._clock.time()
        if self.since is not None:
            if now >= self._loud_at:
                self._loud_at = now + _LOUD_EVERY
                _log.warning(
                    "the store still cannot be reached after %.0f s (%s)", now - self.since, error
                )
            return
        self.since, self._loud_at = now, now + _LOUD_EVERY
        self.losses += 1
        _log.warning("the store cannot be reached (%s): sending paused until it answers", error)
        if self._paused() is None:
            self._pause(STORE_LOST)

    def answers(self) -> None:
        """The store answered: the run settles itself (:meth:`settle`), then resumes."""
        if self.since is None:
            return
        _log.info(
            "the store answers again after %.0f s: settling this worker's share",
            self._clock.time() - self.since,
        )
        self.since = None
        self.answered.set()

    async def persist(
        self, write: Callable[[], Awaitable[T]], *, settled_ok: bool = True
    ) -> T | None:
        """``write()`` until the store answers. With ``settled_ok``, a StaleTransition
        met by a retry, or by any write once the run crossed an outage, means done or
        taken meanwhile: None is returned. Otherwise it is raised."""
        retried = False
        while True:
            try:
                result = await write()
            except StoreUnavailable as error:
                self.lost(error)
                if self._stopping():
                    raise  # a drain does not wait for the store: the run ends, resumable
                retried = True
                await self._clock.sleep(_RETRY)
                continue
            except StaleTransition as moved:
                if not (settled_ok and (retried or self.losses)):
                    raise
                # Its first try committed before the answer was lost, or another worker
                # settled it while this one was silent: the store holds the truth now.
                _log.info("a store write found its work done or taken: %s", moved)
                result = None
            self.answers()
            return result

    async def settle(self, rejoin: Callable[[], Awaitable[None]]) -> None:
        """Each time the store answers after an outage: ``rejoin``, then lift the pause.

        Runs beside the run's parts (a task of the engine) until cancelled."""
        while True:
            await self.answered.wait()
            self.answered.clear()
            await rejoin()
            if self.since is None and self._paused() == STORE_LOST:
                self._unpause()


def steady(store: StoredCampaign, outage: StoreOutage) -> StoredCampaign:
    """``store`` as the run's parts use it: every call persists through an outage."""
    return cast(StoredCampaign, _Steady(store, outage))


class _Steady:
    """Forwards every attribute; coroutine methods go through :meth:`StoreOutage.persist`."""

    def __init__(self, store: StoredCampaign, outage: StoreOutage) -> None:
        self._store = store
        self._outage = outage

    async def open_intent(self, worker: str, seq: int, *, after: int, **fields: Any) -> int:
        """An intent whose first try's answer was lost may have committed: its retry
        then finds the contact moved on. Closed as not placed (nothing was sent), and the
        next one opened; if it is not there to close, the contact was taken meanwhile."""
        store, outage = self._store, self._outage
        while True:
            losses = outage.losses
            try:
                intent = await outage.persist(
                    functools.partial(store.open_intent, worker, seq, after=after, **fields),
                    settled_ok=False,
                )
                assert intent is not None
                return intent
            except StaleTransition:
                if outage.losses == losses:
                    raise  # no outage crossed: stale as it says
            close = functools.partial(
                store.close_intent, seq, after + 1, error=_UNSENT, now=fields["now"]
            )
            await outage.persist(close, settled_ok=False)
            after += 1

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._store, name)
        if not asyncio.iscoroutinefunction(attribute):
            return attribute
        outage, settled_ok = self._outage, name in _SETTLING

        async def persisted(*args: Any, **kwargs: Any) -> Any:
            return await outage.persist(lambda: attribute(*args, **kwargs), settled_ok=settled_ok)

        self.__dict__[name] = persisted  # made once per method, not once per call
        return persisted

    def __repr__(self) -> str:
        return repr(self._store)
