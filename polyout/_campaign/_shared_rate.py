"""What a worker beside others adds to its run: the account's shared pacer, the heartbeat
and reaper, the metrics endpoint.

On a store several processes share (PostgreSQL), each worker's local
:class:`~polyout._pacing.Pacer` would let N workers send N times the rate; the
:class:`~polyout._campaign._shared_pacer.SharedPacer` takes its place, on the account's
slot row (``_pg_rate``). Its connection closes when the run ends (``_RowKeeper``).

On a store one process holds (SQLite, memory) the local pacer stays: there is only one
worker, and its rate is its account's as far as polyout knows.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from polyout._campaign._companions import Companion, EngineHandle
from polyout._campaign._identity import connection_identity
from polyout._campaign._memory_store import MemoryStore
from polyout._campaign._placer import Placer
from polyout._campaign._shared_pacer import RateRow, SharedPacer
from polyout._campaign._store import StoredCampaign
from polyout._campaign._worker_life import Heartbeat, worker_companions
from polyout._errors import ConfigurationError
from polyout._metrics import take_metrics_request
from polyout._pacing import Pacer

if TYPE_CHECKING:
    from polyout._campaign._opening import Place

__all__ = [
    "REAP_TIMEOUT_ENV",
    "RateRow",
    "SharedPacer",
    "WorkerParts",
    "account_key",
    "reap_timeout_from_env",
    "worker_parts",
]

#: The environment variable that sets the reap timeout (seconds; 30 by default).
REAP_TIMEOUT_ENV = "POLYOUT_REAP_TIMEOUT"


class _RowKeeper:
    """A companion that closes the shared pacer's connection when the run ends."""

    name = "rate-row"
    vital = False

    def __init__(self, pacer: SharedPacer) -> None:
        self._pacer = pacer

    async def run(self, engine: EngineHandle) -> None:
        try:
            await asyncio.Event().wait()  # until the run ends and cancels it
        finally:
            await asyncio.shield(self._pacer.aclose())


def account_key(client: Placer) -> str:
    """The account a rate belongs to: the connection identity a campaign stores."""
    return json.dumps(connection_identity(client), sort_keys=True)


@attrs.frozen
class WorkerParts:
    """What a worker beside others adds to its run: a pacer and companions."""

    pacer: Pacer | None = None
    companions: Sequence[Companion] = ()


def worker_parts(place: Place, stored: StoredCampaign, client: Placer, rate: float) -> WorkerParts:
    """The shared pacer (PostgreSQL) and the heartbeat and reaper, for a store that
    several processes share; the metrics endpoint if ``--metrics-port`` asked for one.
    ``POLYOUT_REAP_TIMEOUT`` (seconds) sets the reap timeout;
    set, it installs the heartbeat and reaper on any store (two workers in one process
    on an in-memory store)."""
    reap_timeout = reap_timeout_from_env()
    shared = not place.exclusive and not isinstance(place.store, MemoryStore)
    companions: list[Companion] = []
    heartbeat: Heartbeat | None = None
    pacer: SharedPacer | None = None
    if shared or reap_timeout is not None:
        heartbeat, reaper = (
            worker_companions() if reap_timeout is None else worker_companions(reap_timeout)
        )
        companions += [heartbeat, reaper]
        row = _pg_row(stored, account_key(client))
        if row is not None:
            pacer = SharedPacer(rate, row)
            companions.append(_RowKeeper(pacer))
    metrics = take_metrics_request()  # --metrics-port
    if metrics is not None:
        from polyout._metrics._endpoint import MetricsEndpoint

        companions.append(MetricsEndpoint(metrics, heartbeat))
    return WorkerParts(pacer=pacer, companions=companions)


def reap_timeout_from_env() -> float | None:
    """``POLYOUT_REAP_TIMEOUT``: seconds of silence after which a worker is reaped."""
    text = os.environ.get(REAP_TIMEOUT_ENV, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ConfigurationError(
            REAP_TIMEOUT_ENV, f"must be a positive number of seconds, not {text!r}"
        )
    return value


def _pg_row(stored: StoredCampaign, account: str) -> RateRow | None:
    from polyout._campaign._pg_campaign import PostgresCampaign

    if not isinstance(stored, PostgresCampaign):
        return None
    from polyout._campaign._pg_rate import PgRateRow

    return PgRateRow(stored._store, account)  # the campaign's own store
