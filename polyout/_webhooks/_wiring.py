"""What webhooks and the pre-dial hook add to one run of a campaign (for the facade).

Before the engine starts: the endpoint is stored with a new campaign (before its first
contact is fed, so even exclusions have their events), or read back for a resumed one,
whose secret must then be given. During the run: the delivery is a companion of the
engine, the pre-dial hook an admission. After a run that returns: ``campaign.finished``
is written when every contact is final, and the outbox is drained for ``drain`` seconds.
"""

from __future__ import annotations

from polyout._campaign._admission import Admission, Allow, Verdict
from polyout._campaign._clock import Clock
from polyout._campaign._companions import Companion, EngineHandle
from polyout._campaign._events import CampaignStats, EventBus
from polyout._campaign._store import DueContact, StoredCampaign
from polyout._errors import ConfigurationError
from polyout._log import logger
from polyout._webhooks._before_dial import BeforeDial, BeforeDialCheck, UrlHook
from polyout._webhooks._delivery import Delivery
from polyout._webhooks._settings import SECRET_ENV, Webhook, shown_url

__all__ = ["HookParts"]

_log = logger.getChild("webhooks")


class _DeliveryCompanion:
    """Delivers alongside the run; not vital: a receiver down never stops the calls."""

    name = "webhooks"
    vital = False

    def __init__(self, delivery: Delivery) -> None:
        self._delivery = delivery

    async def run(self, engine: EngineHandle) -> None:
        await self._delivery.run()


class _Backpressure:
    """Holds each dial while an async ``on_event`` callback lags far behind."""

    name = "event_backpressure"

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus

    async def admit(self, contact: DueContact, now: float) -> Verdict:
        await self._bus.room()
        return Allow()


class HookParts:
    """A campaign's webhook and pre-dial hook, for one run."""

    def __init__(
        self,
        webhook: Webhook | None,
        before_dial: BeforeDial | None,
        clock: Clock,
        bus: EventBus | None = None,
    ) -> None:
        if webhook is not None and not isinstance(webhook, Webhook):
            raise ConfigurationError("webhook", "must be a polyout.Webhook(url, secret=...)")
        if before_dial is not None and not callable(before_dial):
            raise ConfigurationError("before_dial", "must be an async function of the contact")
        self._webhook = webhook
        self._before_dial = before_dial
        self._clock = clock
        self._bus = bus
        self._delivery: Delivery | None = None
        self.pending: int | None = None
        """Events left in the outbox after the drain (None: the campaign has no webhook)."""

    async def open(self, stored: StoredCampaign, *, new: bool, name: str) -> None:
        """Store the endpoint of a new campaign, or check the stored one can be served."""
        webhook, now = self._webhook, self._clock.time()
        if webhook is not None and webhook.url is not None:
            await stored.set_webhook(webhook.url, now=now)
        elif new and webhook is not None:
            raise ConfigurationError("webhook", "a new campaign's webhook needs its url")
        endpoint = await stored.webhook()
        if endpoint is None:
            return
        if webhook is None:
            raise ConfigurationError(
                "webhook",
                f"the campaign delivers webhooks to {shown_url(endpoint.url)}: give their "
                f"secret ({SECRET_ENV}, or webhook=polyout.Webhook(secret=...))",
            )
        self._delivery = Delivery(stored, webhook, campaign=name, clock=self._clock)

    def admissions(self, name: str) -> list[Admission]:
        """The pre-dial hook (last: after every other check), and async callbacks'
        backpressure (first: a dial waits while a callback lags far behind)."""
        checks: list[Admission] = []
        if self._bus is not None and self._bus.paced:
            checks.append(_Backpressure(self._bus))
        if self._before_dial is not None:
            checks.append(BeforeDialCheck(self._before_dial, campaign=name, clock=self._clock))
        return checks

    def companions(self) -> list[Companion]:
        return [] if self._delivery is None else [_DeliveryCompanion(self._delivery)]

    async def finish(self, stored: StoredCampaign, stats: CampaignStats) -> CampaignStats:
        """After the run: the async callbacks' last events, ``campaign.finished`` if it
        is complete, then the outbox's drain."""
        if self._bus is not None:
            await self._bus.settled()
        if isinstance(self._before_dial, UrlHook):
            await self._before_dial.aclose()
        delivery, webhook = self._delivery, self._webhook
        if delivery is None or webhook is None:
            return stats
        if stats.complete:
            data = {"states": dict(stats.states), "total": stats.total}
            await stored.add_event("campaign.finished", data, now=self._clock.time())
        self.pending = await delivery.drain(webhook.drain)
        if delivery.disabled is not None:
            _log.warning("webhooks: the endpoint is disabled (%s)", delivery.disabled)
        return stats
