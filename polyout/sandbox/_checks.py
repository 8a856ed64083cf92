"""attrs validators shared by the sandbox's settings classes."""

from __future__ import annotations

import attrs

__all__ = ["non_negative", "probability"]


def probability(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be a probability in [0, 1], got {value!r}")


def non_negative(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    # Written as "not >=" so that NaN is refused too.
    if not value >= 0.0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")
