"""tinyproxy, a real authenticating (Basic) HTTP proxy, on a free loopback port for a test."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.processes import stop


@dataclass(frozen=True)
class Tinyproxy:
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connects(self) -> list[str]:
        """The hosts:ports the proxy opened tunnels to (CONNECT), oldest first."""
        return re.findall(r"\): CONNECT (\S+) HTTP", self.log.read_text())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def run_tinyproxy(folder: Path, user: str, password: str) -> Iterator[Tinyproxy]:
    """Start tinyproxy with ``user``/``password`` (config and log in ``folder``); stop it after."""
    program = shutil.which("tinyproxy")
    if program is None:
        pytest.fail(
            "tinyproxy is missing: run `apt-get install tinyproxy` (see tools/system-packages.txt)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log = folder / "tinyproxy.log"
    (folder / "tinyproxy.conf").write_text(
        f"Port {port}\nListen 127.0.0.1\nTimeout 60\nLogLevel Connect\nMaxClients 50\n"
        f'DisableViaHeader Yes\nLogFile "{log}"\nAllow 127.0.0.1\nBasicAuth {user} {password}\n'
    )
    process = subprocess.Popen(
        [program, "-d", "-c", str(folder / "tinyproxy.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    error = process.stderr.read().decode() if process.stderr else ""
                    pytest.fail(f"tinyproxy did not start: {error[-500:]}")
                time.sleep(0.05)
        yield Tinyproxy(port, log)
    finally:
        stop(process)
