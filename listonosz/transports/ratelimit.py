"""Pacing: what runs before each message leaves (a stop check, a token bucket, a shared limit)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from listonosz.stopping import Stop


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
    def per_minute(
        cls, messages: float, burst: float = 1.0, sleep: Callable[[float], None] = time.sleep
    ) -> TokenBucket:
        return cls(messages / 60.0, burst, sleep=sleep)

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


class SharedHold(Protocol):
    """A hold on one mail service shared beyond this process (the store's ``Holds``)."""

    def hold(self, seconds: float) -> None: ...

    def remaining(self) -> float: ...


class Pace:
    """Runs before each message: raises :class:`~listonosz.stopping.Stopped` once the run is
    asked to stop, else waits for the transport's token bucket and a shared limit (a Prefect
    global concurrency limit). Its :meth:`sleep`, for retry backoffs, a stop cuts short too."""

    def __init__(
        self,
        rate_per_minute: float | None = None,
        shared: Callable[[], None] | None = None,
        stop: Stop | None = None,
        sleep: Callable[[float], None] | None = None,
        hold: SharedHold | None = None,
    ) -> None:
        self.stop = stop or Stop()
        self.hold = hold  # a provider's Retry-After, for every worker (HTTP transports)
        self.sleep = sleep or self.stop.sleep  # tests pass one that records instead of waiting
        bucket = (
            TokenBucket.per_minute(rate_per_minute, sleep=self.sleep) if rate_per_minute else None
        )
        self._waits = [w for w in (bucket.acquire if bucket else None, shared) if w]

    def __call__(self) -> None:
        self.stop.check()
        for wait in self._waits:
            wait()
