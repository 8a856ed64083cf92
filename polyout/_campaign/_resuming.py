"""Resuming a campaign: the stored settings, checked against the placer that resumes it.

A campaign's call sids mean something only to the server, API and agent (or account)
that gave them, and its rows were planned with one default country: a resume through
anything else is refused before a single request is sent, naming both sides. A journal
is checked at once, synchronously, when ``Campaign.resume`` is called (as it always
was: the CLI refuses it before it connects); a store's campaign when it is opened.

A worker that *joins* (``join``) works on what the store holds and never reads the
contacts: the feed is the creator's. Where only one process holds the store (SQLite),
nobody else could finish a feed left unfinished, so joining one is refused: ``resume``
reads the rest.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from polyout._campaign._config import CampaignConfig
from polyout._campaign._errors import JournalError
from polyout._campaign._identity import connection_identity, identity_mismatch
from polyout._campaign._journal import Journal
from polyout._campaign._lock import JournalLock
from polyout._campaign._placer import Placer
from polyout._campaign._planning import checked_country
from polyout._campaign._readers import ContactSource

__all__ = ["Resume", "checked", "checked_journal"]


@attrs.frozen
class Resume:
    """What a resume asked for; ``config`` and ``source`` once checked against the store."""

    changes: Mapping[str, Any]
    default_country: str | None
    contacts: ContactSource | None
    config: CampaignConfig | None = None
    source: ContactSource | None = None
    join: bool = False
    """One more worker on a campaign whose feed is the creator's."""

    @classmethod
    def asked(
        cls,
        client: Placer,
        journal: str | os.PathLike[str] | None,
        changes: Mapping[str, Any],
        *,
        default_country: str | None,
        contacts: ContactSource | None,
        join: bool,
    ) -> Resume:
        """What ``Campaign.resume`` was asked: the settings it changes (None: kept). A
        journal is checked at once (``checked_journal``); a store's campaign when opened."""
        resume = cls(
            {key: value for key, value in changes.items() if value is not None},
            checked_country(default_country),
            contacts,
            join=join,
        )
        if journal is not None:
            resume = checked_journal(os.fspath(journal), client, resume)
        return resume


def checked_journal(path: str, client: Placer, resume: Resume) -> Resume:
    """A journal's settings, checked against ``client`` now, before anything else runs."""
    if JournalLock.is_held(Path(path)):
        # Refused before reading: through a second name (a hard link) SQLite would
        # not even see the running campaign's WAL.
        raise JournalError(f"{path} is in use by another running campaign")
    stored = Journal.open(path, owner=False)
    try:
        settings = stored.config()
        input_done = stored.feed_done
        identity = stored.meta_json("connection")
        stored.check_rows()  # a damaged journal is refused before anything is sent
    finally:
        stored.close()
    connection = identity if isinstance(identity, dict) else {}
    return checked(path, settings, connection, input_done, client, resume)


def checked(
    label: str,
    settings: Mapping[str, Any],
    connection: Mapping[str, object],
    input_done: bool,
    client: Placer,
    resume: Resume,
    *,
    exclusive: bool = True,
) -> Resume:
    """The stored settings with the resume's changes, once the campaign may be resumed
    through ``client``; and where the rest of its input comes from. ``exclusive``: one
    process at a time holds the store."""
    config = CampaignConfig.stored(settings, label)
    if (config.api, config.environment) != (client.api, client.environment):
        raise JournalError(
            f"{label} was run through the {config.api} API ({config.environment}); "
            f"this client uses {client.api} ({client.environment}): its call sids "
            "would mean nothing there"
        )
    mismatch = identity_mismatch(connection, connection_identity(client))
    if mismatch is not None:
        raise JournalError(
            f"{label} was run through another connection ({mismatch}): resume it "
            "through the same one, or its calls would be followed, and the rest "
            "dialled, in the wrong place"
        )
    country = resume.default_country
    if country is not None and country != config.default_country:
        # The rows already planned were read in the stored country: one list, one way.
        raise JournalError(
            f"{label} reads national numbers with default_country="
            f"{config.default_country!r}, not {country!r}"
        )
    source = resume.contacts
    if resume.join:
        if not input_done and exclusive:
            raise JournalError(
                f"{label}: not all of its contacts are stored yet, and a worker that joins "
                "never reads the contacts file: continue it with resume, which reads the rest"
            )
        source = None  # the engine follows the creator's feed in the store
    elif source is None and not input_done:
        if config.source is None:
            raise JournalError(
                f"{label}: the earlier run did not read all of its contacts, and they "
                "did not come from a file: pass contacts= (the same source)"
            )
        source = config.source
    return attrs.evolve(
        resume,
        config=CampaignConfig.from_json({**config.to_json(), **resume.changes}),
        source=source if source is not None or resume.join else (),
    )
