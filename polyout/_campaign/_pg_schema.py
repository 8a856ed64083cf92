"""The PostgreSQL store's schema: created on first use, versioned, migrated forward.

One database holds any number of campaigns (each with the connection identity it calls
through, so several PolyAI accounts share one database) in ``polyout_*`` tables. The
row of ``polyout_schema`` says which version wrote them; a database written by a newer
polyout is refused, never read through older eyes. Creating and migrating run in one
transaction under an advisory lock, so workers starting together create it once.

The tables come in blocks, one per capability of the store, as SQLite's schema 3 does
(``_journal_tables_v3``): the core (campaigns, contacts, intents, log), the workers
(heartbeats), and the blocks the other capabilities fill (control, outbox, policy,
rate). Each statement is ``IF NOT EXISTS``: the same script builds a new database and
brings an older one forward.

The exactly-once rules are enforced by the database itself too, where it is cheap: at
most one open (or unfinished) intent per contact, one dialable contact per number of a
campaign, one intent per call sid of a campaign, and only the states of
:class:`~polyout._campaign._states.ContactState`.
"""

from __future__ import annotations

from typing import Any

from polyout._campaign._errors import JournalError
from polyout._campaign._states import ContactState

__all__ = [
    "CONTROL_TABLES",
    "CORE_TABLES",
    "LIFE_LOCK",
    "OUTBOX_TABLES",
    "POLICY_TABLES",
    "RATE_TABLES",
    "SCHEMA_VERSION",
    "WORKER_TABLES",
    "ensure_schema",
]

#: Bumped whenever the schema changes; a database of a newer version is refused.
SCHEMA_VERSION = 2
#: The first key of every advisory lock polyout takes ("poly").
LIFE_LOCK = 0x706F6C79
#: The second key of the lock serialising schema creation and migration.
_SCHEMA_LOCK = 0
_STATES = ", ".join(f"'{state.value}'" for state in ContactState)

CORE_TABLES = f"""
CREATE TABLE IF NOT EXISTS polyout_campaigns (
    id bigserial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    created_at double precision NOT NULL,
    settings jsonb NOT NULL,
    connection jsonb NOT NULL,          -- who the calls go through; never a key
    account text NOT NULL,              -- the connection identity, to find an account's campaigns
    feed_count bigint NOT NULL DEFAULT 0,
    feed_digest text,
    feed_done boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS polyout_campaigns_account ON polyout_campaigns (account);

CREATE TABLE IF NOT EXISTS polyout_suppressed (
    campaign bigint NOT NULL REFERENCES polyout_campaigns (id) ON DELETE CASCADE,
    number text NOT NULL,
    PRIMARY KEY (campaign, number)
);

-- No foreign key to the campaign: its one writer, append, locks the campaign's row first
-- (and a campaign is never deleted), while the per-row check cost a third of a load.
CREATE TABLE IF NOT EXISTS polyout_contacts (
    campaign bigint NOT NULL,
    seq bigint NOT NULL,
    contact_id text,
    source_row bigint,
    to_number text,
    entry_state text NOT NULL,          -- as appended: scheduled or an exclusion
    first_due double precision,         -- due as appended (a replayed feed is compared)
    request jsonb NOT NULL,
    zones jsonb NOT NULL,
    entry_reason text,
    state text NOT NULL CHECK (state IN ({_STATES})),
    due double precision,
    intents integer NOT NULL DEFAULT 0,
    attempts integer NOT NULL DEFAULT 0,
    not_placed integer NOT NULL DEFAULT 0,
    call_sid text,
    call_status text,
    correlation_id text,
    placed_at double precision,
    deadline double precision,
    reason text,
    error text,
    first_at double precision,
    last_at double precision,
    finished_at double precision,
    held_by text,                       -- the worker holding it
    held_session bigint,                -- the store instance it holds it through
    PRIMARY KEY (campaign, seq)
);
CREATE INDEX IF NOT EXISTS polyout_contacts_due
    ON polyout_contacts (campaign, due, seq) WHERE state = 'scheduled';
CREATE INDEX IF NOT EXISTS polyout_contacts_active
    ON polyout_contacts (campaign, state, held_by) WHERE state IN ('dialing', 'in_flight');
CREATE INDEX IF NOT EXISTS polyout_contacts_state ON polyout_contacts (campaign, state);
CREATE INDEX IF NOT EXISTS polyout_contacts_taken_id ON polyout_contacts (campaign, contact_id)
    WHERE entry_state IN ('scheduled', 'suppressed');
-- Clause 7: a number is dialable in one contact of a campaign. A number is *taken* (the
-- planner's duplicate check) when it is dialable or suppressed: this index and the next,
-- which holds the few suppressed ones (one index for both cost every load's row more).
-- The number leads, so it also finds a number's contacts across campaigns.
CREATE UNIQUE INDEX IF NOT EXISTS polyout_contacts_dialable_number
    ON polyout_contacts (to_number, campaign) WHERE entry_state = 'scheduled';
CREATE INDEX IF NOT EXISTS polyout_contacts_suppressed_number
    ON polyout_contacts (campaign, to_number) WHERE entry_state = 'suppressed';

CREATE TABLE IF NOT EXISTS polyout_intents (
    campaign bigint NOT NULL,
    seq bigint NOT NULL,
    n integer NOT NULL,
    started_at double precision NOT NULL,
    call_sid text,
    outcome text,                       -- NULL while open or its call in flight
    error text,
    ended_at double precision,
    PRIMARY KEY (campaign, seq, n),
    FOREIGN KEY (campaign, seq) REFERENCES polyout_contacts (campaign, seq) ON DELETE CASCADE
);
-- Exactly once: at most one unfinished intent per contact, one intent per call sid.
CREATE UNIQUE INDEX IF NOT EXISTS polyout_intents_one_open
    ON polyout_intents (campaign, seq) WHERE outcome IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS polyout_intents_sid
    ON polyout_intents (campaign, call_sid) WHERE call_sid IS NOT NULL;

CREATE TABLE IF NOT EXISTS polyout_log (
    id bigserial PRIMARY KEY,
    campaign bigint NOT NULL,
    seq bigint NOT NULL,
    intent integer,
    at double precision NOT NULL,
    event text NOT NULL,
    call_sid text,
    status text,
    detail text
);
CREATE INDEX IF NOT EXISTS polyout_log_contact ON polyout_log (campaign, seq, id);

-- The store instances (a process's PostgresStore) whose holds are alive: each holds the
-- advisory lock (LIFE_LOCK, id) for as long as its session lives.
CREATE SEQUENCE IF NOT EXISTS polyout_sessions AS integer CYCLE;
"""

