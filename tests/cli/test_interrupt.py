"""Ctrl-C on a running campaign (a real SIGINT to a child process), then resume.

Once stops gracefully: no new calls, calls in flight followed for the grace period,
the journal says where it stopped, and the exact resume command is printed (without
the key). Twice stops at once. Either way, resuming dials the rest and nobody twice.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from polyout._cli._errors import ExitCode

from .conftest import (
    API_KEY,
    SandboxThread,
    run_polyout,
    spawn_polyout,
    start_sandbox,
    subprocess_env,
    wait_until_dialling,
)
from .contacts import answered, write_csv

CONTACTS = 24


def start_campaign(sandbox: SandboxThread, folder: Path) -> tuple[subprocess.Popen[str], Path]:
    """``polyout campaign run`` in a child process, once it dials; and its journal."""
    contacts = write_csv(folder / "contacts.csv", answered(CONTACTS))
    process = spawn_polyout(
        "campaign",
        "run",
        str(contacts),
        "--rate",
        "8",
        "--poll-interval",
        "0.1",
        "--stop-grace",
        "0.5s",
        "--progress-interval",
        "0.1",
        env=subprocess_env(sandbox.base_url),
    )
    # Signal only once calls are under way (the handlers are installed by then).
    wait_until_dialling(process)
    return process, folder / "contacts.polyout.db"


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    _, rest = process.communicate(timeout=30)
    return process.returncode, rest


def assert_stopped_then_resumable(
    process: subprocess.Popen[str], journal: Path, message: str
) -> None:
    code, err = finish(process)
    assert code == ExitCode.INTERRUPTED, err
    assert message in err
    assert f"to continue: polyout campaign resume {journal}\n" in err
    assert API_KEY not in err
    assert "Traceback" not in err


def assert_resume_dials_the_rest_once(
    sandbox: SandboxThread, journal: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_polyout(capsys, "campaign", "resume", str(journal))
    assert result.code == ExitCode.OK, result.err
    assert sandbox.placements() == CONTACTS
    assert not sandbox.sandbox.ledger.dialled_more_than_once()


def test_one_ctrl_c_stops_gracefully_and_resume_finishes(
    slow_sandbox: SandboxThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    process, journal = start_campaign(slow_sandbox, tmp_path)
    process.send_signal(signal.SIGINT)
    assert_stopped_then_resumable(process, journal, "stopping: no new calls; following ")
    assert 0 < slow_sandbox.placements() < CONTACTS

    assert_resume_dials_the_rest_once(slow_sandbox, journal, capsys)
    report = json.loads(run_polyout(capsys, "campaign", "report", str(journal), "--json").out)
    assert report["states"] == {"success": CONTACTS}
    assert [(run["command"], run["ended"]) for run in report["runs"]] == [
        ("run", "stopped"),
        ("resume", "complete"),
    ]


def test_two_ctrl_c_stop_at_once_and_resume_follows_the_calls_left(
    slow_sandbox: SandboxThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    process, journal = start_campaign(slow_sandbox, tmp_path)
    process.send_signal(signal.SIGINT)
    time.sleep(0.3)  # two signals sent at once arrive as one
    process.send_signal(signal.SIGINT)
    assert_stopped_then_resumable(process, journal, "stopping at once")

    assert_resume_dials_the_rest_once(slow_sandbox, journal, capsys)


# The child runs ``polyout`` as ``python -m polyout`` does, with an audit hook that sends
# the signal to itself at a precise moment, and sends one more once main() has returned:
# a second Ctrl-C or SIGTERM while the process exits must not turn "interrupted" into a
# death by signal.
_SIGNAL_AT = """
import os, signal, sys
from polyout._cli import main

stop = signal.Signals[sys.argv[1]]
moment = sys.argv[2]
sys.argv = ["polyout", *sys.argv[3:]]
sent = []
# dispatch: main() reads the campaign commands' module (before any loop or handler of
# the command); after-run: the run is over, its loop closed, and its figures are logged.
watched = {"dispatch": "_commands_campaign", "after-run": ".runs.jsonl"}[moment]

def send_at(event, args):
    if not sent and event == "open" and watched in str(args[0]):
        sent.append(event)
        os.kill(os.getpid(), stop)

