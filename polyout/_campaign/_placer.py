"""What the campaign engine needs of a client: place a call, read a status, say where.

``polyout.Client`` is one (structurally: a test pins that with mypy);
``polyout.testing.FakePlacer`` is another, in process, for deterministic tests of the
engine and of users' own integrations.

The pacer protocol is part of the contract, because the campaign's exactly-once
promise rests on it (see ``_placing``): ``place`` awaits ``pacer.acquire()`` before
every send, retries included, and tells the pacer how each send ended:
``on_rate_limited(retry_after)`` then ``on_not_placed()`` for a 429;
``on_not_placed()`` for any other send that provably placed nothing (400, 500, 502,
no connection), before any retry wait; ``on_success()`` for a call placed; nothing
after ``acquire`` when the outcome is unknown (:class:`polyout.TriggerOutcomeUnknown`,
which is raised and never re-sent). ``get_status`` awaits ``acquire`` before every
read and reports ``on_rate_limited`` and ``on_success`` the same way.
"""

from __future__ import annotations

from typing import Protocol

from polyout._models import Call, CallRequest, CallStatus
from polyout._pacing import RequestPacer

__all__ = ["Placer"]


class Placer(Protocol):
    """Places calls and reads their status, for a campaign (``polyout.Client`` is one).

    ``api``, ``environment`` and ``base_url`` name where calls go: a campaign stores
    them when it is created and refuses to resume through another place, whose call
    sids would mean nothing.
    """

    @property
    def api(self) -> str: ...

    @property
    def environment(self) -> str | None: ...

    @property
    def base_url(self) -> str:
        """Where calls go, as it may be shown (no credentials)."""
        ...

    async def place(self, request: CallRequest, *, pacer: RequestPacer) -> Call:
        """Place one call, asking ``pacer`` before each send (see the module docstring)."""
        ...

    async def get_status(self, call_sid: str, *, pacer: RequestPacer) -> CallStatus:
        """Read a call's status once, asking ``pacer`` before each read."""
        ...
