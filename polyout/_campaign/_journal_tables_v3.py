"""What schema 3 adds to the SQLite store: one block of tables per capability.

Schema 3 is schema 2 plus the tables below, each created ``IF NOT EXISTS`` so that one
script both builds a new store and upgrades a schema 2 one in place (in one transaction,
``_journal_migrate``). Each block belongs to one capability of the store contract:

* ``CONTROL_TABLES``: live control (pause, resume, cancel, and who asked, when);
* ``OUTBOX_TABLES``: the webhook outbox, written in the transaction of the transition
  each event describes;
* ``POLICY_TABLES``: contact policy across campaigns (audit receipts, quarantine).

A table added here must also be named in ``ADDED_OBJECTS`` when its absence would break
a promise (a store without it is then refused as damaged).
"""

from __future__ import annotations

__all__ = ["ADDED_IN_3", "ADDED_OBJECTS", "CONTROL_TABLES", "OUTBOX_TABLES", "POLICY_TABLES"]

CONTROL_TABLES = """
CREATE TABLE IF NOT EXISTS control (
    campaign INTEGER PRIMARY KEY REFERENCES campaigns (id),
    phase TEXT NOT NULL,            -- running, paused, cancelling, done (_store_control)
    reason TEXT,
    by TEXT,                        -- who commanded it: an operator's command, or auto
    since REAL,
    revision INTEGER NOT NULL       -- bumped by every command: workers poll it
);
CREATE TABLE IF NOT EXISTS campaign_log (
    id INTEGER PRIMARY KEY,
    campaign INTEGER NOT NULL REFERENCES campaigns (id),
    at REAL NOT NULL,
    kind TEXT NOT NULL,             -- paused, resumed, cancelled, auto_paused, retry_round, ...
    by TEXT,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS campaign_log_kind ON campaign_log (campaign, kind);
"""

# The outbox (clauses O1-O8 of ``_store_outbox``). Events are written by triggers on the
# contact's history, an exclusion's insert and an operator's command: each is written in
# its own transaction, so its events commit or vanish with it, with no write path able
# to forget them. ``data`` is read from the contact row as the transition left it.
_CONTACT_DATA = """json_object('contact_id', c.contact_id, 'position', c.seq,
        'to_number', c.to_number, 'state', c.state, 'outcome', {outcome},
        'call_sid', c.call_sid, 'call_status', c.call_status, 'attempts', c.attempts,
        'reason', c.reason, 'error', c.error,
        'next_attempt_at', CASE WHEN c.state = 'scheduled' THEN c.next_due END)"""
_EVENT_ID = "'evt_' || lower(hex(randomblob(12)))"


def _log_event(type: str, when: str, outcome: str) -> str:
    return f"""
    INSERT INTO outbox (campaign, event_id, contact, type, created, data)
    SELECT NEW.campaign, {_EVENT_ID}, NEW.contact, '{type}', NEW.at,
        {_CONTACT_DATA.format(outcome=outcome)}
    FROM contacts c WHERE c.campaign = NEW.campaign AND c.seq = NEW.contact AND ({when});"""


_CALL_ENDED = """NEW.event IN ('retry', 'final') AND EXISTS (SELECT 1 FROM attempts a
        WHERE a.campaign = NEW.campaign AND a.contact = NEW.contact AND a.n = NEW.attempt
        AND a.call_sid IS NOT NULL AND a.outcome = NEW.status)"""

_LOG_EVENTS = "".join(
    (
        _log_event("call.placed", "NEW.event = 'placed'", "NULL"),
        _log_event("call.ended", _CALL_ENDED, "NEW.status"),
        _log_event("contact.retry_scheduled", "NEW.event = 'retry'", "NEW.status"),
        _log_event("contact.finished", "NEW.event = 'final'", "NEW.status"),
    )
)

