"""The ``polyout`` logger. Silent unless the application configures logging or sets
``POLYOUT_LOG=debug`` (or info, warning, error) in the environment.

Records carry structured fields in ``extra`` (``polyout_correlation_id``,
``polyout_status``, ...) for JSON formatters; the message itself reads well alone.
Phone numbers are masked before they reach a record and credentials never do.
"""

from __future__ import annotations

import logging
import os

__all__ = ["configure_from_env", "logger"]

logger = logging.getLogger("polyout")
logger.addHandler(logging.NullHandler())

_ENV_CONFIGURED = False


def configure_from_env() -> None:
    """Honour ``POLYOUT_LOG`` once: attach a stderr handler at that level."""
    global _ENV_CONFIGURED
    if _ENV_CONFIGURED:
        return
    _ENV_CONFIGURED = True
    wanted = os.environ.get("POLYOUT_LOG", "").strip().upper()
    level = logging.getLevelName(wanted) if wanted else None
    if not isinstance(level, int):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
