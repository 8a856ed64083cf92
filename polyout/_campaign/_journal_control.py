"""The SQL of live control on a journal (tables: ``CONTROL_TABLES`` of schema 3).

Each function is one step on a :class:`~._journal.Journal`, run on its owner's thread:
the runner's writer thread, or a command's own connection beside a running runner
(``_sqlite_control_door``). A durable step commits at its end. A campaign with no
``control`` row is ``running`` at revision 0.
"""

from __future__ import annotations

from collections.abc import Collection

from polyout._campaign._journal import Journal
from polyout._campaign._journal_tables import REOPENABLE_OUTCOMES, TRANSITION_ROWS
from polyout._campaign._states import ContactState
from polyout._campaign._store_control import (
    RETRY_ROUND_STATES,
    WAKING_KINDS,
    CampaignLogEntry,
    CampaignPhase,
    Command,
    ControlState,
    next_phase,
)

__all__ = [
    "campaign_log",
    "command",
    "control_state",
    "log_event",
    "retry_round",
    "round_rows",
    "suppress_numbers",
    "withdraw_scheduled",
]

S = ContactState
_REOPENABLE = ", ".join(f"'{outcome}'" for outcome in REOPENABLE_OUTCOMES)


def control_state(journal: Journal) -> ControlState:
    row = journal.connection.execute(
        "SELECT phase, reason, by, since, revision FROM control WHERE campaign = ?",
        (journal.campaign,),
    ).fetchone()
    if row is None:
        return ControlState()
    phase, reason, by, since, revision = row
    return ControlState(CampaignPhase(phase), reason, by, since, int(revision))


def command(
    journal: Journal, what: Command, *, reason: str | None, by: str, now: float
) -> ControlState:
    """Move the phase (C2) and log it, in one step; durable."""
    with journal.atomic():
        current = control_state(journal)
        phase = next_phase(current.phase, what)
        if phase is None:
            return current
        state = ControlState(phase, reason, by, now, current.revision + 1, True)
        journal.connection.execute(
            "INSERT OR REPLACE INTO control VALUES (?, ?, ?, ?, ?, ?)",
            (journal.campaign, phase.value, reason, by, now, state.revision),
        )
        _log(journal, now, what.value, by, reason)
    journal.commit()
    return state


def log_event(
    journal: Journal, kind: str, *, detail: str | None, by: str | None, now: float
) -> None:
    """One campaign-log line (batched); a waking kind bumps the revision (C3)."""
    with journal.atomic():
        _log(journal, now, kind, by, detail)
        if kind in WAKING_KINDS:
            _bump(journal)


def campaign_log(journal: Journal, kinds: Collection[str] | None) -> list[CampaignLogEntry]:
    rows = journal.connection.execute(
        "SELECT at, kind, by, detail FROM campaign_log WHERE campaign = ? ORDER BY id",
        (journal.campaign,),
    ).fetchall()
    return [
        CampaignLogEntry(float(at), str(kind), by, detail)
        for at, kind, by, detail in rows
        if kinds is None or kind in kinds
    ]


def withdraw_scheduled(
    journal: Journal,
    state: ContactState,
    reason: str,
    now: float,
    *,
    held: Collection[int],
    numbers: Collection[str] | None = None,
) -> int:
    """Every ``scheduled`` contact not in ``held`` (with one of ``numbers``, if given)
    ends ``state``; durable. How many."""
    rows = journal.connection.execute(
        "SELECT seq, to_number FROM contacts WHERE campaign = ? AND state = 'scheduled'"
        " ORDER BY seq",
        (journal.campaign,),
    ).fetchall()
    wanted = None if numbers is None else frozenset(numbers)
    withdrawn = 0
    for seq, number in rows:
        if seq in held or (wanted is not None and number not in wanted):
            continue
        journal.withdraw(int(seq), state.value, reason=reason, now=now)
        withdrawn += 1
    journal.commit()
    return withdrawn


def suppress_numbers(journal: Journal, numbers: Collection[str]) -> None:
    """Add to the do-not-call list, bumping the revision (C6); committed by the caller."""
    with journal.atomic():
        journal.connection.executemany(
            "INSERT OR IGNORE INTO suppressed VALUES (?, ?)",
            ((journal.campaign, number) for number in numbers),
        )
        _bump(journal)


def round_rows(
    journal: Journal,
    states: Collection[ContactState],
    *,
    max_attempts: int | None,
    include_unknown: bool,
) -> list[tuple[int, str, int]]:
    """(seq, state, intents) of the contacts a retry round takes (C5), in seq order."""
    taken = {state.value for state in frozenset(states) & RETRY_ROUND_STATES}
    if include_unknown:
        taken.add(S.UNKNOWN.value)
    if not taken:
        return []
    marks = ", ".join("?" for _ in taken)
    rows = journal.connection.execute(
        "SELECT seq, state, tries FROM contacts c WHERE campaign = ? AND dialable = 1"
        f" AND state IN ({marks}) AND (? IS NULL OR attempts < ?)"
        " AND NOT EXISTS (SELECT 1 FROM suppressed s"
        "  WHERE s.campaign = c.campaign AND s.number = c.to_number)"
        " ORDER BY seq",
        (journal.campaign, *sorted(taken), max_attempts, max_attempts),
    ).fetchall()
    return [(int(seq), str(state), int(tries)) for seq, state, tries in rows]


def retry_round(journal: Journal, rows: list[tuple[int, str, int]], now: float) -> int:
    """The chosen contacts back to ``scheduled``, due ``now``; durable."""
    db = journal.connection
    moved = 0
    with journal.atomic():
        # A store last opened for writing by an older polyout lacks the round's moves.
        db.executemany("INSERT OR IGNORE INTO transitions VALUES (?, ?)", TRANSITION_ROWS)
    for seq, state, tries in rows:
        with journal.atomic():
            # The operator asked for this round: the last call's end no longer forbids a
            # new intent (the exactly-once trigger, lifted as requeue_unknown lifts it).
            db.execute(
                "UPDATE attempts SET outcome = 'requeued' WHERE campaign = ? AND contact = ?"
                f" AND n = ? AND outcome IS NOT NULL AND outcome NOT IN ({_REOPENABLE})",
                (journal.campaign, seq, tries),
            )
            cursor = db.execute(
                "UPDATE contacts SET state = 'scheduled', next_due = ?, finished_at = NULL"
                " WHERE campaign = ? AND seq = ? AND state = ?",
                (now, journal.campaign, seq, state),
            )
            if cursor.rowcount == 1:
                moved += 1
                journal.connection.execute(
                    "INSERT INTO log (campaign, contact, attempt, at, event, detail)"
                    " VALUES (?, ?, ?, ?, 'retry_round', ?)",
                    (journal.campaign, seq, tries or None, now, f"was {state}"),
                )
    journal.commit()
    return moved


def _log(journal: Journal, now: float, kind: str, by: str | None, detail: str | None) -> None:
    journal.connection.execute(
        "INSERT INTO campaign_log (campaign, at, kind, by, detail) VALUES (?, ?, ?, ?, ?)",
        (journal.campaign, now, kind, by, detail),
    )


def _bump(journal: Journal) -> None:
    journal.connection.execute(
        "INSERT INTO control (campaign, phase, revision) VALUES (?, 'running', 1)"
        " ON CONFLICT (campaign) DO UPDATE SET revision = revision + 1",
        (journal.campaign,),
    )
