"""``Campaign`` over a store: a thin facade that opens the campaign and runs the engine.

Construction and resume go through one path: ``Campaign(...)`` describes a new
campaign, ``Campaign.resume(...)`` an existing one (with the settings it may change),
and both are *opened* in :meth:`Campaign.run`, where the store (async) can be asked:
a new campaign is created whole, with its settings, connection identity and
do-not-call list; an existing one is checked against this placer (same API, same
connection, same default country) before anything is sent. Then one
:class:`~._engine.Engine` runs it.

It takes a store object (``store=``, e.g. the in-memory store for tests and
rehearsals) and any :class:`~._placer.Placer` (a ``polyout.Client``, or
``polyout.testing.FakePlacer``). Until the SQLite store lands, ``journal=PATH`` is
served by the 0.1 engine in ``_runner``, which ``polyout.Campaign`` still is.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import attrs

from polyout._campaign._clock import Clock, SystemClock
from polyout._campaign._config import (
    DEFAULT_POLL_DEADLINE,
    DEFAULT_POLL_RATE,
    CampaignConfig,
    source_path,
)
from polyout._campaign._engine import Engine, Phase
from polyout._campaign._errors import JournalError
from polyout._campaign._events import CampaignEvent, CampaignStats, EventBus
from polyout._campaign._fingerprint import check_source_opens
from polyout._campaign._identity import connection_identity, identity_mismatch
from polyout._campaign._placer import Placer
from polyout._campaign._planning import checked_country, load_suppression_list
from polyout._campaign._readers import ContactSource
from polyout._campaign._schedule import CallingWindow
from polyout._campaign._store import (
    CampaignDefinition,
    CampaignExists,
    CampaignNotFound,
    CampaignStore,
    StoredCampaign,
)
from polyout._campaign._windows import check_timezone, parse_window, window_text

__all__ = ["DEFAULT_NAME", "Campaign"]

EventCallback = Callable[[CampaignEvent], object]
#: The campaign's name in its store when none is given (a journal holds one campaign).
DEFAULT_NAME = "default"


@attrs.frozen
class _Resume:
    """What a resume may change, applied to the stored settings when it is opened."""

    changes: dict[str, Any]
    default_country: str | None


class Campaign:
    """Calls every contact of ``contacts`` through ``placer``, safely and resumably.

    The settings are those of ``polyout.Campaign`` (see there); ``store`` holds the
    campaign under ``name``, which must not exist yet (use :meth:`resume` for that).
    ``seed`` makes the poll timing repeat exactly (rehearsals on a virtual clock).
    """

    def __init__(
        self,
        placer: Placer,
        contacts: ContactSource,
        *,
        store: CampaignStore,
        name: str = DEFAULT_NAME,
        rate: float = 1.0,
        concurrency: int = 50,
        max_attempts: int = 3,
        retry_delay: float = 1800.0,
        window: CallingWindow | str | None = None,
        default_timezone: str | None = None,
        default_country: str | None = None,
        suppress: Iterable[str] | str | os.PathLike[str] = (),
        poll_deadline: float = DEFAULT_POLL_DEADLINE,
        poll_interval: float | tuple[float, float] = (2.0, 5.0),
        poll_rate: float | None = DEFAULT_POLL_RATE,
        stop_grace: float = 60.0,
        max_not_placed: int = 5,
        outage_limit: float = 1800.0,
        requeue_unknown: bool = False,
        seed: int | None = None,
        clock: Clock | None = None,
        on_event: EventCallback | Iterable[EventCallback] | None = None,
        _resume: _Resume | None = None,
    ) -> None:
        self.placer = placer
        self.store = store
        self.name = name
        self._contacts = contacts
        self._resume = _resume
        self._requeue_unknown = requeue_unknown
        self._seed = seed
        self._clock: Clock = clock if clock is not None else SystemClock()
        callbacks: tuple[EventCallback, ...] = (
            () if on_event is None else (on_event,) if callable(on_event) else tuple(on_event)
        )
        self._bus = EventBus(callbacks)
        self._engine: Engine | None = None
        self._stop_asked = False
        self._suppressed: frozenset[str] = frozenset()
        self.config: CampaignConfig | None = None
        if _resume is not None:
            return  # the stored settings are read when the campaign is opened
        parsed_window = parse_window(window)
        self.config = CampaignConfig(
            rate=rate,
            concurrency=concurrency,
            max_attempts=max_attempts,
            retry_delay=retry_delay,
            window=window_text(parsed_window),
            default_timezone=check_timezone(default_timezone),
            default_country=checked_country(default_country),
            poll_deadline=poll_deadline,
            poll_interval=poll_interval,
            poll_rate=poll_rate,
            stop_grace=stop_grace,
            max_not_placed=max_not_placed,
            outage_limit=outage_limit,
            source=source_path(contacts),
            api=placer.api,
            environment=placer.environment,
        )
        self._suppressed = (
            load_suppression_list(suppress)
            if isinstance(suppress, (str, os.PathLike))
            else frozenset(suppress)
        )

    @classmethod
    def resume(
        cls,
        placer: Placer,
        *,
        store: CampaignStore,
        name: str = DEFAULT_NAME,
        contacts: ContactSource | None = None,
        rate: float | None = None,
        concurrency: int | None = None,
        poll_rate: float | None = None,
        stop_grace: float | None = None,
        requeue_unknown: bool = False,
        default_country: str | None = None,
        seed: int | None = None,
        clock: Clock | None = None,
        on_event: EventCallback | Iterable[EventCallback] | None = None,
    ) -> Campaign:
        """Continue the campaign ``name`` of ``store`` with its stored settings (see
        ``polyout.Campaign.resume``); it is checked against ``placer`` when it runs."""
        changes = {
            "rate": rate,
            "concurrency": concurrency,
            "poll_rate": poll_rate,
            "stop_grace": stop_grace,
        }
        resume = _Resume(
            {key: value for key, value in changes.items() if value is not None},
            checked_country(default_country),
        )
        return cls(
            placer,
            contacts if contacts is not None else (),
            store=store,
            name=name,
            requeue_unknown=requeue_unknown,
            seed=seed,
            clock=clock,
            on_event=on_event,
            _resume=resume,
        )

    def __repr__(self) -> str:
        return f"<Campaign {self.name!r} {self.phase}>"

    @property
    def phase(self) -> Phase:
        if self._engine is not None:
            return self._engine.phase
        return Phase.STOPPING if self._stop_asked else Phase.NEW

    # -- the public surface ---------------------------------------------------------------
    def stop(self) -> None:
        """Stop gracefully: no new triggers; calls in flight are followed for ``stop_grace``."""
        self._stop_asked = True
        if self._engine is not None:
            self._engine.stop()

    def stats(self) -> CampaignStats:
        if self._engine is not None:
            return self._engine.stats()
        return CampaignStats(
            states={},
            total=0,
            input_done=False,
            in_flight=0,
            triggers=0,
            placed=0,
            retries=0,
            not_placed=0,
            rate_limited=0,
            rate=self.config.rate if self.config is not None else 0.0,
            achieved_rate=0.0,
            elapsed=0.0,
            stopping=self._stop_asked,
            events_dropped=self._bus.dropped,
        )

    def events(self) -> AsyncIterator[CampaignEvent]:
        """Every event from now until the run ends (see ``polyout.Campaign.events``)."""
        return self._bus.subscribe()

    async def run(self, *, handle_signals: bool = False) -> CampaignStats:
        """Open the campaign and run it until every contact is final, or it is stopped."""
        if self._engine is not None:
            raise RuntimeError("a Campaign runs once: use Campaign.resume() to continue it")
        stored, source = await self._open()
        assert self.config is not None
        engine = self._engine = Engine(
            stored,
            self.placer,
            source=source,
            config=self.config,
            window=parse_window(self.config.window),
            clock=self._clock,
            bus=self._bus,
            label=f"campaign {self.name!r}",
            suppressed=self._suppressed,
            requeue_unknown=self._requeue_unknown,
            seed=self._seed,
        )
        if self._stop_asked:
            engine.stop()
        return await engine.run(handle_signals=handle_signals)

    # -- opening --------------------------------------------------------------------------
    async def _open(self) -> tuple[StoredCampaign, ContactSource]:
        if self._resume is None:
            return await self._create(), self._contacts
        return await self._reopen(self._resume)

    async def _create(self) -> StoredCampaign:
        assert self.config is not None
        # A file that cannot be read is refused before the campaign exists: one left
        # behind would make the retry refuse to run ("resume it").
        check_source_opens(self._contacts)
        definition = CampaignDefinition(
            settings=self.config.to_json(),
            connection=connection_identity(self.placer),
            suppressed=self._suppressed,
            created_at=self._clock.time(),
        )
        try:
            return await self.store.create(self.name, definition)
        except CampaignExists:
            raise JournalError(
                f"the store already holds a campaign named {self.name!r}: resume it with "
                "Campaign.resume(), or choose another name"
            ) from None

    async def _reopen(self, resume: _Resume) -> tuple[StoredCampaign, ContactSource]:
        label = f"campaign {self.name!r}"
        try:
            stored = await self.store.open(self.name)
        except CampaignNotFound:
            raise JournalError(f"the store holds no campaign named {self.name!r}") from None
        definition = await stored.definition()
        config = CampaignConfig.stored(definition.settings, label)
        placer = self.placer
        if (config.api, config.environment) != (placer.api, placer.environment):
            raise JournalError(
                f"{label} was run through the {config.api} API ({config.environment}); "
                f"this client uses {placer.api} ({placer.environment}): its call sids "
                "would mean nothing there"
            )
        mismatch = identity_mismatch(definition.connection, connection_identity(placer))
        if mismatch is not None:
            raise JournalError(
                f"{label} was run through another connection ({mismatch}): resume it "
                "through the same one, or its calls would be followed, and the rest "
                "dialled, in the wrong place"
            )
        country = resume.default_country
        if country is not None and country != config.default_country:
            # The rows already planned were read in the stored country: one list, one way.
            raise JournalError(
                f"{label} reads national numbers with default_country="
                f"{config.default_country!r}, not {country!r}"
            )
        self.config = CampaignConfig.from_json({**config.to_json(), **resume.changes})
        self._suppressed = definition.suppressed
        source = self._contacts
        if not (await stored.feed_position()).done and not _given(source):
            if config.source is None:
                raise JournalError(
                    f"{label}: the earlier run did not read all of its contacts, and they "
                    "did not come from a file: pass contacts= (the same source)"
                )
            source = config.source
        return stored, source


def _given(source: ContactSource) -> bool:
    """Whether a resume was given contacts (``()`` stands for none)."""
    return not (isinstance(source, tuple) and not source)
