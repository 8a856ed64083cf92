"""Live control of a campaign: the store capability every store implements (contract).

A campaign has a *commanded phase*, kept in the store so that every worker of the
campaign, in any process, obeys the same one, and a command outlives a crash:

* ``running``: workers dial (the phase of a campaign no command has touched);
* ``paused``: no worker sends a new trigger; calls in flight are followed; the reason
  and who paused (an operator's command, or ``auto`` for an auto-pause) are kept;
* ``cancelling``: contacts not yet dialled end ``cancelled``; calls in flight are
  followed to their end, then the workers exit;
* ``done``: a cancel that has finished.

The clauses continue those of :mod:`._store` (C for control):

C1. ``control`` reads the commanded phase, durable and the same from any process (a
    SQLite journal held by a runner is written beside it: ``_sqlite_control_door``).
    Every command that changes something bumps ``revision``: a worker polls it (a
    cheap read) and acts when it moves.
C2. ``command`` moves the phase as :data:`MOVES` allows and writes the matching
    campaign-log entry (:attr:`Command.kind`, who, why) in the same transaction,
    durably. A command that changes nothing (pausing a paused campaign) returns the
    state unchanged, writes nothing, and reports ``changed=False``; a move the table
    refuses (resuming a cancelled campaign) raises :class:`PhaseRefused` and changes
    nothing.
C3. ``log_campaign_event`` appends one line to the campaign log (batched); a kind in
    :data:`WAKING_KINDS` also bumps ``revision``. ``campaign_log`` reads it oldest
    first, filtered by kind.
C4. ``cancel_pending`` ends every *unheld* ``scheduled`` contact ``cancelled`` with the
    reason, durably, and returns how many; held ones are the holder's to withdraw (its
    worker sees ``cancelling`` within a poll). Never a contact that may be dialling.
C5. ``retry_round`` puts the chosen final contacts back to ``scheduled``, due ``now``,
    durably: those in ``states`` (only :data:`RETRY_ROUND_STATES`; ``success`` and the
    exclusions never) with fewer than ``max_attempts`` attempts (None: any), and
    ``unknown`` ones only with ``include_unknown``. A contact whose number is now on the
    do-not-call list stays final. The earlier intents stop counting as "may have placed
    a call that did not end in a retryable outcome" (the operator asked for this round):
    clause 6 of the store is lifted for them, as ``requeue_unknown`` lifts it.
    ``retry_candidates`` counts what the same round would take, per state, changing
    nothing (the CLI prints how many people may be rung twice before asking).
C6. ``suppress`` adds numbers (E.164) to the campaign's do-not-call list, durably, and
    withdraws every unheld ``scheduled`` contact with one of them as ``suppressed``;
    returns how many it withdrew. ``definition().suppressed`` includes them from then
    on. A held contact is withdrawn by its worker before its next dial (the worker
    re-reads the list when ``revision`` moves).
C7. **Added contacts** (``polyout campaign add``) go through ``append`` with the seqs
    after everything stored, and only once the feed is ``done``: the creator's source
    keeps its positions, so a resume after a crash re-reads it exactly, and added
    batches never interleave with it (``_control_add``). While the feed is being
    read, an add is refused (:class:`FeedNotDone`). Duplicates are judged against every
    number in the campaign (``has_number``), as a first load judges them.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable
from typing import Protocol

import attrs

from polyout._campaign._errors import JournalError
from polyout._campaign._states import RETRY_ROUND, ContactState

__all__ = [
    "MOVES",
    "RETRY_ROUND_STATES",
    "WAKING_KINDS",
    "CampaignLogEntry",
    "CampaignPhase",
    "Command",
    "ControlState",
    "FeedNotDone",
    "PhaseRefused",
    "StoreControl",
    "check_round_states",
    "next_phase",
]

S = ContactState


class CampaignPhase(str, enum.Enum):
    """What the campaign's workers are told to do."""

    RUNNING = "running"
    PAUSED = "paused"
    CANCELLING = "cancelling"
    DONE = "done"

    def __str__(self) -> str:
        return self.value


class Command(str, enum.Enum):
    """A change of phase; its value is the campaign-log kind it writes."""

    PAUSE = "paused"
    AUTO_PAUSE = "auto_paused"
    RESUME = "resumed"
    CANCEL = "cancelled"
    FINISH = "cancel_finished"
    REOPEN = "reopened"
    """A finished (cancelled) campaign given work again: a retry round."""

    def __str__(self) -> str:
        return self.value


