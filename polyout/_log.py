"""The ``polyout`` logger. Silent unless the application configures logging or sets
``POLYOUT_LOG=debug`` (or info, warning, error) in the environment.

Records carry structured fields in ``extra`` (``polyout_correlation_id``,
``polyout_status``, ...) for JSON formatters; the message itself reads well alone.
Phone numbers are masked before they reach a record and credentials never do.

At most one stderr handler is ever attached here: the one ``POLYOUT_LOG`` asks for, or
the one an application (the ``polyout`` command's ``-v``) installs in its place, so that
asking twice never prints every record twice.
"""

from __future__ import annotations

import logging
import os

__all__ = ["FORMAT", "configure_from_env", "env_level", "logger", "use_stderr_handler"]

logger = logging.getLogger("polyout")
logger.addHandler(logging.NullHandler())

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_ENV_CONFIGURED = False
_stderr_handler: logging.Handler | None = None


def env_level() -> int | None:
    """The level ``POLYOUT_LOG`` asks for, or None when it is unset or not a level name."""
    wanted = os.environ.get("POLYOUT_LOG", "").strip().upper()
    level = logging.getLevelName(wanted) if wanted else None
    return level if isinstance(level, int) else None


def configure_from_env() -> None:
    """Honour ``POLYOUT_LOG`` once: attach a stderr handler at that level."""
    global _ENV_CONFIGURED
    if _ENV_CONFIGURED:
        return
    _ENV_CONFIGURED = True
    level = env_level()
    if level is None:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    use_stderr_handler(handler, level)


def use_stderr_handler(handler: logging.Handler | None, level: int = logging.NOTSET) -> None:
    """Make ``handler`` the one stderr handler (None removes it) and set the level.

    Replaces any handler ``POLYOUT_LOG`` attached, and stops it attaching one later.
    """
    global _ENV_CONFIGURED, _stderr_handler
    _ENV_CONFIGURED = True
    if _stderr_handler is not None:
        logger.removeHandler(_stderr_handler)
    _stderr_handler = handler
    if handler is not None:
        logger.addHandler(handler)
    logger.setLevel(level)
