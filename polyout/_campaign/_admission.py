"""Admissions: the checks a contact passes just before its intent is opened.

The dispatcher asks each :class:`Admission` in turn, after the calling window and before
the pacer's slot, whether this contact may be dialled *now*: a frequency cap, the
campaign's start and deadline, a holiday, the operator's pre-dial hook. The first answer
that is not :class:`Allow` wins:

* :class:`Defer`: not now; the contact is rescheduled to ``until`` and released (another
  worker, or this one later, judges it again then);
* :class:`Withdraw`: never; the contact ends ``state`` (``suppressed`` or ``cancelled``)
  with its reason, without any intent (store clause 14).

What every :class:`Allow` noted (``notes``) reaches the intent, so that its audit
receipt says why the dial was allowed at that moment.

Across a crash: an admission's verdict is stored by the move it causes (a reschedule or
a withdrawal, batched). A verdict lost with them is asked again when the contact comes
due again, so nothing is dialled that an admission did not allow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import attrs

from polyout._campaign._states import WITHDRAWALS, ContactState
from polyout._campaign._store import DueContact

__all__ = ["Admission", "Allow", "Defer", "Verdict", "Withdraw", "admit"]


@attrs.frozen
class Allow:
    """The contact may be dialled now."""

    notes: Mapping[str, Any] = attrs.field(factory=dict)
    """What this check saw, for the intent's audit receipt (JSON-able values)."""


@attrs.frozen
class Defer:
    """Not now: judged again at ``until``."""

    until: float
    why: str


@attrs.frozen
class Withdraw:
    """Never: the contact ends ``state`` with ``reason``."""

    state: ContactState
    reason: str

    def __attrs_post_init__(self) -> None:
        if self.state not in WITHDRAWALS:
            raise ValueError(
                f"a contact can only be withdrawn as suppressed or cancelled, not {self.state}"
            )


Verdict = Allow | Defer | Withdraw


class Admission(Protocol):
    """One check before each intent."""

    name: str
    """Names the check in logs and receipts (``frequency_cap``, ``before_dial``...)."""

    async def admit(self, contact: DueContact, now: float) -> Verdict: ...


async def admit(admissions: Sequence[Admission], contact: DueContact, now: float) -> Verdict:
    """Every admission's verdict on ``contact`` at ``now``: the first refusal, or an
    :class:`Allow` holding each check's notes under its name."""
    notes: dict[str, Any] = {}
    for admission in admissions:
        verdict = await admission.admit(contact, now)
        if not isinstance(verdict, Allow):
            return verdict
        if verdict.notes:
            notes[admission.name] = dict(verdict.notes)
    return Allow(notes)
