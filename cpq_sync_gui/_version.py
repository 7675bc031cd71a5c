"""The version, for frozen builds where package metadata is absent (kept equal to pyproject)."""

VERSION = "0.1.0"
