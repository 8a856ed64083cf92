"""Shared pieces of the reliability suite: seeds, and the invariants every run must keep.

The invariants compare two independent records of one campaign: the journal (what the
runner believes it did) and the sandbox's ledger (what the server really placed). They
are checked after every run, crashed or not, and each broken one is reported with the
contact it concerns, so one failure message shows everything that went wrong.
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

from polyout._campaign._journal import FINAL_STATES
from polyout._campaign._states import EXCLUSIONS
from polyout.sandbox import Placement

__all__ = [
    "SEED_ENV",
    "JournalView",
    "Seeded",
    "assert_no_problems",
    "campaign_problems",
]

SEED_ENV = "POLYOUT_SEED"
# Attempt outcomes after which the journal lets the same contact be dialled again.
_REDIALLABLE = frozenset({"not_placed", "requeued", "no_answer", "busy", "failure"})


@attrs.frozen
class Seeded:
    """A test's seed and its generator; ``child`` derives independent ones by name."""

    seed: int
    random: random.Random = attrs.field(eq=False, repr=False)

    @classmethod
    def derive(cls, parent: int, name: str) -> Seeded:
        digest = hashlib.sha256(f"{parent}/{name}".encode()).digest()
        seed = int.from_bytes(digest[:4], "big")
        return cls(seed, random.Random(seed))

    def child(self, name: str) -> Seeded:
        return Seeded.derive(self.seed, name)


# -- the journal, read as plain tables ---------------------------------------------------------
@attrs.frozen
class JournalContact:
    seq: int
    contact_id: str | None
    to_number: str | None
    dialable: bool
    state: str
    tries: int
    attempts: int
    call_sid: str | None


@attrs.frozen
class JournalAttempt:
    contact: int
    n: int
    call_sid: str | None
    outcome: str | None


@attrs.frozen
class LogEntry:
    contact: int
    attempt: int | None
    event: str
    call_sid: str | None


@attrs.frozen
class JournalView:
    """Every contact, attempt and log line of a journal, read with plain SQL."""

    contacts: tuple[JournalContact, ...]
    attempts: tuple[JournalAttempt, ...]
    log: tuple[LogEntry, ...]

    @classmethod
    def read(cls, path: Path) -> JournalView:
        db = sqlite3.connect(path)
        try:
            contacts = tuple(
                JournalContact(row[0], row[1], row[2], bool(row[3]), *row[4:])
                for row in db.execute(
                    "SELECT seq, contact_id, to_number, dialable, state, tries, attempts,"
                    " call_sid FROM contacts ORDER BY seq"
                )
            )
            attempts = tuple(
                JournalAttempt(*row)
                for row in db.execute(
                    "SELECT contact, n, call_sid, outcome FROM attempts ORDER BY contact, n"
                )
            )
            log = tuple(
                LogEntry(*row)
                for row in db.execute(
                    "SELECT contact, attempt, event, call_sid FROM log ORDER BY id"
                )
            )
        finally:
            db.close()
        return cls(contacts, attempts, log)

    def states(self) -> Counter[str]:
        return Counter(contact.state for contact in self.contacts)


# -- the invariants ----------------------------------------------------------------------------
def _journal_outcome(ledger_outcome: str, api: str) -> str:
    """The final state the journal must show for a call the sandbox ended with this outcome."""
    if ledger_outcome == "completed":
        return "success"
    if api != "connector":  # the Agents and Platform APIs only say SUCCESS or FAILURE
        return "failure"
    return {"failed": "failure"}.get(ledger_outcome, ledger_outcome)


def campaign_problems(
    journal: JournalView,
    placements: Sequence[Placement],
    *,
    api: str,
    expected_ids: Sequence[str] | None = None,
    interrupted: bool = False,
) -> list[str]:
    """Every broken promise of a finished campaign, as one line each (empty: all kept).

    ``interrupted``: the runner was killed along the way, so an intent may have been
    cut short at any point (before sending, or after the server placed the call but
    before the sid was journaled). Both end ``unknown``; the exact equalities of an
    uninterrupted run become bounds.
    """
    problems: list[str] = []
    problems += _one_final_state_each(journal, expected_ids)
    problems += _attempts_well_formed(journal)
    problems += _ledger_agrees(journal, placements, api=api, interrupted=interrupted)
    return problems


def _one_final_state_each(journal: JournalView, expected_ids: Sequence[str] | None) -> list[str]:
    problems = []
    seqs = [contact.seq for contact in journal.contacts]
    if seqs != list(range(len(seqs))):
        problems.append(f"contact positions are not 0..{len(seqs) - 1}: a row was lost or doubled")
    if expected_ids is not None:
        ids = [contact.contact_id for contact in journal.contacts]
        if ids != list(expected_ids):
            missing = Counter(expected_ids) - Counter(i for i in ids if i is not None)
            extra = Counter(i for i in ids if i is not None) - Counter(expected_ids)
            problems.append(
                f"{len(ids)} contacts journaled for {len(expected_ids)} inputs"
                f" (missing {sorted(missing)[:5]}, extra {sorted(extra)[:5]}, or out of order)"
            )
    for contact in journal.contacts:
        if contact.state not in FINAL_STATES:
            problems.append(f"contact #{contact.seq} ended {contact.state!r}, not a final state")
    return problems


