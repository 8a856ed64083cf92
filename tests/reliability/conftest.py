"""The reliability suite's seed: one per session, from ``POLYOUT_SEED`` or drawn fresh.

Every randomised test derives its own generator from the session seed and its node id
(``seeded`` fixture), so a test draws the same schedule whether it runs alone or with
the others. A failing test gets a ``reproduce`` section in its report naming the
command that replays it.
"""

from __future__ import annotations

import os
import random
from collections.abc import Generator

import pytest

from .helpers import SEED_ENV, Seeded

_SESSION_SEED: int | None = None


def session_seed() -> int:
    """``POLYOUT_SEED`` if set, else a fresh random seed (the same for the whole session)."""
    global _SESSION_SEED
    if _SESSION_SEED is None:
        text = os.environ.get(SEED_ENV, "").strip()
        _SESSION_SEED = int(text) if text else random.SystemRandom().randrange(1, 2**31)
    return _SESSION_SEED


@pytest.fixture
def seeded(request: pytest.FixtureRequest) -> Seeded:
    """The generator of one test, derived from the session seed and the test's node id."""
    # The node id includes a parametrized case's id: each case draws its own schedule.
    return Seeded.derive(session_seed(), request.node.nodeid)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        seed = session_seed()
        report.sections.append(
            (
                "reproduce",
                f"session seed {seed}: {SEED_ENV}={seed} make reliability\n"
                f"  or this test alone: {SEED_ENV}={seed} .venv/bin/pytest -m reliability "
                f"'{item.nodeid}'",
            )
        )
    return report
