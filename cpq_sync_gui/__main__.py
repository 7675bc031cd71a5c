"""`python -m cpq_sync_gui` starts the window, like `cpq-sync-gui`."""

from cpq_sync_gui.app import main

raise SystemExit(main())
