"""A process under shared.worker.supervisor whose child either lives or crashes at once.

``python -m tests.integration.supervised_child LOG live|crash``: every start of the child appends
``<pid> <unix time>`` to LOG, so a test sees each restart and when it happened.
"""
from __future__ import annotations

import os
import sys
import time


def child(log: str, mode: str) -> None:
    with open(log, "a") as handle:
        handle.write(f"{os.getpid()} {time.time():.3f}\n")
    if mode == "crash":
        sys.exit(3)  # a start-up failure: the supervisor must back off
    while True:
        time.sleep(1)


def main() -> None:
    from shared.logging_setup import configure_logging
    from shared.worker import run_supervised

    configure_logging()
    log, mode = sys.argv[1], sys.argv[2]
    run_supervised(lambda: child(log, mode), f"test-{mode}")


if __name__ == "__main__":
    main()
