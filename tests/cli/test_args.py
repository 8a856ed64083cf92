"""The small parsers behind the flags: durations and metadata."""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
from pathlib import Path

import pytest

from polyout._cli._args import parse_metadata
from polyout._cli._durations import duration_text, parse_duration
from tests.fresh_interpreter import printed_by


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("900", 900.0),
        ("2.5", 2.5),
        ("30s", 30.0),
        ("15m", 900.0),
        ("2h", 7200.0),
        ("1h30m", 5400.0),
        ("1h50m", 6600.0),
        ("250ms", 0.25),
        (" 15M ", 900.0),
        ("0", 0.0),
        ("7d", 604800.0),
        ("1d2h", 93600.0),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "15 m", "1x", "-5", "m", "1h-30m", "inf", "nan"])
def test_bad_durations_say_what_is_expected(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="duration"):
        parse_duration(text)


def test_metadata_splits_on_the_first_equals_sign() -> None:
    assert parse_metadata("note=a=b") == ("note", "a=b")
    assert parse_metadata("empty=") == ("empty", "")
    with pytest.raises(argparse.ArgumentTypeError, match="KEY=VALUE"):
        parse_metadata("=value")


@pytest.mark.parametrize(
    "seconds", [0.01, 0.25, 0.5, 1, 59, 60, 61, 1800, 3600, 3661, 6600, 86400, 604800]
)
def test_duration_text_reads_back(seconds: float) -> None:
    assert parse_duration(duration_text(seconds)) == seconds


def test_help_loads_neither_the_http_client_nor_the_engine() -> None:
    # The parser builds every command's flags: importing what runs them made ``polyout
    # --help`` take 0.9 s.
    probe = (
        "import contextlib, io, sys\n"
        "from polyout._cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    code = main(['--help'])\n"
        "heavy = {'aiohttp', 'polyout._campaign._engine', 'polyout._campaign._journal'}\n"
        "print(code, sorted(heavy & set(sys.modules)))\n"
    )
    assert printed_by(probe).strip() == "0 []"


def test_a_command_freezes_what_it_loaded_before_it_runs(tmp_path: Path) -> None:
    # A full collection walked every module loaded (25-34 ms in a campaign's process), and a
    # trigger held up by it could reach a strict server inside the next second: a 429.
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("phone\n+14155552671\n", encoding="utf-8")
    probe = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('frozen', gc.get_freeze_count(), flush=True))\n"
        "from polyout._cli import main\n"
        f"sys.argv = ['polyout', 'campaign', 'validate', {str(contacts)!r}]\n"
        "sys.exit(main())\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stderr
    frozen = completed.stdout.split("frozen ")[-1]
    assert int(frozen) > 10_000  # aiohttp, the engine, the command's own modules


def test_a_command_run_inside_a_callers_process_freezes_nothing(tmp_path: Path) -> None:
    # Frozen objects are never collected: a caller's garbage of the moment would leak.
    from polyout._cli import main

    contacts = tmp_path / "contacts.csv"
    contacts.write_text("phone\n+14155552671\n", encoding="utf-8")
    before = gc.get_freeze_count()
    assert main(["campaign", "validate", str(contacts)]) == 0
    assert gc.get_freeze_count() == before