#: Workers' heartbeats, on the database clock (the workers capability).
WORKER_TABLES = """
CREATE TABLE IF NOT EXISTS polyout_workers (
    campaign bigint NOT NULL REFERENCES polyout_campaigns (id) ON DELETE CASCADE,
    name text NOT NULL,
    heartbeat timestamptz NOT NULL,
    joined timestamptz NOT NULL,
    left_at timestamptz,
    PRIMARY KEY (campaign, name)
);
"""

#: Live control (pause, resume, cancel, and who asked, when): ``_store_control``,
#: ``_pg_control``. A campaign with no control row is running, at revision 0.
CONTROL_TABLES = """
CREATE TABLE IF NOT EXISTS polyout_control (
    campaign bigint PRIMARY KEY REFERENCES polyout_campaigns (id) ON DELETE CASCADE,
    phase text NOT NULL CHECK (phase IN ('running', 'paused', 'cancelling', 'done')),
    reason text,
    by text,                            -- an operator's command, or auto
    since double precision,
    revision bigint NOT NULL            -- bumped by every command: workers poll it
);
CREATE TABLE IF NOT EXISTS polyout_campaign_log (
    id bigserial PRIMARY KEY,
    campaign bigint NOT NULL REFERENCES polyout_campaigns (id) ON DELETE CASCADE,
    at double precision NOT NULL,
    kind text NOT NULL,                 -- paused, resumed, cancelled, auto_paused, ...
    by text,
    detail text
);
CREATE INDEX IF NOT EXISTS polyout_campaign_log_campaign ON polyout_campaign_log (campaign, id);
"""

