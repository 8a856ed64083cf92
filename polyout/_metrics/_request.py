"""Whether this process serves metrics, and where: set by ``--metrics-port``/``--metrics-host``.

The command line parses the flags; the run that follows (``_shared_rate.worker_parts``)
takes the request and adds the metrics companion. One request per parse: both flags
have string defaults, which argparse converts with these same functions on every parse,
so a command without ``--metrics-port`` clears what an earlier one in the same process
asked for.
"""

from __future__ import annotations

import argparse

import attrs

__all__ = ["MetricsRequest", "metrics_host", "metrics_port", "take_metrics_request"]

OFF = "off"


@attrs.frozen
class MetricsRequest:
    host: str
    port: int


_asked: dict[str, str | int | None] = {"host": "127.0.0.1", "port": None}


def metrics_port(text: str) -> int | None:
    """``--metrics-port PORT`` (``off`` by default): checks the extra is installed."""
    if text == OFF:
        _asked["port"] = None
        return None
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"a TCP port from 1 to 65535, not {text!r}")
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        raise argparse.ArgumentTypeError(
            "metrics need prometheus-client: install polyout[metrics]"
        ) from None
    _asked["port"] = port
    return port


def metrics_host(text: str) -> str:
    """``--metrics-host HOST`` (127.0.0.1 by default: only this machine may scrape)."""
    if not text or any(char.isspace() for char in text):
        raise argparse.ArgumentTypeError(f"a host name or address, not {text!r}")
    _asked["host"] = text
    return text


def take_metrics_request() -> MetricsRequest | None:
    """The endpoint asked for, once (a second run in this process serves none)."""
    port, host = _asked["port"], _asked["host"]
    _asked["port"] = None
    if port is None:
        return None
    return MetricsRequest(host=str(host), port=int(port))
