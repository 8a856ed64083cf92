"""Auto-pause: the campaign pauses itself, with a stated reason, instead of burning its list.

Three kinds of trouble pause it (a companion of each run):

* **most of the last K calls ended in failure**: of the last ``failure_window``
  contacts' first calls that ended, more than ``failure_share`` ended ``failure``
  (defaults: 20, 0.8). A wrong agent, a broken number range or a carrier outage looks
  like this. Retries are left out: the contacts retried are those whose call failed
  before, so at a campaign's tail they would fill the window and pause a healthy
  campaign;
* **a run of 400s**: the API refused several triggers in a row for their content (the
  dispatcher's own threshold, ``_decisions``): the request is wrong for every contact;
* **a 401 or 403** mid-campaign: the key was revoked, or lost its rights.

Before auto-pause, the last two stopped the run (``CampaignError``); pausing keeps the
workers alive and waiting, the contact that met it is scheduled again, never charged,
and ``polyout campaign resume`` carries on once it is fixed. The pause is written to
the store (``auto_paused``, by ``auto``, with the reason), so every worker pauses,
``status`` shows why, and the report's campaign log has it.
"""

from __future__ import annotations

import asyncio
import collections

import attrs

from polyout._campaign._companions import EngineHandle
from polyout._campaign._errors import CampaignError
from polyout._campaign._events import CampaignEvent, EventKind
from polyout._campaign._states import CALL_OUTCOMES, ContactState
from polyout._campaign._store_control import Command
from polyout._errors import APIStatusError, BadRequestError
from polyout._log import logger

__all__ = ["AUTO", "AUTO_PAUSE_DEFAULTS", "AutoPause", "AutoPauseRules"]

_log = logger.getChild("campaign")
#: Who the campaign log says paused it.
AUTO = "auto"
_OUTCOMES = frozenset(state.value for state in CALL_OUTCOMES)


@attrs.frozen
class AutoPauseRules:
    """When the campaign pauses itself (see the module docstring for each)."""

    failure_window: int = 20
    """K: how many of the latest first calls are judged together (0: never on failures)."""
    failure_share: float = 0.8
    """More than this share of them ended ``failure``: pause."""
    on_refusals: bool = True
    """A run of 400s pauses instead of stopping the run."""
    on_auth: bool = True
    """A 401 or 403 pauses instead of stopping the run."""

    def __attrs_post_init__(self) -> None:
        if self.failure_window < 0:
            raise ValueError("auto_pause failure_window must be 0 or more")
        if not 0.0 < self.failure_share <= 1.0:
            raise ValueError("auto_pause failure_share must be in (0, 1]")


#: What a campaign does unless told otherwise.
AUTO_PAUSE_DEFAULTS = AutoPauseRules()


class AutoPause:
    """The companion that pauses the campaign on trouble."""

    name = "auto_pause"
    vital = False  # without it, trouble stops the run as it always did

    def __init__(self, rules: AutoPauseRules | None = None) -> None:
        self.rules = rules if rules is not None else AutoPauseRules()
        self._recent: collections.deque[bool] = collections.deque(
            maxlen=max(self.rules.failure_window, 1)
        )
        """Whether each of the latest first calls failed, oldest first."""
        self._writes: set[asyncio.Task[None]] = set()

    async def run(self, engine: EngineHandle) -> None:
        engine.handle_trouble(lambda error: self._on_trouble(engine, error))
        if not self.rules.failure_window:
            return
        async for event in engine.events():
            outcome = _call_end(event)
            if outcome is None:
                continue
            if event.intent != 1:
                continue  # a retry, or a send after sends that placed nothing
            recent, window = self._recent, self.rules.failure_window
            recent.append(outcome == ContactState.FAILURE.value)
            failed = sum(recent)
            if len(recent) == window and failed > self.rules.failure_share * window:
                self._pause(engine, f"{failed} of the last {len(recent)} calls ended in failure")
                recent.clear()  # judged afresh after a resume

    def _on_trouble(self, engine: EngineHandle, error: CampaignError) -> bool:
        cause = error.__cause__
        if isinstance(cause, BadRequestError):
            if not self.rules.on_refusals:
                return False
            why = f"the API refused triggers in a row (400: {cause.message})"
        elif isinstance(cause, APIStatusError) and cause.status_code in (401, 403):
            if not self.rules.on_auth:
                return False
            why = f"the API answered {cause.status_code}: check the API key and its rights"
        else:
            return False
        if engine.paused is None:  # else the pause stands: the refusals of requests still
            self._pause(engine, why)  # under way (status reads, a send) say nothing new
        return True

    def _pause(self, engine: EngineHandle, why: str) -> None:
        """Pause now (this worker), then tell every worker through the store."""
        engine.pause(f"{why} (auto-paused)")
        _log.warning("campaign auto-paused: %s; resume it once fixed", why)
        task = asyncio.ensure_future(self._record(engine, why))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _record(self, engine: EngineHandle, why: str) -> None:
        try:
            await engine.store.command(
                Command.AUTO_PAUSE, reason=why, by=AUTO, now=engine.clock.time()
            )
        except Exception as exc:  # the run is paused here all the same
            _log.warning("the auto-pause could not be recorded: %s", exc)


def _call_end(event: CampaignEvent) -> str | None:
    """The outcome of a call that ended, from its event; None for any other event."""
    if event.kind is EventKind.RETRY or (
        event.kind is EventKind.FINISHED and event.call_sid is not None
    ):
        return event.state if event.state in _OUTCOMES else None
    return None
