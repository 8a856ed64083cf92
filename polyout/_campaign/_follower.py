"""The follower: every placed call, polled to its end, its outcome recorded.

The :class:`~._poller.Poller` does the polling (one heap, its own budget); the follower
says what each answer means for the contact (:func:`~._decisions.outcome_retry_due`)
and records it through the :class:`~._recorder.Recorder`. It follows the calls this
worker placed, and, when it starts, those the store hands it: calls an earlier run
placed, or a dead worker's (``calls_in_flight``), and again whenever the reaper asks
(``_worker_life``). Each call followed holds a slot of the concurrency until it ends.
"""

from __future__ import annotations

from collections.abc import Callable

from polyout._campaign._decisions import outcome_retry_due
from polyout._campaign._errors import CampaignError
from polyout._campaign._poller import FollowedCall as PolledCall
from polyout._campaign._poller import Poller
from polyout._campaign._retry_timing import learned_timing
from polyout._campaign._run_parts import RunParts
from polyout._campaign._states import ContactState
from polyout._campaign._store import FollowedCall
from polyout._errors import PolyOutError
from polyout._log import logger
from polyout._models import CallStatus

__all__ = ["Follower"]

_log = logger.getChild("campaign")
_MAX_PARALLEL_POLLS = 32  # leaves most of the placer's connections to triggers


class Follower:
    """Follows the campaign's calls in flight for worker ``worker``."""

    def __init__(self, parts: RunParts, *, seed: int | None = None) -> None:
        self._recorder = parts.recorder
        self.worker = parts.worker
        self._config = config = parts.config
        self._window = parts.window
        self._clock = parts.clock
        self._slots = parts.slots
        self._calls: dict[int, FollowedCall] = {}  # by seq: one call in flight per contact
        self._learned = learned_timing(config, parts.recorder.store, parts.window, seed)
        self.poller = Poller(
            parts.placer,
            parts.clock,
            interval=config.poll_interval,
            rate=config.poll_rate,
            triggers=parts.pacer,  # a 429 on a trigger halves the poll budget too
            parallel=min(_MAX_PARALLEL_POLLS, max(4, config.concurrency)),
            on_change=self._on_change,
            on_end=self._on_end,
            on_error=self._on_error,
            on_fatal=_status_refused(parts.on_trouble),
            seed=seed,
        )

    async def adopt(self) -> int:
        """Follow the calls in flight the store hands this worker; returns how many new.

        Called at the start and again during the run (a dead worker's calls, once no one
        holds them): the calls already followed here are left as they are."""
        calls = [
            call
            for call in await self._recorder.store.calls_in_flight(self.worker)
            if call.seq not in self._calls
        ]
        for call in calls:
            self._slots.taken += 1
            self._calls[call.seq] = call
            # Past its deadline, a call gets one last poll before it expires.
            self.poller.follow(
                PolledCall.resumed(
                    seq=call.seq,
                    contact_id=call.contact_id,
                    intent=call.intent,
                    placed=call.attempts,
                    call_sid=call.call_sid,
                    raw_status=call.call_status,
                    placed_at=call.placed_at,
                    deadline=call.deadline,
                )
            )
        return len(calls)

    def follow(self, call: FollowedCall) -> None:
        """Follow a call this worker just placed (its slot is already taken)."""
        self._calls[call.seq] = call
        self.poller.follow(
            PolledCall(
                seq=call.seq,
                contact_id=call.contact_id,
                intent=call.intent,
                placed=call.attempts,
                call_sid=call.call_sid,
                placed_at=call.placed_at,
                deadline=call.deadline,
            )
        )

    async def _on_change(self, polled: PolledCall, status: CallStatus) -> None:
        call = self._calls[polled.seq]
        await self._recorder.status(call, _raw(status), status.state.value)

    async def _on_error(self, polled: PolledCall, exc: PolyOutError) -> None:
        _log.info("status of %s not read (%s); will try again", polled.call_sid, exc)
        await self._recorder.poll_error(self._calls[polled.seq], str(exc))

    async def _on_end(self, polled: PolledCall, status: CallStatus) -> None:
        call = self._calls[polled.seq]
        outcome = ContactState(status.state.value)
        retry_due = outcome_retry_due(
            outcome,
            attempts=call.attempts,
            max_attempts=self._config.max_attempts,
            retry_delay=self._config.retry_delay,
            window=self._window,
            zones=call.zones,
            now=self._clock.time(),
        )
        if self._learned is not None:  # retry_timing="learned": the best-answering hour
            retry_due = await self._learned.retry_due(call, outcome, retry_due)
        await self._recorder.outcome(
            call,
            outcome,
            retry_due=retry_due,
            reason=status.reason or None,
            call_status=_raw(status),
        )
        del self._calls[polled.seq]
        self._slots.release()


def _raw(status: CallStatus) -> str:
    return status.raw_status or status.state.value


def _status_refused(on_trouble: Callable[[CampaignError], None]) -> Callable[[PolyOutError], None]:
    """A 401/403 to a status read is about the campaign's credential, as it is for a
    trigger: a trouble (auto-pause may take it as a pause), else the run stops."""

    def report(refused: PolyOutError) -> None:
        error = CampaignError(
            f"the API refused to read a call's status ({refused}): check the credential, "
            "then resume"
        )
        error.__cause__ = refused
        on_trouble(error)

    return report
