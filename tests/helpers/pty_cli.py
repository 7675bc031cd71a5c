"""Run `cpq-sync` on a real pseudo-terminal and answer its prompts, like an admin at a terminal."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from collections.abc import Mapping


def run_with_terminal(
    args: list[str], answers: Mapping[str, str], env: Mapping[str, str], timeout_s: float = 60
) -> tuple[int, str, str]:
    """Run ``python -m cpq_sync_gui.cli *args`` with a terminal as its controlling tty.

    ``answers`` maps a prompt's beginning (e.g. "Salesforce password") to what is typed.
    Returns (exit status, everything the terminal showed, stdout).
    """
    master, slave = os.openpty()
    slave_name = os.ttyname(slave)

    def become_session_leader_with_the_terminal() -> None:
        os.setsid()
        os.close(os.open(slave_name, os.O_RDWR))  # the first tty opened becomes the controlling one

    process = subprocess.Popen(
        [sys.executable, "-m", "cpq_sync_gui.cli", *args],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=dict(env),
        preexec_fn=become_session_leader_with_the_terminal,
        text=True,
    )
    os.close(slave)
    shown = ""
    answered: set[str] = set()
    deadline = time.monotonic() + timeout_s
    try:
        while process.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if not ready:
                continue
            try:
                chunk = os.read(master, 4096).decode(errors="replace")
            except OSError:  # the child closed the terminal
                break
            shown += chunk
            for prompt, answer in answers.items():
                if prompt not in answered and prompt in shown:
                    answered.add(prompt)
                    os.write(master, (answer + "\n").encode())
        stdout, _ = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
        while True:  # what the child wrote last
            ready, _, _ = select.select([master], [], [], 0.1)
            if not ready:
                break
            try:
                chunk = os.read(master, 4096).decode(errors="replace")
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        os.close(master)
    return process.returncode, shown, stdout
