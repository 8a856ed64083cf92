"""``--metrics-port``: Prometheus metrics and ``/healthz`` scraped over HTTP on 127.0.0.1.

A ``polyout campaign run`` child process against the sandbox, paced slowly enough to be
scraped while it dials: ``/healthz`` answers 200 ok, ``/metrics`` carries the counts
per state, calls in flight, placements, 429s and the store's latency, and no number.
Without prometheus-client the flag is refused in one line naming the extra (exit 2).
"""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from polyout._cli._errors import ExitCode
from tests.cli.conftest import SandboxThread, spawn_polyout, start_sandbox, subprocess_env
from tests.cli.contacts import answered, number, write_csv


@pytest.fixture
def sandbox() -> Iterator[SandboxThread]:
    running = start_sandbox()
    yield running
    running.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


def test_metrics_and_health_are_served_on_127_0_0_1_while_the_campaign_runs(
    sandbox: SandboxThread, tmp_path: Path
) -> None:
    port = _free_port()
    contacts = write_csv(tmp_path / "c.csv", answered(12))
    run = spawn_polyout(
        *("campaign", "run", str(contacts), "--journal", str(tmp_path / "j.db")),
        *("--rate", "4", "--metrics-port", str(port), "--progress-interval", "1s"),
        env=subprocess_env(sandbox.base_url),
    )
    try:
        health, metrics = (0, ""), ""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and run.poll() is None:
            try:
                health = _get(f"http://127.0.0.1:{port}/healthz")
                _, metrics = _get(f"http://127.0.0.1:{port}/metrics")
            except OSError:  # not listening yet
                time.sleep(0.1)
                continue
            if health[0] == 200 and "polyout_contacts{state=" in metrics:
                break
            time.sleep(0.1)
        _, err = run.communicate(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
    assert health == (200, "ok\n"), err
    for name in (
        'polyout_contacts{state="',
        "polyout_calls_in_flight ",
        "polyout_placements_total ",
        "polyout_placements_per_second ",
        "polyout_rate_limited_total ",
        "polyout_store_latency_seconds_bucket",
        "polyout_healthy 1.0",
    ):
        assert name in metrics, name
    assert number(answered(12)[0]) not in metrics
    assert "+44" not in metrics
    assert run.returncode == ExitCode.OK, err
    with pytest.raises(urllib.error.URLError, match="refused"):  # closed with the run
        _get(f"http://127.0.0.1:{port}/healthz")


def test_without_prometheus_client_the_flag_is_one_line_naming_the_extra(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "blocked" / "prometheus_client"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('not installed')\n")
    env = subprocess_env()
    env["PYTHONPATH"] = f"{blocker.parent}:{env['PYTHONPATH']}"
    contacts = write_csv(tmp_path / "c.csv", answered(2))
    run = spawn_polyout(
        *("campaign", "run", str(contacts), "--journal", str(tmp_path / "j.db")),
        *("--metrics-port", "9100"),
        env=env,
    )
    _, err = run.communicate(timeout=30)
    assert run.returncode == ExitCode.USAGE, err
    assert "polyout[metrics]" in err
    assert "Traceback" not in err
    assert not (tmp_path / "j.db").exists()  # nothing dialled, nothing stored
