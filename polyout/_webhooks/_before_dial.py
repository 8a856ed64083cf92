"""The pre-dial hook: a service's say on each contact, asked right before its intent.

``Campaign(before_dial=hook)`` runs ``await hook(PendingDial)`` as an admission
(``_admission``), after the calling window and every other check, before the intent is
committed. The answer decides:

* :class:`Allow`: dialled now; the audit receipt notes the decision (and its note);
* :class:`Deny`: never dialled; the contact ends ``suppressed`` with the reason;
* an error, a timeout, or any other answer: *fail closed*, not dialled now and asked
  again ``retry_in`` seconds later; after ``max_failures`` in a row (within a run) the
  contact ends ``suppressed`` saying why.

``--before-dial-url URL`` is the same hook over HTTP (:class:`UrlHook`): the contact is
POSTed as JSON, signed as webhooks are, and the answer is ``{"allow": true}`` or
``{"allow": false, "reason": "..."}``.

Across a crash: a decision is stored only by the move it causes (the intent, the
withdrawal, the reschedule); one lost with them is asked again, so nothing is dialled
that the hook did not allow.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import attrs

import polyout._campaign._admission as _admission
from polyout._campaign._clock import Clock
from polyout._campaign._states import ContactState
from polyout._campaign._store import DueContact
from polyout._errors import ConfigurationError
from polyout._webhooks._delivery import post_signed
from polyout._webhooks._settings import check_url, shown_url

__all__ = ["Allow", "BeforeDial", "BeforeDialCheck", "Deny", "PendingDial", "UrlHook"]


@attrs.frozen
class Allow:
    """The pre-dial hook's yes: dial this contact now. ``note`` goes in the audit receipt."""

    note: str | None = None


@attrs.frozen
class Deny:
    """The pre-dial hook's no: never dial this contact; it ends ``suppressed`` with ``reason``."""

    reason: str


@attrs.frozen
class PendingDial:
    """The contact about to be dialled, as the pre-dial hook sees it (full number)."""

    campaign: str
    contact_id: str | None
    position: int
    """The contact's position in the input (from 0)."""
    to_number: str
    """E.164."""
    attempts: int
    """Calls already placed (or maybe placed) for it."""
    metadata: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        """What ``--before-dial-url`` POSTs."""
        return {**attrs.asdict(self), "metadata": dict(self.metadata)}


#: ``async def before_dial(contact: PendingDial) -> Allow | Deny``.
BeforeDial = Callable[[PendingDial], Awaitable["Allow | Deny"]]


class BeforeDialCheck:
    """The pre-dial hook as an admission (``_admission.Admission``)."""

    name = "before_dial"

    def __init__(
        self,
        hook: BeforeDial,
        *,
        campaign: str,
        clock: Clock,
        timeout: float = 5.0,
        retry_in: float = 60.0,
        max_failures: int = 5,
    ) -> None:
        self._hook = hook
        self._campaign = campaign
        self._clock = clock  # the timeout is in the campaign's time, as every delay is
        self._timeout = timeout
        self._retry_in = retry_in
        self._max_failures = max_failures
        self._failures: dict[int, int] = {}  # failures in a row, per contact (this run)

    async def admit(self, contact: DueContact, now: float) -> _admission.Verdict:
        pending = PendingDial(
            campaign=self._campaign,
            contact_id=contact.contact_id,
            position=contact.seq,
            to_number=contact.to_number,
            attempts=contact.attempts,
            metadata=dict(contact.request.get("metadata") or {}),
        )
        asking = asyncio.ensure_future(self._hook(pending))
        waiting = asyncio.ensure_future(self._clock.sleep(self._timeout))
        try:
            await asyncio.wait({asking, waiting}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiting.cancel()
        if not asking.done():
            asking.cancel()
            return self._failed(contact, now, f"no answer within {self._timeout:g} s")
        try:
            answer = asking.result()
        except Exception as exc:  # the hook's own failure: fail closed, never dial
            return self._failed(contact, now, f"{type(exc).__name__}: {exc}")
        if isinstance(answer, Allow):
            self._failures.pop(contact.seq, None)
            return _admission.Allow({"allowed": True, "note": answer.note})
        if isinstance(answer, Deny):
            self._failures.pop(contact.seq, None)
            reason = f"pre-dial hook: {answer.reason}"
            return _admission.Withdraw(ContactState.SUPPRESSED, reason)
        shown = type(answer).__name__
        return self._failed(contact, now, f"answered a {shown}, not Allow or Deny")

    def _failed(self, contact: DueContact, now: float, why: str) -> _admission.Verdict:
        failures = self._failures.get(contact.seq, 0) + 1
        if failures >= self._max_failures:
            self._failures.pop(contact.seq, None)
            reason = f"pre-dial hook failed {failures} times in a row (last: {why})"
            return _admission.Withdraw(ContactState.SUPPRESSED, reason)
        self._failures[contact.seq] = failures
        return _admission.Defer(now + self._retry_in, f"pre-dial hook failed ({why}): not dialled")


class UrlHook:
    """``--before-dial-url``: the pre-dial hook as a signed POST to a service."""

    def __init__(self, url: str, secret: str, *, timeout: float = 5.0) -> None:
        self._url = check_url(url, "before_dial_url")
        if not secret:
            raise ConfigurationError("before_dial_url", "needs a secret to sign with")
        self._secret = secret
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"<UrlHook {shown_url(self._url)}>"

    async def __call__(self, contact: PendingDial) -> Allow | Deny:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        body = json.dumps(contact.to_json(), separators=(",", ":")).encode()
        # Signed with the wall clock: the receiver checks the timestamp against its own.
        status, text, _ = await post_signed(
            self._session, self._url, body, self._secret, now=time.time(), timeout=self._timeout
        )
        if not 200 <= status < 300:
            raise RuntimeError(f"HTTP {status} from the pre-dial hook")
        answer = json.loads(text)
        if not isinstance(answer, dict) or not isinstance(answer.get("allow"), bool):
            raise ValueError('the pre-dial hook must answer {"allow": true|false, "reason": "..."}')
        if answer["allow"]:
            return Allow(note=answer.get("reason"))
        return Deny(str(answer.get("reason") or "denied by the pre-dial hook"))

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
