"""``polyout sandbox``: the sandbox's own command, under the ``polyout`` name.

The flags are the sandbox's (``polyout.sandbox.add_arguments``), and so is the serving
loop: this module only turns its failures into the CLI's one-line errors.
"""

from __future__ import annotations

import argparse
import asyncio

from polyout._cli._errors import CliError, ExitCode
from polyout.sandbox import config_from_args
from polyout.sandbox._cli import serve

__all__ = ["sandbox"]


def sandbox(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
    except ValueError as exc:
        raise CliError(f"sandbox: {exc}", ExitCode.USAGE) from None
    try:
        # serve() stops cleanly on the first Ctrl-C or SIGTERM: that is how a sandbox ends.
        asyncio.run(serve(config))
    except KeyboardInterrupt:
        return ExitCode.OK
    except OSError as exc:
        raise CliError(
            f"the sandbox cannot listen on {config.host}:{config.port} "
            f"({exc.strerror or exc}): choose another --port, or 0 for any free one",
            ExitCode.USAGE,
        ) from None
    return ExitCode.OK
