"""``polyout call``, ``polyout status``, and the errors every API command shares."""

from __future__ import annotations

import json
import logging
import signal
import socket

import pytest

from polyout._cli._errors import ExitCode

from .conftest import (
    API_KEY,
    SandboxThread,
    run_polyout,
    spawn_polyout,
    start_sandbox,
    subprocess_env,
)

NUMBER = "+447400123450"  # last digit 0: the sandbox's last-digit rule answers it
MASKED = "+44*******450"


def test_call_prints_the_sid_and_masks_the_number(
    sandbox: SandboxThread, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_polyout(capsys, "call", NUMBER, "--metadata", "name=Ann", "--metadata", "x=a=b")
    assert result.code == ExitCode.OK
    assert result.out.strip().startswith("OUT-")
    assert MASKED in result.err
    assert NUMBER not in result.out + result.err
    (placement,) = sandbox.sandbox.ledger.placements
    assert placement.number == NUMBER
    assert placement.metadata == {"name": "Ann", "x": "a=b"}


def test_call_wait_follows_to_the_end(
    sandbox: SandboxThread, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_polyout(capsys, "call", NUMBER, "--wait", "--poll-interval", "50ms")
    assert result.code == ExitCode.OK
    sid, final = result.out.strip().splitlines()
    assert sid.startswith("OUT-")
    assert final.startswith("success")


def test_call_that_fails_exits_1_and_national_numbers_take_a_country(
    sandbox: SandboxThread, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_polyout(
        capsys, "call", "07400 123459", "--country-code", "gb", "--wait", "--poll-interval", "0.05"
    )
    assert result.code == ExitCode.ATTENTION
    assert result.out.strip().splitlines()[-1].startswith("failure")


def test_call_json_then_status(sandbox: SandboxThread, capsys: pytest.CaptureFixture[str]) -> None:
    placed = json.loads(run_polyout(capsys, "call", NUMBER, "--json").out)
    assert placed["to_number"] == MASKED
    result = run_polyout(capsys, "status", placed["call_sid"])
    assert result.code == ExitCode.OK
    lines = dict(
        line.split(None, 1) for line in result.out.replace("raw status", "raw").splitlines()
    )
    assert lines["state"] in {"queued", "calling", "success"}
    assert lines["raw"] in {"QUEUED", "CALLING", "SUCCESS"}
    as_json = json.loads(run_polyout(capsys, "status", placed["call_sid"], "--json").out)
    assert as_json["call_sid"] == placed["call_sid"]
    assert {"state", "raw_status", "reason", "final"} <= as_json.keys()


def test_status_on_the_platform_api(
    sandbox: SandboxThread, capsys: pytest.CaptureFixture[str]
) -> None:
    sid = run_polyout(capsys, "call", NUMBER, "--api", "platform").out.strip()
    result = run_polyout(capsys, "status", sid, "--api", "platform", "--json")
    assert json.loads(result.out)["raw_status"] in {"queued", "calling", "success"}


def test_wrong_key_is_one_line_exit_3_and_never_echoed(
    sandbox: SandboxThread, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = "wrong-key-that-is-long-enough"
    result = run_polyout(capsys, "call", NUMBER, "--api-key", wrong)
    assert result.code == ExitCode.API
    assert result.err.startswith("polyout: error: the API refused the key (HTTP 401")
    assert "POLYAI_API_KEY" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert wrong not in result.out + result.err
    assert sandbox.placements() == 0


def test_unreachable_server_exits_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("POLYAI_API_KEY", API_KEY)
    base_url = f"http://127.0.0.1:{port}"
    result = run_polyout(capsys, "status", "OUT-1", "--agent-id", "P", "--base-url", base_url)
    assert result.code == ExitCode.API
    assert result.err.startswith("polyout: error: could not reach the API")
    assert "--base-url" in result.err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["call", "+4474001"], "the number is not a valid phone number"),
        (["call", "07400123450"], "the number is not in E.164 format"),
        (["call", NUMBER, "--metadata", "a b=1"], "--metadata key 'a b' cannot travel"),
        (["call", NUMBER, "--metadata", "novalue"], "expected KEY=VALUE"),
        (["call", NUMBER, "--poll-interval", "soon"], "expected a duration like 900"),
        (["call", NUMBER, "--agent-id", ""], "--agent-id is required by the Agents API"),
        (["call", NUMBER, "--api", "connector"], "--account-id is required"),
        (["call", NUMBER, "--api-key", "has space"], "the API key contains whitespace"),
        (["status", "a/b"], "CALL_SID must be a call sid"),
        (["call"], "the following arguments are required: NUMBER"),
        (["dial", NUMBER], "invalid choice: 'dial'"),
    ],
)
def test_usage_errors_exit_2_and_dial_nobody(
    sandbox: SandboxThread, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    result = run_polyout(capsys, *argv)
    assert result.code == ExitCode.USAGE
    assert result.err.startswith("polyout: error: ")
    assert expected in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert sandbox.placements() == 0


def test_missing_key_and_server(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("POLYAI_API_KEY", "POLYAI_BASE_URL", "POLYAI_REGION"):
        monkeypatch.delenv(name, raising=False)
    result = run_polyout(capsys, "call", NUMBER, "--agent-id", "P", "--region", "us")
    assert result.code == ExitCode.USAGE
    assert result.err == "polyout: error: no API key: set POLYAI_API_KEY (or pass --api-key)\n"
    monkeypatch.setenv("POLYAI_API_KEY", API_KEY)
    result = run_polyout(capsys, "call", NUMBER, "--agent-id", "P")
    assert result.code == ExitCode.USAGE
    assert result.err == (
        "polyout: error: no API host: pass --region or --base-url (or set POLYAI_BASE_URL)\n"
    )


def test_unknown_sid_exits_1_not_as_a_connection_error(
    sandbox: SandboxThread, capsys: pytest.CaptureFixture[str]
) -> None:
    # The API answered, about this sid: exit 3 would send the operator to the network.
    result = run_polyout(capsys, "status", "OUT-does-not-exist")
    assert result.code == ExitCode.ATTENTION
    assert result.err.startswith("polyout: error: no call OUT-does-not-exist (HTTP 404")
    assert len(result.err.strip().splitlines()) == 1
    assert "could not reach" not in result.err


def test_verbose_logs_mask_numbers_and_hide_the_key(
    sandbox: SandboxThread, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_polyout(capsys, "call", NUMBER, "-v")
    assert result.code == ExitCode.OK
    assert "DEBUG polyout" in result.err
    assert MASKED in result.err
    assert NUMBER not in result.err
    assert API_KEY not in result.err
    assert not logging.getLogger("polyout").handlers[1:]  # the -v handler is removed again


def test_version_and_help_list_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_polyout(capsys, "--version").out.startswith("polyout ")
    result = run_polyout(capsys, "--help")
    assert result.code == ExitCode.OK
    for line in ("0    success", "2    usage", "3    API", "130  interrupted", "POLYAI_API_KEY"):
        assert line in result.out


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_while_following_leaves_the_call_and_exits_130(signum: signal.Signals) -> None:
    slow = start_sandbox(time_scale=1.0)  # the call lasts a minute of real time
    try:
        process = spawn_polyout(
            "call", NUMBER, "--wait", "--poll-interval", "0.1", env=subprocess_env(slow.base_url)
        )
        assert process.stdout is not None
        sid = process.stdout.readline().strip()
        assert sid.startswith("OUT-")
        process.send_signal(signum)
        _, err = process.communicate(timeout=15)
    finally:
        slow.stop()
    assert process.returncode == ExitCode.INTERRUPTED
    assert f"stopped following {sid}; the call goes on: polyout status {sid}" in err
    assert "Traceback" not in err
