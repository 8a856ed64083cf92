"""The operator's inputs, checked before anything is made: a country, a contacts file, a
results file that would overwrite nothing, a calling window and a time zone. Each refusal
is one line naming the flag (exit 2)."""

from __future__ import annotations

import os
from pathlib import Path

from polyout._campaign._readers import iter_contacts
from polyout._campaign._schedule import CallingWindow, check_zone
from polyout._cli._errors import CliError, ExitCode
from polyout._errors import ValidationError
from polyout._phone import normalize_country_code

__all__ = [
    "check_contacts_file",
    "checked_country",
    "checked_output",
    "checked_window",
    "checked_zone",
    "same_file",
]

_RESULT_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv")


def checked_country(code: str) -> str:
    try:
        return normalize_country_code(code)
    except ValidationError as exc:
        raise CliError(f"--country-code: {exc.reason}", ExitCode.USAGE) from None


def check_contacts_file(path: Path) -> None:
    """Refuse a file that cannot be a contact list before a journal exists for it."""
    items = iter_contacts(path)
    try:
        first = next(items, None)
    finally:
        items.close()
    if first is None:
        raise CliError(f"{path} has no contacts (no rows after the header)", ExitCode.USAGE)


def checked_output(
    output: str | None,
    *,
    journal: Path | None,
    contacts: Path | None = None,
    suppression_list: str | None = None,
) -> Path | None:
    """The results file, if it can be written without destroying an input."""
    if output is None:
        return None
    path = Path(output)
    if path.suffix.lower() not in _RESULT_SUFFIXES:
        raise CliError(f"--output {output}: name the results file .jsonl or .csv", ExitCode.USAGE)
    if not path.parent.is_dir():
        raise CliError(f"--output {output}: the folder {path.parent} does not exist")
    inputs = {"the contacts file": contacts, "the journal": journal}
    if suppression_list is not None:
        inputs["the do-not-call list"] = Path(suppression_list)
    for name, other in inputs.items():
        if other is not None and same_file(path, other):
            raise CliError(
                f"--output {output} is {name}, which the results would overwrite: "
                "name another file",
                ExitCode.USAGE,
            )
    return path


def same_file(one: Path, other: Path) -> bool:
    """Whether two paths name one file: through links and spellings, as the OS sees it."""
    try:
        return os.path.samefile(one, other)
    except OSError:  # one of them does not exist (yet): compare where they would be
        return one.resolve() == other.resolve()


def checked_window(text: str) -> CallingWindow:
    try:
        return CallingWindow.parse(text)
    except ValueError as exc:
        raise CliError(f"--window: {exc}", ExitCode.USAGE) from None


def checked_zone(name: str) -> str:
    try:
        return check_zone(name)
    except ValueError as exc:
        raise CliError(f"--default-timezone: {exc}", ExitCode.USAGE) from None
