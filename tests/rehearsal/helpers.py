"""Contact files and a runner for the rehearsal tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from polyout._cli import main

#: 2026-12-01 09:00 in New York (EST): every number below is a New York one.
MORNING = "2026-12-01T14:00:00Z"


def new_york(n: int) -> str:
    return f"+1212555{n:04d}"


def write_contacts(path: Path, count: int) -> Path:
    lines = ["id,phone", *(f"c{n},{new_york(n)}" for n in range(count))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def rehearse(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``polyout campaign rehearse ARGV`` in this process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = main(["campaign", "rehearse", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def forecast(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    """The JSON forecast of a rehearsal that must succeed."""
    code, out, err = rehearse(capsys, *argv, "--json")
    assert code == 0, err
    data: dict[str, Any] = json.loads(out)
    return data
