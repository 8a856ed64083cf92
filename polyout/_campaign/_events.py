"""What a running campaign tells the outside: progress events and a stats snapshot.

Events reach plain callbacks (``on_event=``) synchronously, async callbacks (``async
def``) through a bounded queue each with backpressure (``_event_callbacks``: new dials
wait while one lags far behind), and async iterators (``campaign.events()``) through
bounded queues: a consumer that falls behind loses the oldest events (counted in
``CampaignStats.events_dropped``) rather than making the campaign's memory grow.
Events carry no phone numbers.
"""

from __future__ import annotations

import asyncio
import collections
import enum
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime

import attrs

from polyout._campaign._event_callbacks import AsyncCallbacks, is_async_callback
from polyout._campaign._states import FINAL, ContactState
from polyout._log import logger

__all__ = [
    "CampaignEvent",
    "CampaignStats",
    "EventBus",
    "EventKind",
    "RateMeter",
]

_log = logger.getChild("campaign")
#: The final states as ``CampaignStats.states`` spells them (their values).
_FINAL_VALUES = frozenset(state.value for state in FINAL)


class EventKind(str, enum.Enum):
    """What happened."""

    EXCLUDED = "excluded"
    """Planning excluded an input row: final without a call (invalid, duplicate or
    suppressed)."""
    WAITING = "waiting"
    """The callee's calling window is closed; the contact waits until ``due``."""
    DIALING = "dialing"
    """The intent to dial was committed; the trigger is being sent."""
    PLACED = "placed"
    """The API accepted the call: ``call_sid`` is known."""
    NOT_PLACED = "not_placed"
    """The trigger provably placed no call (429, 500, 502, no connection).

    The contact is tried again at ``due``."""
    STATUS = "status"
    """A followed call changed status (``state``)."""
    RETRY = "retry"
    """A call ended ``no_answer``, ``busy`` or ``failure``: dialled again at ``due``."""
    FINISHED = "finished"
    """A contact reached its final ``state``."""
    RATE_LIMITED = "rate_limited"
    """The server answered 429: every trigger pauses, and the pace slows down."""
    STOPPING = "stopping"
    """No new triggers from now on; calls in flight are followed for the stop grace."""
    PAUSED = "paused"
    """No new triggers until the run is resumed (``reason`` says why); calls in flight
    are followed."""
    RESUMED = "resumed"
    """A pause was lifted: triggers go out again."""
    DONE = "done"
    """The run ended (the last event of a run)."""

    def __str__(self) -> str:
        return self.value


@attrs.frozen
class CampaignEvent:
    """One thing that happened in a campaign."""

    kind: EventKind
    at: datetime
    contact_id: str | None = None
    position: int | None = None
    """The contact's position in the input (from 0)."""
    intent: int | None = None
    """Which intent of the contact (1, 2...): the send the event is about."""
    state: str | None = None
    call_sid: str | None = None
    reason: str | None = None
    error: str | None = None
    due: datetime | None = None


@attrs.frozen
class CampaignStats:
    """A snapshot of a campaign. ``run()`` returns the last one as its summary."""

    states: Mapping[str, int]
    """Contacts per state, final (``success``, ``invalid``...) and not (``scheduled``,
    ``dialing``, ``in_flight``)."""
    total: int
    """Contacts read from the input so far."""
    input_done: bool
    """Whether the whole input has been read."""
    in_flight: int
    """Calls triggered and not yet final."""
    triggers: int
    """Trigger requests started by this run (intents)."""
    placed: int
    """Calls placed by this run."""
    retries: int
    """Outcome retries scheduled by this run."""
    not_placed: int
    """Triggers of this run that placed nothing and were rescheduled or failed."""
    rate_limited: int
    """429 answers to triggers in this run."""
    rate: float
    """The current pace in triggers per second (below the target after 429s)."""
    achieved_rate: float
    """Triggers per second (real time) over the last ten seconds."""
    elapsed: float
    """Seconds since the run started (campaign clock)."""
    stopping: bool
    events_dropped: int
    paused: str | None = None
    """Why the run is paused (an operator, an auto-pause, a canary); None while it runs."""

    @classmethod
    def before_run(cls, *, rate: float, stopping: bool, events_dropped: int) -> CampaignStats:
        """The stats of a campaign that has not started running."""
        return cls(
            states={},
            total=0,
            input_done=False,
            in_flight=0,
            triggers=0,
            placed=0,
            retries=0,
            not_placed=0,
            rate_limited=0,
            rate=rate,
            achieved_rate=0.0,
            elapsed=0.0,
            stopping=stopping,
            events_dropped=events_dropped,
        )

    @property
    def finished(self) -> int:
        """Contacts in a final state."""
        return sum(count for state, count in self.states.items() if state in _FINAL_VALUES)

    @property
    def scheduled(self) -> int:
        return self.states.get(ContactState.SCHEDULED.value, 0)

    @property
    def complete(self) -> bool:
        """Every contact of the whole input is final."""
        return self.input_done and self.finished == self.total

    def to_json(self) -> dict[str, object]:
        data = attrs.asdict(self)
        data["states"] = dict(self.states)
        data.update(finished=self.finished, complete=self.complete)
        return data


