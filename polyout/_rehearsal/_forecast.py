"""What a rehearsal found: when the campaign ends, how fast it dials, how contacts end."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import attrs

from polyout._campaign._states import ContactState

__all__ = ["Forecast", "hourly_counts"]

_HOUR = 3600.0


@attrs.frozen
class Forecast:
    """One rehearsal's result. Times are POSIX seconds of the rehearsal's clock."""

    started_at: float
    finished_at: float
    """When the last contact reached its final state (the start if none did)."""
    states: Mapping[str, int]
    placements: int
    placements_per_hour: tuple[int, ...]
    """Calls placed in each hour from the start: [0, 1h), [1h, 2h), ..."""
    not_reached_by_deadline: int | None
    """Contacts cancelled at ``end_by``; None when the campaign has no deadline."""
    complete: bool
    """Every contact final (False: the rehearsal was cut at its horizon, e.g. paused)."""
    seed: int
    retry_timing: str = "fixed"
    paused: tuple[float, str] | None = None
    """When and why the campaign paused itself (the rehearsal ends there), or None."""

    @property
    def duration(self) -> float:
        return self.finished_at - self.started_at

    @property
    def contacts(self) -> int:
        return sum(self.states.values())

    def to_json(self) -> dict[str, Any]:
        return {
            # Unfinished (paused, cut at the horizon): there is no finish to forecast.
            "duration_s": round(self.duration, 3) if self.complete else None,
            "started_at": _local_iso(self.started_at),
            "finish_at": _local_iso(self.finished_at) if self.complete else None,
            "contacts": self.contacts,
            "states": dict(self.states),
            "placements": self.placements,
            "placements_per_hour": list(self.placements_per_hour),
            "not_reached_by_deadline": self.not_reached_by_deadline,
            "complete": self.complete,
            "paused": None
            if self.paused is None
            else {"at": _local_iso(self.paused[0]), "reason": self.paused[1]},
            "retry_timing": self.retry_timing,
            "seed": self.seed,
        }

    @classmethod
    def from_results(
        cls,
        results: Iterable[Mapping[str, Any]],
        placed_at: Sequence[float],
        *,
        started_at: float,
        deadline: bool,
        complete: bool,
        seed: int,
        retry_timing: str,
        paused: tuple[float, str] | None = None,
    ) -> Forecast:
        """From the rehearsal store's results and the placement times of its calls."""
        states: Counter[str] = Counter()
        finished_at = started_at
        cut_by_deadline = 0
        for result in results:
            states[result["state"]] += 1
            if result.get("finished_at"):
                finished_at = max(finished_at, _posix(result["finished_at"]))
            if result["state"] == ContactState.CANCELLED.value and "deadline" in (
                result.get("reason") or ""
            ):
                cut_by_deadline += 1
        return cls(
            started_at=started_at,
            finished_at=finished_at,
            states=dict(sorted(states.items(), key=lambda item: (-item[1], item[0]))),
            placements=len(placed_at),
            placements_per_hour=hourly_counts(placed_at, started_at),
            not_reached_by_deadline=cut_by_deadline if deadline else None,
            complete=complete,
            seed=seed,
            retry_timing=retry_timing,
            paused=paused,
        )


def hourly_counts(times: Sequence[float], start: float) -> tuple[int, ...]:
    """How many of ``times`` fall in each hour from ``start``."""
    if not times:
        return ()
    buckets = [0] * (math.floor((max(times) - start) / _HOUR) + 1)
    for at in times:
        buckets[math.floor((at - start) / _HOUR)] += 1
    return tuple(buckets)


def _posix(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def _local_iso(posix: float) -> str:
    """ISO 8601 in the machine's local zone, with its offset (what an operator reads)."""
    return datetime.fromtimestamp(posix, timezone.utc).astimezone().isoformat(timespec="seconds")
