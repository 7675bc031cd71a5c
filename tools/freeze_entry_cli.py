"""PyInstaller entry script for the `cpq-sync` console executable (see build.spec)."""

from cpq_sync_gui.cli import main

raise SystemExit(main())
