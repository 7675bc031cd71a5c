"""The "Buttons" panel: are the "Send to Zuora" buttons there and right; create or fix them; what is left to do."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from cpq_sync_gui.buttons import (
    ButtonsError,
    ButtonState,
    ButtonStatus,
    DeployResult,
    WebLinkChange,
    button_status,
    deploy,
    deployment_plan,
    layout_instructions,
    plan_text,
    support_ticket_text,
)
from cpq_sync_gui.ui.jobs import Job, JobContext

if TYPE_CHECKING:
    from cpq_sync_gui.salesforce.client import SalesforceClient
    from cpq_sync_gui.settings import Profile

STATE_COLOURS = {
    ButtonState.OK: QColor("#1b7f3b"),
    ButtonState.MISSING: QColor("#b26a00"),
    ButtonState.MISCONFIGURED: QColor("#b3261e"),
}
COLUMNS = ("Button", "Object", "State", "What is different")


class DeployConfirmation(QDialog):
    """Asks before deploying; a production profile must be typed by name to go ahead."""

    def __init__(self, profile: Profile, plan: Sequence[WebLinkChange], parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("deployConfirmation")
        self.setWindowTitle("Create / fix buttons")
        self.profile_name = profile.name
        self.production = profile.is_production
        layout = QVBoxLayout(self)
        creates = sum(1 for c in plan if c.action == "create")
        updates = len(plan) - creates
        parts = []
        if creates:
            parts.append(f"create {creates} button{'s' if creates > 1 else ''}")
        if updates:
            parts.append(f"change {updates} button{'s' if updates > 1 else ''}")
        intro = QLabel(
            f"This will {' and '.join(parts)} in the Salesforce org of profile "
            f"<b>{_html(profile.name)}</b> through the Metadata API, exactly as shown below."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        details = QPlainTextEdit(plan_text(plan))
        details.setObjectName("confirmPlan")
        details.setReadOnly(True)
        details.setMinimumSize(560, 260)
        layout.addWidget(details)
        self.name_edit: QLineEdit | None = None
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Deploy")
        self.ok_button.setObjectName("confirmDeployButton")
        if self.production:
            warning = QLabel(
                f"<b>{_html(profile.name)} is a PRODUCTION profile.</b> Type the profile name "
                "to deploy:"
            )
            warning.setWordWrap(True)
            layout.addWidget(warning)
            self.name_edit = QLineEdit()
            self.name_edit.setObjectName("confirmProfileName")
            self.name_edit.setAccessibleName("Type the profile name to confirm")
            self.name_edit.textChanged.connect(self._name_changed)
            layout.addWidget(self.name_edit)
            self.ok_button.setEnabled(False)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _name_changed(self, text: str) -> None:
        self.ok_button.setEnabled(text == self.profile_name)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class ButtonsPanel(QDialog):
    """One profile's "Send to Zuora" buttons. Every Salesforce call runs in a Job.

    ``open_client`` logs in (it runs inside a Job); by default it is
    ``connections.open_salesforce(profile, secrets)``.
    """

    statuses_changed = Signal(list)  # list[ButtonStatus], after each check
    deployed = Signal(list)  # list[DeployResult]

    def __init__(
        self,
        profile: Profile,
        secrets: Any = None,
        parent: QWidget | None = None,
        *,
        open_client: Callable[[], SalesforceClient] | None = None,
    ) -> None:
        super().__init__(parent)
        self.profile = profile
        if open_client is None:
            from cpq_sync_gui.connections import open_salesforce

            def open_client() -> SalesforceClient:
                return open_salesforce(self.profile, secrets)

        self._open_client = open_client
        self._client: SalesforceClient | None = None
        self.statuses: list[ButtonStatus] = []
        self.plan: list[WebLinkChange] = []
        self.job: Job | None = None
        self.confirmation: DeployConfirmation | None = None

        self.setObjectName("buttonsPanel")
        self.setWindowTitle(f"Buttons — {profile.name}")
        self.resize(900, 680)
        layout = QVBoxLayout(self)

        self.heading = QLabel()
        self.heading.setObjectName("buttonsHeading")
        self.heading.setWordWrap(True)
        layout.addWidget(self.heading)
        self._show_heading()

        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setObjectName("buttonsStatusTable")
        self.table.setAccessibleName("Button status")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        for column in range(3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.setMinimumHeight(120)
        layout.addWidget(self.table)

        self.message = QLabel("")
        self.message.setObjectName("buttonsMessage")
        self.message.setAccessibleName("Buttons message")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.message)

        row = QHBoxLayout()
        self.check_button = QPushButton("Check again")
        self.check_button.setObjectName("checkButtonsButton")
        self.check_button.clicked.connect(self.check)
        self.plan_button = QPushButton("Show what will be deployed")
        self.plan_button.setObjectName("showPlanButton")
        self.plan_button.clicked.connect(self.show_plan)
        self.deploy_button = QPushButton("Create / fix buttons…")
        self.deploy_button.setObjectName("deployButtonsButton")
        self.deploy_button.clicked.connect(self.ask_to_deploy)
        for button in (self.check_button, self.plan_button, self.deploy_button):
            row.addWidget(button)
        row.addStretch(1)
        layout.addLayout(row)

        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("buttonsTabs")
        self.plan_view = QPlainTextEdit()
        self.plan_view.setObjectName("deploymentPlan")
        self.plan_view.setAccessibleName("What will be deployed")
        self.plan_view.setReadOnly(True)
        self.tabs.addTab(self.plan_view, "What will be deployed")

        layouts_view = QPlainTextEdit(layout_instructions())
        layouts_view.setObjectName("layoutInstructions")
        layouts_view.setAccessibleName("Adding the buttons to page layouts")
        layouts_view.setReadOnly(True)
        self.tabs.addTab(layouts_view, "Page layouts")

        ticket_box = QWidget()
        ticket_layout = QVBoxLayout(ticket_box)
        ticket_layout.setContentsMargins(0, 0, 0, 0)
        ticket_hint = QLabel(
            "Zuora support must route the button URLs before the buttons work: open a ticket "
            "at Zuora support with this text."
        )
        ticket_hint.setWordWrap(True)
        ticket_layout.addWidget(ticket_hint)
        self.ticket_view = QPlainTextEdit()
        self.ticket_view.setObjectName("ticketText")
        self.ticket_view.setAccessibleName("Zuora support ticket text")
        self.ticket_view.setReadOnly(True)
        ticket_layout.addWidget(self.ticket_view)
        self.copy_button = QPushButton("Copy ticket text")
        self.copy_button.setObjectName("copyTicketButton")
        self.copy_button.clicked.connect(self.copy_ticket)
        copy_row = QHBoxLayout()
        copy_row.addWidget(self.copy_button)
        copy_row.addStretch(1)
        ticket_layout.addLayout(copy_row)
        self.tabs.addTab(ticket_box, "Zuora support ticket")
        layout.addWidget(self.tabs, 1)

        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.close)
        layout.addWidget(close)

        self._show_ticket([])
        self._update_buttons()

    def set_profile(self, profile: Profile) -> None:
        """Use ``profile``'s (possibly edited) settings; the next show checks again."""
        if profile == self.profile or self.busy:
            return
        self.profile = profile
        self._client = None  # log in again with the new settings
        self.setWindowTitle(f"Buttons — {profile.name}")
        self._show_heading()
        self.statuses, self.plan = [], []
        self.table.setRowCount(0)
        self.plan_view.clear()
        self.message.setText("The profile changed: checking again…")
        self._show_ticket([])
        self._update_buttons()
        if self.isVisible():
            self.check()

    def _show_heading(self) -> None:
        profile = self.profile
        kind = " (PRODUCTION)" if profile.is_production else ""
        self.heading.setText(
            f'The "Send to Zuora" buttons that Zuora\'s Billing Connector for Salesforce CPQ '
            f"needs, in the Salesforce org of profile <b>{_html(profile.name)}</b>{kind}."
        )

    # -- state -----------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self.job is not None and self.job.running

    def _update_buttons(self) -> None:
        busy = self.busy
        self.check_button.setEnabled(not busy)
        checked = bool(self.statuses)
        self.plan_button.setEnabled(not busy and checked)
        self.deploy_button.setEnabled(not busy and bool(self.plan))

    def _start(
        self, name: str, work: Callable[[JobContext], Any], done: Callable[[Any], None]
    ) -> None:
        job = Job(name, work, self)
        job.succeeded.connect(done)
        job.failed.connect(self._failed)
        job.finished.connect(self._update_buttons)
        self.job = job
        job.start()
        self._update_buttons()

    def _client_for_job(self) -> SalesforceClient:
        # Runs in the Job's thread; the login is reused for later checks and the deploy.
        if self._client is None:
            self._client = self._open_client()
        return self._client

    # -- checking --------------------------------------------------------------------------

    def check(self) -> None:
        """Look the buttons up in Salesforce (one WebLink query) in the background."""
        if self.busy:
            return
        self.message.setText("Checking the buttons in Salesforce…")

        def work(context: JobContext) -> list[ButtonStatus]:
            return button_status(self._client_for_job(), self.profile)

        self._start("check-buttons", work, self._checked)

    def _checked(self, statuses: list[ButtonStatus]) -> None:
        self._show_statuses(statuses)
        ok = all(s.state == ButtonState.OK for s in statuses)
        if ok:
            self.message.setText(
                "Both buttons are OK. Make sure they are on the page layouts, and that Zuora "
                "support has routed their URLs (see the tabs below)."
            )
        else:
            self.message.setText(
                'Some buttons are missing or wrong. "Show what will be deployed" lists every '
                'field; "Create / fix buttons" deploys them.'
            )

    def _show_statuses(self, statuses: list[ButtonStatus]) -> None:
        self.statuses = statuses
        self.plan = deployment_plan(statuses)
        self.table.setRowCount(len(statuses))
        for row, status in enumerate(statuses):
            differences = [d.text for d in status.differences]
            if status.state == ButtonState.MISSING:
                differences = [f"not in Salesforce; it should open {status.spec.url}"]
            cells = (
                status.spec.name,
                status.spec.sobject,
                status.state.value,
                "\n".join(differences + list(status.notes)),
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if column == 2:
                    item.setForeground(STATE_COLOURS[status.state])
                self.table.setItem(row, column, item)
        self.table.resizeRowsToContents()
        self.plan_view.setPlainText(plan_text(self.plan))
        self._show_ticket(statuses)
        self._update_buttons()
        self.statuses_changed.emit(statuses)

    def _show_ticket(self, statuses: list[ButtonStatus]) -> None:
        try:
            text = support_ticket_text(self.profile, statuses)
        except ButtonsError as exc:  # the domain may not be known before the first check
            text = f"(The ticket text appears after the first check: {exc.message})"
        self.ticket_view.setPlainText(text)

    def _failed(self, message: str, details: str) -> None:
        self.message.setText(message)
        self.message.setToolTip(details)

    # -- the plan and the deploy -----------------------------------------------------------

    def show_plan(self) -> None:
        self.plan_view.setPlainText(plan_text(self.plan))
        self.tabs.setCurrentWidget(self.plan_view)

    def ask_to_deploy(self) -> None:
        """Show the plan in a confirmation; the deploy starts only when it is accepted."""
        if self.busy or not self.plan:
            return
        self.show_plan()
        dialog = DeployConfirmation(self.profile, self.plan, self)
        self.confirmation = dialog
        plan = list(self.plan)
        dialog.accepted.connect(lambda: self.start_deploy(plan))
        dialog.finished.connect(lambda _result: self._confirmation_closed(dialog))
        dialog.open()

    def _confirmation_closed(self, dialog: DeployConfirmation) -> None:
        if self.confirmation is dialog:
            self.confirmation = None
        dialog.deleteLater()

    def start_deploy(self, plan: list[WebLinkChange]) -> None:
        if self.busy:
            return
        self.message.setText("Deploying the buttons through the Metadata API…")

        def work(context: JobContext) -> tuple[list[DeployResult], list[ButtonStatus]]:
            client = self._client_for_job()
            results = deploy(client.connection, plan)
            return results, button_status(client, self.profile)

        self._start("deploy-buttons", work, self._deployed)

    def _deployed(self, outcome: tuple[list[DeployResult], list[ButtonStatus]]) -> None:
        results, statuses = outcome
        self._show_statuses(statuses)
        failed = [r for r in results if not r.ok]
        if failed:
            self.message.setText("\n".join(r.text for r in results))
        else:
            self.message.setText(
                "\n".join(r.text for r in results)
                + "\nNext: add the buttons to the page layouts and send Zuora the support "
                "ticket (tabs below)."
            )
        self.deployed.emit(results)

    # -- the ticket ------------------------------------------------------------------------

    def copy_ticket(self) -> None:
        QGuiApplication.clipboard().setText(self.ticket_view.toPlainText())
        self.message.setText("The ticket text is on the clipboard.")

    # -- Qt ----------------------------------------------------------------------------------

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if not self.statuses and not self.busy:
            self.check()


def open_buttons_panel(window: Any) -> ButtonsPanel | None:
    """Show the Buttons panel of ``window``'s active profile (one panel per profile, modeless).

    ``window`` is the main window: it has ``active_profile`` and ``ensure_secrets()``.
    """
    profile = window.active_profile
    if profile is None:
        QMessageBox.information(
            window,
            "Buttons",
            "Choose a connection profile first (Connections…): the buttons are checked in "
            "that profile's Salesforce org.",
        )
        return None
    secrets = window.ensure_secrets()
    if secrets is None:
        return None
    panels = [p for p in window.findChildren(ButtonsPanel) if p.profile.name == profile.name]
    if panels:
        panel = panels[0]
        panel.set_profile(profile)
    else:
        panel = ButtonsPanel(profile, secrets, window)
    panel.show()
    panel.raise_()
    panel.activateWindow()
    return panel
