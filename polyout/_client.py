"""``polyout.Client``: one asyncio client for the Agents, Platform and Connector APIs.

The client is a thin front: the parts live beside it, one seam each.

- ``_session``: settings (``Timeout``) and the HTTP session's life, closing included;
- ``_sending``: one HTTP exchange, its body bounded, scrubbed and decoded;
- ``_placing``: one trigger try, what it placed, and cancellation that loses nothing;
- ``_following``: reading a status and following a call to its end;
- ``_secrets``: credentials that never show themselves.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any

import aiohttp

from polyout._apis import ApiName, Dialect, dialect_for, state_from_raw
from polyout._errors import APIStatusError, TransportError
from polyout._following import (
    DEFAULT_POLL_INTERVAL,
    DEFAULT_WAIT_DEADLINE,
    NOT_FOUND_GRACE,
    check_sid,
    follow,
    is_plain_sid,
    sid_problem,
    status_from_answer,
)
from polyout._log import configure_from_env, logger
from polyout._models import Call, CallRequest, CallState, CallStatus, Encryption
from polyout._pacing import Pacer, RequestPacer
from polyout._phone import mask_number
from polyout._placing import TriggerTry, paced, unusable_answer
from polyout._request import build_request
from polyout._retry import RetryPolicy, retrying
from polyout._secrets import Scrubber, Secret, SecretHeaders, redact_url, url_password
from polyout._sending import Answer, Sender
from polyout._session import (
    SessionHolder,
    Timeout,
    check_api_key,
    check_count,
    check_seconds,
    resolve_base_url,
)

__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_TIMEOUT",
    "DEFAULT_WAIT_DEADLINE",
    "NOT_FOUND_GRACE",
    "Client",
    "Timeout",
]

DEFAULT_TIMEOUT = Timeout()


class Client:
    """An asyncio client for PolyAI's outbound calling APIs (Agents, Platform, Connector).

    Use it as ``async with Client(...) as client:`` or call ``await client.aclose()``.
    Every bad setting is refused here, before anything is sent: a missing one with
    :class:`polyout.ValidationError`, a value that cannot work with
    :class:`polyout.ConfigurationError` (both name the parameter).

    Parameters:
        api: ``"agents"`` (default), ``"platform"`` or ``"connector"``: which API to call.
        api_key: the API's credential; default: the ``POLYAI_API_KEY`` environment variable.
            It is never shown in a repr, an exception or a log line.
        region: the documented region (``us``, ``eu``, ``uk``, ``studio``; ``us-1``,
            ``uk-1``, ``euw-1``), which picks the host. Give it or ``base_url``.
        base_url: the API's root URL instead of ``region`` (a sandbox, a proxy); default:
            ``POLYAI_BASE_URL``. A password in it (``http://user:pw@host``) is sent, never
            shown.
        agent_id: the Agents API's agent (project) id, ``PROJECT-…``; required there.
        environment: the Agents API's environment: ``sandbox``, ``pre-release`` or ``live``
            (default).
        account_id: the Connector API's account id; required there.
        project_id: the Connector API's project id; required there.
        timeout: per-request time limits: one number of seconds bounding each whole
            request, or a :class:`polyout.Timeout` (connect, read, total). This bounds
            every HTTP request; :meth:`wait_for_call` has its own ``deadline``.
        max_retries: re-sends of a request that provably placed no call (429, 500, 502,
            no connection) or of a status read; 0 disables retries. Default 3.
        max_retry_wait: the longest single wait between tries, in seconds (default 30): a
            ``Retry-After`` longer than this is raised at once, with ``retry_after`` set.
        rate_limit: at most this many triggers per second from this client, evenly
            spaced (default: unpaced). A campaign paces its triggers itself.
        max_connections: the most connections open at once (default 100).
        session: an ``aiohttp.ClientSession`` to use; it stays yours and is never closed.
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
        timeout: float | Timeout = DEFAULT_TIMEOUT,
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
        key = check_api_key(api_key or os.environ.get("POLYAI_API_KEY"))
        url = resolve_base_url(api, base_url, region)
        self.timeout = Timeout.of(timeout)
        self.retry_policy = RetryPolicy(
            max_retries=check_count("max_retries", max_retries, minimum=0),
            max_wait=check_seconds("max_retry_wait", max_retry_wait, zero_ok=True),
        )
        rate = None if rate_limit is None else check_seconds("rate_limit", rate_limit)
        self._pacer = Pacer(rate) if rate is not None else None
        connections = check_count("max_connections", max_connections, minimum=1)
        credential = SecretHeaders({self._dialect.auth_header: key})
        self._holder = SessionHolder(self.timeout, connections, session, credential)
        self._shown_url = redact_url(url)
        # What every trigger and status poll needs is worked out once.
        self._trigger_path = self._dialect.trigger_path()
        self._status_before, self._status_after = self._dialect.status_path_around()
        self._status_params = self._dialect.status_params() or None
        self._sender = Sender(
            self._holder,
            base_url=Secret(url),
            api_key=Secret(key),
            auth_header=self._dialect.auth_header,
            scrubber=Scrubber(key, url_password(url)),
            session_given=session is not None,
        )

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def api(self) -> ApiName:
        return self._dialect.name

    @property
    def environment(self) -> str | None:
        return self._dialect.environment

    @property
    def base_url(self) -> str:
        """The API's root URL as it may be shown: a password in it reads ``***``."""
        return self._shown_url

    def __repr__(self) -> str:
        ids = {
            "agent_id": self._dialect.agent_id,
            "environment": self._dialect.environment,
            "account_id": self._dialect.account_id,
            "project_id": self._dialect.project_id,
        }
        shown = "".join(f" {key}={value!r}" for key, value in ids.items() if value)
        state = self._holder.state
        return f"<polyout.Client api={self.api!r} base_url={self.base_url!r}{shown} {state}>"

    async def __aenter__(self) -> Client:
        self._holder.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client. Safe to call twice.

        Triggers whose requests have left are given their answers first (each bounded by
        ``timeout``), so no placed call goes unrecorded. Requests that have not left are
        stopped, and their callers get :class:`ClientClosedError`. A session you passed
        in is left open.
        """
        await self._holder.aclose()

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

        Raises :class:`TriggerOutcomeUnknown` when the request was sent but no usable
        answer came back: the call may have been placed, and it is not re-sent.

        To bound how long a trigger takes, set the client's ``timeout`` (each request)
        and ``max_retries``/``max_retry_wait`` (the retries): a trigger then ends by
        itself with a result or an error that says whether a call may exist. Do not
        wrap it in ``asyncio.wait_for`` or ``asyncio.timeout`` to do that: a call
        already sent when the deadline hits is still placed, and its answer is then only
        logged (a WARNING naming the sid), not returned. Put overall deadlines around
        whole jobs, and around :meth:`wait_for_call` (or use its ``deadline``).
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
        on 429) all of its triggers together. It is told ``on_not_placed`` of each try
        that provably placed nothing, before any retry wait.
        """
        path = self._trigger_path
        number = request.to_number
        attempt = TriggerTry(
            self._holder,
            self._sender,
            path=path,
            payload=_encode(self._dialect.trigger_body(request)),
            number=number,
            pacer=pacer if pacer is not None else self._pacer,
            sid_from=self._dialect.sid_from_trigger,
        )
        try:
            answer = await attempt()
        except (TransportError, APIStatusError) as exc:
            answer = await self._retry_after(exc, attempt, trigger=True)
        sid = self._dialect.sid_from_trigger(answer.parsed)
        if sid is None or (not is_plain_sid(sid) and sid_problem(sid) is not None):
            raise unusable_answer(answer, mask_number(number), "POST", path, sid)
        initial = answer.parsed.get("status")
        if logger.isEnabledFor(logging.INFO):  # masking and the record's fields cost
            logger.info(
                "call %s placed to %s (correlation id %s)",
                sid,
                mask_number(number),
                answer.correlation_id,
                extra={"polyout_call_sid": sid, "polyout_correlation_id": answer.correlation_id},
            )
        return Call(
            call_sid=sid,
            to_number=number,
            state=state_from_raw(initial) if initial is not None else CallState.QUEUED,
            correlation_id=answer.correlation_id,
            raw=answer.parsed,
        )

    async def get_status(self, call_sid: str, *, pacer: RequestPacer | None = None) -> CallStatus:
        """Read a call's status once (retried on connection errors, 429 and 5xx).

        Any sid a trigger returned is accepted. ``pacer``, if given, is awaited before
        every try and told of each 429, so a campaign's polls share one budget.
        """
        if is_plain_sid(call_sid):  # nearly all: checked and URL-safe in one regex
            path = self._status_before + call_sid + self._status_after
        else:
            check_sid(call_sid)
            path = self._dialect.status_path(call_sid)
        try:
            if pacer is None:  # the common case makes no closures
                answer = await self._sender.send("GET", path, params=self._status_params)
            else:
                answer = await self._status_try(path, pacer)()
        except (TransportError, APIStatusError) as exc:
            answer = await self._retry_after(exc, self._status_try(path, pacer), trigger=False)
        return status_from_answer(self._dialect, call_sid, answer, path)

    def _status_try(self, path: str, pacer: RequestPacer | None) -> Callable[[], Awaitable[Answer]]:
        send, params = self._sender.send, self._status_params
        return lambda: paced(pacer, lambda: send("GET", path, params=params))

    async def wait_for_call(
        self,
        call_sid: str,
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        deadline: float | None = DEFAULT_WAIT_DEADLINE,
    ) -> CallStatus:
        """Poll every ``poll_interval`` seconds until the call ends; return its final status.

        ``deadline`` bounds the whole wait, in seconds (None: no bound); each poll is
        bounded by the client's ``timeout``. When the status disappears after having
        been seen (retention passed) or ``deadline`` passes first, returns a status in
        state ``expired`` whose ``last_seen`` is the last status read. Raises
        :class:`NotFoundError` when the call was never found, and
        :class:`ConfigurationError` for an interval or deadline that cannot work.
        """
        return await follow(
            self.get_status, call_sid, poll_interval=poll_interval, deadline=deadline
        )

    # -- retries -----------------------------------------------------------------------
    async def _retry_after(
        self, failure: Exception, attempt: Callable[[], Awaitable[Answer]], *, trigger: bool
    ) -> Answer:
        """Retry ``attempt``, whose first try just raised ``failure``, by the client's policy.

        Almost every request succeeds at once, so callers make the first try a plain
        call and only a failure builds the retry machinery (backoff's generators cost a
        fifth of a status poll's CPU). The failure is replayed into it as its first
        try, so what to retry and how long to wait stay decided in one place.
        """
        replay: Exception | None = failure

        async def replay_then_attempt() -> Answer:
            nonlocal replay
            if replay is not None:
                failed, replay = replay, None
                raise failed
            return await attempt()

        return await retrying(
            replay_then_attempt,
            policy=self.retry_policy,
            trigger=trigger,
            on_retry=_log_retry,
        )


def _log_retry(exc: BaseException, tries: int, wait: float) -> None:
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


# json.dumps with any option builds a new encoder each call: this one is made once.
_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
# Even that one builds its C scanner again on every call (about half of a trigger body's
# encoding): made once too, with the same settings, where the C accelerator exists. It
# skips the check for circular references, which a body made of strings cannot have.
_C_ENCODER: Callable[[Any, int], Any] | None = (
    None
    if json.encoder.c_make_encoder is None  # type: ignore[attr-defined]
    else json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        None,
        _JSON.default,
        json.encoder.encode_basestring,
        None,
        _JSON.key_separator,
        _JSON.item_separator,
        False,
        False,
        True,
    )
)


def _encode(body: Mapping[str, Any]) -> bytes:
    if _C_ENCODER is None:
        return _JSON.encode(body).encode()
    return "".join(_C_ENCODER(body, 0)).encode()
