"""The Connections dialog: create, edit, duplicate, delete and test connection profiles."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import QCoreApplication, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices, QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from cpq_sync_gui import secrets as names
from cpq_sync_gui.connections import (
    DEMO_PROFILE_NAME,
    OverlaySecrets,
    ProfileTestResult,
    SessionSecrets,
    browser_login,
    check_profile,
)
from cpq_sync_gui.salesforce.session import LoginResult
from cpq_sync_gui.secrets import SecretStorageUnavailable, SecretStore, SecretStoreError
from cpq_sync_gui.settings import (
    CUSTOM_ENVIRONMENT,
    DEFAULT_API_VERSION,
    DEFAULT_CONNECTOR_ENDPOINT,
    DEFAULT_ZUORA_VERSION,
    ZUORA_ENVIRONMENTS,
    LoginHost,
    Profile,
    ProfileError,
    ProfileStore,
    ProxyMode,
    SalesforceAuthMethod,
)
from cpq_sync_gui.ui.jobs import Job, JobContext
from cpq_sync_gui.ui.profile_badge import badge_text

AUTH_METHODS = [
    (SalesforceAuthMethod.BROWSER, "Browser login (OAuth, works with MFA and SSO)"),
    (SalesforceAuthMethod.JWT, "JWT bearer (consumer key + private key file)"),
    (SalesforceAuthMethod.CLIENT_CREDENTIALS, "Client credentials (consumer key + secret)"),
    (SalesforceAuthMethod.PASSWORD, "User name + password + security token"),
    (SalesforceAuthMethod.SESSION, "Existing session ID + instance URL"),
]
LOGIN_HOSTS = [
    (LoginHost.PRODUCTION, "Production (login.salesforce.com)"),
    (LoginHost.SANDBOX, "Sandbox (test.salesforce.com)"),
    (LoginHost.MY_DOMAIN, "My Domain"),
    (LoginHost.CUSTOM, "Custom address"),
]
PROXY_MODES = [
    (ProxyMode.SYSTEM, "This computer's proxy settings"),
    (ProxyMode.NONE, "No proxy (connect directly)"),
    (ProxyMode.MANUAL, "Manual proxy"),
]
# What each login method shows (besides login host and API version).
_METHOD_FIELDS = {
    SalesforceAuthMethod.PASSWORD: {"salesforce.username", names.SALESFORCE_PASSWORD, names.SALESFORCE_SECURITY_TOKEN},
    SalesforceAuthMethod.JWT: {"salesforce.username", "salesforce.consumer_key", "salesforce.private_key_file", names.SALESFORCE_KEY_PASSPHRASE},
    SalesforceAuthMethod.CLIENT_CREDENTIALS: {"salesforce.consumer_key", names.SALESFORCE_CONSUMER_SECRET},
    SalesforceAuthMethod.BROWSER: {"salesforce.consumer_key", names.SALESFORCE_CONSUMER_SECRET, "salesforce.browser_callback_port", "browser_login"},
    SalesforceAuthMethod.SESSION: {"salesforce.instance_url", names.SALESFORCE_SESSION_ID},
}  # fmt: skip
_METHOD_DEPENDENT = set().union(*_METHOD_FIELDS.values())
# missing_settings() wording -> the field to mark.
_MISSING_FIELD = {
    "Salesforce user name": "salesforce.username",
    "Salesforce consumer key": "salesforce.consumer_key",
    "Salesforce private key file": "salesforce.private_key_file",
    "Salesforce instance URL": "salesforce.instance_url",
    "Zuora client ID": "zuora.client_id",
}
_BANNER_STYLE = (
    "QLabel#memoryOnlyBanner { background: #fff3cd; color: #5c4400; border: 1px solid #e0b000; "
    "border-radius: 4px; padding: 6px; }"
)
_ERROR_STYLE = "color: #c62828;"


def open_app_secrets(
    parent: QWidget | None = None,
    *,
    ask: bool = True,
    confirm: Callable[[SecretStorageUnavailable], bool] | None = None,
) -> SessionSecrets | None:
    """The app's secret store: the OS keyring, or — after asking once — memory for this session.

    Returns None when the admin prefers to quit rather than type secrets that will not be kept.
    """
    try:
        return SessionSecrets(SecretStore())
    except SecretStorageUnavailable as problem:
        if ask:
            agreed = confirm(problem) if confirm is not None else ask_memory_only(parent, problem)
            if not agreed:
                return None
        return SessionSecrets(SecretStore(allow_memory_only=True))


def ask_memory_only(parent: QWidget | None, problem: SecretStorageUnavailable) -> bool:
    box = QMessageBox(parent)
    box.setObjectName("memoryOnlyQuestion")
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("No secure password store")
    box.setText(
        "CPQ Sync keeps passwords, tokens and client secrets only in the computer's password "
        "store, and none is available."
    )
    box.setInformativeText(
        f"Reason: {problem.reason}.\n\nYou can continue with secrets kept in memory for this "
        "session only: they are never written to a file, and you will be asked for them again "
        "next time."
    )
    keep = box.addButton("Continue with session-only secrets", QMessageBox.ButtonRole.AcceptRole)
    box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(keep)
    box.exec()
    return box.clickedButton() is keep


@dataclass
class _Field:
    key: str  # "salesforce.username", or a secret name
    widget: QWidget  # the editor
    row: QWidget  # editor + its error line (what the form shows or hides)
    error: QLabel
    form: QFormLayout
    tab: int
    label: str


class ConnectionsDialog(QDialog):
    """Profiles on the left, the selected profile's form on the right, tests at the bottom."""

    profiles_changed = Signal()

    def __init__(
        self,
        store: ProfileStore,
        secrets: SessionSecrets,
        parent: QWidget | None = None,
        *,
        select: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("connectionsDialog")
        self.setWindowTitle("Connections")
        self.resize(980, 700)
        self.store = store
        self.secrets = secrets
        self.current_name: str | None = None  # the stored profile being edited; None = new
        self.dirty = False
        self._loading = False
        self._fields: dict[str, _Field] = {}
        self._pending_secrets: dict[str, str] = {}
        self._jobs: set[Job] = set()
        self.test_job: Job | None = None
        self.browser_job: Job | None = None
        self.last_result: ProfileTestResult | None = None
        self._build()
        self._reload_list(select or (store.active.name if store.active else None))

    # --- building the form ----------------------------------------------------------------

    def _build(self) -> None:
        outer = QVBoxLayout(self)
        self.banner = QLabel(self)
        self.banner.setObjectName("memoryOnlyBanner")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(_BANNER_STYLE)
        self.banner.setAccessibleName("Secrets are kept in memory only")
        outer.addWidget(self.banner)

        body = QHBoxLayout()
        outer.addLayout(body, 1)

        left = QVBoxLayout()
        self.profile_list = QListWidget(self)
        self.profile_list.setObjectName("profileList")
        self.profile_list.setAccessibleName("Connection profiles")
        self.profile_list.setMinimumWidth(220)
        self.profile_list.currentItemChanged.connect(self._on_selection_changed)
        left.addWidget(self.profile_list, 1)
        buttons = QHBoxLayout()
        self.new_button = self._button("&New", "newProfileButton", self.new_profile)
        self.duplicate_button = self._button(
            "D&uplicate", "duplicateProfileButton", self.duplicate_profile
        )
        self.delete_button = self._button("&Delete…", "deleteProfileButton", self.delete_profile)
        for button in (self.new_button, self.duplicate_button, self.delete_button):
            buttons.addWidget(button)
        left.addLayout(buttons)
        body.addLayout(left)

        right = QVBoxLayout()
        top = QFormLayout()
        self.name_edit = QLineEdit(self)
        self._register("name", "Profile name", self.name_edit, top, -1)
        self.production_check = QCheckBox(
            "Treat as production (red badge) even if the addresses do not say so", self
        )
        self.production_check.setObjectName("treatAsProduction")
        self.production_check.toggled.connect(self._changed)
        top.addRow("", self.production_check)
        right.addLayout(top)

        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("profileSections")
        self.tabs.addTab(self._salesforce_tab(), "Salesforce")
        self.tabs.addTab(self._zuora_tab(), "Zuora")
        self.tabs.addTab(self._connector_tab(), "Connector")
        self.tabs.addTab(self._network_tab(), "Network")
        right.addWidget(self.tabs, 1)

        self.form_message = QLabel(self)
        self.form_message.setObjectName("formMessage")
        self.form_message.setWordWrap(True)
        right.addWidget(self.form_message)

        self.test_status = QLabel(self)
        self.test_status.setObjectName("testStatus")
        self.test_status.setWordWrap(True)
        self.test_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        right.addWidget(self.test_status)
        self.test_result = QPlainTextEdit(self)
        self.test_result.setObjectName("testResult")
        self.test_result.setAccessibleName("Connection test result")
        self.test_result.setReadOnly(True)
        self.test_result.setMaximumHeight(200)
        self.test_result.setPlaceholderText(
            "Test connection logs in to Salesforce and Zuora and shows what it finds here."
        )
        right.addWidget(self.test_result)

        actions = QHBoxLayout()
        self.test_button = self._button(
            "&Test connection", "testConnectionButton", self.test_connection
        )
        self.save_button = self._button("&Save", "saveButton", self.save)
        self.close_button = self._button("Close", "closeButton", self.reject)
        actions.addWidget(self.test_button)
        actions.addStretch(1)
        actions.addWidget(self.save_button)
        actions.addWidget(self.close_button)
        right.addLayout(actions)
        body.addLayout(right, 1)

    def _button(self, text: str, name: str, slot: Callable[[], Any]) -> QPushButton:
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.setAccessibleName(text.replace("&", "").rstrip("…"))
        button.clicked.connect(slot)
        return button

    def _register(
        self,
        key: str,
        label: str,
        widget: QWidget,
        form: QFormLayout,
        tab: int,
        hint: str = "",
        *,
        display: QWidget | None = None,
    ) -> QWidget:
        """Add a labelled row: the editor (or ``display`` holding it), a hint, an error line."""
        widget.setObjectName(_object_name(key))
        widget.setAccessibleName(label)
        row = QWidget(self)
        column = QVBoxLayout(row)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(display or widget)
        if hint:
            hint_label = QLabel(hint, row)
            hint_label.setWordWrap(True)
            hint_label.setStyleSheet("color: palette(mid);")
            column.addWidget(hint_label)
        error = QLabel(row)
        error.setObjectName(_object_name(key) + "Error")
        error.setStyleSheet(_ERROR_STYLE)
        error.setWordWrap(True)
        error.hide()
        column.addWidget(error)
        form.addRow(label, row)
        self._fields[key] = _Field(key, widget, row, error, form, tab, label)
        signal = (
            getattr(widget, "textChanged", None)
            or getattr(widget, "currentIndexChanged", None)
            or getattr(widget, "valueChanged", None)
        )
        if signal is not None:
            signal.connect(self._changed)
        return widget

    def _secret(self, key: str, label: str, form: QFormLayout, tab: int, hint: str = "") -> None:
        edit = QLineEdit(self)
        edit.setEchoMode(QLineEdit.EchoMode.Password)
        edit.setInputMethodHints(
            Qt.InputMethodHint.ImhHiddenText
            | Qt.InputMethodHint.ImhNoPredictiveText
            | Qt.InputMethodHint.ImhSensitiveData
        )
        self._register(key, label, edit, form, tab, hint)

    def _with_browse(self, key: str, label: str, form: QFormLayout, tab: int, title: str) -> None:
        holder = QWidget(self)
        line = QHBoxLayout(holder)
        line.setContentsMargins(0, 0, 0, 0)
        edit = QLineEdit(holder)
        browse = QPushButton("Browse…", holder)
        browse.setObjectName(_object_name(key) + "Browse")
        line.addWidget(edit, 1)
        line.addWidget(browse)

        def choose() -> None:
            path, _ = QFileDialog.getOpenFileName(self, title, edit.text() or str(Path.home()))
            if path:
                edit.setText(path)

        browse.clicked.connect(choose)
        self._register(key, label, edit, form, tab, display=holder)

    @staticmethod
    def _combo(items: list[tuple[Any, str]]) -> QComboBox:
        combo = QComboBox()
        for value, text in items:
            combo.addItem(text, value)
        return combo

    def _salesforce_tab(self) -> QWidget:
        page = QWidget(self)
        form = QFormLayout(page)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.auth_combo = self._combo(AUTH_METHODS)
        self._register("salesforce.auth_method", "Login method", self.auth_combo, form, 0)
        self.auth_combo.currentIndexChanged.connect(self._update_visibility)
        self.login_host_combo = self._combo(LOGIN_HOSTS)
        self._register("salesforce.login_host", "Login host", self.login_host_combo, form, 0)
        self.login_host_combo.currentIndexChanged.connect(self._update_visibility)
        self._register(
            "salesforce.my_domain",
            "My Domain",
            QLineEdit(placeholderText="acme.my.salesforce.com"),
            form,
            0,
        )
        self._register(
            "salesforce.custom_login_url", "Custom login address", QLineEdit(placeholderText="https://login.example.com:8443"), form, 0
        )  # fmt: skip
        self._register(
            "salesforce.username", "User name", QLineEdit(placeholderText="admin@acme.com"), form, 0
        )
        self._secret(names.SALESFORCE_PASSWORD, "Password", form, 0)
        self._secret(
            names.SALESFORCE_SECURITY_TOKEN,
            "Security token",
            form,
            0,
            "Leave empty if this computer is inside the org's trusted IP ranges.",
        )
        self._register(
            "salesforce.consumer_key",
            "Consumer key",
            QLineEdit(placeholderText="3MVG9…"),
            form,
            0,
            "From your connected app or external client app (Setup → App Manager).",
        )
        self._secret(names.SALESFORCE_CONSUMER_SECRET, "Consumer secret", form, 0)
        self._with_browse(
            "salesforce.private_key_file", "Private key file", form, 0, "Private key file (PEM)"
        )
        self._secret(names.SALESFORCE_KEY_PASSPHRASE, "Key passphrase", form, 0)
        self._register(
            "salesforce.instance_url", "Instance URL", QLineEdit(placeholderText="https://acme.my.salesforce.com"), form, 0
        )  # fmt: skip
        self._secret(names.SALESFORCE_SESSION_ID, "Session ID", form, 0)
        port = QSpinBox()
        port.setRange(1024, 65535)
        self._register("salesforce.browser_callback_port", "Callback port", port, form, 0)
        port.valueChanged.connect(self._update_callback_url)

        browser_row = QWidget(self)
        browser_line = QVBoxLayout(browser_row)
        browser_line.setContentsMargins(0, 0, 0, 0)
        self.callback_label = QLabel(browser_row)
        self.callback_label.setObjectName("callbackUrl")
        self.callback_label.setWordWrap(True)
        self.callback_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QHBoxLayout()
        self.browser_button = QPushButton("Log in with the &browser…", browser_row)
        self.browser_button.setObjectName("browserLoginButton")
        self.browser_button.setAccessibleName("Log in with the browser")
        self.browser_button.clicked.connect(self.start_browser_login)
        self.cancel_browser_button = QPushButton("Cancel browser login", browser_row)
        self.cancel_browser_button.setObjectName("cancelBrowserLoginButton")
        self.cancel_browser_button.clicked.connect(self.cancel_browser_login)
        self.cancel_browser_button.hide()
        buttons.addWidget(self.browser_button)
        buttons.addWidget(self.cancel_browser_button)
        buttons.addStretch(1)
        browser_line.addWidget(self.callback_label)
        browser_line.addLayout(buttons)
        form.addRow("", browser_row)
        error = QLabel(browser_row)
        self._fields["browser_login"] = _Field(
            "browser_login", browser_row, browser_row, error, form, 0, ""
        )

        self._register(
            "salesforce.api_version", "API version", QLineEdit(placeholderText=DEFAULT_API_VERSION), form, 0
        )  # fmt: skip
        return page

    def _zuora_tab(self) -> QWidget:
        page = QWidget(self)
        form = QFormLayout(page)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        environments = [(key, env.label) for key, env in ZUORA_ENVIRONMENTS.items()]
        self.environment_combo = self._combo(
            [*environments, (CUSTOM_ENVIRONMENT, "Custom address")]
        )
        self._register("zuora.environment", "Environment", self.environment_combo, form, 1)
        self.environment_combo.currentIndexChanged.connect(self._update_visibility)
        self._register(
            "zuora.base_url", "REST address", QLineEdit(placeholderText="https://rest.example.com"), form, 1
        )  # fmt: skip
        self._register("zuora.client_id", "Client ID", QLineEdit(), form, 1)
        self._secret(names.ZUORA_CLIENT_SECRET, "Client secret", form, 1)
        self._register(
            "zuora.zuora_version", "Zuora-Version", QLineEdit(placeholderText=DEFAULT_ZUORA_VERSION), form, 1
        )  # fmt: skip
        self._register(
            "zuora.entity_id",
            "Entity ID",
            QLineEdit(placeholderText="only for multi-entity tenants"),
            form,
            1,
        )
        return page

    def _connector_tab(self) -> QWidget:
        page = QWidget(self)
        form = QFormLayout(page)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._register(
            "connector.endpoint_url",
            "Endpoint",
            QLineEdit(placeholderText=DEFAULT_CONNECTOR_ENDPOINT),
            form,
            2,
            "The address the Send to Zuora buttons open; the documented one unless Zuora gave "
            "you another.",
        )
        self._register(
            "connector.sfdc_domain",
            "Salesforce domain",
            QLineEdit(placeholderText="worked out from the org, like acme.lightning.force.com"),
            form,
            2,
            "The org's Lightning host, sent as sfdc=…; leave empty to derive it from the "
            "instance host.",
        )
        return page

    def _network_tab(self) -> QWidget:
        page = QWidget(self)
        form = QFormLayout(page)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.proxy_combo = self._combo(PROXY_MODES)
        self._register("network.proxy_mode", "Proxy", self.proxy_combo, form, 3)
        self.proxy_combo.currentIndexChanged.connect(self._update_visibility)
        self._register(
            "network.proxy_url", "Proxy address", QLineEdit(placeholderText="http://proxy.example.com:3128"), form, 3
        )  # fmt: skip
        self._register("network.proxy_username", "Proxy user name", QLineEdit(), form, 3)
        self._secret(names.PROXY_PASSWORD, "Proxy password", form, 3)
        self._with_browse(
            "network.ca_bundle", "CA bundle (PEM)", form, 3, "Your company's CA certificates (PEM)"
        )
        for key, label, maximum in (
            ("network.connect_timeout_s", "Connect timeout (s)", 300.0),
            ("network.read_timeout_s", "Read timeout (s)", 3600.0),
        ):
            spin = QDoubleSpinBox()
            spin.setRange(0.5, maximum)
            spin.setDecimals(1)
            self._register(key, label, spin, form, 3)
        return page

    # --- list -----------------------------------------------------------------------------

    def _reload_list(self, select: str | None) -> None:
        self._loading = True
        try:
            self.profile_list.clear()
            for profile in self.store.profiles:
                item = QListWidgetItem(f"{profile.name}  —  {badge_text(profile)}")
                item.setData(Qt.ItemDataRole.UserRole, profile.name)
                if profile.is_production:
                    font = QFont(item.font())
                    font.setBold(True)
                    item.setFont(font)
                self.profile_list.addItem(item)
        finally:
            self._loading = False
        target = select if select in self.store else None
        if target is None and self.store.profiles:
            target = self.store.profiles[0].name
        if target is None:
            self.new_profile()
        else:
            self.select_profile(target)

    def select_profile(self, name: str) -> None:
        for row in range(self.profile_list.count()):
            item = self.profile_list.item(row)
            if item.data(Qt.ItemDataRole.UserRole).casefold() == name.casefold():
                if self.profile_list.currentItem() is item:
                    self._load(self.store.get(name))
                else:
                    self.profile_list.setCurrentItem(item)
                return

    @Slot(QListWidgetItem, QListWidgetItem)
    def _on_selection_changed(
        self, current: QListWidgetItem | None, previous: QListWidgetItem | None
    ) -> None:
        if self._loading or current is None:
            return
        if self.dirty and not self._settle_changes():
            self._loading = True
            try:
                self.profile_list.setCurrentItem(previous)
            finally:
                self._loading = False
            return
        name = current.data(Qt.ItemDataRole.UserRole)
        if name in self.store:
            self._load(self.store.get(name))

    def _settle_changes(self) -> bool:
        """Unsaved edits: save, discard or stay. True when it is fine to move on."""
        answer = QMessageBox.question(
            self,
            "Unsaved changes",
            f"Save the changes to {self.name_edit.text().strip() or 'this profile'!r}?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    # --- form <-> profile -----------------------------------------------------------------

    def _load(self, profile: Profile | None) -> None:
        """Show ``profile`` (None: a new, empty profile)."""
        self._loading = True
        try:
            self.current_name = profile.name if profile is not None else None
            shown = profile or Profile(name=self._new_name())
            self.name_edit.setText(shown.name)
            self.production_check.setChecked(shown.treat_as_production)
            sf, zu, co, ne = shown.salesforce, shown.zuora, shown.connector, shown.network
            _set_combo(self.auth_combo, sf.auth_method)
            _set_combo(self.login_host_combo, sf.login_host)
            self._text("salesforce.my_domain", sf.my_domain)
            self._text("salesforce.custom_login_url", sf.custom_login_url)
            self._text("salesforce.username", sf.username)
            self._text("salesforce.consumer_key", sf.consumer_key)
            self._text("salesforce.private_key_file", str(sf.private_key_file or ""))
            self._text("salesforce.instance_url", sf.instance_url)
            self._text("salesforce.api_version", sf.api_version)
            self._fields["salesforce.browser_callback_port"].widget.setValue(
                sf.browser_callback_port
            )  # type: ignore[attr-defined]
            _set_combo(self.environment_combo, zu.environment)
            self._text("zuora.base_url", zu.base_url)
            self._text("zuora.client_id", zu.client_id)
            self._text("zuora.zuora_version", zu.zuora_version)
            self._text("zuora.entity_id", zu.entity_id or "")
            self._text("connector.endpoint_url", co.endpoint_url)
            self._text("connector.sfdc_domain", co.sfdc_domain)
            _set_combo(self.proxy_combo, ne.proxy_mode)
            self._text("network.proxy_url", ne.proxy_url)
            self._text("network.proxy_username", ne.proxy_username)
            self._text("network.ca_bundle", str(ne.ca_bundle or ""))
            self._fields["network.connect_timeout_s"].widget.setValue(ne.connect_timeout_s)  # type: ignore[attr-defined]
            self._fields["network.read_timeout_s"].widget.setValue(ne.read_timeout_s)  # type: ignore[attr-defined]
            self._pending_secrets.clear()
            self._show_secret_placeholders()
            self._clear_errors()
            self.test_result.clear()
            self.test_status.clear()
            self.form_message.clear()
            self.last_result = None
            self.dirty = False
        finally:
            self._loading = False
        self.duplicate_button.setEnabled(self.current_name is not None)
        self.delete_button.setEnabled(self.current_name is not None)
        self._update_visibility()
        self._update_callback_url()
        self._update_banner()

    def _text(self, key: str, value: str) -> None:
        widget = self._fields[key].widget
        assert isinstance(widget, QLineEdit)
        widget.setText(value)

    def _value(self, key: str) -> str:
        widget = self._fields[key].widget
        assert isinstance(widget, QLineEdit)
        return widget.text().strip()

    def _show_secret_placeholders(self) -> None:
        for secret_name in names.SECRET_NAMES:
            field = self._fields.get(secret_name)
            if field is None:
                continue
            edit = field.widget
            assert isinstance(edit, QLineEdit)
            edit.clear()
            saved = False
            if self.current_name is not None:
                try:
                    saved = self.secrets.get(self.current_name, secret_name) is not None
                except SecretStoreError:
                    saved = False
            edit.setPlaceholderText("saved — leave empty to keep it" if saved else "not saved yet")

    def _new_name(self) -> str:
        base, counter = "New profile", 2
        candidate = base
        while candidate in self.store:
            candidate = f"{base} {counter}"
            counter += 1
        return candidate

    def form_data(self) -> dict[str, Any]:
        def spin(key: str) -> Any:
            return self._fields[key].widget.value()  # type: ignore[attr-defined]

        return {
            "name": self.name_edit.text(),
            "treat_as_production": self.production_check.isChecked(),
            "salesforce": {
                "auth_method": self.auth_combo.currentData(),
                "login_host": self.login_host_combo.currentData(),
                "my_domain": self._value("salesforce.my_domain"),
                "custom_login_url": self._value("salesforce.custom_login_url"),
                "username": self._value("salesforce.username"),
                "consumer_key": self._value("salesforce.consumer_key"),
                "private_key_file": self._value("salesforce.private_key_file") or None,
                "instance_url": self._value("salesforce.instance_url"),
                "api_version": self._value("salesforce.api_version") or DEFAULT_API_VERSION,
                "browser_callback_port": spin("salesforce.browser_callback_port"),
            },
            "zuora": {
                "environment": self.environment_combo.currentData(),
                "base_url": self._value("zuora.base_url"),
                "client_id": self._value("zuora.client_id"),
                "zuora_version": self._value("zuora.zuora_version") or DEFAULT_ZUORA_VERSION,
                "entity_id": self._value("zuora.entity_id") or None,
            },
            "connector": {
                "endpoint_url": self._value("connector.endpoint_url") or DEFAULT_CONNECTOR_ENDPOINT,
                "sfdc_domain": self._value("connector.sfdc_domain"),
            },
            "network": {
                "proxy_mode": self.proxy_combo.currentData(),
                "proxy_url": self._value("network.proxy_url"),
                "proxy_username": self._value("network.proxy_username"),
                "ca_bundle": self._value("network.ca_bundle") or None,
                "connect_timeout_s": spin("network.connect_timeout_s"),
                "read_timeout_s": spin("network.read_timeout_s"),
            },
        }

    def typed_secrets(self) -> dict[str, str]:
        """Secrets typed into the form (not yet saved), plus a fresh browser login's token."""
        typed = dict(self._pending_secrets)
        for secret_name in names.SECRET_NAMES:
            field = self._fields.get(secret_name)
            if field is not None:
                value = field.widget.text()  # type: ignore[attr-defined]
                if value:
                    typed[secret_name] = value
        return typed

    def profile_from_form(self) -> Profile | None:
        """The profile the form describes, or None after marking every problem inline."""
        self._clear_errors()
        try:
            profile = Profile.model_validate(self.form_data())
        except ValidationError as exc:
            self._show_errors(
                [
                    (".".join(str(p) for p in item["loc"][:2]), _plain(item["msg"]))
                    for item in exc.errors()
                ]
            )
            return None
        return profile

    # --- errors ---------------------------------------------------------------------------

    def _clear_errors(self) -> None:
        for field in self._fields.values():
            field.error.clear()
            field.error.hide()
        self.form_message.clear()

    def _show_errors(self, problems: list[tuple[str, str]]) -> None:
        first_tab = None
        named = []
        for key, message in problems:
            field = self._fields.get(key) or self._fields["name"]
            text = f"{field.label or 'Profile'}: {message}"
            field.error.setText(text)
            field.error.show()
            named.append(text)
            if first_tab is None and field.tab >= 0:
                first_tab = field.tab
        if first_tab is not None:
            self.tabs.setCurrentIndex(first_tab)
        self.form_message.setStyleSheet(_ERROR_STYLE)
        self.form_message.setText("Fix the fields marked in red:\n" + "\n".join(named))

    # --- visibility -----------------------------------------------------------------------

    @Slot()
    def _update_visibility(self) -> None:
        method = self.auth_combo.currentData()
        wanted = _METHOD_FIELDS.get(method, set())
        for key in _METHOD_DEPENDENT:
            field = self._fields[key]
            field.form.setRowVisible(field.row, key in wanted)
        session = method == SalesforceAuthMethod.SESSION
        host = self.login_host_combo.currentData()
        self._show_row("salesforce.login_host", not session)
        self._show_row("salesforce.my_domain", not session and host == LoginHost.MY_DOMAIN)
        self._show_row("salesforce.custom_login_url", not session and host == LoginHost.CUSTOM)
        self._show_row("zuora.base_url", self.environment_combo.currentData() == CUSTOM_ENVIRONMENT)
        manual = self.proxy_combo.currentData() == ProxyMode.MANUAL
        for key in ("network.proxy_url", "network.proxy_username", names.PROXY_PASSWORD):
            self._show_row(key, manual)

    def _show_row(self, key: str, visible: bool) -> None:
        field = self._fields[key]
        field.form.setRowVisible(field.row, visible)

    def is_field_shown(self, key: str) -> bool:
        field = self._fields[key]
        return field.form.isRowVisible(field.row)

    def field(self, key: str) -> QWidget:
        return self._fields[key].widget

    def field_error(self, key: str) -> str:
        return self._fields[key].error.text()

    @Slot()
    def _update_callback_url(self) -> None:
        port = self._fields["salesforce.browser_callback_port"].widget.value()  # type: ignore[attr-defined]
        self.callback_label.setText(
            f"Callback URL to add to your connected app: http://localhost:{port}/OauthRedirect"
        )

    @Slot()
    def _changed(self) -> None:
        if not self._loading:
            self.dirty = True

    def _update_banner(self) -> None:
        name = self.current_name or self.name_edit.text().strip()
        if self.secrets.memory_only:
            reason = self.secrets.unavailable_reason or "no secure store was found"
            self.banner.setText(
                "Secrets are kept in memory for this session only, because this computer has "
                f"no secure password store — {reason}. Nothing is written to a file; you will "
                "be asked for them again next time."
            )
            self.banner.show()
        elif name == DEMO_PROFILE_NAME:
            self.banner.setText(
                "The demo sandbox's logins are throwaway: they are kept in memory only and "
                "change every time the demo starts."
            )
            self.banner.show()
        else:
            self.banner.hide()

    # --- actions --------------------------------------------------------------------------

    @Slot()
    def new_profile(self) -> None:
        if self.dirty and not self._settle_changes():
            return
        self._loading = True
        try:
            self.profile_list.clearSelection()
            self.profile_list.setCurrentItem(None)  # type: ignore[arg-type]
        finally:
            self._loading = False
        self._load(None)
        self.tabs.setCurrentIndex(0)
        self.name_edit.setFocus()
        self.name_edit.selectAll()

    @Slot()
    def save(self) -> bool:
        """Save the form (settings to profiles.json, secrets to the password store)."""
        profile = self.profile_from_form()
        if profile is None:
            return False
        old = self.current_name
        try:
            if old is None:
                self.store.add(profile)
            else:
                if profile.name != old:
                    self.store.rename(old, profile.name)
                    self.secrets.rename_profile(old, profile.name)
                self.store.replace(profile)
        except ProfileError as exc:
            self._show_errors([("name", str(exc))])
            return False
        try:
            for secret_name, value in self.typed_secrets().items():
                self.secrets.set(profile.name, secret_name, value)
        except SecretStoreError as exc:
            QMessageBox.warning(self, "Secrets not saved", str(exc))
        try:
            self.store.save()
        except (ProfileError, OSError) as exc:
            QMessageBox.critical(self, "Profiles not saved", str(exc))
            return False
        missing = profile.missing_settings()
        self.dirty = False
        self._reload_list(profile.name)
        self.form_message.setStyleSheet("")
        note = f"Saved {profile.name!r}."
        if missing:
            note += " Still missing before it can connect: " + ", ".join(missing) + "."
        self.form_message.setText(note)
        self.profiles_changed.emit()
        return True

    @Slot()
    def duplicate_profile(self) -> None:
        if self.current_name is None:
            return
        if self.dirty and not self._settle_changes():
            return
        copy = self.store.duplicate(self.current_name)
        self.secrets.copy_profile(self.current_name, copy.name)
        self.store.save()
        self.dirty = False
        self._reload_list(copy.name)
        self.profiles_changed.emit()

    @Slot()
    def delete_profile(self) -> None:
        name = self.current_name
        if name is None:
            return
        answer = QMessageBox.question(
            self,
            "Delete profile",
            f"Delete the profile {name!r}?\n\nIts saved passwords, tokens and secrets are "
            "removed from the password store too. This cannot be undone.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            self.secrets.delete_profile(name)
        except SecretStoreError as exc:
            QMessageBox.warning(self, "Secrets not removed", str(exc))
            return
        self.store.remove(name)
        self.store.save()
        self.dirty = False
        self._reload_list(None)
        self.profiles_changed.emit()

    # --- test connection ------------------------------------------------------------------

    def _lookup_for(self, profile: Profile) -> OverlaySecrets:
        """The saved secrets of the profile being edited, overridden by what is typed in."""
        saved = self.secrets.for_profile(self.current_name or profile.name)
        return OverlaySecrets(saved, self.typed_secrets())

    def _start(self, name: str, function: Callable[[JobContext], Any]) -> Job:
        # Parented to the application: a job outlives the dialog if it is closed meanwhile.
        job = Job(name, function, QCoreApplication.instance())
        self._jobs.add(job)
        job.finished.connect(self._forget_finished_jobs)
        return job.start()

    @Slot()
    def _forget_finished_jobs(self) -> None:
        for job in [j for j in self._jobs if not j.running]:
            self._jobs.discard(job)
            job.deleteLater()

    @Slot()
    def test_connection(self) -> None:
        profile = self.profile_from_form()
        if profile is None:
            return
        missing = [_MISSING_FIELD[m] for m in profile.missing_settings() if m in _MISSING_FIELD]
        if missing:
            self._show_errors([(key, "needed for this login method") for key in missing])
            return
        lookup = self._lookup_for(profile)
        self.test_button.setEnabled(False)
        self.test_result.clear()
        self.test_status.setStyleSheet("")
        self.test_status.setText(f"Testing {profile.name!r}: logging in to Salesforce and Zuora…")
        self.test_job = self._start(
            "test-connection", lambda _context: check_profile(profile, lookup)
        )
        self.test_job.succeeded.connect(self._on_test_done)
        self.test_job.failed.connect(self._on_test_failed)

    @Slot(object)
    def _on_test_done(self, result: ProfileTestResult) -> None:
        self.last_result = result
        self.test_button.setEnabled(True)
        self.test_result.setPlainText(result.text())
        report = result.salesforce.report
        if result.ok and getattr(report, "production_not_marked", False):
            self.test_status.setStyleSheet("color: #c77c02; font-weight: bold;")
            self.test_status.setText(
                "Both connections work — but the Salesforce org is a PRODUCTION org and this "
                "profile is not marked as production. Tick 'Treat as production'."
            )
        elif result.ok:
            self.test_status.setStyleSheet("color: #2e7d32;")
            self.test_status.setText("Both connections work.")
        else:
            failed = [
                t
                for t, s in (("Salesforce", result.salesforce), ("Zuora", result.zuora))
                if not s.ok
            ]
            self.test_status.setStyleSheet(_ERROR_STYLE)
            self.test_status.setText(" and ".join(failed) + " could not connect: see below.")

    @Slot(str, str)
    def _on_test_failed(self, message: str, details: str) -> None:
        self.test_button.setEnabled(True)
        self.test_status.setStyleSheet(_ERROR_STYLE)
        self.test_status.setText("The test could not run.")
        self.test_result.setPlainText(message)

    # --- browser login --------------------------------------------------------------------

    @Slot()
    def start_browser_login(self) -> None:
        profile = self.profile_from_form()
        if profile is None:
            return
        if not profile.salesforce.consumer_key:
            self._show_errors([("salesforce.consumer_key", "needed for the browser login")])
            return
        lookup = self._lookup_for(profile)

        def run(context: JobContext) -> LoginResult:
            def opener(url: str) -> bool:
                context.report(("open_url", url))
                return True

            return browser_login(profile, lookup, opener=opener, cancelled=context.cancelled)

        self.browser_button.setEnabled(False)
        self.cancel_browser_button.show()
        self.test_status.setStyleSheet("")
        self.test_status.setText(
            "Waiting for the browser: log in there and allow access; CPQ Sync continues by itself."
        )
        self.browser_job = self._start("browser-login", run)
        self.browser_job.events.connect(self._on_browser_events)
        self.browser_job.succeeded.connect(self._on_browser_done)
        self.browser_job.failed.connect(self._on_browser_failed)
        self.browser_job.finished.connect(self._on_browser_finished)

    @Slot(list)
    def _on_browser_events(self, events: list[Any]) -> None:
        for event in events:
            if isinstance(event, tuple) and event[0] == "open_url":
                url = event[1]
                if not QDesktopServices.openUrl(QUrl(url)):
                    self.test_status.setText(
                        f"Could not open a web browser. Open this address in one yourself:\n{url}"
                    )

    @Slot()
    def cancel_browser_login(self) -> None:
        if self.browser_job is not None:
            self.browser_job.cancel()

    @Slot(object)
    def _on_browser_done(self, result: LoginResult) -> None:
        token = result.refresh_token
        name = self.name_edit.text().strip()
        text = f"Logged in with the browser ({result.instance_url})."
        if token:
            if self.current_name is not None and self.current_name == name:
                try:
                    self.secrets.set(name, names.SALESFORCE_REFRESH_TOKEN, token)
                    text += " The login is saved for this profile."
                except SecretStoreError as exc:
                    self._pending_secrets[names.SALESFORCE_REFRESH_TOKEN] = token
                    text += f" The login could not be saved: {exc}"
            else:
                self._pending_secrets[names.SALESFORCE_REFRESH_TOKEN] = token
                self.dirty = True
                text += " Save the profile to keep this login."
        self.test_status.setStyleSheet("color: #2e7d32;")
        self.test_status.setText(text)

    @Slot(str, str)
    def _on_browser_failed(self, message: str, details: str) -> None:
        self.test_status.setStyleSheet(_ERROR_STYLE)
        self.test_status.setText(message)

    @Slot()
    def _on_browser_finished(self) -> None:
        self.browser_button.setEnabled(True)
        self.cancel_browser_button.hide()

    # --- closing --------------------------------------------------------------------------

    def reject(self) -> None:
        """Close (the Close button, Esc, the window's close box): unsaved edits are asked about."""
        if self.dirty and not self._settle_changes():
            return
        if self.browser_job is not None and self.browser_job.running:
            self.browser_job.cancel()
        super().reject()


def _object_name(key: str) -> str:
    """ "salesforce.custom_login_url" -> "salesforce_custom_login_url" (stable for tests)."""
    return key.replace(".", "_")


def _set_combo(combo: QComboBox, value: Any) -> None:
    index = combo.findData(value)
    combo.setCurrentIndex(max(0, index))


def _plain(message: str) -> str:
    text = message.removeprefix("Value error, ")
    return text[:1].upper() + text[1:]
