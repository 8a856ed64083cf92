"""A package's exported names, each loaded from its home module the first time it is asked for.

``import polyout`` then takes milliseconds, ``polyout.Client`` loads the client without the
campaign engine, and the command's parser (``polyout --help``) loads no engine at all. A
package calls :func:`lazy_exports` under ``if not typing.TYPE_CHECKING``, so that type
checkers, which read its imports under ``TYPE_CHECKING``, still call a misspelt name an
error.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["homes", "lazy_exports"]


def homes(*modules: tuple[str, str]) -> dict[str, str]:
    """``{name: module}`` from ``(module, "name name ...")`` pairs."""
    return {name: module for module, names in modules for name in names.split()}


def lazy_exports(
    package: str, names: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The package's ``__getattr__`` and ``__dir__`` (PEP 562) for ``names``."""

    def __getattr__(name: str) -> object:
        home = names.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        namespace[name] = value  # asked once: later reads do not come here
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *names})

    return __getattr__, __dir__
