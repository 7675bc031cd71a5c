"""GUI tests that need the sandbox use the integration fixtures (sandbox over real HTTPS)."""

from __future__ import annotations

from tests.helpers.pyside_none import keep_none_alive
from tests.integration.conftest import (  # noqa: F401 — fixtures are found by name
    make_sandbox,
    sandbox,
    sandbox_credentials,
    sandbox_tls,
)

keep_none_alive()  # see tests/helpers/pyside_none.py: PySide6 6.12.0 on CPython 3.11

from tests.helpers.records import ca_bundle_points_elsewhere  # noqa: E402, F401 — a fixture
