"""Tokens never appear in reprs, exceptions or logs; numbers are masked in logs."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

import polyout
from tests.client.servers import Reply, ScriptedAPI, closed_port, cut_after_request, raw_server

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
    texts += [repr(client._sender._api_key), repr(vars(client))]
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


# -- a key echoed back JSON-escaped (issue 17, item 18) --------------------------------

SLASHED_KEY = "sk-live/SUPER+secret-123"


async def retried_then_refused(
    api: ScriptedAPI,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    status: int,
    *,
    api_key: str = KEY,
    number: str = NUMBER,
) -> tuple[polyout.APIStatusError, list[str]]:
    """Trigger against a 502 then ``status``, both with ``body``; the error and every text shown."""
    caplog.set_level(logging.DEBUG, logger="polyout")
    headers = {"Content-Type": "application/json"}
    api.script(Reply(502, raw=body, headers=headers), Reply(status, raw=body, headers=headers))
    async with polyout.Client("platform", api_key=api_key, base_url=api.base_url) as client:
        with pytest.raises(polyout.APIStatusError) as caught:
            await client.trigger_call(number)
    error = caught.value
    assert error.status_code == status
    texts = [str(error), repr(error), error.body, error.message, repr(error.parsed)]
    texts += [record.getMessage() for record in caplog.records]
    assert any("retrying" in text for text in texts)  # the 502 reached a WARNING log
    return error, texts


@pytest.mark.parametrize(
    "echoed",
    [
        "sk-live\\/SUPER+secret-123",  # JSON may escape "/"
        "sk-live/\\u0053UPER\\u002bsecret-123",  # ... and any character as \uXXXX
        "\\u0073\\u006B-live\\/SUPER\\u002Bsecret-123",
    ],
)
async def test_key_echoed_json_escaped_never_leaks(
    api: ScriptedAPI, caplog: pytest.LogCaptureFixture, echoed: str
) -> None:
    body = f'{{"error": "bad key {echoed}", "key": "{echoed}"}}'.encode()
    error, texts = await retried_then_refused(api, caplog, body, 401, api_key=SLASHED_KEY)
    assert error.parsed is not None
    assert "***" in error.parsed["key"]
    for text in texts:
        assert SLASHED_KEY not in text
        assert echoed not in text
        assert "SUPER" not in text


# -- a password in base_url (item 19) --------------------------------------------------


async def test_base_url_password_is_never_shown(
    api: ScriptedAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="polyout")
    password = "hunter2-very-secret"
    url = api.base_url.replace("http://", f"http://ops:{password}@")
    # A server (or proxy) that repeats the credentials it was sent.
    api.script(Reply(400, {"error": f"no user ops with password {password}"}))
    client = polyout.Client("platform", api_key=KEY, base_url=url)
    texts = [repr(client), str(client), client.base_url, repr(vars(client))]
    async with client:
        with pytest.raises(polyout.BadRequestError) as caught:
            await client.trigger_call(NUMBER)
    refused = polyout.Client(
        "platform",
        api_key=KEY,
        base_url=f"http://ops:{password}@127.0.0.1:{closed_port()}",
        max_retries=0,
    )
    async with refused:
        with pytest.raises(polyout.TransportError) as unreachable:
            await refused.get_status("OUT-1")
    texts += [str(caught.value), repr(caught.value), str(unreachable.value), repr(refused)]
    texts += [caught.value.body]
    texts += [record.getMessage() for record in caplog.records]
    assert api.seen[0].headers["Authorization"].startswith("Basic ")  # still used...
    assert "ops:***@" in repr(client)
    for text in texts:
        assert password not in text  # ...never shown


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://u:secret@host:8080/x?y=1", "http://u:***@host:8080/x?y=1"),
        ("https://token-only@host", "https://***@host"),
        ("https://host/path", "https://host/path"),
        ("http://u:p@ss:w@rd@host", "http://u:***@host"),
        ("not a url u:secret@host", "not a url u:***@host"),
        ("http://u:secret@[::1", "http://u:***@[::1"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    from polyout._secrets import redact_url

    assert redact_url(url) == shown


# -- numbers the server formatted its own way (item 20) --------------------------------


@pytest.mark.parametrize(
    "written",
    [
        "+1 415 555-2671",
        "(415) 555-2671",
        "415.555.2671",
        "+1-415-555-2671",
        "1 (415) 555 2671",
        "\\u002B14155552671",
    ],
)
async def test_formatted_number_is_masked_in_errors_and_logs(
    api: ScriptedAPI, caplog: pytest.LogCaptureFixture, written: str
) -> None:
    body = f'{{"error": "cannot call {written} now"}}'.encode()
    error, texts = await retried_then_refused(api, caplog, body, 400, number="+14155552671")
    for text in texts:
        digits = "".join(ch for ch in text if ch.isdigit())
        assert "4155552" not in digits, text
        assert "555-2671" not in text
        assert "555 2671" not in text
    assert "671" in str(error)


@pytest.mark.parametrize(
    ("written", "masked"),
    [("+44 7700 900123", "+44*******123"), ("+1 (415) 555-2671", "+1*******671")],
)
async def test_international_number_in_a_status_error_is_masked(
    api: ScriptedAPI, written: str, masked: str
) -> None:
    api.script(Reply(400, {"error": f"call to {written} unknown", "id": "2026-12-01 10:00:00"}))
    async with polyout.Client("platform", api_key=KEY, base_url=api.base_url) as client:
        with pytest.raises(polyout.BadRequestError) as caught:
            await client.get_status("OUT-1")
    assert written not in caught.value.body
    assert masked in str(caught.value)
    assert "2026-12-01 10:00:00" in caught.value.body  # dates are not phone numbers


def test_library_messages_never_show_a_url_password() -> None:
    from polyout._secrets import Scrubber

    # aiohttp's own messages may quote a URL: its userinfo goes, however short the password.
    text = Scrubber("k").scrub_text("Cannot connect to 'http://u:pw@host/v1' (a@b.example)")
    assert text == "Cannot connect to 'http://u:***@host/v1' (a@b.example)"
    assert Scrubber().scrub_text("https://tok@h and https://u:***@h") == (
        "https://***@h and https://u:***@h"
    )
