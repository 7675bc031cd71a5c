"""The log pane: colours by level, filters, follows the tail, saves, and never shows a secret."""

from __future__ import annotations

from cpq_sync_gui.redact import default_redactor
from cpq_sync_gui.ui.log_pane import LogPane


def _pane(qtbot) -> LogPane:
    pane = LogPane()
    qtbot.addWidget(pane)
    pane.resize(600, 200)
    pane.show()
    return pane


def test_filters_by_level_and_text(qtbot):
    pane = _pane(qtbot)
    pane.add_many([("INFO", "account 001 synced", None), ("ERROR", "order 42 failed", None),
                   ("DEBUG", "polling", None)])  # fmt: skip
    assert "polling" not in pane.visible_text()  # Info and above by default
    assert "order 42 failed" in pane.visible_text()
    pane.level_filter.setCurrentIndex(3)  # Error and above
    assert pane.visible_text().count("\n") == 0
    assert "order 42 failed" in pane.visible_text()
    pane.level_filter.setCurrentIndex(0)
    pane.text_filter.setText("POLL")
    assert pane.visible_text().endswith("polling")
    assert "synced" not in pane.visible_text()


def test_follows_the_tail_unless_the_user_scrolled_up(qtbot):
    pane = _pane(qtbot)
    pane.add_many([("INFO", f"line {n}", None) for n in range(300)])
    bar = pane.view.verticalScrollBar()
    assert bar.value() == bar.maximum()
    bar.setValue(10)
    pane.add_many([("INFO", f"more {n}", None) for n in range(50)])
    assert bar.value() == 10  # reading older lines is not interrupted
    bar.setValue(bar.maximum())
    pane.add("INFO", "newest")
    assert bar.value() == bar.maximum()


def test_secrets_are_redacted_on_screen_and_in_the_saved_file(qtbot, tmp_path):
    secret = "Zs3cr3t-Value-For-Test-42"
    default_redactor.register(secret)
    try:
        pane = _pane(qtbot)
        pane.add(
            "ERROR", f"login failed for client_secret={secret} (Authorization: Bearer 00Dabc!xyz)"
        )
        saved = tmp_path / "log.txt"
        pane.save_to(saved)
        for text in (pane.visible_text(), saved.read_text()):
            assert secret not in text
            assert "00Dabc!xyz" not in text
            assert "login failed" in text
    finally:
        default_redactor.forget(secret)
