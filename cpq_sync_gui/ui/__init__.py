"""The Qt window: widgets, table models and the bridge to the sync engine's worker thread."""
