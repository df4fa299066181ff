"""Serve one fake in its own process, for benchmarks: ``python -m tests.fakes NAME PORT
[DELAY]``. Prints ``ready`` once listening, and on SIGTERM the number of messages it accepted
and the CPU seconds it used. Recipients' copies are not rebuilt (``keep=False``)."""

from __future__ import annotations

import signal
import sys
import threading
import time

from tests.fakes import FAKES


def main() -> None:
    name, port = sys.argv[1], int(sys.argv[2])
    delay = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    fake = FAKES[name](delay=delay, keep=False).start(port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    fake.stop()
    print(len(fake.received), f"{time.process_time():.2f}", flush=True)


if __name__ == "__main__":
    main()
