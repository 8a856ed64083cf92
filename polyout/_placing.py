"""One trigger try: what it placed, what may be retried, and what a cancellation may not lose.

Every try ends in exactly one of three ways, and the pacer hears which:

- provably nothing placed (no connection, an error status other than an undocumented
  5xx, or a cancellation before the request began to leave): ``on_not_placed``, before
  any retry wait (or before the CancelledError goes on), and the error may be retried;
- an answer that may hide a placed call (no answer, 503/504, an unusable 2xx):
  :class:`TriggerOutcomeUnknown`, never re-sent, ``on_not_placed`` never called;
- a call sid.

A caller that is cancelled (``asyncio.wait_for``, ``asyncio.timeout``) while its request
is leaving or answered would drop the only record of a call that is ringing someone.
So once the body starts to leave, the exchange runs shielded in its own task: the
caller is cancelled at once, with a WARNING, and the answer is still read and logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from polyout._errors import (
    APIStatusError,
    ClientClosedError,
    RateLimitError,
    ServerError,
    TransportError,
    TriggerOutcomeUnknown,
)
from polyout._following import sid_problem
from polyout._log import logger
from polyout._pacing import RequestPacer
from polyout._phone import mask_number
from polyout._retry import TRIGGER_RETRYABLE_5XX
from polyout._sending import Answer, Sender
from polyout._session import SessionHolder, WatchedBody, being_cancelled

__all__ = ["TriggerTry", "paced"]

#: How long a cancelled trigger waits for its exchange to end, to tell whether it left.
_UNSENT_CHECK_SECONDS = 1.0


def paced(pacer: RequestPacer | None, send: Callable[[], Awaitable[Answer]]) -> Awaitable[Answer]:
    """One send, after ``pacer``'s turn when there is one, reporting back 429 or success."""
    return send() if pacer is None else _send_paced(pacer, send)


async def _send_paced(pacer: RequestPacer, send: Callable[[], Awaitable[Answer]]) -> Answer:
    await pacer.acquire()
    try:
        answer = await send()
    except RateLimitError as exc:
        pacer.on_rate_limited(exc.retry_after)
        raise
    pacer.on_success()
    return answer


