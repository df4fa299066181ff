"""A token bucket: at most ``rate`` messages a second on average, bursts of up to ``burst``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """Thread-safe; ``acquire`` blocks until a token is free (Microsoft 365: 30 a minute)."""

    def __init__(
        self,
        rate: float,
        burst: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate, self.burst = rate, burst
        self._clock, self._sleep = clock, sleep
        self._tokens, self._stamp = burst, clock()
        self._lock = threading.Lock()

    @classmethod
    def per_minute(cls, messages: float, burst: float = 1.0) -> TokenBucket:
        return cls(messages / 60.0, burst)

    def acquire(self) -> None:
        """Take one token, waiting as long as it takes for one to be there."""
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                wait = (1 - self._tokens) / self.rate
            self._sleep(wait)