P = CampaignPhase
#: (phase now, command) -> the phase after it. A pair absent here is refused, unless
#: the command would leave the phase where it is (then it is a no-op).
MOVES: dict[tuple[CampaignPhase, Command], CampaignPhase] = {
    (P.RUNNING, Command.PAUSE): P.PAUSED,
    (P.RUNNING, Command.AUTO_PAUSE): P.PAUSED,
    (P.PAUSED, Command.RESUME): P.RUNNING,
    (P.RUNNING, Command.CANCEL): P.CANCELLING,
    (P.PAUSED, Command.CANCEL): P.CANCELLING,
    (P.CANCELLING, Command.FINISH): P.DONE,
    (P.DONE, Command.REOPEN): P.RUNNING,
    (P.CANCELLING, Command.REOPEN): P.RUNNING,
}
_STAYS = {
    Command.PAUSE: P.PAUSED,
    Command.AUTO_PAUSE: P.PAUSED,
    Command.RESUME: P.RUNNING,
    Command.CANCEL: P.CANCELLING,
    Command.FINISH: P.DONE,
    Command.REOPEN: P.RUNNING,
}

#: Final states a retry round may take back (an operator's explicit choice). Answered
#: calls (``success``) and exclusions (invalid, duplicate, suppressed) never.
RETRY_ROUND_STATES = RETRY_ROUND

#: Campaign-log kinds that bump ``revision`` (C3): each may give workers work to pick up.
WAKING_KINDS = frozenset({"contacts_added", "retry_round", "suppressed"})


class PhaseRefused(JournalError):
    """The command cannot apply in the campaign's phase (resuming a cancelled one)."""


class FeedNotDone(JournalError):
    """Contacts can be added only once the campaign's own source is read (C7)."""


@attrs.frozen
class ControlState:
    """The commanded phase and why (C1)."""

    phase: CampaignPhase = CampaignPhase.RUNNING
    reason: str | None = None
    by: str | None = None
    since: float | None = None
    revision: int = 0
    changed: bool = False
    """Set on what ``command`` returns: whether this command moved the phase."""


@attrs.frozen
class CampaignLogEntry:
    """One line of the campaign log (C3)."""

    at: float
    kind: str
    by: str | None = None
    detail: str | None = None


def next_phase(current: CampaignPhase, command: Command) -> CampaignPhase | None:
    """The phase after ``command``; None if it changes nothing; PhaseRefused if refused."""
    moved = MOVES.get((current, command))
    if moved is not None:
        return moved
    if _STAYS[command] is current:
        return None
    if command is Command.AUTO_PAUSE and current is not P.RUNNING:
        return None  # trouble seen while pausing or cancelling: nothing to add
    raise PhaseRefused(_refusal(current, command))


def _refusal(current: CampaignPhase, command: Command) -> str:
    if current in (P.CANCELLING, P.DONE):
        return f"the campaign is {'being cancelled' if current is P.CANCELLING else 'cancelled'}"
    if command is Command.FINISH:
        return f"the campaign is {current}, not cancelling"
    return f"the campaign is {current}"


def check_round_states(states: Iterable[ContactState]) -> frozenset[ContactState]:
    """The states of a retry round, refusing one a round may never take (C5)."""
    chosen = frozenset(states)
    refused = sorted(state.value for state in chosen - RETRY_ROUND_STATES - {S.UNKNOWN})
    if refused:
        raise PhaseRefused(f"a retry round never takes contacts in {', '.join(refused)}")
    return chosen


class StoreControl(Protocol):
    """The control capability of a :class:`~._store.StoredCampaign`."""

    async def control(self) -> ControlState: ...

    async def command(
        self, command: Command, *, reason: str | None, by: str, now: float
    ) -> ControlState: ...

    async def log_campaign_event(
        self, kind: str, *, detail: str | None = None, by: str | None = None, now: float
    ) -> None: ...

    async def campaign_log(
        self, kinds: Collection[str] | None = None
    ) -> list[CampaignLogEntry]: ...

    async def cancel_pending(self, reason: str, now: float) -> int: ...

    async def retry_candidates(
        self, states: Collection[ContactState], *, max_attempts: int | None, include_unknown: bool
    ) -> dict[ContactState, int]: ...

    async def retry_round(
        self,
        states: Collection[ContactState],
        *,
        max_attempts: int | None,
        include_unknown: bool,
        now: float,
    ) -> int: ...

    async def suppress(self, numbers: Collection[str], now: float) -> int: ...
