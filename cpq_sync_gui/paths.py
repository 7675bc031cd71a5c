"""Where CPQ Sync keeps its settings, journal, logs and cache on this computer."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "cpq-sync"
HOME_ENV_VAR = "CPQ_SYNC_HOME"
"""When set, everything lives under this one folder (portable installs, and every test)."""


def app_home() -> Path | None:
    """The folder named by ``CPQ_SYNC_HOME``, or None when the platform's folders are used."""
    value = os.environ.get(HOME_ENV_VAR, "").strip()
    if not value:
        return None
    return Path(value).expanduser().absolute()


def config_dir() -> Path:
    """Settings (``profiles.json``)."""
    home = app_home()
    if home is not None:
        return home / "config"
    return platformdirs.user_config_path(APP_NAME, appauthor=False)


def data_dir() -> Path:
    """Durable data: the run journal."""
    home = app_home()
    if home is not None:
        return home / "data"
    return platformdirs.user_data_path(APP_NAME, appauthor=False)


def log_dir() -> Path:
    """Log files."""
    home = app_home()
    if home is not None:
        return home / "logs"
    return platformdirs.user_log_path(APP_NAME, appauthor=False)


def cache_dir() -> Path:
    """Things that can be thrown away and rebuilt."""
    home = app_home()
    if home is not None:
        return home / "cache"
    return platformdirs.user_cache_path(APP_NAME, appauthor=False)
