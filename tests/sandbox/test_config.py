"""Settings are validated once, at construction, with messages that name the setting."""

from __future__ import annotations

from typing import Any

import pytest

from polyout.sandbox import AGENT_ENVIRONMENTS, FaultConfig, OutcomeMix, SandboxConfig


def test_defaults_are_the_documented_ones() -> None:
    config = SandboxConfig()
    assert (config.host, config.port, config.api_key) == ("127.0.0.1", 0, None)
    assert config.environments == AGENT_ENVIRONMENTS == {"sandbox", "pre-release", "live"}
    assert config.retention == 7200
    assert config.time_scale == 1
    assert config.outcomes == OutcomeMix(completed=0.7, no_answer=0.15, busy=0.05, failed=0.1)
    assert config.faults == FaultConfig()
    assert config.call_lifetime == config.queue_duration + config.ring_duration + 60 + 7200


@pytest.mark.parametrize(
    ("settings", "word"),
    [
        ({"port": -1}, "port"),
        ({"port": 70_000}, "port"),
        ({"api_key": ""}, "api_key"),
        ({"environments": {"production"}}, "environments"),
        ({"call_duration": -1}, "call_duration"),
        ({"queue_duration": float("nan")}, "queue_duration"),
        ({"retention": -5}, "retention"),
        ({"time_scale": 0}, "time_scale"),
        ({"outcomes": "first-digit"}, "outcomes"),
    ],
)
def test_bad_sandbox_settings(settings: dict[str, Any], word: str) -> None:
    with pytest.raises(ValueError, match=word):
        SandboxConfig(**settings)


@pytest.mark.parametrize(
    ("settings", "word"),
    [
        ({"rate_limit": 0}, "rate_limit"),
        ({"status_rate_limit": -3}, "status_rate_limit"),
        ({"trigger_500_rate": 1.5}, "trigger_500_rate"),
        ({"cut_rate": -0.1}, "cut_rate"),
        ({"status_error_rate": 2}, "status_error_rate"),
        ({"cut_on": {0}}, "from 1"),
        ({"status_error_codes": [404]}, "5xx"),
        ({"status_error_codes": []}, "5xx"),
        ({"trigger_latency": -1}, "latency"),
        ({"status_latency": (0.3, 0.1)}, "latency"),
    ],
)
def test_bad_fault_settings(settings: dict[str, Any], word: str) -> None:
    with pytest.raises(ValueError, match=word):
        FaultConfig(**settings)


def test_settings_are_normalised_and_frozen() -> None:
    faults = FaultConfig(trigger_latency=0.25, cut_on=[2, 2, 5], status_error_codes=[503])
    assert faults.trigger_latency == (0.25, 0.25)
    assert faults.cut_on == frozenset({2, 5})
    assert faults.status_error_codes == (503,)
    config = SandboxConfig(environments=["live"], faults=faults)
    assert config.environments == frozenset({"live"})
    with pytest.raises(AttributeError):
        config.port = 1  # type: ignore[misc]
