"""Reading a call's status, and following it until it ends.

Call sids are the server's to choose: the docs show ``OUT-…``, but a sid is only ever
sent back in a URL path, so any sid a path can carry unchanged is accepted, on the
trigger and the status side alike. Refused are only those a URL would alter or that
would add path structure: empty, too long, whitespace or control characters, ``/``,
``\\`` and dot-only names (URLs normalise ``..`` away, even percent-encoded). Everything
else is percent-encoded into one path segment.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping

from polyout._apis import DEFAULT_POLL_INTERVAL, DEFAULT_WAIT_DEADLINE, Dialect, state_from_raw
from polyout._errors import NotFoundError, TransportError, ValidationError
from polyout._models import CallState, CallStatus
from polyout._sending import Answer
from polyout._session import check_seconds

__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_WAIT_DEADLINE",
    "NOT_FOUND_GRACE",
    "check_sid",
    "follow",
    "is_plain_sid",
    "sid_problem",
    "status_from_answer",
]

#: A status can lag its trigger: a 404 for a never-seen call is retried this long.
NOT_FOUND_GRACE = 30.0
_MAX_SID = 200
# Every poll checks its sid: a regex is ~10x cheaper than a generator over the characters.
_WHITESPACE = re.compile(r"\s")
# Nearly every sid is made of these only: it is then valid and needs no quoting.
_PLAIN_SID = re.compile(rf"[A-Za-z0-9_.~-]{{1,{_MAX_SID}}}")


def sid_problem(sid: object) -> str | None:
    """Why ``sid`` cannot be followed, or None when it can."""
    if not isinstance(sid, str) or not sid:
        return "it is not a non-empty string"
    if len(sid) > _MAX_SID:
        return f"it is longer than {_MAX_SID} characters"
    if not sid.isprintable() or _WHITESPACE.search(sid):
        return "it holds whitespace or control characters"
    if "/" in sid or "\\" in sid or sid.strip(".") == "":
        return "a URL path cannot carry it unchanged"
    return None


def is_plain_sid(sid: object) -> bool:
    """Whether ``sid`` can be followed and goes into a URL path as it is (one regex)."""
    return type(sid) is str and _PLAIN_SID.fullmatch(sid) is not None and sid.strip(".") != ""


def check_sid(call_sid: str) -> None:
    problem = sid_problem(call_sid)
    if problem is not None:
        raise ValidationError("call_sid", f"must be a call sid as a trigger returned it: {problem}")


def status_from_answer(dialect: Dialect, call_sid: str, answer: Answer, path: str) -> CallStatus:
    body = answer.parsed
    # json.loads makes dicts: checking the type first skips the ABC's slower check.
    if not (type(body) is dict or isinstance(body, Mapping)) or not body:
        why = answer.problem or "it is not a JSON object"
        raise TransportError(
            f"HTTP {answer.status} from GET {path} has no JSON object body: {why}",
            method="GET",
            path=path,
        )
    raw_status = dialect.raw_status(body)
    return CallStatus(
        call_sid=call_sid,
        state=state_from_raw(raw_status),
        raw_status=raw_status if isinstance(raw_status, str) else None,
        reason=dialect.reason(body),
        correlation_id=answer.correlation_id,
        raw=body,
    )


async def follow(
    get_status: Callable[[str], Awaitable[CallStatus]],
    call_sid: str,
    *,
    poll_interval: float,
    deadline: float | None,
) -> CallStatus:
    """Poll ``get_status`` until the call ends, its status is gone, or ``deadline`` passes."""
    check_seconds("poll_interval", poll_interval)
    if deadline is not None:
        check_seconds("deadline", deadline)
    check_sid(call_sid)
    loop = asyncio.get_running_loop()
    started = loop.time()
    ends_at = None if deadline is None else started + deadline
    last: CallStatus | None = None
    while True:
        try:
            status = await get_status(call_sid)
        except NotFoundError:
            if last is not None:
                return expired(last, "status is no longer available (retention passed)")
            if loop.time() - started >= NOT_FOUND_GRACE:
                raise
        else:
            if status.is_final:
                return status
            last = status
        if ends_at is not None and loop.time() + poll_interval > ends_at:
            seen = last or CallStatus(call_sid=call_sid, state=CallState.UNKNOWN)
            return expired(seen, f"not finished after {deadline:g} s")
        await asyncio.sleep(poll_interval)


def expired(last: CallStatus, reason: str) -> CallStatus:
    return CallStatus(
        call_sid=last.call_sid,
        state=CallState.EXPIRED,
        raw_status=last.raw_status,
        reason=reason,
        correlation_id=last.correlation_id,
        raw=last.raw,
        last_seen=last,
    )
