"""``python -m polyout.sandbox``: see ``polyout.sandbox.main``."""

from polyout.sandbox import main

raise SystemExit(main())
