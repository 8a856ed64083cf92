"""``polyout.Client``: one asyncio client for the Agents, Platform and Connector APIs."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Literal

import aiohttp
import attrs

from polyout._apis import ApiName, Dialect, base_url_for, dialect_for, state_from_raw
from polyout._errors import (
    APIStatusError,
    ClientClosedError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
    TriggerOutcomeUnknown,
    ValidationError,
    error_class_for,
)
from polyout._log import configure_from_env, logger
from polyout._models import Call, CallRequest, CallState, CallStatus, Encryption
from polyout._pacing import Pacer, RequestPacer
from polyout._phone import mask_number, scrub_number
from polyout._request import build_request
from polyout._retry import TRIGGER_RETRYABLE_5XX, RetryPolicy, parse_retry_after, retrying
from polyout._version import __version__

__all__ = ["DEFAULT_WAIT_DEADLINE", "Client", "Timeout"]

#: Status data disappears about two hours after a call ends; stop well before that.
DEFAULT_WAIT_DEADLINE = 2 * 3600 - 10 * 60
#: The Platform docs suggest polling every 2 to 5 seconds.
DEFAULT_POLL_INTERVAL = 3.0
#: A status can lag its trigger: a 404 for a never-seen call is retried this long.
NOT_FOUND_GRACE = 30.0
_MAX_BODY = 1024 * 1024
_CORRELATION_HEADER = "X-PolyAI-Correlation-Id"
_ENCODING = "Content-Encoding"
_USER_AGENT = (
    f"polyout/{__version__} aiohttp/{aiohttp.__version__} "
    f"python/{sys.version_info.major}.{sys.version_info.minor}"
)


@attrs.frozen
class Timeout:
    """Per-request time limits in seconds.

    ``connect`` bounds getting a connection (pool wait included): a request that times
    out there was provably never sent. ``read`` bounds each wait for the server's bytes,
    ``total`` the whole request.
    """

    connect: float = 5.0
    read: float = 30.0
    total: float = 60.0

    def __attrs_post_init__(self) -> None:
        if min(self.connect, self.read, self.total) <= 0:
            raise ValueError("timeouts must be positive")
        if self.connect > self.total:
            # Otherwise a timeout while connecting would look like one after sending.
            raise ValueError("connect timeout must not exceed total")


@attrs.frozen
class _Answer:
    status: int
    correlation_id: str | None
    parsed: Any


class _Secret:
    """A credential that never shows itself in a repr, a log line or a traceback."""

    __slots__ = ("_encoded", "_value")

    def __init__(self, value: str) -> None:
        self._value = value
        self._encoded = value.encode()

    def reveal(self) -> str:
        return self._value

    def scrub(self, data: bytes) -> bytes:
        # Too short a "key" (tests use one letter) would mangle ordinary text.
        if len(self._encoded) < 8:
            return data
        return data.replace(self._encoded, b"***")

    def header(self, name: str) -> dict[str, str]:
        return {name: self._value}

    def __repr__(self) -> str:
        return "<redacted>"

    __str__ = __repr__


_State = Literal["unopened", "open", "closed"]


class Client:
    """An asyncio client for PolyAI's outbound calling APIs.

    Use it as ``async with Client(...) as client:`` or call ``await client.aclose()``.
    A session you pass in stays yours: the client never closes it.
    """

    def __init__(
        self,
        api: ApiName = "agents",
        *,
        api_key: str | None = None,
        region: str | None = None,
        base_url: str | None = None,
        agent_id: str | None = None,
        environment: str = "live",
        account_id: str | None = None,
        project_id: str | None = None,
        timeout: float | Timeout = Timeout(),
        max_retries: int = 3,
        max_retry_wait: float = 30.0,
        rate_limit: float | None = None,
        max_connections: int = 100,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        configure_from_env()
        self._dialect: Dialect = dialect_for(
            api,
            agent_id=agent_id,
            environment=environment,
            account_id=account_id,
            project_id=project_id,
        )
        self._api_key = _Secret(_check_api_key(api_key or os.environ.get("POLYAI_API_KEY")))
        self.base_url = _resolve_base_url(api, base_url, region)
        self.timeout = timeout if isinstance(timeout, Timeout) else _timeout_from(timeout)
        self.retry_policy = RetryPolicy(max_retries=max_retries, max_wait=max_retry_wait)
        self._pacer = Pacer(rate_limit) if rate_limit is not None else None
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self._max_connections = max_connections
        self._session = session
        self._owns_session = session is None
        self._state: _State = "unopened"
        # The credential joins the headers only per request, so no attribute holds it bare.
        self._headers = {"Accept": "application/json", "User-Agent": _USER_AGENT}
        self._aiohttp_timeout = aiohttp.ClientTimeout(
            total=self.timeout.total,
            connect=self.timeout.connect,
            sock_read=self.timeout.read,
        )
        # Our own session carries the timeout; a timeout passed with every request costs
        # aiohttp about 5 µs each, so only a caller's session gets it per request.
        self._request_options: dict[str, Any] = {"allow_redirects": False}
        if session is not None:
            self._request_options["timeout"] = self._aiohttp_timeout

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def api(self) -> ApiName:
        return self._dialect.name

    @property
    def environment(self) -> str | None:
        return self._dialect.environment

    def __repr__(self) -> str:
        ids = {
            "agent_id": self._dialect.agent_id,
            "environment": self._dialect.environment,
            "account_id": self._dialect.account_id,
            "project_id": self._dialect.project_id,
        }
        shown = "".join(f" {key}={value!r}" for key, value in ids.items() if value)
        return f"<polyout.Client api={self.api!r} base_url={self.base_url!r}{shown} {self._state}>"

    async def __aenter__(self) -> Client:
        self._open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP session if the client opened it. Safe to call twice."""
        if self._state == "closed":
            return
        self._state = "closed"
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None

    def _open(self) -> aiohttp.ClientSession:
        if self._state == "closed":
            raise ClientClosedError("this polyout.Client was closed; create a new one")
        if self._session is None:
            # Created here, inside the running loop: a session binds to its loop.
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections),
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=self._aiohttp_timeout,
            )
        self._state = "open"
        return self._session

    # -- public operations -------------------------------------------------------------
    async def trigger_call(
        self,
        to_number: str,
        *,
        country_code: str | None = None,
        metadata: Mapping[str, str] | None = None,
        encryption: Encryption | str | None = None,
        variant_id: str | None = None,
    ) -> Call:
        """Place one call. Input is validated first; nothing is sent if it is invalid.

        Raises :class:`TriggerOutcomeUnknown` when the request was sent but no answer came
        back: the call may have been placed, and it is not re-sent.
        """
        request = build_request(
            to_number,
            country_code=country_code,
            metadata=metadata,
            encryption=encryption,
            variant_id=variant_id,
        )
        return await self.place(request)

    async def place(self, request: CallRequest, *, pacer: RequestPacer | None = None) -> Call:
        """Place a call from an already validated :class:`CallRequest`.

        ``pacer`` overrides the client's own rate limit, so a campaign can pace (and pause
        on 429) all of its triggers together.
        """
        pacer = pacer if pacer is not None else self._pacer
        payload = _encode(self._dialect.trigger_body(request))
        path = self._dialect.trigger_path()
        masked = mask_number(request.to_number)

        async def attempt() -> _Answer:
            try:
                return await _paced(
                    pacer,
                    lambda: self._send(
                        "POST", path, payload=payload, masked=masked, number=request.to_number
                    ),
                )
            except ServerError as exc:
                if exc.status_code not in TRIGGER_RETRYABLE_5XX:
                    raise _unknown_from_status(exc, masked) from exc
                if pacer is not None:
                    pacer.on_not_placed()
                raise
            except TriggerOutcomeUnknown:
                raise
            except (TransportError, APIStatusError):
                # The server refused it, or no connection was made: nothing was placed.
                if pacer is not None:
                    pacer.on_not_placed()
                raise

        try:
            answer = await attempt()
        except (TransportError, APIStatusError) as exc:
            answer = await self._retry_after(exc, attempt, trigger=True)
        sid = self._dialect.sid_from_trigger(answer.parsed)
        if sid is None:
            raise TriggerOutcomeUnknown(
                f"HTTP {answer.status} from POST {path} has no call sid: the call was "
                "probably placed but cannot be followed",
                masked_number=masked,
                method="POST",
                path=path,
                status_code=answer.status,
                correlation_id=answer.correlation_id,
            )
        initial = answer.parsed.get("status") if isinstance(answer.parsed, Mapping) else None
        logger.info(
            "call %s placed to %s (correlation id %s)",
            sid,
            masked,
            answer.correlation_id,
            extra={"polyout_call_sid": sid, "polyout_correlation_id": answer.correlation_id},
        )
        return Call(
            call_sid=sid,
            to_number=request.to_number,
            state=state_from_raw(initial) if initial is not None else CallState.QUEUED,
            correlation_id=answer.correlation_id,
            raw=answer.parsed,
        )

    async def get_status(self, call_sid: str, *, pacer: RequestPacer | None = None) -> CallStatus:
        """Read a call's status once (retried on connection errors, 429 and 5xx).

        ``pacer``, if given, is awaited before every try and told of each 429, so a
        campaign's polls share one budget and pause together.
        """
        _check_sid(call_sid)
        path = self._dialect.status_path(call_sid)
        params = self._dialect.status_params()

        def attempt() -> Awaitable[_Answer]:
            return _paced(pacer, lambda: self._send("GET", path, params=params))

        try:
            answer = await attempt()
        except (TransportError, APIStatusError) as exc:
            answer = await self._retry_after(exc, attempt, trigger=False)
        body = answer.parsed if isinstance(answer.parsed, Mapping) else {}
        if not body:
            raise TransportError(
                f"HTTP {answer.status} from GET {path} has no JSON object body",
                method="GET",
                path=path,
            )
        raw_status = self._dialect.raw_status(body)
        return CallStatus(
            call_sid=call_sid,
            state=state_from_raw(raw_status),
            raw_status=raw_status if isinstance(raw_status, str) else None,
            reason=self._dialect.reason(body),
            correlation_id=answer.correlation_id,
            raw=body,
        )

    async def wait_for_call(
        self,
        call_sid: str,
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        deadline: float | None = DEFAULT_WAIT_DEADLINE,
    ) -> CallStatus:
        """Poll until the call ends.

        Returns its final status. When the status disappears after having been seen
        (retention passed) or ``deadline`` passes first, returns a status in state
        ``expired`` whose ``last_seen`` is the last status read. Raises
        :class:`NotFoundError` when the call was never found.
        """
        if poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        loop = asyncio.get_running_loop()
        started = loop.time()
        ends_at = None if deadline is None else started + deadline
        last: CallStatus | None = None
        while True:
            try:
                status = await self.get_status(call_sid)
            except NotFoundError:
                if last is not None:
                    return _expired(last, "status is no longer available (retention passed)")
                if loop.time() - started >= NOT_FOUND_GRACE:
                    raise
            else:
                if status.is_final:
                    return status
                last = status
            if ends_at is not None and loop.time() + poll_interval > ends_at:
                seen = last or CallStatus(call_sid=call_sid, state=CallState.UNKNOWN)
                return _expired(seen, f"not finished after {deadline:g} s")
            await asyncio.sleep(poll_interval)

    # -- transport ---------------------------------------------------------------------
    async def _retry_after(
        self, failure: Exception, attempt: Callable[[], Awaitable[_Answer]], *, trigger: bool
    ) -> _Answer:
        """Retry ``attempt``, whose first try just raised ``failure``, by the client's policy.

        Almost every request succeeds at once, so callers make the first try a plain
        call and only a failure builds the retry machinery (backoff's generators cost a
        fifth of a status poll's CPU). The failure is replayed into it as its first
        try, so what to retry and how long to wait stay decided in one place.
        """
        replay: Exception | None = failure

        async def replay_then_attempt() -> _Answer:
            nonlocal replay
            if replay is not None:
                failed, replay = replay, None
                raise failed
            return await attempt()

        return await retrying(
            replay_then_attempt,
            policy=self.retry_policy,
            trigger=trigger,
            on_retry=self._log_retry,
        )

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        payload: bytes | None = None,
        masked: str | None = None,
        number: str | None = None,
    ) -> _Answer:
        """One HTTP exchange. Raises APIStatusError, TransportError or TriggerOutcomeUnknown."""
        session = self._open()
        headers = {**self._headers, **self._api_key.header(self._dialect.auth_header)}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        try:
            async with session.request(
                method,
                self.base_url + path,
                params=params or None,  # an empty mapping still makes aiohttp rebuild the URL
                data=payload,
                headers=headers,
                **self._request_options,
            ) as response:
                body = await _read_capped(response)
                status, response_headers = response.status, response.headers
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # The connection was never made: nothing was sent, always safe to retry.
            raise TransportError(
                f"could not connect for {method} {path}: {_describe(exc)}",
                method=method,
                path=path,
            ) from None
        except (aiohttp.ClientError, asyncio.TimeoutError, _BodyTooLarge) as exc:
            what = f"{method} {path}: {_describe(exc)}"
            if masked is not None:
                raise TriggerOutcomeUnknown(
                    f"no answer to {what}; the call to {masked} may have been placed",
                    masked_number=masked,
                    method=method,
                    path=path,
                ) from None
            raise TransportError(f"no answer to {what}", method=method, path=path) from None
        correlation_id = response_headers.get(_CORRELATION_HEADER)
        # A server that echoes the credential back must not get it into our errors or logs.
        body = self._api_key.scrub(body)
        parsed = _decode(body)
        if logger.isEnabledFor(logging.DEBUG):  # skip building the record's fields
            logger.debug(
                "%s %s -> %s in %.1f ms%s (correlation id %s)",
                method,
                path,
                status,
                (time.perf_counter() - started) * 1000,
                f" for {masked}" if masked else "",
                correlation_id,
                extra={"polyout_status": status, "polyout_correlation_id": correlation_id},
            )
        if status < 300:
            return _Answer(status, correlation_id, parsed)
        if number is not None:
            # Error text reaches logs and messages: a server that repeats the number
            # (a 400 naming the bad number, say) must not put it there in full.
            body = scrub_number(body, number)
            parsed = _decode(body)
        text = body.decode("utf-8", errors="replace")
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

    def _log_retry(self, exc: BaseException, tries: int, wait: float) -> None:
        correlation_id = getattr(exc, "correlation_id", None)
        logger.warning(
            "retrying after try %d in %.2f s: %s",
            tries,
            wait,
            exc,
            extra={
                "polyout_correlation_id": correlation_id,
                "polyout_tries": tries,
                "polyout_wait": wait,
            },
        )


