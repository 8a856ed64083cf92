"""What a failed trigger means for its contact and for the campaign: a pure decision.

``Client.place`` raised; the campaign must decide, without a second look at the
server, which of four things happened:

* ``UNKNOWN``: the request may have left and placed a call whose sid we do not have.
  The contact ends ``unknown`` and is never dialled again on its own.
* ``NOT_PLACED``: the server said, in a way the docs define, that it placed nothing
  (429, 500, 502, or no connection was made). The contact is tried again later.
* ``REFUSED``: a 400 to a request that passed our own validation. About the contact,
  or about the campaign when several come in a row (:func:`refusals_stop_campaign`).
* ``STOP``: an answer about the campaign, not the contact (401, 403, 404, a closed
  client, or any status the docs do not list: a 301 from an http URL, a 405, a 418).
  Carrying on would fail every contact in turn for one wrong setting, so the run
  stops, the contact untouched, and the journal is resumed after the fix.

Nothing here does I/O, so each rule is tested on its own (``tests/campaign/
test_trigger_errors.py``).
"""

from __future__ import annotations

import enum

import attrs

from polyout._errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    TransportError,
    TriggerOutcomeUnknown,
)

__all__ = [
    "REFUSALS_BEFORE_STOP",
    "TriggerError",
    "Verdict",
    "classify_trigger_error",
    "refusals_stop_campaign",
]

#: Requests the client validated, refused with 400 this many times in a row across the
#: campaign: a campaign-wide setting is wrong (environment, connector), not the contacts.
REFUSALS_BEFORE_STOP = 3


class Verdict(enum.Enum):
    UNKNOWN = "unknown"
    NOT_PLACED = "not_placed"
    REFUSED = "refused"
    STOP = "stop"


@attrs.frozen
class TriggerError:
    """The decision about one failed trigger."""

    verdict: Verdict
    server_down: bool = False
    """The failure says the server is down (counts towards the circuit breaker)."""
    retry_after: float | None = None
    """How long the server asked us to wait, when it did."""
    why: str = ""
    """For STOP: what the operator must check, in one line."""


def classify_trigger_error(exc: BaseException) -> TriggerError:
    """Sort the exception ``Client.place`` raised for a trigger (see the module's doc)."""
    if isinstance(exc, TriggerOutcomeUnknown):
        return TriggerError(Verdict.UNKNOWN)
    if isinstance(exc, (AuthenticationError, PermissionDeniedError, NotFoundError)):
        return TriggerError(
            Verdict.STOP,
            why=f"the API refused the campaign's trigger ({exc}): check the credential, "
            "the agent/account/project ids and the environment, then resume",
        )
    if isinstance(exc, ClientClosedError):
        return TriggerError(
            Verdict.STOP, why=f"{exc}: the campaign cannot send; resume it with an open client"
        )
    if isinstance(exc, RateLimitError):
        return TriggerError(Verdict.NOT_PLACED, retry_after=exc.retry_after)
    if isinstance(exc, ServerError):
        # Only 500 and 502 arrive here: any other trigger 5xx is TriggerOutcomeUnknown.
        return TriggerError(Verdict.NOT_PLACED, server_down=True, retry_after=exc.retry_after)
    if isinstance(exc, TransportError):
        return TriggerError(Verdict.NOT_PLACED, server_down=True)
    if isinstance(exc, BadRequestError):
        return TriggerError(Verdict.REFUSED)
    if isinstance(exc, APIStatusError):
        return TriggerError(
            Verdict.STOP,
            why=f"the API answered a trigger with HTTP {exc.status_code}, which its "
            f"documentation does not list ({exc}): check the base URL (http or https, "
            "the path) and the API, then resume",
        )
    # Not an answer from the server: the request may have left. Unknown is the only
    # safe reading.
    return TriggerError(Verdict.UNKNOWN)


def refusals_stop_campaign(refused_in_a_row: int) -> bool:
    """Whether this many 400s in a row, across contacts, mean the campaign is misconfigured.

    The count restarts at every placed call: one contact refused while others go
    through is that contact's problem.
    """
    return refused_in_a_row >= REFUSALS_BEFORE_STOP
