"""The store contract's moves on PostgreSQL, one statement each (the fast path).

Each statement is its move whole: the compare-and-set (clause 5) in a CTE, then the
contact, its intent and its log line written only when it holds, in one statement of
one round trip (``_pg_base``). It returns whether it applied. When it did not, the move
runs again the slow way (a job of ``_pg_campaign``, ``_pg_follow``) which reads the
contact, says exactly what stood in the way and raises :class:`StaleTransition` (or
finds nothing to do): refusals are rare, and their words are said once.

A move whose check reads the contact's intents is preceded by :data:`LOCK` in the same
round trip: once it holds the contact's row, the move's own statement starts with a
snapshot that sees every earlier move of that contact (a statement that waited for the
row itself would still see the intents as they were when it began). A move whose check
reads the contact's row alone locks it in its own statement (``FOR UPDATE`` returns the
row as the move that held it left it).
"""

from __future__ import annotations

from polyout._campaign._pg_rows import DUE_COLUMNS, FOLLOWED_COLUMNS, UNHELD

__all__ = [
    "CALLS_IN_FLIGHT",
    "CLAIM",
    "CLOSE_INTENT",
    "LOCK",
    "MINE",
    "NOT_PLACED_FINAL",
    "NOT_PLACED_SCHEDULED",
    "OPEN_INTENT",
    "OUTCOME_FINAL",
    "OUTCOME_RETRY",
    "PLACEMENT",
    "POLL_ERROR",
    "RELEASE",
    "RESCHEDULE",
    "STATUS",
    "UNKNOWN",
    "WITHDRAW_MINE",
    "WITHDRAW_UNHELD",
]

MINE = "held_by = %(w)s AND held_session = %(s)s"
_HERE = "campaign = %(c)s AND seq = %(q)s"
LOCK = f"SELECT 1 FROM polyout_contacts WHERE {_HERE} FOR UPDATE"
#: The contact and its latest intent, as the move finds them.
_LATEST = (
    "cur AS (SELECT c.state, c.intents, i.outcome, i.call_sid AS sid FROM polyout_contacts c"
    " LEFT JOIN polyout_intents i ON i.campaign = c.campaign AND i.seq = c.seq"
    " AND i.n = c.intents WHERE c.campaign = %(c)s AND c.seq = %(q)s)"
)
_LOG = "INSERT INTO polyout_log (campaign, seq, intent, at, event, call_sid, status, detail)"
_APPLIED = "up AS (UPDATE polyout_contacts SET {sets} WHERE {where} RETURNING seq)"


def _applied(sets: str, where: str = f"{_HERE} AND EXISTS (SELECT 1 FROM ok)") -> str:
    return _APPLIED.format(sets=sets, where=where)


def _log(event: str, *, intent: str = "%(n)s", values: str = "NULL, NULL, NULL") -> str:
    """The log line of a move that applied (``up`` returned the contact)."""
    return f"lg AS ({_LOG} SELECT %(c)s, %(q)s, {intent}, %(now)s, '{event}', {values} FROM up)"


def _move(checks: str, sets: str, event: str, values: str) -> str:
    """A move: ``checks`` (the CTEs ending in ``ok``, and what else they write), then the
    contact's row set as ``sets`` and its log line, if ``ok``; how many rows moved."""
    return f"{checks}{_applied(sets)}, {_log(event, values=values)} SELECT count(*) FROM up"


def _columns(names: str) -> str:
    return ", ".join(f"t.{name.strip()}" for name in names.split(","))


CLAIM = (
    "WITH picked AS (SELECT seq FROM polyout_contacts WHERE campaign = %(c)s"
    f" AND state = 'scheduled' AND due <= %(now)s AND {UNHELD}"
    " ORDER BY due, seq LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
    " UPDATE polyout_contacts t SET held_by = %(w)s, held_session = %(s)s"
    " FROM picked WHERE t.campaign = %(c)s AND t.seq = picked.seq"
    f" RETURNING t.due, {_columns(DUE_COLUMNS)}"
)
RELEASE = (
    "UPDATE polyout_contacts SET held_by = NULL, held_session = NULL"
    f" WHERE campaign = %(c)s AND seq = ANY(%(seqs)s) AND {MINE} AND state = 'scheduled'"
)
RESCHEDULE = (
    "WITH "
    + _applied(
        "due = %(due)s, held_by = NULL, held_session = NULL",
        f"{_HERE} AND state = 'scheduled' AND {MINE}",
    )
    + ", "
    + _log("rescheduled", intent="NULL", values="NULL, NULL, %(why)s")
    + " SELECT count(*) FROM up"
)
_WITHDRAW_SETS = (
    "state = %(state)s, due = NULL, reason = %(why)s, finished_at = %(now)s,"
    " held_by = NULL, held_session = NULL"
)
_WITHDRAWN = _log("final", intent="NULL", values="NULL, %(state)s, %(why)s")


