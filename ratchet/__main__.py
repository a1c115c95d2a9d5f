"""Allow ``python -m ratchet``."""

from ratchet.cli import main

raise SystemExit(main())
