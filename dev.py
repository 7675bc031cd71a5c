#!/usr/bin/env python3
"""Bootstrap a virtual environment, then start the demo app (`demo`) or run every test (`test`).

    python3 dev.py demo     # the app, on the built-in sandbox (no Salesforce or Zuora needed)
    python3 dev.py test     # lint, all tests, the packaged build and its smoke runs

Only Python >= 3.11 is needed to start; everything else is installed into .venv on first use,
at the exact versions in constraints.txt. `test` also needs a few system programs (Xvfb,
dbus-run-session, gnome-keyring-daemon; see tools/system-packages.txt): it says which are
missing instead of skipping tests.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BUILD = ROOT / "build"
STAMP = VENV / ".cpq-sync-installed"
WINDOWS = os.name == "nt"
KEYRING_TEST_PASSWORD = "cpq-sync-test-keyring"  # noqa: S105 - unlocks a throwaway keyring under build/


def venv_bin(name: str) -> Path:
    return VENV / ("Scripts" if WINDOWS else "bin") / (name + (".exe" if WINDOWS else ""))


def say(message: str) -> None:
    print(f"[dev.py] {message}", flush=True)


def install_fingerprint() -> str:
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "constraints.txt"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_venv() -> None:
    """Create .venv and install the pinned dependencies, again whenever they change."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be started by an older python3
        sys.exit("CPQ Sync needs Python 3.11 or newer; this is " + sys.version.split()[0])
    wanted = install_fingerprint()
    if STAMP.exists() and STAMP.read_text() == wanted and venv_bin("python").exists():
        return
    if not venv_bin("python").exists():
        say(f"creating a virtual environment in {VENV}")
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    say("installing dependencies (pinned in constraints.txt)")
    subprocess.run(
        [
            str(venv_bin("python")),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-c",
            str(ROOT / "constraints.txt"),
            "-e",
            f"{ROOT}[test,build]",
        ],
        check=True,
    )
    STAMP.write_text(wanted)


def system_packages() -> list[str]:
    lines = (ROOT / "tools" / "system-packages.txt").read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def missing_programs() -> list[str]:
    needed = ["Xvfb", "dbus-run-session", "gnome-keyring-daemon", "tinyproxy"]
    return [program for program in needed if shutil.which(program) is None]


def demo(extra: list[str]) -> int:
    ensure_venv()
    return subprocess.call([str(venv_bin("cpq-sync-gui")), "--demo", *extra])


def test(extra: list[str]) -> int:
    ensure_venv()
    missing = missing_programs()
    if missing:
        say("the test suite needs these programs, which are missing: " + ", ".join(missing))
        say("on Debian/Ubuntu: sudo apt-get install " + " ".join(system_packages()))
        return 2
    say("ruff: lint and format check")
    lint = subprocess.call([str(venv_bin("ruff")), "check", "."], cwd=ROOT)
    style = subprocess.call([str(venv_bin("ruff")), "format", "--check", "--quiet", "."], cwd=ROOT)
    if lint or style:
        say(
            "ruff found problems (fix with: .venv/bin/ruff check --fix . && .venv/bin/ruff format .)"
        )
        return 1
    # A private home, keyring and runtime dir under build/, so the tests write nothing into
    # the user's own home; a private D-Bus session holds a real, unlocked Secret Service.
    home = BUILD / "test-home"
    shutil.rmtree(home, ignore_errors=True)
    runtime = home / "run"
    for sub in ("data", "config", "cache"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_RUNTIME_DIR=str(runtime),
        CPQ_SYNC_TEST_HOME=str(home),
        PYTHONDONTWRITEBYTECODE="1",
    )
    command = [
        "dbus-run-session",
        "--",
        str(venv_bin("python")),
        str(ROOT / "dev.py"),
        "_in-session",
        *extra,
    ]
    return subprocess.call(command, cwd=ROOT, env=env)


def in_session(extra: list[str]) -> int:
    """Inside dbus-run-session: a fresh, unlocked gnome-keyring for the whole run, then pytest.

    The keyring daemon runs in the foreground as our child, so it lives exactly as long as the
    tests, and if it ever dies its exit code and messages are reported (were it replaced by a
    D-Bus-activated daemon, that one would have no unlocked keyring and tests would fail with
    prompts that cannot open on a headless machine).
    """
    log_path = Path(os.environ.get("CPQ_SYNC_TEST_HOME", str(BUILD))) / "gnome-keyring.log"
    with log_path.open("wb") as log:
        daemon = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        assert daemon.stdin is not None
        daemon.stdin.write(KEYRING_TEST_PASSWORD.encode())
        daemon.stdin.close()
        if not wait_for_secret_service(daemon):
            say(f"gnome-keyring-daemon did not start; see {log_path}")
            daemon.kill()
            return 2
        try:
            code = subprocess.call([str(venv_bin("python")), "-m", "pytest", *extra], cwd=ROOT)
        finally:
            if daemon.poll() is not None:
                say(
                    f"gnome-keyring-daemon died during the tests (exit {daemon.returncode}); "
                    f"see {log_path}"
                )
                code = code or 1
            daemon.terminate()
            daemon.wait(timeout=10)
    if code == 5:
        say("pytest collected no tests: that is a failure, not a pass")
        return 1
    return code


def wait_for_secret_service(daemon: subprocess.Popen[bytes], seconds: float = 10) -> bool:
    """True once the daemon owns org.freedesktop.secrets on the session bus."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            return False
        owner = subprocess.run(
            [
                "dbus-send",
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                "string:org.freedesktop.secrets",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if "boolean true" in owner.stdout:
            return True
        time.sleep(0.1)
    return False


COMMANDS = {"demo": demo, "test": test, "_in-session": in_session}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__)
        return 2
    return COMMANDS[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