def _withdraw(held: str) -> str:
    where = f"{_HERE} AND state = 'scheduled' AND {held}"
    return f"WITH {_applied(_WITHDRAW_SETS, where)}, {_WITHDRAWN} SELECT count(*) FROM up"


#: ``withdraw`` by a worker holding the contact, or from outside any run (unheld).
WITHDRAW_MINE = _withdraw(MINE)
WITHDRAW_UNHELD = _withdraw(UNHELD)
OPEN_INTENT = (
    "WITH cur AS (SELECT c.state, c.intents,"
    f" coalesce(c.{MINE}, false) AS held,"
    " (SELECT outcome FROM polyout_intents i WHERE i.campaign = c.campaign"
    "  AND i.seq = c.seq ORDER BY n DESC LIMIT 1) AS last,"
    " EXISTS (SELECT 1 FROM polyout_intents i WHERE i.campaign = c.campaign"
    "  AND i.seq = c.seq AND (i.outcome IS NULL OR i.outcome <> ALL(%(ok)s))) AS blocked"
    " FROM polyout_contacts c WHERE c.campaign = %(c)s AND c.seq = %(q)s),"
    " ok AS (SELECT 1 FROM cur WHERE held AND intents = %(after)s AND NOT blocked"
    "  AND (state = 'scheduled' OR (state = 'dialing' AND last = 'not_placed'))),"
    " ins AS (INSERT INTO polyout_intents (campaign, seq, n, started_at)"
    "  SELECT %(c)s, %(q)s, %(n)s, %(now)s FROM ok), "
    + _applied(
        "state = 'dialing', due = NULL, intents = %(n)s,"
        " first_at = coalesce(first_at, %(now)s), last_at = %(now)s"
    )
    + ", "
    + _log("intent")
    + " SELECT count(*) FROM up"
)
CLOSE_INTENT = (
    f"WITH {_LATEST},"
    " ok AS (SELECT 1 FROM cur WHERE state = 'dialing' AND intents = %(n)s"
    "  AND outcome IS NULL),"
    " up AS (UPDATE polyout_intents SET outcome = 'not_placed', ended_at = %(now)s,"
    f"  error = %(error)s WHERE {_HERE} AND n = %(n)s AND EXISTS (SELECT 1 FROM ok)"
    "  RETURNING seq), "
    + _log("not_placed", values="NULL, NULL, %(error)s")
    + " SELECT count(*) FROM up"
)
#: ``record_placement``: ``dialing`` (the intent open), or ``late`` (clause 3b: the
#: contact ``unknown``, its latest intent ended so without a sid), or ``again`` (that
#: sid already recorded for the intent in flight: a no-op). A sid another intent has
#: applies nothing (the slow way records the contact ``unknown``).
PLACEMENT = (
    f"WITH {_LATEST},"
    " how AS (SELECT CASE"
    "  WHEN intents = %(n)s AND sid IS NULL AND state = 'dialing' AND outcome IS NULL"
    "  THEN 'dialing'"
    "  WHEN intents = %(n)s AND sid IS NULL AND state = 'unknown' AND outcome = 'unknown'"
    "  THEN 'late'"
    "  WHEN intents = %(n)s AND state = 'in_flight' AND outcome IS NULL AND sid = %(sid)s"
    "  THEN 'again' END AS way FROM cur),"
    " ok AS (SELECT way FROM how WHERE way IN ('dialing', 'late') AND NOT EXISTS"
    "  (SELECT 1 FROM polyout_intents WHERE campaign = %(c)s AND call_sid = %(sid)s)),"
    " iu AS (UPDATE polyout_intents SET call_sid = %(sid)s, outcome = NULL, ended_at = NULL,"
    f"  error = NULL WHERE {_HERE} AND n = %(n)s AND EXISTS (SELECT 1 FROM ok)),"
    " up AS (UPDATE polyout_contacts t SET state = 'in_flight',"
    "  attempts = t.attempts + CASE ok.way WHEN 'dialing' THEN 1 ELSE 0 END,"
    "  not_placed = 0, call_sid = %(sid)s, call_status = %(status)s,"
    "  correlation_id = %(corr)s, deadline = %(deadline)s, placed_at = %(now)s,"
    "  reason = NULL, error = NULL, finished_at = NULL,"
    "  held_by = CASE ok.way WHEN 'late' THEN NULL ELSE t.held_by END,"
    "  held_session = CASE ok.way WHEN 'late' THEN NULL ELSE t.held_session END"
    "  FROM ok WHERE t.campaign = %(c)s AND t.seq = %(q)s RETURNING t.seq), "
    + _log("placed", values="%(sid)s, %(status)s, NULL")
    + " SELECT (SELECT way FROM how), (SELECT count(*) FROM up)"
)
UNKNOWN = _move(
    f"WITH {_LATEST},"
    " ok AS (SELECT 1 FROM cur WHERE state = 'dialing' AND intents = %(n)s"
    "  AND outcome IS NULL),"
    " iu AS (UPDATE polyout_intents SET outcome = 'unknown', ended_at = %(now)s,"
    f"  error = %(error)s WHERE {_HERE} AND n = %(n)s AND EXISTS (SELECT 1 FROM ok)), ",
    "attempts = attempts + 1, reason = %(why)s, error = %(error)s, state = 'unknown',"
    " finished_at = %(now)s, held_by = NULL, held_session = NULL",
    "final",
    "NULL, 'unknown', %(error)s",
)
_NOT_PLACED = (
    f"WITH {_LATEST},"
    " ok AS (SELECT outcome FROM cur WHERE state = 'dialing' AND intents = %(n)s"
    "  AND (outcome IS NULL OR outcome = 'not_placed')),"
    " iu AS (UPDATE polyout_intents SET outcome = 'not_placed', ended_at = %(now)s,"
    f"  error = %(error)s WHERE {_HERE} AND n = %(n)s"
    "  AND EXISTS (SELECT 1 FROM ok WHERE outcome IS NULL)), "
)
_AFTER_SENDS = (
    "not_placed = not_placed + 1, error = %(error)s, reason = coalesce(%(why)s, reason),"
    " held_by = NULL, held_session = NULL, "
)
#: ``record_not_placed``: back to ``scheduled`` at ``due``, or final ``state``.
NOT_PLACED_SCHEDULED = _move(
    _NOT_PLACED,
    _AFTER_SENDS + "state = 'scheduled', due = %(due)s",
    "not_placed",
    "NULL, NULL, %(error)s",
)
NOT_PLACED_FINAL = _move(
    _NOT_PLACED,
    _AFTER_SENDS + "state = %(state)s, finished_at = %(now)s",
    "final",
    "NULL, %(state)s, %(error)s",
)
CALLS_IN_FLIGHT = (
    "WITH mine AS (SELECT seq FROM polyout_contacts WHERE campaign = %(c)s"
    f" AND state = 'in_flight' AND (({MINE}) OR {UNHELD}) FOR UPDATE SKIP LOCKED)"
    " UPDATE polyout_contacts t SET held_by = %(w)s, held_session = %(s)s"
    f" FROM mine WHERE t.campaign = %(c)s AND t.seq = mine.seq"
    f" RETURNING {_columns(FOLLOWED_COLUMNS)}"
)
#: A call in flight: its checks read the contact's row alone, so locking that row here
#: is enough (a statement that waited for it reads the row as it is now).
_IN_FLIGHT = (
    "cur AS (SELECT state, intents, call_status, call_sid FROM polyout_contacts"
    f" WHERE {_HERE} FOR UPDATE), ok AS (SELECT call_sid FROM cur"
    " WHERE state = 'in_flight' AND intents = %(n)s"
)
#: ``record_status``: (call in flight, changed).
STATUS = (
    f"WITH {_IN_FLIGHT} AND call_status IS DISTINCT FROM %(status)s), "
    + _applied("call_status = %(status)s")
    + ", "
    + _log("status", values="(SELECT call_sid FROM ok), %(status)s, NULL")
    + " SELECT (SELECT state = 'in_flight' AND intents = %(n)s FROM cur),"
    " (SELECT count(*) FROM up)"
)
POLL_ERROR = (
    f"WITH {_IN_FLIGHT}),"
    f" lg AS ({_LOG} SELECT %(c)s, %(q)s, %(n)s, %(now)s, 'poll_error', call_sid, NULL,"
    " %(error)s FROM ok) SELECT count(*) FROM ok"
)
_OUTCOME = (
    f"WITH {_IN_FLIGHT}),"
    " iu AS (UPDATE polyout_intents SET outcome = %(outcome)s, ended_at = %(now)s,"
    f"  error = NULL WHERE {_HERE} AND n = %(n)s AND EXISTS (SELECT 1 FROM ok)), "
)
_ENDED = (
    "call_status = coalesce(%(status)s, call_status), reason = %(why)s, error = NULL,"
    " deadline = NULL, held_by = NULL, held_session = NULL, "
)
#: ``record_outcome``: scheduled again at ``retry_due``, or final.
OUTCOME_RETRY = _move(
    _OUTCOME, _ENDED + "state = 'scheduled', due = %(due)s", "retry", "NULL, %(outcome)s, %(why)s"
)
OUTCOME_FINAL = _move(
    _OUTCOME,
    _ENDED + "state = %(outcome)s, finished_at = %(now)s",
    "final",
    "NULL, %(outcome)s, %(why)s",
)
