"""Test doubles for code that uses polyout: virtual time and an in-process API.

Test your own integration (an ``on_event`` handler, a results export, a wrapper around
:class:`polyout.Campaign`) without a server and without waiting::

    from datetime import datetime, timezone
    from polyout.testing import LAST_DIGIT, FakePlacer, VirtualClock, rate_limit_storm

    async def test_a_night_of_calling(tmp_path):
        async with VirtualClock(start=datetime(2026, 3, 28, 23, 0, tzinfo=timezone.utc)) as clock:
            placer = FakePlacer(clock=clock, outcomes=LAST_DIGIT, duration=90.0)
            campaign = polyout.Campaign(placer, contacts, journal=tmp_path / "j.db",
                                        window="09:00-20:00", clock=clock)
            await campaign.run()   # hours of virtual time, milliseconds of wall time
        assert not placer.ledger.dialled_more_than_once()

- :class:`VirtualClock`: the running loop's time and the campaign's wall clock on one
  virtual timeline that jumps to the next timer whenever every task waits on time.
- :class:`FakePlacer`: places calls in process, by rules (outcomes, durations, faults),
  honouring the pacer protocol exactly as ``polyout.Client`` does, and records what it
  placed in :attr:`FakePlacer.ledger`.
- Faults (:class:`RateLimited`, :class:`ServerFailure`, :class:`Refused`,
  :class:`NoConnection`, :class:`AnswerLost`) and rules that place them
  (:func:`scripted`, :func:`by_number`, :func:`rate_limit_storm`, :func:`fault_mix`,
  :func:`first_of`), or any function of a :class:`Send` or a :class:`Poll`.
"""

from polyout.testing._fake_placer import FakeLedger, FakePlacer, Placement, SendRecord
from polyout.testing._faults import (
    AnswerLost,
    Fault,
    NoConnection,
    Poll,
    RateLimited,
    Refused,
    Send,
    ServerFailure,
    StatusRule,
    TriggerRule,
    by_number,
    fault_mix,
    first_of,
    rate_limit_storm,
    scripted,
)
from polyout.testing._outcomes import (
    DEFAULT_MIX,
    LAST_DIGIT,
    Duration,
    OutcomeRule,
    last_digit_outcome,
)
from polyout.testing._virtual_clock import VirtualClock

__all__ = [
    "DEFAULT_MIX",
    "LAST_DIGIT",
    "AnswerLost",
    "Duration",
    "FakeLedger",
    "FakePlacer",
    "Fault",
    "NoConnection",
    "OutcomeRule",
    "Placement",
    "Poll",
    "RateLimited",
    "Refused",
    "Send",
    "SendRecord",
    "ServerFailure",
    "StatusRule",
    "TriggerRule",
    "VirtualClock",
    "by_number",
    "fault_mix",
    "first_of",
    "last_digit_outcome",
    "rate_limit_storm",
    "scripted",
]
