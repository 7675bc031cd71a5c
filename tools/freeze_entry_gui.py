"""PyInstaller entry script for `cpq-sync-gui` (and, on Linux, for `cpq-sync` through a symlink)."""

import os
import sys


def _attach_parent_console() -> None:
    """Give the windowed Windows build a stdout when it is started from a console.

    A windowed (no-console) Windows executable has sys.stdout = None, so `--version` and
    `--smoke` would print nothing. When a console started us (CI, an admin's terminal), attach
    to it; double-clicked from Explorer there is no parent console and nothing changes.
    """
    if sys.platform != "win32" or sys.stdout is not None:
        return
    import ctypes

    attach_parent_process = -1
    if ctypes.windll.kernel32.AttachConsole(attach_parent_process):
        sys.stdout = open("CONOUT$", "w", encoding="utf-8", errors="replace")  # noqa: SIM115
        sys.stderr = sys.stdout


def _started_as_cli() -> bool:
    """On Linux one executable serves both programs: `cpq-sync` is a symlink to it."""
    name = os.path.basename(sys.argv[0]).lower().removesuffix(".exe")
    return name == "cpq-sync"


_attach_parent_console()

if _started_as_cli():
    from cpq_sync_gui.cli import main
else:
    from cpq_sync_gui.app import main

raise SystemExit(main())
