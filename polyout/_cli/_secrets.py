"""What the command must never print, found before anything is parsed, and removed from text.

argparse echoes the tokens it does not understand (``unrecognized arguments: --api-key
...``) before any namespace exists, so the secrets are taken from the raw arguments and
the environment, not from parsed flags: a key is scrubbed even from the message that
says its flag was misplaced. A URL's password is removed wherever a URL appears; a
store URL's (``--store postgresql://user:secret@host/db``, or ``?password=secret``) and
``PGPASSWORD`` too. A database URL's user name is no secret, and is kept.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import quote

from polyout._campaign._store_urls import SCHEME, store_url_secrets
from polyout._secrets import Scrubber, url_password

__all__ = ["scrub", "secrets_in"]

#: Flags whose value is a credential: the client's key, and the sandbox's keys.
_SECRET_FLAGS = ("--api-key", "--forbidden-key")
#: Environment variables that hold a credential, and those that hold a URL.
_ENVIRONMENT_SECRETS = ("POLYAI_API_KEY", "PGPASSWORD")
_ENVIRONMENT_URLS = ("POLYAI_BASE_URL",)
# Any URL's userinfo in running text, for the URLs no flag named: scheme://user:secret@
# or scheme://token@ (the secret part is what polyout._secrets.url_password calls one).
_URL_SECRET = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#\s:@]*:)?)[^/?#\s@]+@")
# Too short to be a credential, and replacing it would mangle the text around it.
_SHORTEST_SECRET = 4


def _is_secret_flag(name: str) -> bool:
    # argparse accepts any unambiguous prefix (--api-k for --api-key); "--api" alone is
    # another flag (the API's name), so a prefix must be longer than that.
    return len(name) > len("--api") and any(flag.startswith(name) for flag in _SECRET_FLAGS)


def secrets_in(argv: Sequence[str], environ: Mapping[str, str] = os.environ) -> list[str]:
    """Every credential in ``argv`` and the environment: keys, and passwords in URLs."""
    found: list[str] = []
    for index, token in enumerate(argv):
        name, sep, value = token.partition("=")
        if name.startswith("--") and _is_secret_flag(name):
            if sep:
                found.append(value)
            elif index + 1 < len(argv):
                found.append(argv[index + 1])
        found += _url_passwords(token)
    found += [environ[name] for name in _ENVIRONMENT_SECRETS if environ.get(name)]
    for name in _ENVIRONMENT_URLS:
        found += _url_passwords(environ.get(name, ""))
    return found


#: Database URLs: their user is a name, not a token (``postgresql://postgres@host``).
_DATABASE_SCHEMES = ("postgresql", "postgres")


def _url_passwords(text: str) -> list[str]:
    if "://" not in text:  # not a URL: an "@" in an e-mail address is no password
        return []
    _, _, value = text.partition("=") if text.startswith("--") else ("", "", text)
    scheme = SCHEME.match(value)
    if scheme is not None and scheme["scheme"].lower() in _DATABASE_SCHEMES:
        return store_url_secrets(value)
    secret = url_password(text)
    return [secret] if secret else []


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced: the last guard before anything is printed.

    A secret is also looked for in every JSON spelling (the client's ``Scrubber``), as
    ``repr`` escapes it and percent-encoded: that is how argparse, exceptions and URLs
    quote what they echo. Then any URL's userinfo left in the text is masked.
    """
    kept = sorted({s for s in secrets if len(s) >= _SHORTEST_SECRET}, key=len, reverse=True)
    text = Scrubber(*kept).scrub_text(text)
    for secret in kept:
        # The client's Scrubber skips secrets under 8 characters; a typed key may be one.
        for form in (secret, repr(secret)[1:-1], quote(secret)):
            text = text.replace(form, "***")
    return _URL_SECRET.sub(lambda match: f"{match['head']}***@", text)
