"""How patient a run is: retry backoff with full jitter, and the adaptive (AIMD) concurrency limit."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass

__all__ = [
    "DEFAULT_CONCURRENCY",
    "MAX_CONCURRENCY",
    "MIN_CONCURRENCY",
    "AdaptiveLimit",
    "RetryPolicy",
]

# Records in flight at once. Zuora tenants take 40 requests at a time by default (more for
# creates), shared with every other integration; 10 uses a quarter of that, and the run never
# exceeds the Concurrency-Limit-Limit a tenant states and halves on a 429.
MIN_CONCURRENCY, MAX_CONCURRENCY, DEFAULT_CONCURRENCY = 1, 16, 10


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    max_retry_after_s: float = 300.0

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Exponential backoff with full jitter; at least Retry-After when the server sent one."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** max(0, attempt - 1))
        delay = rng.uniform(0, ceiling)
        if retry_after is not None and retry_after > 0:
            delay = max(delay, min(retry_after, self.max_retry_after_s))
        return delay


class AdaptiveLimit:
    """How many sends may be in flight: halves on a 429, grows back by one step per ``limit``
    successes (AIMD, as TCP does), stops growing while Zuora reports no room for more, never
    below 1 nor above ``maximum``."""

    def __init__(self, maximum: int, *, cooldown_s: float = 1.0) -> None:
        self.maximum = maximum
        self._limit = float(maximum)
        self._in_flight = 0
        self._cooldown_s = cooldown_s
        self._last_cut = -1e9
        self._cond = threading.Condition()
        self.peak_in_flight = 0

    @property
    def limit(self) -> int:
        with self._cond:
            return max(1, int(self._limit))

    @property
    def in_flight(self) -> int:
        with self._cond:
            return self._in_flight

    def acquire(self, cancel: threading.Event) -> bool:
        """Wait for a free slot; False when cancelled first."""
        with self._cond:
            while self._in_flight >= max(1, int(self._limit)):
                if cancel.is_set():
                    return False
                self._cond.wait(0.25)
            if cancel.is_set():
                return False
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
            return True

    def release(self) -> None:
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def throttled(self) -> int | None:
        """Zuora said slow down: halve (once per cooldown). Returns the new limit if it changed."""
        with self._cond:
            now = time.monotonic()
            if now - self._last_cut < self._cooldown_s:
                return None
            self._last_cut = now
            before = max(1, int(self._limit))
            self._limit = max(1.0, self._limit / 2)
            after = max(1, int(self._limit))
            return after if after != before else None

    def succeeded(self) -> int | None:
        """Additive increase; returns the new limit when it grew by a whole step."""
        with self._cond:
            before = int(self._limit)
            self._limit = min(float(self.maximum), self._limit + 1.0 / max(1.0, self._limit))
            after = int(self._limit)
            if after != before:
                self._cond.notify_all()
                return after
            return None

    def cap(self, tenant_limit: int | None) -> int | None:
        """Zuora states its concurrency limit in its answers (Concurrency-Limit-Limit): never
        send more at once than that, whatever the run was set to. Returns the new maximum when
        it dropped (more at once would only earn 429s: bench/bench_sync.py, docs/performance.md)."""
        if tenant_limit is None or tenant_limit < 1:
            return None
        with self._cond:
            if tenant_limit >= self.maximum:
                return None
            self.maximum = tenant_limit
            self._limit = min(self._limit, float(tenant_limit))
            return tenant_limit

    def pressure(self, remaining: int | None, limit: int | None) -> None:
        """Concurrency-Limit-Remaining from an answer: when few slots are free (<= 10 % of the
        limit, or <= 2), the limit stops growing past what is in flight plus what is free.

        It never lowers the limit: the run's own requests take those slots (a run alone at the
        tenant's limit always hears "0 left"), and the requests in flight were all admitted.
        Only a 429 halves (:meth:`throttled`); ``cap`` keeps the run under the tenant's limit.
        """
        if remaining is None:
            return
        threshold = max(2, int((limit or 0) * 0.1))
        if remaining > threshold:
            return
        with self._cond:
            room = float(self._in_flight + remaining)
            whole = float(max(1, int(self._limit)))
            self._limit = min(self._limit, max(whole, room))
