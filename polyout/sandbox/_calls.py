"""The calls the sandbox has placed and still remembers, by sid.

Lookups are one dict access. Expired calls are dropped from the front of a queue kept
in placement order, a little at each placement, so the store never scans itself and
its size stays bounded by the calls placed within one call lifetime plus retention.
"""

from __future__ import annotations

import enum
from collections import deque

import attrs

from ._lifecycle import Timeline

__all__ = ["Api", "CallRecord", "CallStore"]


class Api(str, enum.Enum):
    """The three PolyAI outbound calling APIs the sandbox serves at once."""

    AGENTS = "agents"
    PLATFORM = "platform"
    CONNECTOR = "connector"


@attrs.frozen
class CallRecord:
    """One placed call, as the status endpoints need it."""

    sid: str
    api: Api
    scope: tuple[str, ...]
    """What a status request must repeat to see the call: (agent id, environment) for
    Agents, (account id, project id) for Connector, nothing for Platform."""
    number: str
    timeline: Timeline
    connector_id: str = ""
    """The Connector API echoes the X-CONNECTOR-ID that placed the call."""


class CallStore:
    """Placed calls by sid, forgetting each once its status retention is over."""

    def __init__(self) -> None:
        self._by_sid: dict[str, CallRecord] = {}
        self._in_order: deque[CallRecord] = deque()

    def add(self, call: CallRecord) -> None:
        self.prune(call.timeline.placed_at)
        self._by_sid[call.sid] = call
        self._in_order.append(call)

    def find(self, sid: str, api: Api, scope: tuple[str, ...], now: float) -> CallRecord | None:
        """The call, if it was placed through ``api`` with ``scope`` and has not expired."""
        call = self._by_sid.get(sid)
        if call is None or call.api is not api or call.scope != scope:
            # A call is visible only through the API and path ids it was placed with.
            return None
        if now >= call.timeline.expires_at:
            return None
        return call

    def get(self, sid: str) -> CallRecord | None:
        """The call by sid alone, expired or not (until pruned): for the admin view."""
        return self._by_sid.get(sid)

    def prune(self, now: float) -> None:
        # Expiry times are not strictly in placement order (answered calls live
        # longer), so a call may outlive its expiry here by at most one call
        # duration; `find` checks expiry exactly, so that is invisible outside.
        while self._in_order and self._in_order[0].timeline.expires_at <= now:
            expired = self._in_order.popleft()
            del self._by_sid[expired.sid]

    def clear(self) -> None:
        self._by_sid.clear()
        self._in_order.clear()

    def __len__(self) -> int:
        return len(self._by_sid)
