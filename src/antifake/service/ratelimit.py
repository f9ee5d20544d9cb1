"""In-memory token buckets: rate limits per client address and per stamp.

A bucket holds at most ``burst`` tokens and refills at ``rate`` tokens per second; a request
takes one token or is refused. Buckets live in one process: with several worker processes each
keeps its own, so the effective limit is the per-process limit times the number of workers (see
the service documentation).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Limit", "RateLimiter"]


@dataclass(frozen=True)
class Limit:
    """``burst`` requests at once, then ``per_day`` spread evenly over a day (refill rate)."""

    burst: float
    per_day: float

    @property
    def rate(self) -> float:
        return self.per_day / 86400.0


class RateLimiter:
    """Token buckets keyed by strings (``"ip:1.2.3.4"``, ``"pin:<epc>"``), least recently
    used evicted past ``max_keys`` (an evicted key starts again with a full bucket)."""

    def __init__(self, max_keys: int = 100_000, clock: Callable[[], float] | None = None
                 ) -> None:
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_keys
        self._clock = clock or time.monotonic

    def take(self, key: str, limit: Limit, cost: float = 1.0) -> float:
        """Take ``cost`` tokens; returns 0.0 when allowed, else the seconds to wait."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (limit.burst, now))
            tokens = min(limit.burst, tokens + (now - last) * limit.rate)
            if tokens >= cost:
                self._buckets[key] = (tokens - cost, now)
                wait = 0.0
            else:
                self._buckets[key] = (tokens, now)
                wait = (cost - tokens) / limit.rate if limit.rate > 0 else float("inf")
            while len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
        return wait
