"""Rehearsals: a campaign run ahead of time on a virtual clock, against a simulated API.

``polyout campaign rehearse CONTACTS`` runs the real engine (``polyout.Campaign``, its
planner, windows, pacing, retries, caps and deadline) over an in-memory store, on a
:class:`~polyout.testing.VirtualClock` started at the real now, with calls answered by a
:class:`CallModel` (an outcome mix and durations, given or taken from a past campaign
by the callee's local hour). Hours of campaign take seconds; nothing is dialled, no
journal is written, no key is needed. Seeded: a rehearsal repeats exactly.
"""

from polyout._rehearsal._forecast import Forecast
from polyout._rehearsal._model import CallModel, HourModel, parse_outcomes
from polyout._rehearsal._run import DEFAULT_SEED, rehearse

__all__ = ["DEFAULT_SEED", "CallModel", "Forecast", "HourModel", "parse_outcomes", "rehearse"]