class TriggerTry:
    """The tries of one trigger: each a fresh body, sent shielded once it starts to leave."""

    # One per trigger: slots save it a dict, one object fewer for the GC to walk.
    __slots__ = ("_holder", "_number", "_pacer", "_path", "_payload", "_sender", "_sid_from")

    def __init__(
        self,
        holder: SessionHolder,
        sender: Sender,
        *,
        path: str,
        payload: bytes,
        number: str,
        pacer: RequestPacer | None,
        sid_from: Callable[[object], str | None],
    ) -> None:
        self._holder = holder
        self._sender = sender
        self._path = path
        self._payload = payload
        self._number = number
        self._pacer = pacer
        self._sid_from = sid_from

    @property
    def _masked(self) -> str:
        # Only failures and warnings show the number: most triggers never mask it.
        return mask_number(self._number)

    async def __call__(self) -> Answer:
        try:
            return await paced(self._pacer, self._shielded)
        except ServerError as exc:
            if exc.status_code not in TRIGGER_RETRYABLE_5XX:
                raise unknown_from_status(exc, self._masked) from exc
            self._not_placed()
            raise
        except (TriggerOutcomeUnknown, ClientClosedError):
            raise
        except (TransportError, APIStatusError):
            # The server refused it, or no connection was made: nothing was placed.
            self._not_placed()
            raise

    def _not_placed(self) -> None:
        if self._pacer is not None:
            self._pacer.on_not_placed()

    async def _shielded(self) -> Answer:
        # The body names its type: a Content-Type passed as a header costs aiohttp more.
        body = WatchedBody(self._payload, content_type="application/json")
        exchange: asyncio.Task[Answer] = asyncio.get_running_loop().create_task(
            self._sender.send("POST", self._path, body=body, number=self._number)
        )
        ended = self._holder.track_trigger(exchange, body)
        try:
            # Cancelling this caller cancels ``ended`` only, never the exchange.
            await ended
            return exchange.result()
        except asyncio.CancelledError:
            if exchange.cancelled() and not being_cancelled():
                # aclose() stopped it before it left: the caller is not being cancelled.
                raise ClientClosedError(
                    f"this polyout.Client was closed before the trigger to {self._masked} "
                    "was sent: nothing was placed"
                ) from None
            if body.started:
                self._orphan(exchange)
            else:
                exchange.cancel()  # nothing has left yet: stopping it places nothing
                if await self._ended_unsent(exchange, body):
                    # Provably nothing placed: a campaign closes this try's intent
                    # rather than leave it reading "may have been placed".
                    self._not_placed()
            raise

    async def _ended_unsent(self, exchange: asyncio.Task[Answer], body: WatchedBody) -> bool:
        """Whether the cancelled ``exchange`` ended without its body starting to leave.

        aiohttp writes the body from a task of its own, which (before Python 3.12) starts
        a turn later: it may already be queued when the exchange is cancelled, and then
        still write. So only the exchange's end tells; a second cancellation, or an end
        that does not come, leaves it "may have been placed".
        """
        try:
            await asyncio.wait([exchange], timeout=_UNSENT_CHECK_SECONDS)
        except asyncio.CancelledError:
            return False
        if not exchange.done() or body.started:
            logger.warning(
                "trigger to %s cancelled as its request was leaving: the call may have "
                "been placed, and its answer cannot be read",
                self._masked,
            )
            return False
        return True

    def _orphan(self, exchange: asyncio.Task[Answer]) -> None:
        logger.warning(
            "trigger to %s cancelled after its request was sent: the call may have been "
            "placed; its answer will still be read and logged",
            self._masked,
        )
        exchange.add_done_callback(self._log_orphan)

    def _log_orphan(self, exchange: asyncio.Task[Answer]) -> None:
        if exchange.cancelled():
            return
        failure = exchange.exception()
        if failure is None:
            answer = exchange.result()
            sid = self._sid_from(answer.parsed)
            if sid is not None and sid_problem(sid) is None:
                logger.warning(
                    "call %s was placed to %s after its trigger was cancelled; nobody is "
                    "following it (follow it with get_status)",
                    sid,
                    self._masked,
                    extra=_ids(sid, answer.correlation_id),
                )
                return
            failure = unusable_answer(answer, self._masked, "POST", "", sid)
        level = logging.WARNING if isinstance(failure, TriggerOutcomeUnknown) else logging.INFO
        logger.log(level, "cancelled trigger to %s ended: %s", self._masked, failure)


def unknown_from_status(exc: APIStatusError, masked: str) -> TriggerOutcomeUnknown:
    # Only 500 and 502 are documented as "not placed"; any other 5xx (a gateway timeout,
    # say) may come from a proxy that gave up while the call was being placed.
    return TriggerOutcomeUnknown(
        f"{exc}; the docs do not say whether the call to {masked} was placed",
        masked_number=masked,
        method=exc.method,
        path=exc.path,
        status_code=exc.status_code,
        correlation_id=exc.correlation_id,
    )


def unusable_answer(
    answer: Answer, masked: str, method: str, path: str, sid: str | None
) -> TriggerOutcomeUnknown:
    """A 2xx answer to a trigger that polyout cannot follow: the call was probably placed."""
    if answer.problem is not None:
        why = answer.problem
    elif not isinstance(answer.parsed, dict):
        why = "the body is not a JSON object"
    elif sid is None:
        why = "it has no call sid"
    else:
        why = f"its call sid {sid[:40]!a} cannot be followed: {sid_problem(sid)}"
    return TriggerOutcomeUnknown(
        f"HTTP {answer.status} from {method} {path}, but {why}: the call to {masked} was "
        "probably placed and cannot be followed",
        masked_number=masked,
        method=method,
        path=path,
        status_code=answer.status,
        correlation_id=answer.correlation_id,
    )


def _ids(sid: str, correlation_id: str | None) -> dict[str, Any]:
    return {"polyout_call_sid": sid, "polyout_correlation_id": correlation_id}