def _paced(
    pacer: RequestPacer | None, send: Callable[[], Awaitable[_Answer]]
) -> Awaitable[_Answer]:
    """One send, after ``pacer``'s turn when there is one, reporting back 429 or success."""
    return send() if pacer is None else _send_paced(pacer, send)


async def _send_paced(pacer: RequestPacer, send: Callable[[], Awaitable[_Answer]]) -> _Answer:
    await pacer.acquire()
    try:
        answer = await send()
    except RateLimitError as exc:
        pacer.on_rate_limited(exc.retry_after)
        raise
    pacer.on_success()
    return answer


class _BodyTooLarge(Exception):
    pass


async def _read_capped(response: aiohttp.ClientResponse) -> bytes:
    """The body, refusing more than 1 MiB: no documented answer comes close."""
    declared = response.content_length
    if declared is not None and declared <= _MAX_BODY and not response.headers.get(_ENCODING):
        # aiohttp never reads past a declared Content-Length, so one read is bounded
        # (unless the body is compressed: then only the loop below counts what it inflates).
        return await response.read()
    body = bytearray()
    async for chunk in response.content.iter_chunked(65536):
        body += chunk
        if len(body) > _MAX_BODY:
            raise _BodyTooLarge(f"response body larger than {_MAX_BODY} bytes")
    return bytes(body)