OUTBOX_TABLES = f"""
CREATE TABLE IF NOT EXISTS outbox_endpoints (
    campaign INTEGER PRIMARY KEY REFERENCES campaigns (id),
    url TEXT NOT NULL,              -- never a secret: the secret is never stored
    disabled TEXT,                  -- why delivery stopped (410 Gone), NULL while enabled
    set_at REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,         -- the order events were written in
    campaign INTEGER NOT NULL REFERENCES campaigns (id),
    event_id TEXT NOT NULL UNIQUE,
    contact INTEGER,                -- the contact's seq; NULL for a campaign's own event
    type TEXT NOT NULL,
    created REAL NOT NULL,
    data TEXT NOT NULL,             -- JSON
    status TEXT NOT NULL DEFAULT 'pending',  -- pending, delivered, dead
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL,
    error TEXT,
    response TEXT,                  -- a dead event's answer (the dead-letter list)
    ended_at REAL
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (campaign, id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS outbox_contact_pending ON outbox (campaign, contact, id)
    WHERE status = 'pending';

CREATE TRIGGER IF NOT EXISTS outbox_on_log
AFTER INSERT ON log
WHEN NEW.event IN ('placed', 'retry', 'final')
    AND EXISTS (SELECT 1 FROM outbox_endpoints WHERE campaign = NEW.campaign)
BEGIN{_LOG_EVENTS}
END;

CREATE TRIGGER IF NOT EXISTS outbox_on_exclusion
AFTER INSERT ON contacts
WHEN NEW.dialable = 0
    AND EXISTS (SELECT 1 FROM outbox_endpoints WHERE campaign = NEW.campaign)
BEGIN
    INSERT INTO outbox (campaign, event_id, contact, type, created, data)
    SELECT NEW.campaign, {_EVENT_ID}, NEW.seq, 'contact.finished',
        COALESCE(NEW.finished_at, NEW.created_at),
        {_CONTACT_DATA.format(outcome="c.state")}
    FROM contacts c WHERE c.campaign = NEW.campaign AND c.seq = NEW.seq;
END;

CREATE TRIGGER IF NOT EXISTS outbox_on_command
AFTER INSERT ON campaign_log
WHEN NEW.kind IN ('paused', 'auto_paused', 'resumed', 'cancelled')
    AND EXISTS (SELECT 1 FROM outbox_endpoints WHERE campaign = NEW.campaign)
BEGIN
    INSERT INTO outbox (campaign, event_id, contact, type, created, data)
    VALUES (NEW.campaign, {_EVENT_ID}, NULL,
        CASE NEW.kind WHEN 'resumed' THEN 'campaign.resumed'
            WHEN 'cancelled' THEN 'campaign.cancelled' ELSE 'campaign.paused' END,
        NEW.at, json_object('reason', NEW.detail, 'by', NEW.by,
            'auto', json(CASE NEW.kind WHEN 'auto_paused' THEN 'true' ELSE 'false' END)));
END;
"""

# Contact policy (clauses P1-P5 of ``_store_policy``): each intent's audit receipt, sealed
# in its campaign's hash chain, and the chain's head. A cap counts a number's dials
# through the (campaign, to_number) index every store has, one campaign after another.
POLICY_TABLES = """
CREATE TABLE IF NOT EXISTS receipts (
    campaign INTEGER NOT NULL REFERENCES campaigns (id),
    n INTEGER NOT NULL,             -- 1, 2, ... in the campaign, no gap
    contact INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    body TEXT NOT NULL,             -- canonical JSON: why the intent was allowed
    previous TEXT NOT NULL,         -- the hash of receipt n - 1 ('' for the first)
    hash TEXT NOT NULL,             -- SHA-256 of previous and body
    PRIMARY KEY (campaign, n)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS receipt_heads (
    campaign INTEGER PRIMARY KEY REFERENCES campaigns (id),
    n INTEGER NOT NULL,
    hash TEXT NOT NULL
);
"""

#: The whole of what schema 3 adds, safe to run on a store that already has it.
ADDED_IN_3 = CONTROL_TABLES + OUTBOX_TABLES + POLICY_TABLES

#: (kind, name) of the objects every schema 3 store must hold.
ADDED_OBJECTS: frozenset[tuple[str, str]] = frozenset(
    {
        ("table", "control"),
        ("table", "campaign_log"),
        ("table", "outbox_endpoints"),
        ("table", "outbox"),
        ("trigger", "outbox_on_log"),  # without it, events would go missing in silence
        ("trigger", "outbox_on_exclusion"),
        ("trigger", "outbox_on_command"),
        ("table", "receipts"),
        ("table", "receipt_heads"),
    }
)
