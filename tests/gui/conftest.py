"""GUI tests that need the sandbox use the integration fixtures (sandbox over real HTTPS)."""

from __future__ import annotations

from tests.helpers.records import ca_bundle_points_elsewhere  # noqa: F401 — a fixture
from tests.integration.conftest import (  # noqa: F401 — fixtures are found by name
    make_sandbox,
    sandbox,
    sandbox_credentials,
    sandbox_tls,
)
