"""``polyout.Campaign``: the facade is ``_facade``; the engine ``_engine`` and its parts."""

from polyout._campaign._facade import Campaign

__all__ = ["Campaign"]
