"""Delivering a campaign's outbox to its endpoint: at least once, signed, in order per contact.

The outbox (``_store_outbox``) hands out each contact's earliest undelivered event only,
so a contact's events go out in order however many deliveries run at once. Each answer
decides the event's fate, written to the store before the next event of its contact
can go:

* 2xx: delivered;
* a connection error, a timeout, 5xx, 408 or 429: tried again after a jittered
  exponential backoff (or the Retry-After asked for), bounded by ``retry_cap``;
* ``410 Gone``: the endpoint is disabled (stored), and delivery stops;
* any other answer (4xx, a redirect): dead, its response kept (the dead-letter list).

Across a crash: an event is marked delivered only after its 2xx, so one delivered but
not yet marked goes out again (at least once: receivers deduplicate on ``id``); an
undelivered one stays pending in the store and goes out after ``resume``, ``work`` or
``polyout campaign deliver``. The secret is only ever used to sign.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from typing import Any

import aiohttp
from aiolimiter import AsyncLimiter

from polyout._campaign._clock import Clock, utc_datetime
from polyout._campaign._store import StoredCampaign
from polyout._campaign._store_outbox import OutboxEvent, WebhookEndpoint
from polyout._log import logger
from polyout._retry import parse_retry_after
from polyout._version import __version__
from polyout._webhooks._settings import Webhook, shown_url
from polyout.webhooks import SIGNATURE_HEADER, sign

__all__ = ["Delivery", "outbox_line", "post_signed"]

_log = logger.getChild("webhooks")
#: Statuses worth trying again: the receiver may well take the event later.
_RETRYABLE = frozenset({408, 429})
#: How long an idle delivery waits before looking at the outbox again (store time).
_IDLE = 0.2
#: How much of a refusing answer the dead-letter list keeps.
_KEEP = 500


async def post_signed(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    secret: str,
    *,
    now: float,
    timeout: float,
) -> tuple[int, str, dict[str, str]]:
    """POST ``body`` signed; (status, the start of the answer, its headers)."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"polyout/{__version__}",
        SIGNATURE_HEADER: sign(body, secret, timestamp=int(now)),
    }
    async with session.post(
        url,
        data=body,
        headers=headers,
        timeout=aiohttp.ClientTimeout(total=timeout),
        allow_redirects=False,
    ) as response:
        text = (await response.content.read(_KEEP)).decode("utf-8", "replace")
        return response.status, text, dict(response.headers)


