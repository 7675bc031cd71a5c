"""OS file locks that keep two CPQ Sync processes from running one run, or one profile, at once."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sys
from typing import IO

from cpq_sync_gui import paths

__all__ = ["RunLock", "profile_busy_message"]


class RunLock:
    """An OS lock that says "a CPQ Sync process is running this run (or profile) now".

    Held while a sync, resume or retry runs, from the window or the command line; released by
    the OS when the process dies (even by kill -9), so a crashed run is never locked out of
    being resumed, while two processes can never send the same run's or profile's records at
    once. The lock file holds the holder's process id.
    """

    def __init__(self, run_id: str) -> None:
        self.path = paths.data_dir() / "run-locks" / f"{_safe(run_id)}.lock"
        self._handle: IO[str] | None = None

    @classmethod
    def for_profile(cls, profile_name: str) -> RunLock:
        """The lock of every run of one profile (names differing only in odd characters differ)."""
        digest = hashlib.sha256(profile_name.encode("utf-8")).hexdigest()[:12]
        return cls(f"profile-{_safe(profile_name)[:60]}-{digest}")

    def acquire(self) -> bool:
        """Take the lock now if no other process holds it (never waits)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 — held until release
        except OSError:
            return True  # no lock folder: do not block the work over a convenience
        try:
            _lock_file(handle)
        except OSError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle
        return True

    def holder(self) -> str | None:
        """The process id written by whoever holds the lock, if it can be read."""
        try:
            return self.path.read_text(encoding="utf-8").strip() or None
        except OSError:
            return None

    def release(self) -> None:
        if self._handle is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        with contextlib.suppress(OSError):
            _unlock_file(self._handle)
        self._handle.close()
        self._handle = None


def profile_busy_message(profile_name: str, holder: str | None) -> str:
    """What an admin reads when another window or command is syncing the same profile."""
    return (
        f'Profile "{profile_name}" is being synced right now by another CPQ Sync window or '
        f"command{f' (process {holder})' if holder else ''}. Wait for that run to finish, or "
        "stop it there, then start this one again."
    )


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


if sys.platform == "win32":
    import msvcrt

    def _lock_file(handle: IO[str]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock_file(handle: IO[str]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock_file(handle: IO[str]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock_file(handle: IO[str]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
