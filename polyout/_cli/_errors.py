"""Exit codes, and the one line an operator reads when something goes wrong.

Every failure the CLI expects becomes a :class:`CliError`: what failed, why, and what to
do, on one line, with an exit code from :class:`ExitCode`. Library exceptions are turned
into one by :func:`explain`; anything else is a bug and says so.
"""

from __future__ import annotations

import enum

from polyout._campaign._contacts import ContactFileError
from polyout._campaign._errors import CampaignError, JournalError
from polyout._errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    PolyOutError,
    RateLimitError,
    ServerError,
    TransportError,
    TriggerOutcomeUnknown,
    ValidationError,
)

__all__ = ["EXIT_CODES_HELP", "CliError", "ExitCode", "explain", "scrub"]


class ExitCode(enum.IntEnum):
    OK = 0
    #: A campaign finished but some contacts need attention, or a single call did not succeed.
    ATTENTION = 1
    #: Bad flags or input (a file, a number, the key's format): nothing was dialled.
    USAGE = 2
    #: The API or the network failed (wrong key, unreachable server, server errors).
    API = 3
    #: A bug in polyout: the message names it; -v shows the traceback.
    INTERNAL = 4
    #: Stopped by Ctrl-C or SIGTERM; a campaign can be resumed from its journal.
    INTERRUPTED = 130


EXIT_CODES_HELP = """\
exit codes:
  0    success
  1    finished, but something needs attention (a campaign with failed, unknown or
       expired contacts; a single call that did not succeed)
  2    usage or input error (flags, contact file, number, key format): nothing was dialled
  3    API or connection error (wrong key, unreachable server, server failure)
  4    internal error (a bug: rerun with -v and report the traceback)
  130  interrupted (Ctrl-C or SIGTERM); a campaign prints the command that resumes it
"""


class CliError(Exception):
    """A failure the operator can act on: one line, one exit code."""

    def __init__(self, message: str, code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# Library field names as the operator typed them.
_FLAG_FOR_FIELD = {
    "api": "--api",
    "api_key": "the API key",
    "base_url": "--base-url",
    "region": "--region",
    "agent_id": "--agent-id",
    "environment": "--environment",
    "account_id": "--account-id",
    "project_id": "--project-id",
    "to_number": "the number",
    "country_code": "--country-code",
    "metadata": "--metadata",
    "call_sid": "CALL_SID",
}

_ADVICE_FOR_FIELD = {
    "api_key": "check POLYAI_API_KEY (or --api-key)",
    "to_number": "give it in E.164 (+447700900123) or pass --country-code",
}

# Library reasons written for Python callers (``pass api_key=``), said the command's way.
_REWORDED = {
    ("api_key", "is required"): "no API key: set POLYAI_API_KEY (or pass --api-key)",
    ("base_url", "pass region="): (
        "no API host: pass --region or --base-url (or set POLYAI_BASE_URL)"
    ),
}


def explain(exc: BaseException) -> CliError | None:
    """The operator's line for a library exception; None when it is not one we expect."""
    if isinstance(exc, CliError):
        return exc
    if isinstance(exc, ValidationError):
        return _validation(exc)
    if isinstance(exc, ContactFileError | JournalError):
        return CliError(str(exc), ExitCode.USAGE)
    if isinstance(exc, CampaignError):
        return CliError(str(exc), ExitCode.API)
    if isinstance(exc, TriggerOutcomeUnknown):
        return CliError(
            f"no answer to the trigger ({exc}): check the call before placing it again",
            ExitCode.API,
        )
    if isinstance(exc, TransportError):
        return CliError(
            f"could not reach the API ({exc}): check --base-url or --region and the network",
            ExitCode.API,
        )
    if isinstance(exc, APIStatusError):
        return CliError(_api_status(exc), ExitCode.API)
    if isinstance(exc, PolyOutError):
        return CliError(str(exc), ExitCode.API)
    return None


def _validation(exc: ValidationError) -> CliError:
    for (field, start), message in _REWORDED.items():
        if exc.field == field and exc.reason.startswith(start):
            return CliError(message, ExitCode.USAGE)
    root = exc.field.split(".", 1)[0]
    subject = _FLAG_FOR_FIELD.get(root, exc.field)
    if root == "metadata" and "." in exc.field:
        subject = f"--metadata {exc.field.split('.', 1)[1]}"
    message = f"{subject} {exc.reason}"
    advice = _ADVICE_FOR_FIELD.get(root)
    if advice and advice not in message:
        message += f": {advice}"
    return CliError(message, ExitCode.USAGE)


def _api_status(exc: APIStatusError) -> str:
    detail = str(exc)
    if isinstance(exc, AuthenticationError):
        return (
            f"the API refused the key ({detail}): check POLYAI_API_KEY and that --api "
            "matches the API the key belongs to"
        )
    if isinstance(exc, PermissionDeniedError):
        return f"the key may not do this ({detail}): check the key's permissions"
    if isinstance(exc, NotFoundError):
        return (
            f"not found ({detail}): check --agent-id, --environment or the ids in the "
            "URL; a call's status is kept about 2 hours after it ends"
        )
    if isinstance(exc, RateLimitError):
        wait = f" for {exc.retry_after:g} s" if exc.retry_after is not None else ""
        return f"rate limited ({detail}): wait{wait} and try again"
    if isinstance(exc, BadRequestError):
        return f"the API refused the request ({detail})"
    if isinstance(exc, ServerError):
        return f"the API failed ({detail}): try again later"
    return f"the API answered with an error ({detail})"


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every secret replaced: the last guard before anything is printed."""
    for secret in secrets:
        # A one-letter "key" would mangle the text and hides nothing worth hiding.
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
