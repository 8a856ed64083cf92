"""Tokens never appear in reprs, exceptions or logs; numbers are masked in logs."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

import polyout
from tests.client.servers import Reply, ScriptedAPI, cut_after_request, raw_server

KEY = "sk-live-SUPERSECRET-123"
NUMBER = "+447911123456"


async def test_key_never_leaks(api: ScriptedAPI, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="polyout")
    # A misbehaving server that echoes the key back in its error body.
    api.script(
        Reply(200, {"call_sid": "OUT-1"}),
        Reply(502, {"error": f"bad key {KEY}"}),
        Reply(401, {"error": f"bad key {KEY}"}),
    )
    client = polyout.Client("platform", api_key=KEY, base_url=api.base_url)
    texts = [repr(client), str(client)]
    async with client:
        await client.trigger_call(NUMBER)
        with pytest.raises(polyout.AuthenticationError) as caught:
            await client.get_status("OUT-1")
    texts += [str(caught.value), repr(caught.value), caught.value.body, repr(vars(caught.value))]
    texts += [record.getMessage() for record in caplog.records]
    texts += [repr(client._api_key), repr(vars(client))]
    assert api.seen[0].headers["X-PolyAi-Auth-Token"] == KEY  # it was sent...
    for text in texts:
        assert KEY not in text  # ...and shown nowhere
    assert "***" in caught.value.body


async def test_numbers_are_masked_in_logs(
    api: ScriptedAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="polyout")
    async with polyout.Client("platform", api_key=KEY, base_url=api.base_url) as client:
        await client.trigger_call(NUMBER)
    messages = "\n".join(record.getMessage() for record in caplog.records)
    assert "+44*******456" in messages
    assert NUMBER not in messages
    assert "corr-123" in messages  # the correlation id is always there


async def test_unknown_outcome_masks_the_number() -> None:
    async with (
        raw_server(cut_after_request) as server,
        polyout.Client("platform", api_key=KEY, base_url=server.base_url) as client,
    ):
        with pytest.raises(polyout.TriggerOutcomeUnknown) as caught:
            await client.trigger_call(NUMBER)
    assert NUMBER not in str(caught.value)
    assert "+44*******456" in str(caught.value)


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+447911123456", "+44*******456"),
        ("+14155552671", "+1*******671"),
        ("+35312345678", "+353*****678"),
        ("+4412", "+44**"),
        ("garbage", "*****ge"),
        ("123", "****"),
    ],
)
def test_mask_number(number: str, masked: str) -> None:
    assert polyout.mask_number(number) == masked


def test_polyout_log_env_turns_on_debug_logging() -> None:
    script = (
        "import logging, polyout\n"
        "polyout.Client('platform', api_key='k', base_url='http://127.0.0.1:9')\n"
        "logger = logging.getLogger('polyout')\n"
        "print(logger.level, len(logger.handlers))\n"
        "logger.debug('visible')\n"
    )
    env = {**os.environ, "POLYOUT_LOG": "debug"}
    env.pop("POLYAI_API_KEY", None)
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == [str(logging.DEBUG), "2"]
    assert "DEBUG polyout: visible" in done.stderr
