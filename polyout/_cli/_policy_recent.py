"""Before a new campaign dials: which of its numbers other campaigns of the store called
recently, and from which campaigns. On a terminal it asks; elsewhere it refuses without
``--yes``. Nothing is dialled (nor the campaign created) before the answer.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from polyout._campaign._addressing import StoreRef, open_store
from polyout._campaign._contacts import Contact
from polyout._campaign._readers import iter_contacts
from polyout._cli import _interrupt
from polyout._cli._durations import duration_text
from polyout._cli._errors import CliError, ExitCode
from polyout._errors import ValidationError
from polyout._phone import to_e164

__all__ = ["confirm_recent_calls"]

_BATCH = 1000


def confirm_recent_calls(
    args: argparse.Namespace, ref: StoreRef, contacts: Path, options: dict[str, Any], now: float
) -> None:
    """Name the numbers called recently by other campaigns; ask, or refuse without --yes."""
    policy = options.get("policy")
    if policy is None or (ref.exclusive and not ref.path.is_file()):
        return  # a new store file holds no other campaign
    country = options.get("default_country")
    found = _interrupt.run(
        lambda _: _recently_called(ref, _numbers(contacts, country), now - policy.recent)
    )
    if not found:
        return
    shown = ", ".join(f"{name!r} ({count})" for name, count in sorted(found.items()))
    print(
        f"numbers of this file were called in the last {duration_text(policy.recent)} by "
        f"other campaigns of {ref.shown}: {shown}",
        file=sys.stderr,
        flush=True,
    )
    if getattr(args, "yes", None):
        return
    if not sys.stdin.isatty():
        raise CliError(
            "numbers called recently: dial them anyway with --yes (nothing was dialled)",
            ExitCode.USAGE,
        )
    if input("dial them anyway? [y/N] ").strip().lower() not in ("y", "yes"):
        raise CliError("not started: nothing was dialled", ExitCode.USAGE)


async def _recently_called(ref: StoreRef, numbers: Iterator[str], since: float) -> dict[str, int]:
    store = await open_store(ref, read_only=True)
    try:
        found: dict[str, int] = {}
        while batch := list(itertools.islice(numbers, _BATCH)):
            for name, count in (await store.recently_called(batch, since)).items():
                found[name] = found.get(name, 0) + count
        return found
    finally:
        await store.aclose()


def _numbers(contacts: Path, country: str | None) -> Iterator[str]:
    """The file's numbers in E.164 (rows that cannot be read are planning's to report)."""
    for item in iter_contacts(contacts):
        if isinstance(item, Contact):
            try:
                yield to_e164(item.phone, item.country_code or country)
            except (ValidationError, TypeError):
                continue
