"""``python -m polyout``: the ``polyout`` command."""

from polyout._cli import main

raise SystemExit(main())