class Delivery:
    """Delivers one campaign's outbox to its endpoint (see the module docstring)."""

    def __init__(
        self,
        store: StoredCampaign,
        webhook: Webhook,
        *,
        campaign: str,
        clock: Clock,
        seed: int | None = None,
    ) -> None:
        self._store = store
        self._webhook = webhook
        self._campaign = campaign
        self._clock = clock
        self._random = random.Random(seed)
        self._slots = asyncio.Semaphore(webhook.concurrency)
        self._limiter = AsyncLimiter(webhook.rate, 1.0)
        self._sending: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()
        self._url: str | None = None
        self.disabled: str | None = None
        self.delivered = 0
        self.dead = 0

    async def endpoint(self) -> WebhookEndpoint | None:
        """The campaign's endpoint (None: no webhook); a disabled one stops delivery."""
        endpoint = await self._store.webhook()
        if endpoint is not None and endpoint.disabled is not None:
            self.disabled = endpoint.disabled
        self._url = None if endpoint is None else endpoint.url
        return endpoint

    async def run(self) -> None:
        """Deliver until cancelled (alongside a run), or until the endpoint is disabled."""
        await self._pump(until_empty=False)

    async def drain(self, timeout: float) -> int:
        """Deliver until the outbox is empty or ``timeout`` seconds passed; what is left."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._pump(until_empty=True), timeout)
        return (await self._store.outbox_counts())["pending"]

    async def _pump(self, *, until_empty: bool) -> None:
        if await self.endpoint() is None or self.disabled is not None:
            return
        async with aiohttp.ClientSession() as session:
            try:
                await self._deliver_all(session, until_empty=until_empty)
            finally:
                for task in self._tasks:
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _deliver_all(self, session: aiohttp.ClientSession, *, until_empty: bool) -> None:
        limit = self._webhook.concurrency * 4
        while self.disabled is None:
            self._changed.clear()
            events = await self._store.pending(limit, now=self._clock.time())
            fresh = [event for event in events if event.id not in self._sending]
            for event in fresh:
                await self._slots.acquire()
                if self.disabled is not None:
                    self._slots.release()
                    return
                self._sending.add(event.id)
                task = asyncio.create_task(self._deliver(session, event))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            if fresh:
                continue
            if until_empty and not self._sending and await self._empty():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), _IDLE)

    async def _empty(self) -> bool:
        return (await self._store.outbox_counts())["pending"] == 0

    async def _deliver(self, session: aiohttp.ClientSession, event: OutboxEvent) -> None:
        try:
            await self._attempt(session, event)
        except asyncio.CancelledError:
            raise
        except Exception:  # the store failed: the event stays pending, tried next run
            _log.exception("webhook event %s could not be settled", event.id)
        finally:
            self._sending.discard(event.id)
            self._slots.release()
            self._changed.set()

    async def _attempt(self, session: aiohttp.ClientSession, event: OutboxEvent) -> None:
        assert self._url is not None
        body = event.body(self._campaign)
        async with self._limiter:
            try:
                # Signed with the wall clock, not the campaign's: the receiver checks the
                # timestamp against its own clock.
                status, text, headers = await post_signed(
                    session,
                    self._url,
                    body,
                    self._webhook.secret,
                    now=time.time(),
                    timeout=self._webhook.timeout,
                )
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                await self._retry(event, error, None)
                return
        if 200 <= status < 300:
            await self._store.delivered([event.id], now=self._clock.time())
            self.delivered += 1
        elif status == 410:
            await self._disable(
                f"410 Gone at {utc_datetime(self._clock.time()):%Y-%m-%d %H:%M:%SZ}"
            )
        elif status >= 500 or status in _RETRYABLE:
            await self._retry(event, f"HTTP {status}", parse_retry_after(headers))
        else:
            await self._store.dead(
                event.id, response=f"HTTP {status}: {text}", now=self._clock.time()
            )
            self.dead += 1
            _log.warning(
                "webhook event %s (%s) refused with HTTP %d: kept in the dead-letter list",
                event.id,
                event.type,
                status,
            )

    async def _retry(self, event: OutboxEvent, error: str, retry_after: float | None) -> None:
        attempt = event.attempts + 1
        webhook = self._webhook
        if retry_after is not None:
            wait = min(max(retry_after, 0.0), webhook.retry_cap)
        else:
            wait = min(webhook.retry_cap, webhook.retry_base * 2 ** min(attempt - 1, 30))
            wait *= self._random.uniform(0.5, 1.0)  # jitter: receivers recovering are not stampeded
        next_at = self._clock.time() + wait
        await self._store.failed(event.id, attempt=attempt, next_at=next_at, error=error)
        _log.info(
            "webhook event %s: %s; attempt %d, again in %.1f s", event.id, error, attempt, wait
        )

    async def _disable(self, reason: str) -> None:
        if self.disabled is None:
            self.disabled = reason
            await self._store.disable_webhook(reason, now=self._clock.time())
            url = shown_url(self._url or "")
            _log.warning(
                "webhook endpoint %s answered 410 Gone: delivery stopped; events stay in the "
                "outbox (set the endpoint again to deliver them)",
                url,
            )
        self._changed.set()


async def outbox_state(stored: StoredCampaign) -> dict[str, Any] | None:
    """A campaign's webhooks for ``status`` and ``report`` (JSON-able), or None without
    an endpoint: where they go (no password), whether 410 disabled it, and the counts."""
    endpoint = await stored.webhook()
    if endpoint is None:
        return None
    counts = await stored.outbox_counts()
    return {"endpoint": shown_url(endpoint.url), "disabled": endpoint.disabled, **counts}


def outbox_line(state: dict[str, Any] | None) -> str | None:
    """One line on a campaign's webhooks (``outbox_state``), or None without an endpoint."""
    if state is None:
        return None
    disabled = f" (disabled: {state['disabled']})" if state["disabled"] else ""
    return (
        f"webhooks to {state['endpoint']}{disabled}: {state['delivered']} delivered, "
        f"{state['pending']} pending, {state['dead']} dead"
    )
