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

OUTBOX_TABLES = """
"""

POLICY_TABLES = """
"""

#: The whole of what schema 3 adds, safe to run on a store that already has it.
ADDED_IN_3 = CONTROL_TABLES + OUTBOX_TABLES + POLICY_TABLES

#: (kind, name) of the objects every schema 3 store must hold.
ADDED_OBJECTS: frozenset[tuple[str, str]] = frozenset(
    {("table", "control"), ("table", "campaign_log")}
)