sys.addaudithook(send_at)
code = main()
os.kill(os.getpid(), stop)
raise SystemExit(code)
"""


def _run_signalled(
    stop: signal.Signals, moment: str, *argv: str, env: dict[str, str]
) -> tuple[int, str]:
    completed = subprocess.run(
        [sys.executable, "-c", _SIGNAL_AT, stop.name, moment, *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return completed.returncode, completed.stderr


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_a_signal_before_the_command_runs_then_another_while_exiting_is_exit_130(
    tmp_path: Path, stop: signal.Signals
) -> None:
    journal = tmp_path / "none.polyout.db"
    code, err = _run_signalled(
        stop, "dispatch", "campaign", "report", str(journal), env=subprocess_env()
    )
    assert code == ExitCode.INTERRUPTED, err
    assert err == "polyout: error: interrupted\n"


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_a_signal_after_the_run_s_handlers_are_gone_then_another_is_exit_130(
    tmp_path: Path, stop: signal.Signals
) -> None:
    running = start_sandbox(time_scale=2000.0)
    try:
        contacts = write_csv(tmp_path / "contacts.csv", answered(3))
        code, err = _run_signalled(
            stop,
            "after-run",
            "campaign",
            "run",
            str(contacts),
            "--rate",
            "50",
            "--poll-interval",
            "0.05",
            "--progress-interval",
            "0.1",
            env=subprocess_env(running.base_url),
        )
    finally:
        running.stop()
    assert code == ExitCode.INTERRUPTED, err
    assert err.endswith("polyout: error: interrupted\n"), err
    assert err.count("polyout: error:") == 1, err
    assert "Traceback" not in err, err


# A stop signal that lands while exec() runs a string: dataclasses and attrs build their
# methods that way, so any module a command imports late may be in one. CPython marks a
# KeyboardInterrupt leaving such code as unhandled, even once main() has caught it, and
# `python -m` then ends by killing itself with SIGINT. The command stands in for that
# import with an exec() of its own, and runs exactly as `python -m polyout` does.
_STOPPED_IN_EXEC = """
import os, signal
import polyout._cli as cli
import polyout._cli._main as command_line

def command(args, **_):
    stop = signal.Signals[os.environ["STOP_SIGNAL"]]
    exec("os.kill(os.getpid(), stop)\\nfor _ in range(10**7): pass")
    return 0

command_line._dispatch = command
raise SystemExit(cli.main())
"""


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_a_signal_inside_exec_of_a_string_is_exit_130(tmp_path: Path, stop: signal.Signals) -> None:
    package = tmp_path / "stopped_in_exec"
    package.mkdir()
    (package / "__main__.py").write_text(_STOPPED_IN_EXEC)
    env = subprocess_env()
    env["PYTHONPATH"] = f"{tmp_path}:{env['PYTHONPATH']}"
    env["STOP_SIGNAL"] = stop.name
    completed = subprocess.run(
        [sys.executable, "-m", package.name, "campaign", "status", "x"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == ExitCode.INTERRUPTED, completed.stderr
    assert completed.stderr == "polyout: error: interrupted\n"


# `python -m polyout` with an audit hook that sends the signal to the process as the
# command's modules start loading (aiohttp among them: about half a second of imports,
# during which an operator may well press Ctrl-C).
_STOPPED_WHILE_LOADING = """
import os, runpy, signal, sys

stop = signal.Signals[sys.argv[1]]
sys.argv = ["polyout", *sys.argv[2:]]
sent = []

def send_at(event, args):
    if not sent and event == "import" and args[0] == "aiohttp":
        sent.append(event)
        os.kill(os.getpid(), stop)

sys.addaudithook(send_at)
runpy.run_module("polyout", run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_a_signal_while_the_command_loads_is_exit_130(tmp_path: Path, stop: signal.Signals) -> None:
    completed = subprocess.run(
        [sys.executable, "-c", _STOPPED_WHILE_LOADING, stop.name, "campaign", "status", "x"],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == ExitCode.INTERRUPTED, completed.stderr
    assert completed.stderr == "polyout: error: interrupted\n"
