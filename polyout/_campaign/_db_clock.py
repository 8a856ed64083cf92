"""The database's clock as this process reads it: a time there, with how uncertain it is here.

A slot of the account's rate row is a moment on the database's clock. To sleep until it,
a worker needs the offset between that clock and its own loop clock. Each round trip
bounds it: the database read its clock after the request left (``asked``) and before the
answer came back (``answered``), so ``asked - db_now <= offset <= answered - db_now``.
The bounds of many round trips intersect (the minimum filter NTP uses): the offset is
then known to within the quickest round trip seen (tens of microseconds on a quiet
network), not the current one (milliseconds on a busy machine).

The two clocks may run at slightly different rates (NTP slews a clock by up to 500 ppm),
so the bounds widen by ``_DRIFT`` per second since they were last narrowed. A round trip
whose bounds do not meet the known ones (the database's clock was stepped) replaces
them.

:meth:`DbClock.local` maps a database moment to the *upper* bound, so a worker that
sleeps until it is never early; it is late by at most :attr:`DbClock.uncertainty`,
which the pacer counts as lateness (``_shared_pacer``).
"""

from __future__ import annotations

__all__ = ["DbClock"]

_DRIFT = 500e-6  # seconds per second two clocks may drift apart (NTP's largest slew)


class DbClock:
    """The offset from the database's clock (epoch seconds) to this loop's clock."""

    def __init__(self) -> None:
        self._low = float("-inf")
        self._high = float("inf")
        self._at = 0.0  # loop time the bounds were last narrowed

    def __repr__(self) -> str:
        return f"<DbClock uncertainty={self.uncertainty * 1000:.3f} ms>"

    @property
    def known(self) -> bool:
        return self._high < float("inf")

    @property
    def uncertainty(self) -> float:
        """Seconds by which a moment mapped by :meth:`local` may lie after the true one."""
        return self._high - self._low

    def observe(self, db_now: float, asked: float, answered: float) -> None:
        """One round trip: asked and answered on the loop clock, ``db_now`` read between."""
        low, high = asked - db_now, answered - db_now
        widen = _DRIFT * max(0.0, answered - self._at)
        known_low, known_high = self._low - widen, self._high + widen
        if low > known_high or high < known_low:  # a clock was stepped: start again
            known_low, known_high = low, high
        self._low, self._high = max(low, known_low), min(high, known_high)
        self._at = answered

    def local(self, db_moment: float) -> float:
        """The loop time of ``db_moment``, never before it."""
        return db_moment + self._high

    def earliest(self, db_moment: float) -> float:
        """The earliest loop time ``db_moment`` may be (``local`` minus the uncertainty)."""
        return db_moment + self._low
