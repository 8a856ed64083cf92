"""One HTTP exchange: send, read a bounded body, scrub it, decode it, name what failed.

What an exchange raises is what retrying decides on: ``TransportError`` when no
connection was made (nothing sent), ``TriggerOutcomeUnknown`` when a trigger left and
no answer came back, ``APIStatusError`` for an error status. Every body is scrubbed of
the credentials before anything reads it, and an error body of phone numbers too, so
no exception, log line or journal row built from it can carry them.

Hostile bodies are bounded: 1 MiB at most, and JSON nested no deeper than
:data:`MAX_DEPTH` (deeper JSON made ``json.loads`` raise ``RecursionError``, and would
make every later ``json.dumps`` of the answer, in a journal say, raise it again).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import aiohttp

from polyout._errors import TransportError, TriggerOutcomeUnknown, error_class_for
from polyout._log import logger
from polyout._phone import mask_number, scrub_numbers
from polyout._retry import parse_retry_after
from polyout._secrets import Scrubber, Secret, SecretHeaders
from polyout._session import DEFAULT_HEADERS, SessionHolder, WatchedBody, being_cancelled

__all__ = ["MAX_DEPTH", "Answer", "Sender", "decode"]

_MAX_BODY = 1024 * 1024
#: No documented answer is nested more than 3 deep; 64 leaves room for rich metadata.
MAX_DEPTH = 64
#: An error body is kept as text on the exception: this much of it, enough to read.
_MAX_ERROR_TEXT = 2000
_CORRELATION_HEADER = "X-PolyAI-Correlation-Id"
_ENCODING = "Content-Encoding"
_DIRECT_REQUEST = hasattr(aiohttp.ClientSession, "_request")  # aiohttp 3.x


class Answer(NamedTuple):
    """A 2xx answer. ``parsed`` is None when the body was unusable, and ``problem`` says why.

    A named tuple: made once per request, it costs a fifth of an attrs class.
    """

    status: int
    correlation_id: str | None
    parsed: Any
    problem: str | None = None


class Sender:
    """Sends one request with the client's credential, and turns its answer into ours."""

    def __init__(
        self,
        holder: SessionHolder,
        *,
        base_url: Secret,
        api_key: Secret,
        auth_header: str,
        scrubber: Scrubber,
        session_given: bool,
    ) -> None:
        self._holder = holder
        self._base_url = base_url
        self._api_key = api_key
        self._auth_header = auth_header
        self._scrubber = scrubber
        # Our own session carries every fixed header, the credential's too: each header
        # passed per request costs aiohttp about 0.7 µs to merge. A caller's session gets
        # them per request, from a dict made once and kept redacted.
        self._headers = (
            SecretHeaders({**DEFAULT_HEADERS, auth_header: api_key.reveal()})
            if session_given
            else None
        )
        # Our own session carries the timeout; a timeout passed with every request costs
        # aiohttp about 5 µs each, so only a caller's session gets it per request.
        self._timeout_per_request = holder.client_timeout if session_given else None
        # The shortcut below is aiohttp's own coroutine behind request(), a private name
        # (3.x): an aiohttp without it simply takes the public way.
        self._direct = not session_given and _DIRECT_REQUEST
        self._per_request: dict[str, Any] = (
            {"timeout": self._timeout_per_request} if self._timeout_per_request else {}
        )

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: WatchedBody | None = None,
        number: str | None = None,
    ) -> Answer:
        """One HTTP exchange. Raises APIStatusError, TransportError or TriggerOutcomeUnknown.

        ``number`` is the number a trigger calls (None for anything else): it is masked
        out of error bodies, and only masked when something is shown.
        """
        session = self._holder.open()
        started = time.perf_counter()
        url = self._base_url.reveal() + path
        headers = None if self._headers is None else self._headers.reveal()
        params = params or None  # an empty mapping still makes aiohttp rebuild the URL
        try:
            if self._direct:
                # Our own session, of aiohttp's own class: its request() only wraps this
                # coroutine in a context manager (made through a generic alias, about
                # 1 µs), which ``await`` would unwrap again.
                response = await session._request(
                    method, url, params=params, data=body, headers=headers, allow_redirects=False
                )
            else:
                # What ``async with request as response`` does, without its four coroutines.
                response = await session.request(
                    method,
                    url,
                    params=params,
                    data=body,
                    headers=headers,
                    allow_redirects=False,
                    **self._per_request,
                )
            try:
                declared = response.content_length
                if (
                    declared is not None
                    and declared <= _MAX_BODY
                    and _ENCODING not in response.headers
                ):
                    # aiohttp never reads past a declared Content-Length, so one read is
                    # bounded (unless compressed: then only the loop counts what it inflates).
                    raw = await response.read()
                else:
                    raw = await _read_capped(response)
            finally:
                response.release()
                if body is not None:  # as its exit does: the body's writer ends first
                    await response.wait_for_close()
            status, response_headers = response.status, response.headers
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # The connection was never made: nothing was sent, always safe to retry.
            raise self._closed(f"{method} {path} could be sent") or TransportError(
                f"could not connect for {method} {path}: {self._describe(exc)}",
                method=method,
                path=path,
            ) from None
        except (aiohttp.ClientError, asyncio.TimeoutError, _BodyTooLarge) as exc:
            what = f"{method} {path}: {self._describe(exc)}"
            if number is not None:
                masked = mask_number(number)
                raise TriggerOutcomeUnknown(
                    f"no answer to {what}; the call to {masked} may have been placed",
                    masked_number=masked,
                    method=method,
                    path=path,
                ) from None
            raise self._closed(f"{method} {path} was answered") or TransportError(
                f"no answer to {what}", method=method, path=path
            ) from None
        except asyncio.CancelledError:
            # Closing the session cancels what waits for a pooled connection: unless this
            # task itself is being cancelled, that is the client closing, not the caller.
            closed = self._closed(f"{method} {path} could be sent")
            if closed is None or being_cancelled():
                raise
            raise closed from None
        correlation_id = response_headers.get(_CORRELATION_HEADER)
        # A server that echoes the credential back must not get it into our errors or logs.
        raw = self._scrubber.scrub(raw)
        if logger.isEnabledFor(logging.DEBUG):  # skip building the record's fields
            logger.debug(
                "%s %s -> %s in %.1f ms%s (correlation id %s)",
                method,
                path,
                status,
                (time.perf_counter() - started) * 1000,
                f" for {mask_number(number)}" if number else "",
                correlation_id,
                extra={"polyout_status": status, "polyout_correlation_id": correlation_id},
            )
        if status < 300:
            parsed, problem = decode(raw)
            return Answer(status, correlation_id, parsed, problem)
        # Error text reaches logs and messages: a server that repeats a number (a 400
        # naming the bad number, say), however formatted, must not put it there in full.
        raw = scrub_numbers(raw, number)
        parsed, _ = decode(raw)
        text = raw[: _MAX_ERROR_TEXT * 4].decode("utf-8", errors="replace")[:_MAX_ERROR_TEXT]
        message, code = _error_details(parsed, text, status)
        raise error_class_for(status)(
            status,
            message=message,
            code=code,
            correlation_id=correlation_id or _correlation_from_body(parsed),
            body=text,
            parsed=parsed if isinstance(parsed, Mapping) else None,
            method=method,
            path=path,
            retry_after=parse_retry_after(response_headers),
        )

    def _closed(self, what: str) -> Exception | None:
        return self._holder.closed_error(what)

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, asyncio.TimeoutError):
            return "timed out"
        if isinstance(exc, aiohttp.ClientConnectorError):
            return f"{exc.host}:{exc.port} {exc.os_error.strerror or exc.os_error}"
        # aiohttp's texts may quote the URL, and with it a password in base_url.
        return self._scrubber.scrub_text(str(exc) or type(exc).__name__)


