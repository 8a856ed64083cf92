"""From the connection flags to a :class:`polyout.Client`, and what must never be printed."""

from __future__ import annotations

import argparse
import os

from polyout._client import Client
from polyout._errors import BadRequestError, NotFoundError, RateLimitError, ServerError
from polyout._secrets import redact_url

__all__ = [
    "api_key_from",
    "base_url_has_password",
    "check_connection",
    "client_from_args",
    "connection_flags_for_resume",
]

# A sid no trigger ever returns: asking for its status dials nobody.
_PROBE_SID = "OUT-polyout-connection-check"


def api_key_from(args: argparse.Namespace) -> str | None:
    """The key the client will use: the flag, else ``POLYAI_API_KEY``."""
    key = getattr(args, "api_key", None) or os.environ.get("POLYAI_API_KEY")
    return key or None


def client_from_args(args: argparse.Namespace, *, rate_limit: float | None = None) -> Client:
    """A client for the flags given. Raises ``polyout.ValidationError`` for a bad setting."""
    return Client(
        args.api,
        api_key=api_key_from(args),
        region=args.region,
        base_url=args.base_url,
        agent_id=args.agent_id,
        environment=args.environment,
        account_id=args.account_id,
        project_id=args.project_id,
        rate_limit=rate_limit,
    )


def connection_flags_for_resume(args: argparse.Namespace) -> list[str]:
    """The connection flags to repeat on ``polyout campaign resume``: never the key.

    Only what the operator passed explicitly (or that differs from the defaults) is
    repeated, so that the printed command is short and works in the same shell. A
    password in ``--base-url`` is shown as ``***``: see :func:`base_url_has_password`.
    """
    flags: list[str] = []
    if args.api != os.environ.get("POLYOUT_API", "agents"):
        flags += ["--api", args.api]
    for name in ("base_url", "region", "agent_id", "account_id", "project_id"):
        value = getattr(args, name)
        env_name = "POLYAI_" + name.upper()
        if value and value != os.environ.get(env_name):
            flags += ["--" + name.replace("_", "-"), redact_url(value)]
    if args.api == "agents" and args.environment != os.environ.get("POLYAI_ENVIRONMENT", "live"):
        flags += ["--environment", args.environment]
    return flags


def base_url_has_password(args: argparse.Namespace) -> bool:
    """Whether the resume command printed for ``args`` lost a password to ``***``."""
    url: str | None = getattr(args, "base_url", None)
    return url is not None and url != os.environ.get("POLYAI_BASE_URL") and redact_url(url) != url


async def check_connection(client: Client) -> None:
    """Prove the server answers and takes the key, before a campaign journals anything.

    One status read of a call that cannot exist: "not found" is the expected answer.
    A wrong key (401/403) or an unreachable server raises, so that the operator hears
    about it at once instead of after the campaign's patience with an outage runs out.
    A busy or failing server does not stop the start: the campaign copes with those.
    """
    try:
        await client.get_status(_PROBE_SID)
    except (NotFoundError, BadRequestError, RateLimitError, ServerError):
        return