class RateMeter:
    """Events per second of real time over a trailing window (ten seconds by default).

    Real time, like the pacer: a rate is about what the server sees, whatever the
    campaign's clock says.
    """

    def __init__(self, window: float = 10.0) -> None:
        self.window = window
        self._times: collections.deque[float] = collections.deque()

    def mark(self, now: float) -> None:
        self._times.append(now)
        self._trim(now)

    def rate(self, now: float, started: float) -> float:
        self._trim(now)
        span = min(self.window, now - started)
        return len(self._times) / span if span > 0 else 0.0

    def _trim(self, now: float) -> None:
        while self._times and self._times[0] < now - self.window:
            self._times.popleft()


class EventBus:
    """Fans events out to callbacks and async subscribers."""

    def __init__(
        self,
        callbacks: tuple[Callable[[CampaignEvent], object], ...] = (),
        queue_size: int = 10_000,
    ) -> None:
        # Async callbacks are awaited by tasks of their own, with backpressure.
        self._callbacks = tuple(c for c in callbacks if not is_async_callback(c))
        self._async = AsyncCallbacks(
            tuple(c for c in callbacks if is_async_callback(c)),  # type: ignore[misc]
            high=max(queue_size // 10, 1),
            limit=queue_size,
        )
        self._queue_size = queue_size
        self._subscribers: list[collections.deque[CampaignEvent | None]] = []
        self._wake = asyncio.Event()
        self._closed = False
        self._dropped = 0

    @property
    def dropped(self) -> int:
        """Events a consumer too slow lost (an async callback's or a subscriber's)."""
        return self._dropped + self._async.dropped

    @property
    def paced(self) -> bool:
        """Whether an async callback may hold new dials back (:meth:`room`)."""
        return bool(self._async)

    async def room(self) -> None:
        """Wait while an async callback lags far behind (backpressure on new dials)."""
        await self._async.room()

    async def settled(self) -> None:
        """Wait until the async callbacks had every event (once the bus is closed)."""
        await self._async.settled()

    @property
    def wanted(self) -> bool:
        """Whether anyone listens (so events are not built for nobody)."""
        return bool(self._callbacks or self._subscribers or self._async)

    def emit(self, event: CampaignEvent) -> None:
        for callback in self._callbacks:
            try:
                callback(event)
            except Exception:  # a broken progress bar must not stop the calls
                _log.exception("campaign event callback %r failed", callback)
        if self._async:
            self._async.offer(event)
        for queue in self._subscribers:
            if len(queue) >= self._queue_size:
                queue.popleft()
                self._dropped += 1
            queue.append(event)
        if self._subscribers:
            self._wake.set()

    def close(self) -> None:
        """End every subscription after the events already queued."""
        self._closed = True
        self._async.close()
        for queue in self._subscribers:
            queue.append(None)
        self._wake.set()

    def subscribe(self) -> AsyncIterator[CampaignEvent]:
        """Receive every event from this call on; iterate the result to read them.

        Subscribes at once, not at the first iteration (as an async generator would), so
        a caller who subscribes and then starts the run misses nothing.
        """
        queue: collections.deque[CampaignEvent | None] = collections.deque()
        if self._closed:
            queue.append(None)
        else:
            self._subscribers.append(queue)
        return self._drain(queue)

    async def _drain(
        self, queue: collections.deque[CampaignEvent | None]
    ) -> AsyncIterator[CampaignEvent]:
        try:
            while True:
                while queue:
                    event = queue.popleft()
                    if event is None:
                        return
                    yield event
                self._wake.clear()
                await self._wake.wait()
        finally:
            # By identity: deques compare by content, and two empty ones are equal.
            self._subscribers = [other for other in self._subscribers if other is not queue]
