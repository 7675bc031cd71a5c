"""The active profile, always in sight: a profile chooser and a coloured PRODUCTION / UAT / Sandbox / Demo badge."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QWidget

if TYPE_CHECKING:
    from cpq_sync_gui.settings import Profile

# kind -> (text, background, foreground). Red for production so nobody syncs to it by mistake.
BADGES: dict[str, tuple[str, str, str]] = {
    "production": ("PRODUCTION", "#c62828", "#ffffff"),
    "uat": ("UAT", "#f9a825", "#1a1a1a"),
    "sandbox": ("Sandbox", "#f9a825", "#1a1a1a"),
    "demo": ("Demo", "#1565c0", "#ffffff"),
    "none": ("No profile", "#9e9e9e", "#ffffff"),
    "loading": ("Loading…", "#9e9e9e", "#ffffff"),
}


def profile_kind(profile: Profile | None) -> str:
    """The badge's kind; the settings module is needed only once there is a profile."""
    if profile is None:
        return "none"
    from cpq_sync_gui.settings import profile_kind as kind_of

    return kind_of(profile)


def badge_text(profile: Profile | None) -> str:
    return BADGES[profile_kind(profile)][0]


def badge_style(kind: str) -> str:
    _text, background, foreground = BADGES[kind]
    return (
        f"QLabel#profileBadge {{ background: {background}; color: {foreground}; "
        "font-weight: bold; border-radius: 4px; padding: 3px 10px; }"
    )


def profile_tooltip(profile: Profile | None) -> str:
    if profile is None:
        return "No connection profile is active: choose one, or create one under Connections…"
    lines = [
        f"Profile: {profile.name} ({badge_text(profile)})",
        f"Salesforce: {profile.salesforce.login_url()} — {profile.salesforce.auth_method.value} login",
        f"Zuora: {profile.zuora.environment_label}",
    ]
    if profile.treat_as_production:
        lines.append("Marked 'treat as production' in the profile.")
    return "\n".join(lines)


class ProfileBadge(QWidget):
    """Chooser + badge. ``profile_chosen(name)`` fires when the user picks another profile."""

    profile_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("profileBadgeBar")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.setSpacing(6)
        self.chooser = QComboBox(self)
        self.chooser.setObjectName("profileChooser")
        self.chooser.setAccessibleName("Active connection profile")
        self.chooser.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.chooser.setMinimumContentsLength(14)
        self.badge = QLabel(self)
        self.badge.setObjectName("profileBadge")
        self.badge.setAccessibleName("Profile environment")
        self.badge.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        layout.addWidget(self.chooser)
        layout.addWidget(self.badge)
        self._profiles: dict[str, Profile] = {}
        self._updating = False
        self.kind = "none"
        self.chooser.currentIndexChanged.connect(self._on_index_changed)
        self.set_profiles([], None)

    def show_loading(self) -> None:
        """Before the profiles are read (just after start-up): say so, and offer no choice."""
        self._updating = True
        try:
            self._profiles = {}
            self.chooser.clear()
            self.chooser.addItem("Loading profiles…", None)
            self.chooser.setEnabled(False)
        finally:
            self._updating = False
        self.kind = "loading"
        self.badge.setText(BADGES["loading"][0])
        self.badge.setStyleSheet(badge_style("loading"))
        tip = "Reading the connection profiles…"
        self.badge.setToolTip(tip)
        self.chooser.setToolTip(tip)
        self.badge.setAccessibleDescription(tip)

    def set_profiles(self, profiles: Sequence[Profile], active: str | None) -> None:
        """Show ``profiles`` in the chooser with ``active`` selected (no signal is sent)."""
        self._updating = True
        try:
            self._profiles = {p.name: p for p in profiles}
            self.chooser.clear()
            if not profiles:
                self.chooser.addItem("No profiles yet", None)
                self.chooser.setEnabled(False)
            else:
                self.chooser.setEnabled(True)
                if active is None:
                    self.chooser.addItem("Choose a profile…", None)
                for profile in profiles:
                    self.chooser.addItem(f"{profile.name}", profile.name)
                index = self.chooser.findData(active) if active is not None else 0
                self.chooser.setCurrentIndex(max(0, index))
        finally:
            self._updating = False
        self._show(self._profiles.get(active) if active else None)

    def _show(self, profile: Profile | None) -> None:
        self.kind = profile_kind(profile)
        self.badge.setText(BADGES[self.kind][0])
        self.badge.setStyleSheet(badge_style(self.kind))
        tip = profile_tooltip(profile)
        self.badge.setToolTip(tip)
        self.chooser.setToolTip(tip)
        self.badge.setAccessibleDescription(tip)

    @Slot(int)
    def _on_index_changed(self, index: int) -> None:
        if self._updating or index < 0:
            return
        name = self.chooser.itemData(index)
        if isinstance(name, str):
            self._show(self._profiles.get(name))
            self.profile_chosen.emit(name)
