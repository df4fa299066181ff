"""A discarding SMTP sink for benchmarks: accepts everything, keeps only a count.

Run as its own process so it does not share the benchmarked process's CPU or GIL:
``python benchmarks/sink.py PORT``. It prints ``ready`` once listening, and the number of
messages it accepted when it receives SIGTERM.
"""

from __future__ import annotations

import signal
import sys
import threading

from aiosmtpd.controller import Controller


class CountingHandler:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        self.count += len(envelope.rcpt_tos)
        return "250 2.0.0 OK"


def main() -> None:
    port = int(sys.argv[1])
    handler = CountingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=30)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    controller.stop()
    print(handler.count, flush=True)


if __name__ == "__main__":
    main()
