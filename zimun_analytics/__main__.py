"""``python -m zimun_analytics`` runs the command line."""

from .cli import main

raise SystemExit(main())
