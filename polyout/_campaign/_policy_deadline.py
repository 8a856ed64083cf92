"""The campaign's deadline (``end_by``) as a companion of the run: how the run ends.

At the deadline every contact still ``scheduled`` and held by no worker ends
``cancelled`` with the reason ``deadline`` (``cancel_pending``, durable); a contact a
worker holds is withdrawn by the policy admission as it reaches it, and one that comes
back ``scheduled`` later (a retry after a call that was in flight at the deadline) is
swept on the next pass. Calls in flight are followed to their end, then the run ends:
nothing is left to dial.

Across a crash: the sweep is durable; a resume after the deadline sweeps at once, and
the admission withdraws whatever it reaches first.
"""

from __future__ import annotations

from polyout._campaign._companions import EngineHandle
from polyout._log import logger

__all__ = ["DEADLINE", "DeadlineSweep"]

DEADLINE = "deadline"
#: Seconds between sweeps once the deadline has passed (retries scheduled meanwhile).
SWEEP_INTERVAL = 1.0
_log = logger.getChild("campaign")


class DeadlineSweep:
    """Cancels what is left to dial once ``end_by`` (POSIX seconds) has come."""

    name = "deadline"
    vital = True  # without it, a run would wait past its deadline for contacts it may not dial

    def __init__(self, end_by: float) -> None:
        self._end_by = end_by

    async def run(self, engine: EngineHandle) -> None:
        clock = engine.clock
        announced = False
        while True:
            now = clock.time()
            if now < self._end_by:
                await clock.sleep(self._end_by - now)
                continue
            cancelled = await engine.store.cancel_pending(DEADLINE, now)
            if cancelled or not announced:
                if cancelled:
                    _log.info("deadline reached: %d contacts not dialled are cancelled", cancelled)
                announced = True
                refresh = getattr(engine, "refresh", None)
                if refresh is not None:
                    await refresh()  # the run's counts: what was cancelled is not left to do
                engine.wake()
            await clock.sleep(SWEEP_INTERVAL)
