"""Prometheus metrics and ``/healthz`` for one worker's run, on one HTTP port.

A companion of the run (``_companions``): it binds ``host:port`` (127.0.0.1 unless
told otherwise: the numbers are the campaign's, not the world's) and answers

* ``GET /metrics``: the Prometheus text format, read from the run at each scrape:
  contacts per state (campaign-wide once the reaper re-reads them), calls in flight,
  placements (total and per second), 429s, the trigger rate now, the age of this
  worker's last stored heartbeat, and the store's latency (a cheap read timed every
  ``_PROBE`` seconds: a histogram and the latest);
* ``GET /healthz``: ``200 ok`` while the worker heartbeats (its last heartbeat younger
  than the reap timeout, none failing) and its store answered the latest probe in time;
  ``503`` with the reason otherwise (a Kubernetes liveness or readiness probe).

Nothing about a contact is exposed: no number, no name. Across a crash: nothing to
keep; a restarted worker serves afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from polyout._campaign._companions import EngineHandle
from polyout._campaign._errors import JournalError
from polyout._log import logger
from polyout._metrics._request import MetricsRequest

if TYPE_CHECKING:
    from polyout._campaign._worker_life import Heartbeat

__all__ = ["MetricsEndpoint"]

_log = logger.getChild("metrics")
_PROBE = 5.0  # seconds between two timed reads of the store
_PROBE_STALE = 3 * _PROBE  # a probe older than this (it hangs) makes the worker unhealthy
_LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class MetricsEndpoint:
    """The ``--metrics-port`` companion (see the module docstring)."""

    name = "metrics"
    vital = False

    def __init__(self, where: MetricsRequest, heartbeat: Heartbeat | None = None) -> None:
        from prometheus_client import CollectorRegistry, Histogram

        self.where = where
        self._heartbeat = heartbeat
        self.registry = CollectorRegistry(auto_describe=True)
        self.latency = Histogram(
            "polyout_store_latency_seconds",
            "Seconds a cheap read of the store took (timed every few seconds)",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._engine: EngineHandle | None = None
        self._last_probe: tuple[float, float] | None = None  # (monotonic when, seconds taken)
        self._probe_error: str | None = None
        self.port: int | None = None
        """The port bound (the one asked for; the actual one when 0 was asked)."""

    async def run(self, engine: EngineHandle) -> None:
        self._engine = engine
        self.registry.register(_Collector(self))
        server = await asyncio.start_server(self._serve, self.where.host, self.where.port)
        self.port = int(server.sockets[0].getsockname()[1])
        _log.info("metrics on http://%s:%d/metrics, health on /healthz", self.where.host, self.port)
        try:
            while True:
                await self._probe(engine)
                await asyncio.sleep(_PROBE)
        finally:
            server.close()
            with contextlib.suppress(Exception):
                await server.wait_closed()

    async def _probe(self, engine: EngineHandle) -> None:
        started = time.monotonic()
        try:
            await engine.store.counts()
        except JournalError as error:
            self._probe_error = str(error)
            return
        took = time.monotonic() - started
        self.latency.observe(took)
        self._last_probe = (time.monotonic(), took)
        self._probe_error = None

    def health(self) -> str | None:
        """Why this worker is unhealthy, or None."""
        beat = self._heartbeat
        if beat is not None:
            if beat.failing_since is not None:
                return "its heartbeat fails: the store cannot be reached"
            if self._engine is not None:
                age = beat.age(self._engine.clock.time())
                if age is None or age > beat.timeout:
                    return "no recent heartbeat"
        if self._probe_error is not None:
            return f"the store does not answer: {self._probe_error}"
        if self._last_probe is None or time.monotonic() - self._last_probe[0] > _PROBE_STALE:
            return "the store has not answered lately"
        return None

    def heartbeat_age(self) -> float | None:
        if self._heartbeat is None or self._engine is None:
            return None
        return self._heartbeat.age(self._engine.clock.time())

    @property
    def engine(self) -> EngineHandle | None:
        return self._engine

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            line = request.split(b"\r\n", 1)[0].decode("latin-1")
            method, path = [*line.split(" "), ""][:2]
            status, kind, body = self._answer(method, path.split("?", 1)[0])
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError):
            pass  # a scraper that went away
        finally:
            writer.close()

    def _answer(self, method: str, path: str) -> tuple[str, str, bytes]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        if method not in ("GET", "HEAD"):
            return "405 Method Not Allowed", "text/plain", b"GET only\n"
        if path == "/metrics":
            return "200 OK", CONTENT_TYPE_LATEST, generate_latest(self.registry)
        if path == "/healthz":
            why = self.health()
            if why is None:
                return "200 OK", "text/plain", b"ok\n"
            return "503 Service Unavailable", "text/plain", f"unhealthy: {why}\n".encode()
        return "404 Not Found", "text/plain", b"/metrics or /healthz\n"


class _Collector:
    """Reads the run at each scrape."""

    def __init__(self, endpoint: MetricsEndpoint) -> None:
        self._endpoint = endpoint

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        engine = self._endpoint.engine
        if engine is None:
            return
        stats = engine.stats()
        states = GaugeMetricFamily(
            "polyout_contacts", "Contacts of the campaign per state", labels=["state"]
        )
        for state, count in sorted(stats.states.items()):
            states.add_metric([state], count)
        yield states
        yield GaugeMetricFamily(
            "polyout_calls_in_flight", "Calls dialling or placed and not final", stats.in_flight
        )
        yield CounterMetricFamily(
            "polyout_placements", "Calls this worker placed in this run", stats.placed
        )
        yield GaugeMetricFamily(
            "polyout_placements_per_second",
            "Triggers per second this worker achieved",
            stats.achieved_rate,
        )
        yield CounterMetricFamily(
            "polyout_rate_limited",
            "429s on triggers (every worker's on a shared rate)",
            stats.rate_limited,
        )
        yield GaugeMetricFamily("polyout_trigger_rate", "The trigger rate allowed now", stats.rate)
        age = self._endpoint.heartbeat_age()
        if age is not None:
            yield GaugeMetricFamily(
                "polyout_heartbeat_age_seconds", "Seconds since the last stored heartbeat", age
            )
        yield GaugeMetricFamily(
            "polyout_healthy",
            "1 while /healthz answers 200",
            float(self._endpoint.health() is None),
        )
