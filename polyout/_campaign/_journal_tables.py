"""The journal's tables (schema 3), and the rules they enforce; see ``_journal_schema``."""

from __future__ import annotations

from polyout._campaign._journal_tables_v3 import ADDED_IN_3, ADDED_OBJECTS
from polyout._campaign._states import ACTIVE, FINAL, RETRYABLE, TRANSITIONS

__all__ = [
    "ACTIVE_STATES",
    "APPLICATION_ID",
    "DEFAULT_CAMPAIGN",
    "FINAL_STATES",
    "REOPENABLE_OUTCOMES",
    "REQUIRED_OBJECTS",
    "RETRYABLE_OUTCOMES",
    "SCHEMA",
    "SCHEMA_VERSION",
    "TABLES",
    "TRANSITION_ROWS",
]

#: Bumped whenever the schema changes; a journal from a newer polyout is refused.
SCHEMA_VERSION = 3
APPLICATION_ID = 0x706F6C79  # "poly": marks the file as a polyout journal
#: The campaign a journal made by ``Journal.create`` (``--journal PATH``) holds.
DEFAULT_CAMPAIGN = "default"

#: States a contact ends in; each contact has exactly one of them once it is done.
FINAL_STATES = frozenset(state.value for state in FINAL)
#: A call may be under way for a contact in these states.
ACTIVE_STATES = frozenset(state.value for state in ACTIVE)
#: Outcomes of a placed call that may be dialled again later.
RETRYABLE_OUTCOMES = frozenset(state.value for state in RETRYABLE)
#: An earlier intent that ended so lets a new one be opened (the exactly-once trigger).
REOPENABLE_OUTCOMES = ("not_placed", "requeued", *sorted(RETRYABLE_OUTCOMES))

TRANSITION_ROWS: tuple[tuple[str, str], ...] = tuple(
    sorted((source.value, target.value) for source, target in TRANSITIONS)
)

TABLES = f"""
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE transitions (
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    PRIMARY KEY (from_state, to_state)
) WITHOUT ROWID;

CREATE TABLE campaigns (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL
);

CREATE TABLE campaign_meta (
    campaign INTEGER NOT NULL REFERENCES campaigns (id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (campaign, key)
) WITHOUT ROWID;

CREATE TABLE contacts (
    campaign INTEGER NOT NULL REFERENCES campaigns (id),
    seq INTEGER NOT NULL,           -- position in the input, from 0
    contact_id TEXT,
    row INTEGER,                    -- line or row number in the source file
    to_number TEXT,                 -- E.164; the raw text for an invalid row
    dialable INTEGER NOT NULL,      -- 1 when the contact was planned for dialling
    request TEXT,                   -- JSON: metadata, encryption, variant_id
    zones TEXT,                     -- JSON list of IANA zones for the calling window
    state TEXT NOT NULL,
    tries INTEGER NOT NULL DEFAULT 0,       -- intents, placed or not
    attempts INTEGER NOT NULL DEFAULT 0,    -- intents that placed (or may have placed) a call
    not_placed INTEGER NOT NULL DEFAULT 0,  -- consecutive sends that placed nothing
    next_due REAL,                  -- when a scheduled contact may be dialled
    first_due REAL,                 -- next_due as planned (a replayed feed is compared to it)
    call_sid TEXT,
    call_status TEXT,               -- the server's last status word for the current call
    poll_deadline REAL,             -- give up following the current call then
    reason TEXT,
    error TEXT,
    correlation_id TEXT,
    created_at REAL NOT NULL,
    first_attempt_at REAL,
    last_attempt_at REAL,
    finished_at REAL,
    PRIMARY KEY (campaign, seq)
);
CREATE INDEX contacts_due ON contacts (campaign, next_due, seq) WHERE state = 'scheduled';
CREATE INDEX contacts_active ON contacts (campaign, state)
    WHERE state IN ('dialing', 'in_flight');
CREATE INDEX contacts_number ON contacts (campaign, to_number);
CREATE INDEX contacts_id ON contacts (campaign, contact_id);
CREATE UNIQUE INDEX contacts_dialable_number ON contacts (campaign, to_number)
    WHERE dialable = 1;

CREATE TABLE attempts (
    campaign INTEGER NOT NULL,
    contact INTEGER NOT NULL,
    n INTEGER NOT NULL,
    started_at REAL NOT NULL,
    call_sid TEXT,
    correlation_id TEXT,
    outcome TEXT,                   -- NULL while open; a call outcome, unknown or not_placed
    reason TEXT,
    error TEXT,
    ended_at REAL,
    PRIMARY KEY (campaign, contact, n),
    UNIQUE (campaign, call_sid),
    FOREIGN KEY (campaign, contact) REFERENCES contacts (campaign, seq)
) WITHOUT ROWID;

CREATE TABLE log (
    id INTEGER PRIMARY KEY,
    campaign INTEGER NOT NULL,
    contact INTEGER NOT NULL,
    attempt INTEGER,
    at REAL NOT NULL,
    event TEXT NOT NULL,
    call_sid TEXT,
    status TEXT,
    detail TEXT
);
CREATE INDEX log_contact ON log (campaign, contact);

CREATE TABLE suppressed (
    campaign INTEGER NOT NULL REFERENCES campaigns (id),
    number TEXT NOT NULL,
    PRIMARY KEY (campaign, number)
) WITHOUT ROWID;

CREATE TRIGGER contacts_checked_transition
BEFORE UPDATE OF state ON contacts
WHEN NOT EXISTS (
    SELECT 1 FROM transitions WHERE from_state = OLD.state AND to_state = NEW.state
)
BEGIN
    SELECT RAISE(ABORT, 'polyout journal: illegal contact state transition');
END;

CREATE TRIGGER attempts_exactly_once
BEFORE INSERT ON attempts
WHEN EXISTS (
    SELECT 1 FROM attempts
    WHERE campaign = NEW.campaign AND contact = NEW.contact
      AND (outcome IS NULL OR outcome NOT IN ({", ".join(f"'{o}'" for o in REOPENABLE_OUTCOMES)}))
)
BEGIN
    SELECT RAISE(ABORT, 'polyout journal: a previous attempt may have placed a call');
END;
{ADDED_IN_3}"""

SCHEMA = f"""{TABLES}
PRAGMA user_version = {SCHEMA_VERSION};
PRAGMA application_id = {APPLICATION_ID};
"""

#: What a journal must contain; the triggers and the unique index enforce exactly-once.
REQUIRED_OBJECTS = frozenset(
    {
        *(("table", name) for name in ("meta", "transitions", "contacts", "attempts", "log")),
        *(("table", name) for name in ("campaigns", "campaign_meta", "suppressed")),
        ("trigger", "contacts_checked_transition"),
        ("trigger", "attempts_exactly_once"),
        ("index", "contacts_dialable_number"),
        *ADDED_OBJECTS,
    }
)