#: The webhook outbox, written in the transaction of the transition each event describes
#: (``_store_outbox``; ``_pg_outbox``): as in SQLite, by triggers on the contact's log and
#: on an exclusion's insert, so no write path can forget an event.
OUTBOX_TABLES = """
CREATE TABLE IF NOT EXISTS polyout_outbox_endpoints (
    campaign bigint PRIMARY KEY REFERENCES polyout_campaigns (id) ON DELETE CASCADE,
    url text NOT NULL,                  -- never a secret: the secret is never stored
    disabled text,                      -- why delivery stopped (410 Gone)
    set_at double precision NOT NULL
);
CREATE TABLE IF NOT EXISTS polyout_outbox (
    id bigserial PRIMARY KEY,           -- the order events were written in
    campaign bigint NOT NULL REFERENCES polyout_campaigns (id) ON DELETE CASCADE,
    event_id text NOT NULL UNIQUE,
    seq bigint,                         -- the contact; NULL for a campaign's own event
    type text NOT NULL,
    created double precision NOT NULL,
    data jsonb NOT NULL,
    status text NOT NULL DEFAULT 'pending',
    attempts integer NOT NULL DEFAULT 0,
    next_at double precision,
    error text,
    response text,
    ended_at double precision
);
CREATE INDEX IF NOT EXISTS polyout_outbox_pending
    ON polyout_outbox (campaign, id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS polyout_outbox_contact_pending
    ON polyout_outbox (campaign, seq, id) WHERE status = 'pending';

CREATE OR REPLACE FUNCTION polyout_outbox_write(
    c polyout_contacts, kind text, at double precision, outcome text
) RETURNS void LANGUAGE sql AS $$
    INSERT INTO polyout_outbox (campaign, event_id, seq, type, created, data)
    VALUES (c.campaign, 'evt_' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 24),
        c.seq, kind, at, jsonb_build_object('contact_id', c.contact_id, 'position', c.seq,
        'to_number', c.to_number, 'state', c.state, 'outcome', outcome,
        'call_sid', c.call_sid, 'call_status', c.call_status, 'attempts', c.attempts,
        'reason', c.reason, 'error', c.error,
        'next_attempt_at', CASE WHEN c.state = 'scheduled' THEN c.due END))
$$;

CREATE OR REPLACE FUNCTION polyout_outbox_on_log() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    c polyout_contacts;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM polyout_outbox_endpoints WHERE campaign = NEW.campaign) THEN
        RETURN NULL;
    END IF;
    SELECT * INTO c FROM polyout_contacts WHERE campaign = NEW.campaign AND seq = NEW.seq;
    IF NEW.event = 'placed' THEN
        PERFORM polyout_outbox_write(c, 'call.placed', NEW.at, NULL);
        RETURN NULL;
    END IF;
    IF EXISTS (SELECT 1 FROM polyout_intents i WHERE i.campaign = NEW.campaign
            AND i.seq = NEW.seq AND i.n = NEW.intent AND i.call_sid IS NOT NULL
            AND i.outcome = NEW.status) THEN
        PERFORM polyout_outbox_write(c, 'call.ended', NEW.at, NEW.status);
    END IF;
    PERFORM polyout_outbox_write(c, CASE NEW.event WHEN 'retry'
        THEN 'contact.retry_scheduled' ELSE 'contact.finished' END, NEW.at, NEW.status);
    RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS polyout_outbox_on_log ON polyout_log;
CREATE TRIGGER polyout_outbox_on_log AFTER INSERT ON polyout_log
    FOR EACH ROW WHEN (NEW.event IN ('placed', 'retry', 'final'))
    EXECUTE FUNCTION polyout_outbox_on_log();

CREATE OR REPLACE FUNCTION polyout_outbox_on_exclusion() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM polyout_outbox_endpoints WHERE campaign = NEW.campaign) THEN
        PERFORM polyout_outbox_write(NEW, 'contact.finished',
            coalesce(NEW.finished_at, 0), NEW.state);
    END IF;
    RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS polyout_outbox_on_exclusion ON polyout_contacts;
CREATE TRIGGER polyout_outbox_on_exclusion AFTER INSERT ON polyout_contacts
    FOR EACH ROW WHEN (NEW.entry_state <> 'scheduled')
    EXECUTE FUNCTION polyout_outbox_on_exclusion();

-- An operator's command (live control) writes its event in the command's transaction.
CREATE OR REPLACE FUNCTION polyout_outbox_on_command() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM polyout_outbox_endpoints WHERE campaign = NEW.campaign) THEN
        INSERT INTO polyout_outbox (campaign, event_id, seq, type, created, data)
        VALUES (NEW.campaign,
            'evt_' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 24), NULL,
            CASE NEW.kind WHEN 'resumed' THEN 'campaign.resumed'
                WHEN 'cancelled' THEN 'campaign.cancelled' ELSE 'campaign.paused' END,
            NEW.at, jsonb_build_object('reason', NEW.detail, 'by', NEW."by",
                'auto', NEW.kind = 'auto_paused'));
    END IF;
    RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS polyout_outbox_on_command ON polyout_campaign_log;
CREATE TRIGGER polyout_outbox_on_command AFTER INSERT ON polyout_campaign_log
    FOR EACH ROW WHEN (NEW.kind IN ('paused', 'auto_paused', 'resumed', 'cancelled'))
    EXECUTE FUNCTION polyout_outbox_on_command();
"""

