"""``polyout sandbox``: the sandbox's own flags and serving loop, under the polyout name."""

from __future__ import annotations

import re
import signal

import pytest

from polyout._cli._errors import ExitCode

from .conftest import run_polyout, spawn_polyout, subprocess_env


def test_sandbox_serves_until_ctrl_c() -> None:
    process = spawn_polyout(
        "sandbox", "--port", "0", "--outcome-rule", "last-digit", env=subprocess_env()
    )
    assert process.stdout is not None
    first_line = process.stdout.readline()
    assert re.search(r"http://127\.0\.0\.1:\d+", first_line), first_line
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=15)
    assert process.returncode == ExitCode.OK
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--fail-rate-500", "2"], "expected a probability in [0, 1]"),
        (["--environments", "prod"], "unknown environments"),
    ],
)
def test_sandbox_flag_errors_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    result = run_polyout(capsys, "sandbox", *argv)
    assert result.code == ExitCode.USAGE
    assert expected in result.err


def test_sandbox_help_shows_the_sandbox_flags(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_polyout(capsys, "sandbox", "--help")
    assert "--time-scale" in result.out
    assert "--forbidden-key" in result.out
