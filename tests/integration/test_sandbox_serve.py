"""`cpq-sync sandbox serve` runs the sandbox standalone and tells a person how to reach it."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import requests


def _read_until_ready(process: subprocess.Popen[str]) -> dict[str, str]:
    lines: dict[str, str] = {}
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("Ready in"):
            return lines
        label, _, value = line.partition(":")
        lines[label.strip()] = value.strip()
    raise AssertionError(f"the sandbox stopped before it was ready: {lines}")


def test_serve_prints_urls_credentials_and_ca_then_stops_on_ctrl_c(tmp_path: Path):
    process = subprocess.Popen(
        [sys.executable, "-m", "cpq_sync_gui.cli", "sandbox", "serve",
         "--accounts", "30", "--orders", "10", "--dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        info = _read_until_ready(process)
        ca = info["CA certificate (trust this)"]
        credentials = json.loads(Path(info["Credentials file"]).read_text())
        zuora = info["Zuora REST"]
        assert re.fullmatch(r"https://127\.0\.0\.1:\d+", zuora)
        token = requests.post(
            f"{zuora}/oauth/token",
            data={
                "client_id": credentials["zuora_client_id"],
                "client_secret": credentials["zuora_client_secret"],
                "grant_type": "client_credentials",
            },
            verify=ca,
            timeout=10,
        )
        assert token.status_code == 200
        assert token.json()["token_type"].lower() == "bearer"
        connector = requests.get(
            info["Connector endpoint"], params={"sfdc": "x"}, verify=ca, timeout=10
        )
        assert connector.status_code == 400  # neither accountId nor orderId
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert "stopping the sandbox" in out


def test_serve_rejects_a_bad_fault_spec_in_plain_words():
    result = subprocess.run(
        [sys.executable, "-m", "cpq_sync_gui.cli", "sandbox", "serve", "--faults", "zuora:POST:/v1/x:explode=5%"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    assert "unknown fault kind 'explode'" in result.stderr