#: Contact policy across campaigns (``_store_policy``, ``_pg_policy``): each intent's
#: audit receipt in its campaign's hash chain and the chain's head (read FOR UPDATE). A
#: cap counts a number's dials campaign by campaign, through polyout_contacts_dialable_number.
POLICY_TABLES = """
CREATE TABLE IF NOT EXISTS polyout_receipts (
    campaign bigint NOT NULL,
    n bigint NOT NULL,                  -- 1, 2, ... in the campaign, no gap
    seq bigint NOT NULL,
    intent integer NOT NULL,
    body text NOT NULL,                 -- canonical JSON: why the intent was allowed
    previous text NOT NULL,             -- the hash of receipt n - 1 ('' for the first)
    hash text NOT NULL,                 -- SHA-256 of previous and body
    PRIMARY KEY (campaign, n)
);
CREATE TABLE IF NOT EXISTS polyout_receipt_heads (
    campaign bigint PRIMARY KEY,
    n bigint NOT NULL,
    hash text NOT NULL
);
"""

#: The account-wide rate (a GCRA slot row per account, on the database clock):
#: ``tat`` is the latest slot handed out, ``paused_until`` the end of the latest 429's
#: pause, ``factor`` the share of the rate a 429 left (halved, then won back slot by slot).
RATE_TABLES = """
CREATE TABLE IF NOT EXISTS polyout_rate (
    account text PRIMARY KEY,
    tat timestamptz NOT NULL DEFAULT '-infinity',
    paused_until timestamptz NOT NULL DEFAULT '-infinity',
    factor double precision NOT NULL DEFAULT 1 CHECK (factor > 0 AND factor <= 1),
    decreased_at timestamptz NOT NULL DEFAULT '-infinity',
    rate_limited bigint NOT NULL DEFAULT 0
);
-- Schema 2: the oldest cold block whose gap is still owed (_pg_rate).
ALTER TABLE polyout_rate ADD COLUMN IF NOT EXISTS
    cold_since timestamptz NOT NULL DEFAULT 'infinity';
"""

_SCRIPT = CORE_TABLES + WORKER_TABLES + CONTROL_TABLES + OUTBOX_TABLES + POLICY_TABLES + RATE_TABLES

_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS polyout_schema (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    version integer NOT NULL
)
"""


def newer_schema_message(found: int) -> str:
    return (
        f"this PostgreSQL store was written by a newer polyout (schema {found}; this "
        f"polyout knows up to {SCHEMA_VERSION}): upgrade polyout to use it"
    )


async def stored_version(conn: Any) -> int | None:
    """The schema version the database holds, None when it has no polyout tables."""
    cursor = await conn.execute("SELECT to_regclass('polyout_schema') IS NOT NULL")
    row = await cursor.fetchone()
    if not row or not row[0]:
        return None
    cursor = await conn.execute("SELECT version FROM polyout_schema")
    found = await cursor.fetchone()
    return None if found is None else int(found[0])


async def ensure_schema(conn: Any) -> None:
    """Create the schema, or bring it forward, in one transaction; refuse a newer one.

    ``conn`` is an ``AsyncConnection`` in autocommit mode (typed loosely: psycopg is an
    optional dependency)."""
    found = await stored_version(conn)
    if found == SCHEMA_VERSION:
        return
    if found is not None and found > SCHEMA_VERSION:
        raise JournalError(newer_schema_message(found))
    async with conn.transaction():
        # Workers starting together: one creates, the others wait and find it made.
        await conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LIFE_LOCK, _SCHEMA_LOCK))
        await conn.execute(_VERSION_TABLE)
        cursor = await conn.execute("SELECT version FROM polyout_schema FOR UPDATE")
        row = await cursor.fetchone()
        if row is not None and int(row[0]) > SCHEMA_VERSION:
            raise JournalError(newer_schema_message(int(row[0])))
        if row is not None and int(row[0]) == SCHEMA_VERSION:
            return
        await conn.execute(_SCRIPT)
        await conn.execute(
            "INSERT INTO polyout_schema (version) VALUES (%s) "
            "ON CONFLICT (only_row) DO UPDATE SET version = excluded.version",
            (SCHEMA_VERSION,),
        )
