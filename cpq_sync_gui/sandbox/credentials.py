"""Throwaway credentials the sandbox accepts, made fresh at every start (never real secrets)."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def _token(n: int = 18) -> str:
    return secrets.token_urlsafe(n).replace("-", "x").replace("_", "y")


@dataclass(frozen=True)
class SandboxCredentials:
    sf_username: str
    sf_password: str
    sf_security_token: str
    sf_locked_username: str  # same password; the org answers as for a locked-out user
    sf_consumer_key: str  # the admin's connected app: password, client credentials, PKCE, JWT
    sf_consumer_secret: str
    sf_jwt_private_key_pem: str  # PKCS#8, unencrypted; the app signs JWT bearer assertions
    sf_jwt_certificate_pem: str  # what the connected app was given
    zuora_client_id: str
    zuora_client_secret: str

    @classmethod
    def generate(cls) -> SandboxCredentials:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CPQ Sync sandbox JWT")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .sign(key, hashes.SHA256())
        )
        return cls(
            sf_username="admin@cpq-sync-demo.example",
            sf_password=_token(),
            sf_security_token=_token(12),
            sf_locked_username="locked.user@cpq-sync-demo.example",
            sf_consumer_key="3MVG9" + _token(40),
            sf_consumer_secret=_token(32),
            sf_jwt_private_key_pem=key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode(),
            sf_jwt_certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
            zuora_client_id=_token(16),
            zuora_client_secret=_token(32),
        )

    def write(self, path: Path) -> None:
        """Write the sandbox's own throwaway credentials file (mode 600) for `sandbox serve`."""
        path.write_text(json.dumps(asdict(self), indent=2))
        path.chmod(0o600)
