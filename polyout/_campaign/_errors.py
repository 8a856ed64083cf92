"""The campaign runner's exceptions (all are :class:`polyout.PolyOutError`)."""

from __future__ import annotations

from polyout._errors import PolyOutError

__all__ = ["CampaignError", "JournalError", "StoreUnavailable"]


class CampaignError(PolyOutError):
    """The campaign stopped for a reason no single contact explains.

    A credential the server refuses (401/403), an endpoint that does not exist (404),
    or a server that stayed down: marking every contact failed would hide the cause
    and burn their attempts, so the run stops instead, with the journal consistent and
    resumable once the cause is fixed.
    """


class JournalError(CampaignError):
    """The journal cannot be used: missing, corrupt, from a newer polyout, or in use."""


class StoreUnavailable(JournalError):
    """The store's database cannot be reached, refused the credentials, or the connection
    was lost during a call (the CLI exits 3). The message names the host, port and
    database and what failed, never the password."""
