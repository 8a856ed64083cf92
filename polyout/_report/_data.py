"""What the HTML report shows, added up from the store's reads in one streaming pass.

Everything comes through the async store contract (``definition``, ``counts``,
``results``, ``history``), so a report reads SQLite and PostgreSQL alike. Memory is
bounded whatever the campaign's size: per-minute counters (bounded by the campaign's
span), 24 hours, one counter per country, fixed histogram bins, and at most
:data:`ATTENTION_LIMIT` contacts listed by name. Each contact's log is read only when
it may hold more than its record says (a retry, a send that placed nothing: see
``_Tally.single_intent``), a bounded number of reads in flight at once.

A contact's results record has no ``seq``; records come in ``seq`` order and seqs are
contiguous from 0 (clause 12: a new ``seq`` is the next one), so the n-th record is
contact ``n``.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import zoneinfo
from collections.abc import Mapping
from typing import Any

import attrs

from polyout._campaign._states import CALL_OUTCOMES, DISPLAY_ORDER, ContactState
from polyout._campaign._store import LogEntry, StoredCampaign
from polyout._phone import mask_number
from polyout._report._numbers import NumberFacts, number_facts
from polyout._report._timeline import Timeline, control_timeline

__all__ = [
    "ATTENTION_LIMIT",
    "ATTENTION_STATES",
    "DURATION_BINS",
    "AttentionRow",
    "ReportData",
    "gather",
]

S = ContactState
#: Final states an operator should look at: rung or maybe rung with no clear end, or
#: never placed (a failure after every send, a number the server refused).
ATTENTION_STATES: tuple[ContactState, ...] = (S.UNKNOWN, S.EXPIRED, S.FAILURE, S.INVALID)
#: Contacts listed by name at most; the counts cover them all.
ATTENTION_LIMIT = 500
#: Outcomes of a placed call that say whether a person answered; ``expired`` and
#: ``cancelled`` say nothing about it and stay out of answer rates.
_KNOWN_OUTCOMES = frozenset({S.SUCCESS.value, S.NO_ANSWER.value, S.BUSY.value, S.FAILURE.value})
# The states as the records spell them, looked up once: a report reads 100,000 records.
_SUCCESS, _UNKNOWN, _INVALID = S.SUCCESS.value, S.UNKNOWN.value, S.INVALID.value
_ATTENTION = frozenset(s.value for s in ATTENTION_STATES)
#: The states of a contact whose one intent placed a call (an outcome, or still going).
_PLACED_ONCE = frozenset({*(s.value for s in CALL_OUTCOMES), S.IN_FLIGHT.value})
#: Upper edges (seconds) of the first-dial-to-final histogram: calls last minutes, retries
#: come hours apart, so the bins widen as they go.
DURATION_BINS: tuple[tuple[float, str], ...] = (
    (60.0, "< 1 min"),
    (120.0, "1-2 min"),
    (300.0, "2-5 min"),
    (600.0, "5-10 min"),
    (1800.0, "10-30 min"),
    (3600.0, "30-60 min"),
    (7200.0, "1-2 h"),
    (21600.0, "2-6 h"),
    (86400.0, "6-24 h"),
    (172800.0, "1-2 days"),
    (float("inf"), "> 2 days"),
)
#: Logs read at once: enough to keep the store's thread busy, few enough to stay small.
_HISTORY_BATCH = 256


@attrs.frozen
class AttentionRow:
    seq: int
    row: int | None
    contact_id: str | None
    number: str
    """Masked (``polyout.mask_number``): never the full number."""
    state: str
    attempts: int
    call_sid: str | None
    why: str | None
    finished_at: str | None


@attrs.frozen
class ReportData:
    """Every number the page shows; ``to_json`` is embedded in the page as its data."""

    name: str
    generated_at: float
    settings: Mapping[str, Any]
    connection: Mapping[str, str]
    suppressed_count: int
    created_at: float
    states: dict[str, int]
    """Contacts per state, in ``DISPLAY_ORDER`` (states with none left out)."""
    total: int
    placements: int
    """Calls the server accepted (a sid), every attempt counted."""
    possibly_placed: int
    """Sends whose answer was lost: a call may have been placed (``unknown``)."""
    placements_by_minute: dict[int, int]
    """Placements per minute, keyed by POSIX minute (seconds // 60)."""
    by_local_hour: list[tuple[int, int]]
    """For each callee-local hour 0-23: (placements with a known outcome, answered)."""
    by_country: dict[str, tuple[int, int, int]]
    """Region code -> (contacts, placements with a known outcome, answered)."""
    attempts: dict[int, int]
    """Attempts -> contacts."""
    time_to_final: list[int]
    """Contacts per :data:`DURATION_BINS` bin, first dial to final state."""
    attention_counts: dict[str, int]
    attention: tuple[AttentionRow, ...]
    first_placement: float | None
    last_activity: float | None
    timeline: Timeline
    where: str | None = None
    """The store, as it may be shown (a path, or a URL with its password masked)."""

    @property
    def open_contacts(self) -> int:
        return sum(self.states.get(s.value, 0) for s in (S.SCHEDULED, S.DIALING, S.IN_FLIGHT))

    @property
    def attention_total(self) -> int:
        return sum(self.attention_counts.values())

    def to_json(self) -> dict[str, Any]:
        data = attrs.asdict(self, recurse=True)
        data["placements_by_minute"] = {str(k): v for k, v in self.placements_by_minute.items()}
        data["attempts"] = {str(k): v for k, v in self.attempts.items()}
        data["by_country"] = {k: list(v) for k, v in self.by_country.items()}
        data["by_local_hour"] = [list(pair) for pair in self.by_local_hour]
        data["duration_bins"] = [label for _, label in DURATION_BINS]
        data["attention"] = [attrs.asdict(row) for row in self.attention]
        return data


def _time(text: object) -> float | None:
    """A results record's ISO 8601 UTC time as POSIX seconds (None when absent)."""
    if not isinstance(text, str):
        return None
    # The stores write "...Z" (UTC), which fromisoformat reads from Python 3.11 only:
    # read it as a naive UTC time, and count from the epoch without a zone lookup.
    naive = dt.datetime.fromisoformat(text[:-1] if text.endswith("Z") else text)
    if naive.tzinfo is not None:
        return naive.timestamp()
    return (naive - _EPOCH).total_seconds()


_EPOCH = dt.datetime(1970, 1, 1)


def _duration_bin(seconds: float) -> int:
    for index, (upper, _) in enumerate(DURATION_BINS):
        if seconds < upper:
            return index
    return len(DURATION_BINS) - 1


class _Tally:
    """The running sums of one pass over a campaign's records and logs."""

    def __init__(self, default_zone: str | None) -> None:
        self.default_zone = default_zone
        self.total = self.placements = self.possibly_placed = 0
        self.states: collections.Counter[str] = collections.Counter()
        self.by_minute: collections.Counter[int] = collections.Counter()
        self.hours = [[0, 0] for _ in range(24)]
        self.countries: dict[str, list[int]] = {}
        self.attempts: collections.Counter[int] = collections.Counter()
        self.durations = [0] * len(DURATION_BINS)
        self.attention_counts: collections.Counter[str] = collections.Counter()
        self.attention: list[AttentionRow] = []
        self.first: float | None = None
        self.last: float | None = None
        self._zones: dict[str, zoneinfo.ZoneInfo] = {}
        self._hours: dict[tuple[str | None, int], int | None] = {}

    def record(self, seq: int, record: Mapping[str, Any]) -> NumberFacts | None:
        """Count one results record; the facts of its number (None: not a number)."""
        state = str(record.get("state"))
        attempts = int(record.get("attempts") or 0)
        self.total += 1
        self.states[state] += 1
        self.attempts[attempts] += 1
        started, finished = _time(record.get("first_attempt_at")), _time(record.get("finished_at"))
        for moment in (_time(record.get("last_attempt_at")), finished):
            if moment is not None and (self.last is None or moment > self.last):
                self.last = moment
        if attempts and started is not None and finished is not None and state != S.SCHEDULED:
            self.durations[_duration_bin(max(finished - started, 0.0))] += 1
        if state == _UNKNOWN:
            self.possibly_placed += 1
        if state in _ATTENTION:
            self._attend(seq, record, state, attempts)
        number = record.get("to_number")
        facts = number_facts(number) if isinstance(number, str) else None
        if facts is not None and state != _INVALID:
            self.countries.setdefault(facts.region, [0, 0, 0])[0] += 1
        return facts

    def _attend(self, seq: int, record: Mapping[str, Any], state: str, attempts: int) -> None:
        self.attention_counts[state] += 1
        if len(self.attention) >= ATTENTION_LIMIT:
            return
        number = record.get("to_number")
        row = record.get("row")
        self.attention.append(
            AttentionRow(
                seq=seq,
                row=row if isinstance(row, int) else None,
                contact_id=record.get("contact_id"),
                number=mask_number(number) if isinstance(number, str) and number else "-",
                state=state,
                attempts=attempts,
                call_sid=record.get("call_sid"),
                why=record.get("reason") or record.get("error"),
                finished_at=record.get("finished_at"),
            )
        )

    def single_intent(
        self, record: Mapping[str, Any], facts: NumberFacts | None, zones: tuple[str, ...]
    ) -> bool:
        """Count a contact whose one attempt was its one intent from its record alone
        (most contacts: no log to read); False when its log is needed.

        One intent (its first and last at the same moment) that ended in a call outcome
        was placed, and ended so: its placement is timed by the intent (committed at most
        50 ms before the send). ``unknown`` placed nothing the store saw; ``in_flight``
        has no end yet. Anything else (retries, rounds, sends that placed nothing) is
        read from the log.
        """
        first, last = record.get("first_attempt_at"), record.get("last_attempt_at")
        if record.get("attempts") != 1 or first is None or first != last:
            return False
        state = record.get("state")
        if state == _UNKNOWN:
            return True
        if state not in _PLACED_ONCE:
            return False
        at = _time(first)
        assert at is not None
        self._placed(at)
        if state in _KNOWN_OUTCOMES:
            self._answer(facts, zones, at, answered=state == _SUCCESS)
        return True

    def _placed(self, at: float) -> None:
        self.placements += 1
        self.by_minute[int(at // 60)] += 1
        if self.first is None or at < self.first:
            self.first = at

    def log(
        self, facts: NumberFacts | None, zones: tuple[str, ...], entries: list[LogEntry]
    ) -> None:
        """Count one contact's placements: when, and how each one ended."""
        placed: dict[int | None, float] = {}
        for entry in entries:
            if entry.event == "placed":
                placed[entry.intent] = entry.at
                self._placed(entry.at)
            elif entry.event in ("retry", "final") and entry.intent in placed:
                at = placed.pop(entry.intent)
                if entry.status in _KNOWN_OUTCOMES:
                    self._answer(facts, zones, at, answered=entry.status == _SUCCESS)

    def _answer(
        self, facts: NumberFacts | None, zones: tuple[str, ...], at: float, *, answered: bool
    ) -> None:
        hour = self._local_hour(zones[0] if zones else None, at)
        if hour is not None:
            self.hours[hour][0] += 1
            self.hours[hour][1] += answered
        if facts is not None:
            country = self.countries.setdefault(facts.region, [0, 0, 0])
            country[1] += 1
            country[2] += answered

    def _local_hour(self, name: str | None, at: float) -> int | None:
        """The hour at ``at`` in zone ``name``; looked up once per zone and quarter hour
        (every UTC offset in use is a whole number of quarter hours)."""
        key = (name, int(at // 900))
        hour = self._hours.get(key, -1)
        if hour == -1:
            zone = self._zone(name)
            hour = None if zone is None else dt.datetime.fromtimestamp(key[1] * 900, zone).hour
            if len(self._hours) >= 65536:
                self._hours.clear()  # a long campaign: stay small
            self._hours[key] = hour
        return hour

    def _zone(self, name: str | None) -> zoneinfo.ZoneInfo | None:
        name = name or self.default_zone
        if name is None:
            return None
        if name not in self._zones:
            try:
                self._zones[name] = zoneinfo.ZoneInfo(name)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
                return None
        return self._zones[name]


async def gather(stored: StoredCampaign, *, now: float, where: str | None = None) -> ReportData:
    """Read the whole campaign once and add it up (``where``: the store, as shown)."""
    definition = await stored.definition()
    counts = await stored.counts()
    default_zone = definition.settings.get("default_timezone")
    tally = _Tally(default_zone if isinstance(default_zone, str) else None)
    batch: list[tuple[int, NumberFacts | None, tuple[str, ...]]] = []

    async def read_logs() -> None:
        logs = await asyncio.gather(*(stored.history(seq) for seq, _, _ in batch))
        for (_, facts, zones), entries in zip(batch, logs, strict=True):
            tally.log(facts, zones, entries)
        batch.clear()

    seq = 0
    async for record in stored.results():
        facts = tally.record(seq, record)
        zones = _zones_of(record, facts)
        if int(record.get("attempts") or 0) > 0 and not tally.single_intent(record, facts, zones):
            batch.append((seq, facts, zones))
            if len(batch) >= _HISTORY_BATCH:
                await read_logs()
        seq += 1
    if batch:
        await read_logs()
    # The store's counts are authoritative (a contact may have moved since its record
    # was read); the tally's are the fallback for a state counts() does not know.
    states = {str(state): n for state, n in counts.items()} or dict(tally.states)
    ordered = {s.value: states[s.value] for s in DISPLAY_ORDER if states.get(s.value)}
    ordered.update({k: v for k, v in sorted(states.items()) if k not in ordered and v})
    return ReportData(
        name=stored.name,
        generated_at=now,
        settings=_public(definition.settings),
        connection=_public(definition.connection),
        suppressed_count=len(definition.suppressed),
        created_at=definition.created_at,
        states=ordered,
        total=tally.total,
        placements=tally.placements,
        possibly_placed=tally.possibly_placed,
        placements_by_minute=dict(sorted(tally.by_minute.items())),
        by_local_hour=[(placed, answered) for placed, answered in tally.hours],
        by_country={
            region: (c[0], c[1], c[2])
            for region, c in sorted(tally.countries.items(), key=lambda item: -item[1][0])
        },
        attempts=dict(sorted(tally.attempts.items())),
        time_to_final=tally.durations,
        attention_counts={
            s.value: tally.attention_counts[s.value]
            for s in ATTENTION_STATES
            if tally.attention_counts[s.value]
        },
        attention=tuple(tally.attention),
        first_placement=tally.first,
        last_activity=tally.last,
        timeline=await control_timeline(stored),
        where=where,
    )


def _zones_of(record: Mapping[str, Any], facts: NumberFacts | None) -> tuple[str, ...]:
    """The callee's zones: the record's own when the store gives them, else the number's."""
    zones = record.get("zones")
    if isinstance(zones, (list, tuple)) and zones:
        return tuple(str(zone) for zone in zones)
    return facts.zones if facts is not None else ()


#: Words a setting's name would have if it held a credential. The store never keeps one
#: (its contract: no key in the settings or the connection identity); this is the
#: page's own guard, since a page is mailed around.
_SECRET_WORDS = ("key", "secret", "password", "token", "credential")


def _public(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if not any(w in k.lower() for w in _SECRET_WORDS)}
