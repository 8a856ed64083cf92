"""Reading and planning stream: memory does not grow with the file, apart from the
16 bytes per contact of the dedupe keys."""

from __future__ import annotations

import itertools
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from polyout._campaign import CallingWindow, ContactItem, Planned, Planner, iter_contacts

pytestmark = pytest.mark.reliability

ROWS = 200_000
TRACED_ROWS = 5_000
MB = 1024 * 1024


def write_contacts(path: Path) -> None:
    """A realistic file: metadata columns, a zone column, every 50th row a duplicate."""
    with path.open("w", encoding="utf-8") as out:
        out.write("id,phone,timezone,first_name,appointment,clinic\n")
        for n in range(ROWS):
            number = 2_000_000 + (n - 1 if n % 50 == 49 else n)
            out.write(
                f"C{n:07d},+1212{number:07d},America/New_York,Patient {n},"
                f"2026-03-{n % 28 + 1:02d} 10:{n % 60:02d},Clinic {n % 40}\n"
            )


def plan(planner: Planner, items: Iterator[ContactItem], count: int | None) -> int:
    """Plan ``count`` items (all when None), keeping nothing; how many were Planned."""
    return sum(isinstance(planner.plan(item), Planned) for item in itertools.islice(items, count))


def test_two_hundred_thousand_rows_stream_in_flat_memory(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    write_contacts(path)
    planner = Planner(window=CallingWindow.parse("Mon-Fri 09:00-20:00"))
    items = iter_contacts(path)
    # phonenumbers loads a region's metadata on first use: not the reader's memory.
    plan(Planner(), iter_contacts(path), 10)

    # tracemalloc slows allocation ~4x, so it watches the first and the last rows, and
    # the middle runs at full speed. Blocks allocated while it is off are not counted.
    tracemalloc.start()
    try:
        planned = plan(planner, items, TRACED_ROWS)
        _, opening_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        planned += plan(planner, items, ROWS - 2 * TRACED_ROWS)
        tracemalloc.start()
        planned += plan(planner, items, None)
        held_at_the_end, closing_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert planned == ROWS - ROWS // 50
    # Opening the file and the first rows: buffers and a small dedupe set, not the file
    # (the rows take ~20 MB as text, ~100 MB as Contact objects).
    assert opening_peak < 1 * MB
    # The last rows leave nothing behind (the dedupe table did not grow in them: it
    # doubles at 174,763 keys, and holds 2 x 4 MB from then on).
    assert held_at_the_end < 64 * 1024
    assert closing_peak < 256 * 1024
