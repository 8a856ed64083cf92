"""Exit codes, and the one line an operator reads when something goes wrong.

Every failure the CLI expects becomes a :class:`CliError`: what failed, why, and what to
do, on one line, with an exit code from :class:`ExitCode`. Library exceptions are turned
into one by :func:`explain`; anything else is a bug and says so.
"""

from __future__ import annotations

import enum
import errno
import sqlite3

from polyout._campaign._contacts import ContactFileError
from polyout._campaign._errors import CampaignError, JournalError, StoreUnavailable
from polyout._errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    NotFoundError,
    PermissionDeniedError,
    PolyOutError,
    RateLimitError,
    ServerError,
    TransportError,
    TriggerOutcomeUnknown,
    ValidationError,
)

__all__ = [
    "EXIT_CODES_HELP",
    "CliError",
    "ExitCode",
    "explain",
    "from_os_error",
    "storage_failure",
]


class ExitCode(enum.IntEnum):
    OK = 0
    #: The command worked and its answer is bad news: a campaign with contacts that need
    #: attention, a single call that did not succeed, a contact file with invalid rows,
    #: a call sid the API does not know.
    ATTENTION = 1
    #: Bad flags or input (a file, a number, the key's format, a journal): nothing was dialled.
    USAGE = 2
    #: The API, the network or the database could not be reached or failed.
    API = 3
    #: A bug in polyout: the message names it; -v shows the traceback.
    INTERNAL = 4
    #: A file could not be written (disk full, read-only, permission denied): the
    #: campaign stopped sending and stays resumable once that is fixed.
    STORAGE = 5
    #: Stopped by Ctrl-C or SIGTERM; a campaign can be resumed from its journal.
    INTERRUPTED = 130


EXIT_CODES_HELP = """\
exit codes:
  0    success (report: the journal was read and reported, whatever the results)
  1    done, with bad news: a campaign with failed, unknown or expired contacts; a
       single call that did not succeed; validate: invalid rows; status: no such call
  2    usage or input error (flags, contact file, number, key format, journal):
       nothing was dialled
  3    API, connection or database error (wrong key, unreachable server, server failure)
  4    internal error (a bug: rerun with -v and report the traceback)
  5    cannot write (disk full, read-only, permission denied): the campaign stopped
       sending; fix it, then resume
  130  interrupted (Ctrl-C or SIGTERM); a campaign prints the command that resumes it
"""


class CliError(Exception):
    """A failure the operator can act on: one line, one exit code."""

    def __init__(self, message: str, code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


#: The example number in help and messages: one polyout accepts (phonenumbers' example
#: US number), so that a newcomer who copies it gets past validation.
EXAMPLE_NUMBER = "+12015550123"

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
    "to_number": f"give it in E.164 ({EXAMPLE_NUMBER}) or pass --country-code",
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
    storage = storage_failure(exc)
    if storage is not None:
        return CliError(storage, ExitCode.STORAGE)
    if isinstance(exc, ValidationError):
        return _validation(exc)
    if isinstance(exc, ConfigurationError):
        flag = "--" + exc.setting.replace("_", "-")
        return CliError(f"{flag}: {exc.reason}", ExitCode.USAGE)
    if isinstance(exc, StoreUnavailable):  # the database, not the input: nothing was dialled
        return CliError(str(exc), ExitCode.API)
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


#: OS errors that say the machine, not the input, is the problem.
_STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EFBIG})
#: Also one while writing (a journal, results): a file we could not read is bad input.
_WRITE_ERRNOS = _STORAGE_ERRNOS | {errno.EACCES, errno.EPERM}
#: SQLite's words for the same (it reports them without an errno).
_SQLITE_STORAGE = ("disk is full", "readonly database", "disk i/o error")


def storage_failure(exc: BaseException, *, writing: bool = False) -> str | None:
    """Why a file could not be written (disk full, read-only...), or None if that is not it.

    ``writing``: the command was writing its own files, so a permission error is one too.
    Looks through the chain of causes: the journal wraps SQLite's errors in its own.
    """
    errnos = _WRITE_ERRNOS if writing else _STORAGE_ERRNOS
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in errnos:
            where = f"{current.filename}: " if current.filename else ""
            return _said_by_polyout(exc) or f"cannot write {where}{current.strerror or current}"
        if isinstance(current, sqlite3.OperationalError) and any(
            words in str(current).lower() for words in _SQLITE_STORAGE
        ):
            return _said_by_polyout(exc) or f"cannot write the journal: {current}"
        current = current.__cause__ or current.__context__
    return None


def _said_by_polyout(exc: BaseException) -> str | None:
    # The journal's own words name the file ("cannot write the journal PATH: ..."); a
    # bare SQLite or OS error does not.
    return str(exc) if isinstance(exc, PolyOutError) and str(exc).startswith("cannot") else None


def from_os_error(exc: BaseException) -> CliError | None:
    """A file the command could not read or write, as one line."""
    if not isinstance(exc, OSError):
        return None
    where = f"{exc.filename}: " if exc.filename else ""
    return CliError(f"{where}{exc.strerror or exc}", ExitCode.USAGE)
