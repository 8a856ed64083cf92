"""Seeded contact lists and fault schedules for the reliability suite's campaigns.

A list mixes people to call (whose number's last digit picks the sandbox's outcome)
with rows that must never be dialled: invalid numbers, the same person again in
another spelling, and numbers on the suppression list. A fault schedule mixes every
fault the sandbox can inject, each at a rate drawn from the seed.
"""

from __future__ import annotations

import attrs

from polyout._campaign._contacts import Contact
from polyout.sandbox import FaultConfig, SandboxConfig

from .helpers import Seeded

__all__ = ["ContactList", "FaultSchedule", "contact_list", "fault_schedule", "number"]

_INVALID = [
    "12",
    "+44",
    "not a phone",
    "+1 212 555 O123",  # a letter O where a zero belongs
    "+999 1234 5678",
    "+1212555１２３４x",
    "",
]


def number(index: int, last_digit: int) -> str:
    """A distinct valid New York number; its last digit picks the sandbox's outcome.

    0-6 complete, 7 no answer, 8 busy, 9 fail (the sandbox's "last-digit" rule).
    """
    return f"+1212555{1000 + index * 10 + last_digit:04d}"


def _respelled(e164: str) -> str:
    """The same number as a person would type it: +1 212-555-1234."""
    return f"+1 {e164[2:5]}-{e164[5:8]}-{e164[8:]}"


@attrs.frozen
class ContactList:
    contacts: tuple[Contact, ...]
    suppressed: frozenset[str]

    @property
    def ids(self) -> list[str]:
        return [contact.id for contact in self.contacts]


def contact_list(seeded: Seeded, size: int, *, excluded_share: float = 0.15) -> ContactList:
    """``size`` contacts, about ``excluded_share`` of them never to be dialled."""
    rng = seeded.random
    contacts: list[Contact] = []
    dialable: list[str] = []
    suppressed: set[str] = set()
    for index in range(size):
        contact_id = f"c{index}"
        roll = rng.random()
        if roll < excluded_share / 3:
            contacts.append(Contact(id=contact_id, phone=rng.choice(_INVALID)))
        elif roll < 2 * excluded_share / 3 and dialable:
            contacts.append(Contact(id=contact_id, phone=_respelled(rng.choice(dialable))))
        elif roll < excluded_share:
            phone = number(index, rng.randrange(10))
            suppressed.add(phone)
            contacts.append(Contact(id=contact_id, phone=phone))
        else:
            phone = number(index, rng.randrange(10))
            dialable.append(phone)
            contacts.append(Contact(id=contact_id, phone=phone, metadata={"n": str(index)}))
    return ContactList(tuple(contacts), frozenset(suppressed))


@attrs.frozen
class FaultSchedule:
    """A sandbox with its faults, and the campaign settings that run against it."""

    api: str
    sandbox: SandboxConfig
    rate: float
    max_attempts: int
    retry_delay: float

    def describe(self) -> str:
        faults = self.sandbox.faults
        return (
            f"api={self.api} rate={self.rate:g}/s limit={faults.rate_limit} "
            f"500={faults.trigger_500_rate:.2f} 502={faults.trigger_502_rate:.2f} "
            f"cut={faults.cut_rate:.2f} status5xx={faults.status_error_rate:.2f} "
            f"latency={faults.trigger_latency}/{faults.status_latency} "
            f"retention={self.sandbox.retention:g} call={self.sandbox.call_duration:g} "
            f"max_attempts={self.max_attempts} seed={self.sandbox.seed}"
        )


def _sometimes(seeded: Seeded, chance: float, low: float, high: float) -> float:
    rng = seeded.random
    return rng.uniform(low, high) if rng.random() < chance else 0.0


def fault_schedule(seeded: Seeded, *, time_scale: float) -> FaultSchedule:
    """Every fault the sandbox knows, each switched on and sized by the seed."""
    rng = seeded.random
    rate = float(rng.randrange(80, 250))
    storm = rng.random() < 0.6  # a rate limit well under the campaign's rate: 429 storms
    spike = _sometimes(seeded, 0.6, 0.01, 0.08)
    faults = FaultConfig(
        rate_limit=rng.randrange(40, 100) if storm else None,
        trigger_500_rate=_sometimes(seeded, 0.7, 0.02, 0.2),
        trigger_502_rate=_sometimes(seeded, 0.7, 0.02, 0.2),
        cut_rate=_sometimes(seeded, 0.8, 0.02, 0.15),
        status_error_rate=_sometimes(seeded, 0.7, 0.05, 0.3),
        trigger_latency=(0.0, spike),
        status_latency=(0.0, spike / 2),
    )
    sandbox = SandboxConfig(
        outcomes="last-digit",
        time_scale=time_scale,
        call_duration=rng.uniform(5.0, 120.0),
        # Sometimes a status vanishes before the campaign reads the end of its call.
        retention=rng.choice([7200.0, rng.uniform(0.0, 60.0)]),
        seed=rng.randrange(2**31),
        faults=faults,
    )
    return FaultSchedule(
        api=rng.choice(["agents", "platform", "connector"]),
        sandbox=sandbox,
        rate=rate,
        max_attempts=rng.randrange(1, 4),
        retry_delay=rng.uniform(20.0, 200.0),
    )
