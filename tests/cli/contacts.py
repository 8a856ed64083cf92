"""Contact files for the campaign command tests.

Numbers are UK mobiles ``+4474001234NN``: the sandbox's last-digit rule answers those
ending 0-6 and fails those ending 7-9, so each file says how its campaign ends.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path


def number(n: int) -> str:
    return f"+4474001{n:05d}"


def write_csv(path: Path, numbers: Iterable[int], *, extra_rows: Iterable[str] = ()) -> Path:
    lines = ["id,phone,country_code,first_name"]
    lines += [f"c{n},{number(n)},,Ann{n}" for n in numbers]
    lines += list(extra_rows)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_jsonl(path: Path, numbers: Iterable[int]) -> Path:
    rows = [
        {"id": f"j{n}", "phone": number(n), "metadata": {"first_name": f"Bo{n}"}} for n in numbers
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def answered(count: int) -> list[int]:
    """``count`` numbers the sandbox answers (last digit 0 to 6)."""
    return [n for n in range(10 * count) if n % 10 <= 6][:count]
