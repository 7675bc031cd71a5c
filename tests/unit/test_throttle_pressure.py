"""A low Concurrency-Limit-Remaining stops the adaptive limit's growth; only a 429 halves it."""

from __future__ import annotations

import threading

from cpq_sync_gui.sync.throttle import AdaptiveLimit

NEVER = threading.Event()


def _take(limit: AdaptiveLimit, count: int) -> None:
    for _ in range(count):
        assert limit.acquire(NEVER)


def test_a_run_alone_at_the_tenant_limit_keeps_every_slot() -> None:
    # Every answer says "0 left" because the run's own 10 requests hold the 10 slots.
    limit = AdaptiveLimit(10, cooldown_s=0.0)
    _take(limit, 10)
    for _ in range(50):
        limit.pressure(remaining=0, limit=10)
        limit.succeeded()
    assert limit.limit == 10


def test_few_free_slots_stop_growth_where_the_tenant_has_no_room() -> None:
    # Others hold 5 of the tenant's 10 slots: after a 429 the run may not grow past its 5.
    limit = AdaptiveLimit(10, cooldown_s=0.0)
    assert limit.throttled() == 5
    _take(limit, 5)
    grown = []
    for _ in range(100):
        limit.pressure(remaining=0, limit=10)
        grown.append(limit.succeeded())
    assert limit.limit == 5
    assert grown == [None] * 100


def test_growth_goes_on_while_the_tenant_reports_room() -> None:
    # 8 in flight and 2 free: low enough to count as "few", but there is room for 10.
    limit = AdaptiveLimit(10, cooldown_s=0.0)
    limit.throttled()
    limit.throttled()  # 2
    for _ in range(6):
        limit.succeeded()
    _take(limit, limit.limit)
    for _ in range(200):
        limit.pressure(remaining=10 - limit.in_flight, limit=10)
        if limit.succeeded() is not None:
            _take(limit, limit.limit - limit.in_flight)
    assert limit.limit == 10


def test_pressure_never_lowers_the_limit_only_a_429_does() -> None:
    limit = AdaptiveLimit(16, cooldown_s=0.0)
    _take(limit, 3)  # fewer in flight than the limit: e.g. the last records of a run
    for remaining in (0, 1, 2):
        limit.pressure(remaining=remaining, limit=16)
        assert limit.limit == 16
    assert limit.throttled() == 8
    limit.pressure(remaining=0, limit=16)
    assert limit.limit == 8


def test_plenty_of_room_changes_nothing() -> None:
    heard, untouched = AdaptiveLimit(10, cooldown_s=0.0), AdaptiveLimit(10, cooldown_s=0.0)
    grown: dict[str, list[int | None]] = {"heard": [], "untouched": []}
    for name, limit in (("heard", heard), ("untouched", untouched)):
        limit.throttled()  # 5
        for _ in range(12):
            if limit is heard:
                limit.pressure(remaining=None, limit=10)
                limit.pressure(remaining=9, limit=10)
            grown[name].append(limit.succeeded())
    assert grown["heard"] == grown["untouched"]
    assert heard.limit == untouched.limit == 7
