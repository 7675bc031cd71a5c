"""A throwaway certificate authority and loopback server certificate for the sandbox."""

from __future__ import annotations

import ssl
from pathlib import Path

import trustme


class SandboxTLS:
    """Makes a fresh CA and a certificate for 127.0.0.1/localhost; clients trust ``ca_path``."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._ca = trustme.CA(organization_name="CPQ Sync sandbox")
        self._cert = self._ca.issue_cert("127.0.0.1", "localhost")
        self.ca_path = directory / "sandbox-ca.pem"
        self._ca.cert_pem.write_to_path(str(self.ca_path))

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._cert.configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self._ca.configure_trust(context)
        return context