def _encode(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _decode(body: bytes) -> Any:
    if not body:
        return None
    try:
        # Decoding first skips json's detection of UTF-16/32, which no API answers in.
        return json.loads(body.decode())
    except ValueError:  # not JSON, or not UTF-8: kept as text on the error
        return None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"{exc.host}:{exc.port} {exc.os_error.strerror or exc.os_error}"
    return str(exc) or type(exc).__name__


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


def _unknown_from_status(exc: APIStatusError, masked: str) -> TriggerOutcomeUnknown:
    # Only 500 and 502 are documented as "not placed"; any other 5xx (a gateway timeout,
    # say) may come from a proxy that gave up while the call was being placed.
    return TriggerOutcomeUnknown(
        f"{exc}; the docs do not say whether the call to {masked} was placed",
        masked_number=masked,
        method=exc.method,
        path=exc.path,
        status_code=exc.status_code,
        correlation_id=exc.correlation_id,
    )


def _expired(last: CallStatus, reason: str) -> CallStatus:
    return CallStatus(
        call_sid=last.call_sid,
        state=CallState.EXPIRED,
        raw_status=last.raw_status,
        reason=reason,
        correlation_id=last.correlation_id,
        raw=last.raw,
        last_seen=last,
    )


def _check_sid(call_sid: str) -> None:
    if not isinstance(call_sid, str) or not call_sid.startswith("OUT-") or len(call_sid) > 200:
        raise ValidationError("call_sid", "must be a call sid as returned by a trigger (OUT-…)")


def _check_api_key(key: str | None) -> str:
    if not key:
        raise ValidationError("api_key", "is required: pass api_key= or set POLYAI_API_KEY")
    if not key.isprintable() or any(ch.isspace() for ch in key) or not key.isascii():
        # The key itself is never part of the message.
        raise ValidationError("api_key", "contains whitespace or characters a header cannot carry")
    return key


def _resolve_base_url(api: str, base_url: str | None, region: str | None) -> str:
    url = base_url or os.environ.get("POLYAI_BASE_URL")
    if not url:
        if region is None:
            raise ValidationError("base_url", "pass region= or base_url= (or set POLYAI_BASE_URL)")
        return base_url_for(api, region)
    if not url.startswith(("https://", "http://")):
        raise ValidationError("base_url", "must start with https:// or http://")
    return url.rstrip("/")


def _timeout_from(total: float) -> Timeout:
    return Timeout(connect=min(5.0, total), read=total, total=total)
