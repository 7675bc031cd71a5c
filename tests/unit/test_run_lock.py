"""The run and profile locks: one holder at a time, released on release or exit, and the message."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from cpq_sync_gui.sync.run_lock import RunLock, profile_busy_message

REPO = Path(__file__).resolve().parents[2]


def test_one_holder_at_a_time_until_released() -> None:
    first, second = RunLock.for_profile("Acme UAT"), RunLock.for_profile("Acme UAT")
    assert first.acquire()
    assert not second.acquire()
    assert second.holder() == str(os.getpid())
    first.release()
    assert second.acquire()
    second.release()


def test_profiles_and_runs_have_their_own_locks() -> None:
    locks = [
        RunLock.for_profile("Acme/UAT"),
        RunLock.for_profile("Acme_UAT"),
        RunLock.for_profile("Acme UAT"),
        RunLock("20261127-130000-abcd"),
    ]
    assert len({lock.path for lock in locks}) == 4
    assert all(lock.acquire() for lock in locks)
    for lock in locks:
        lock.release()


def test_a_lock_held_by_another_process_blocks_until_that_process_ends() -> None:
    code = textwrap.dedent(
        """
        import sys
        from cpq_sync_gui.sync.run_lock import RunLock
        lock = RunLock.for_profile("Acme UAT")
        print("held" if lock.acquire() else "busy", flush=True)
        sys.stdin.readline()
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    ) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdin is not None
            assert holder.stdout.readline().strip() == "held"
            lock = RunLock.for_profile("Acme UAT")
            assert not lock.acquire()
            assert lock.holder() == str(holder.pid)
            holder.stdin.write("\n")
            holder.stdin.flush()
            assert holder.wait(timeout=30) == 0  # it exits without releasing: the OS does
            assert lock.acquire()
            lock.release()
        finally:
            if holder.poll() is None:
                holder.kill()


def test_the_message_names_the_profile_and_the_holder_when_known() -> None:
    assert profile_busy_message("Acme UAT", "42") == (
        'Profile "Acme UAT" is being synced right now by another CPQ Sync window or command '
        "(process 42). Wait for that run to finish, or stop it there, then start this one again."
    )
    assert "(process" not in profile_busy_message("Acme UAT", None)