def _attempts_well_formed(journal: JournalView) -> list[str]:
    problems = []
    by_contact: dict[int, list[JournalAttempt]] = defaultdict(list)
    for attempt in journal.attempts:
        by_contact[attempt.contact].append(attempt)
    intents = Counter((e.contact, e.attempt) for e in journal.log if e.event == "intent")
    logged_sids = {e.call_sid: (e.contact, e.attempt) for e in journal.log if e.event == "placed"}
    for contact in journal.contacts:
        attempts = by_contact.get(contact.seq, [])
        if contact.state in EXCLUSIONS and (attempts or contact.tries or contact.attempts):
            problems.append(f"excluded contact #{contact.seq} ({contact.state}) has attempts")
        if [a.n for a in attempts] != list(range(1, contact.tries + 1)):
            problems.append(
                f"contact #{contact.seq}: tries={contact.tries} but attempts {attempts}"
            )
        placed_or_maybe = [a for a in attempts if a.call_sid is not None or a.outcome == "unknown"]
        if len(placed_or_maybe) != contact.attempts:
            problems.append(
                f"contact #{contact.seq}: attempts={contact.attempts} but "
                f"{len(placed_or_maybe)} attempts placed or may have placed a call"
            )
        for earlier in attempts[:-1]:
            if earlier.outcome not in _REDIALLABLE:
                problems.append(
                    f"contact #{contact.seq}: attempt {earlier.n} ended {earlier.outcome!r}"
                    " and yet another attempt followed"
                )
        for attempt in attempts:
            if intents[(contact.seq, attempt.n)] != 1:
                problems.append(
                    f"contact #{contact.seq} attempt {attempt.n}: "
                    f"{intents[(contact.seq, attempt.n)]} intents in the log"
                )
            if attempt.call_sid is not None and logged_sids.get(attempt.call_sid) != (
                contact.seq,
                attempt.n,
            ):
                problems.append(
                    f"contact #{contact.seq} attempt {attempt.n}: sid {attempt.call_sid} "
                    "is not logged as placed for it"
                )
    return problems


def _ledger_agrees(
    journal: JournalView, placements: Sequence[Placement], *, api: str, interrupted: bool
) -> list[str]:
    problems = []
    dialable = {c.to_number: c for c in journal.contacts if c.dialable}
    attempts_of: dict[int, list[JournalAttempt]] = defaultdict(list)
    for attempt in journal.attempts:
        attempts_of[attempt.contact].append(attempt)
    placed_to: dict[str, list[Placement]] = defaultdict(list)
    for placement in placements:
        placed_to[placement.number].append(placement)

    for number, calls in placed_to.items():
        contact = dialable.get(number)
        if contact is None:
            problems.append(
                f"{len(calls)} placements to a number no dialable contact holds "
                f"(sids {[c.sid for c in calls][:3]}): invalid, duplicate or suppressed?"
            )
            continue
        attempts = attempts_of.get(contact.seq, [])
        journal_sids = {a.call_sid for a in attempts if a.call_sid is not None}
        unseen = [c for c in calls if c.sid not in journal_sids]
        # Attempts whose answer never reached the journal: the only ones a placement
        # may hide behind.
        blind = [a for a in attempts if a.call_sid is None and a.outcome == "unknown"]
        if len(calls) > contact.attempts:
            problems.append(
                f"contact #{contact.seq}: {len(calls)} placements for {contact.attempts} attempts"
            )
        if len(unseen) > len(blind):
            problems.append(
                f"contact #{contact.seq}: {len(unseen)} placements the journal has no sid for,"
                f" but only {len(blind)} attempts ended unknown without one"
            )
        if not interrupted:
            for call in unseen:
                if not call.cut:
                    problems.append(
                        f"contact #{contact.seq}: placement {call.sid} was answered normally"
                        " and yet is not in the journal"
                    )
            if len(unseen) != len(blind):
                problems.append(
                    f"contact #{contact.seq}: {len(blind)} unknown attempts but "
                    f"{len(unseen)} cut placements"
                )
        by_sid = {c.sid: c for c in calls}
        for attempt in attempts:
            if attempt.call_sid is None:
                continue
            placed = by_sid.get(attempt.call_sid)
            if placed is None:
                problems.append(
                    f"contact #{contact.seq}: journal sid {attempt.call_sid} was never placed"
                    " to its number"
                )
            elif attempt.outcome not in (_journal_outcome(placed.outcome, api), "expired"):
                problems.append(
                    f"contact #{contact.seq}: call {attempt.call_sid} ended "
                    f"{placed.outcome!r} on the server, journaled as {attempt.outcome!r}"
                )

    for contact in dialable.values():
        assert contact.to_number is not None
        calls = placed_to.get(contact.to_number, [])
        attempts = attempts_of.get(contact.seq, [])
        journal_sids = {a.call_sid for a in attempts if a.call_sid is not None}
        if len(journal_sids) > len(calls):
            problems.append(
                f"contact #{contact.seq}: {len(journal_sids)} sids journaled, "
                f"{len(calls)} placements"
            )
        if not interrupted and len(calls) != contact.attempts:
            problems.append(
                f"contact #{contact.seq}: {contact.attempts} attempts journaled, "
                f"{len(calls)} placements on the server"
            )
    if not interrupted:
        cuts = sum(1 for p in placements if p.cut)
        unknown = sum(1 for c in journal.contacts if c.state == "unknown")
        if cuts != unknown:
            problems.append(f"{unknown} contacts unknown but {cuts} connections cut after placing")
    return problems


def assert_no_problems(problems: Iterable[str], *, context: str) -> None:
    listed = list(problems)
    if listed:
        shown = "\n  ".join(listed[:25])
        more = f"\n  ... and {len(listed) - 25} more" if len(listed) > 25 else ""
        raise AssertionError(f"{len(listed)} broken promises ({context}):\n  {shown}{more}")
