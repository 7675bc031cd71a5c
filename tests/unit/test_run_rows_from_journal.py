"""How a run read back from the journal is shown: finished, waiting in Zuora, or queued."""

from __future__ import annotations

from cpq_sync_gui.sync.events import RecordState
from cpq_sync_gui.sync.journal import NewRecord, RunJournal
from cpq_sync_gui.ui.run_bridge import rows_of


def _run_with_states() -> tuple[RunJournal, str]:
    journal = RunJournal()
    run_id = journal.create_run(
        profile="demo",
        kind="accounts",
        engine="connector",
        records=[NewRecord(f"001R{i:014d}", "account", f"Account {i}") for i in range(3)],
    )
    journal.record_transition(run_id, "001R00000000000000", RecordState.SYNCED, zuora_number="A-1")
    journal.record_transition(run_id, "001R00000000000001", RecordState.VERIFYING)
    return journal, run_id


def test_history_shows_accepted_records_as_verifying_not_queued_or_synced() -> None:
    journal, run_id = _run_with_states()
    with journal:
        rows = {row.record_id: row for row in rows_of(journal.records_of(run_id))}
    assert rows["001R00000000000000"].state is RecordState.SYNCED
    assert rows["001R00000000000000"].zuora_number == "A-1"
    assert rows["001R00000000000001"].state is RecordState.VERIFYING
    assert rows["001R00000000000001"].zuora_number is None
    assert rows["001R00000000000002"].state is RecordState.QUEUED


def test_rows_queued_again_for_a_retry_all_show_queued() -> None:
    journal, run_id = _run_with_states()
    with journal:
        rows = rows_of(journal.records_of(run_id), queued=True)
    assert {row.state for row in rows} == {RecordState.QUEUED}
