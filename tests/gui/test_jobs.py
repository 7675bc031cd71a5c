"""Background jobs: results, failures and cancel reach the window; events arrive in batches."""

from __future__ import annotations

import threading
import time

from cpq_sync_gui.ui.jobs import Job, JobContext


def test_job_delivers_events_in_order_then_its_result(qtbot):
    def work(context: JobContext) -> str:
        for n in range(5000):
            context.report(n)
        return "all sent"

    job = Job("count", work)
    received: list[int] = []
    job.events.connect(received.extend)
    with qtbot.waitSignal(job.succeeded, timeout=10000) as result:
        job.start()
    assert result.args == ["all sent"]
    assert received == list(range(5000))  # nothing lost, nothing reordered, before the result
    assert not job.running


def test_job_failure_arrives_as_a_plain_message_with_redacted_details(qtbot):
    def work(context: JobContext) -> None:
        raise RuntimeError("Zuora refused the client id (Authorization: Bearer abc.def.ghi123)")

    job = Job("fails", work)
    with qtbot.waitSignal(job.failed, timeout=10000) as failure:
        job.start()
    message, details = failure.args
    assert message.startswith("Zuora refused the client id")
    assert "abc.def.ghi123" not in message
    assert "abc.def.ghi123" not in details
    assert "RuntimeError" in details


def test_cancel_reaches_the_running_function_and_the_window_stays_free(qtbot):
    started = threading.Event()

    def work(context: JobContext) -> str:
        started.set()
        while not context.cancelled():
            time.sleep(0.01)
        return "stopped"

    job = Job("long", work)
    job.start()
    assert started.wait(5)
    qtbot.wait(100)  # the event loop keeps running while the job works
    began = time.monotonic()
    with qtbot.waitSignal(job.succeeded, timeout=5000) as result:
        job.cancel()
    assert result.args == ["stopped"]
    assert time.monotonic() - began < 1.0


def test_a_finished_job_can_be_deleted_later(qtbot):
    job = Job("short", lambda context: 42)
    with qtbot.waitSignal(job.finished, timeout=5000):
        job.start()
    with qtbot.waitSignal(job.destroyed, timeout=5000):
        job.deleteLater()