class _BodyTooLarge(Exception):
    pass


async def _read_capped(response: aiohttp.ClientResponse) -> bytes:
    """A body of undeclared length (or compressed), refusing more than 1 MiB."""
    body = bytearray()
    async for chunk in response.content.iter_chunked(65536):
        body += chunk
        if len(body) > _MAX_BODY:
            raise _BodyTooLarge(f"response body larger than {_MAX_BODY} bytes")
    return bytes(body)


def decode(body: bytes) -> tuple[Any, str | None]:
    """The JSON in ``body``, or None and the reason it cannot be used."""
    if not body:
        return None, "the body is empty"
    try:
        # Decoding first skips json's detection of UTF-16/32, which no API answers in.
        text = body.decode()
    except UnicodeDecodeError:
        return None, "the body is not UTF-8"
    try:
        parsed = _loads(text)
    except RecursionError:
        return None, f"the body's JSON is nested more than {MAX_DEPTH} deep"
    except ValueError:
        return None, "the body is not JSON"
    # Only a body with that many brackets can be that deep: nearly all skip the walk.
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth(parsed) > MAX_DEPTH:
        return None, f"the body's JSON is nested more than {MAX_DEPTH} deep"
    return parsed, None


# The scanner of the decoder json.loads uses, with the same settings (typeshed omits it).
_scan_json: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _loads(text: str) -> Any:
    """``json.loads(text)``, at half its cost for a body with no surrounding whitespace.

    json.loads skips whitespace with two regex matches and three Python calls; a body
    that starts and ends with its value needs none of that. Anything else (whitespace,
    trailing data, no JSON at all) goes to json.loads, so its rules and errors stay.
    """
    try:
        value, end = _scan_json(text, 0)
    except StopIteration:
        end = -1
    return value if end == len(text) else json.loads(text)


def _depth(value: Any) -> int:
    """How deep ``value`` nests, walked without recursion (it may be hostile)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def _error_details(parsed: Any, text: str, status: int) -> tuple[str, str | None]:
    """Message and code from any of the documented error body shapes."""
    if isinstance(parsed, Mapping):
        error = parsed.get("error")
        if isinstance(error, Mapping):  # {"error": {"code", "id", "message", ...}}
            return _text(error.get("message"), status), _opt(error.get("code"))
        message = parsed.get("error_message") or error or parsed.get("message")
        code = parsed.get("error_code") or parsed.get("code")
        details = parsed.get("errors")
        if isinstance(details, list) and details:  # {"message", "errors": [{field, message}]}
            fields = "; ".join(
                f"{item.get('field')}: {item.get('message')}"
                for item in details
                if isinstance(item, Mapping)
            )
            message = f"{message} ({fields})" if message and fields else message or fields
        return _text(message, status), _opt(code)
    snippet = " ".join(text.split())[:200]
    return snippet or f"HTTP {status} with an empty body", None


def _text(value: object, status: int) -> str:
    return str(value) if value else f"HTTP {status}"


def _opt(value: object) -> str | None:
    return str(value) if value is not None and value != "" else None


def _correlation_from_body(parsed: Any) -> str | None:
    if isinstance(parsed, Mapping):
        error = parsed.get("error")
        if isinstance(error, Mapping):
            return _opt(error.get("correlation_id"))
    return None
