"""Everything the sandbox did: each call placed and each request turned away.

The ledger is the tester's ground truth. It outlives call retention (a placement is
never forgotten until ``reset``), records calls whose response was cut off (the
client cannot know those were placed), and counts placements per number so a test
can prove that nobody was dialled twice.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import IO, Any

import attrs

__all__ = ["Ledger", "Placement", "Rejection"]


@attrs.frozen
class Placement:
    """A call the sandbox placed (the number was dialled)."""

    sid: str
    api: str
    number: str
    """E.164."""
    metadata: dict[str, str]
    encryption: str
    outcome: str
    environment: str | None
    agent_id: str | None
    variant_id: str | None
    account_id: str | None
    project_id: str | None
    wall_time: float
    """Real POSIX time of the placement."""
    simulated_time: float
    """Simulated POSIX time of the placement (the call's clock)."""
    correlation_id: str
    cut: bool
    """The connection was cut instead of answering: the client never saw the sid."""

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class Rejection:
    """A request the sandbox answered with an error (nothing was placed)."""

    api: str | None
    """None for a path that belongs to no API."""
    endpoint: str
    """"trigger", "status" or "route"."""
    status: int
    code: str
    reason: str
    number: str | None
    """The number in the request body, if any (as sent: it may be invalid)."""
    sid: str | None
    wall_time: float
    correlation_id: str

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


class Ledger:
    """Append-only records of placements and rejections, optionally mirrored to a file."""

    def __init__(self, path: str | None = None) -> None:
        self.placements: list[Placement] = []
        self.rejections: list[Rejection] = []
        self._per_number: Counter[str] = Counter()
        self._path = path
        self._file: IO[str] | None = None

    def record_placement(self, placement: Placement) -> None:
        self.placements.append(placement)
        self._per_number[placement.number] += 1
        self._mirror("placement", placement)

    def record_rejection(self, rejection: Rejection) -> None:
        self.rejections.append(rejection)
        self._mirror("rejection", rejection)

    def placements_to(self, number: str) -> list[Placement]:
        """Every placement to ``number`` (E.164), oldest first."""
        return [placement for placement in self.placements if placement.number == number]

    def placement_count(self, number: str) -> int:
        """How many calls were placed to ``number`` (E.164)."""
        return self._per_number[number]

    def placements_per_number(self) -> dict[str, int]:
        return dict(self._per_number)

    def dialled_more_than_once(self) -> dict[str, int]:
        """Numbers placed more than once, with their counts: empty if nobody was rung twice."""
        return {number: count for number, count in self._per_number.items() if count > 1}

    def clear(self) -> None:
        self.placements.clear()
        self.rejections.clear()
        self._per_number.clear()

    def to_json(self) -> dict[str, Any]:
        return {
            "placements": [placement.to_json() for placement in self.placements],
            "rejections": [rejection.to_json() for rejection in self.rejections],
            "placements_per_number": self.placements_per_number(),
            "dialled_more_than_once": self.dialled_more_than_once(),
        }

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _mirror(self, kind: str, record: Placement | Rejection) -> None:
        if self._path is None:  # checked first: serialising costs more than the request
            return
        if self._file is None:
            self._file = open(self._path, "a", encoding="utf-8")  # noqa: SIM115 (kept open)
        # One line per record, flushed at once: a crashed test run still leaves a
        # complete account of what was dialled.
        line = json.dumps({"type": kind, **record.to_json()}, ensure_ascii=False)
        self._file.write(line + "\n")
        self._file.flush()

    def __repr__(self) -> str:
        return f"Ledger(placements={len(self.placements)}, rejections={len(self.rejections)})"
