"""Process supervision: a worker kind's entry point runs its consumer in a child process, restarted if it dies."""
from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from typing import Callable, Optional

from shared.config import Config
from shared.logging_setup import configure_logging
from shared.worker.consumer import MAX_RECONNECT_DELAY

LOGGER = logging.getLogger(__name__)


def run_worker_process(name: str, serve: Callable[[Config], None]) -> None:
    """A worker kind's entry point: production checks, then ``serve`` in a supervised child process."""
    configure_logging()
    config = Config()
    config.check_production(role="worker")
    run_supervised(lambda: serve(config), name)


def run_supervised(target: Callable[[], None], name: str) -> None:
    """Run ``target`` in a child process and start it again if it dies (a crash must not stop the queue)."""
    stopping = threading.Event()
    child: Optional[multiprocessing.Process] = None

    def forward(signum, frame):
        stopping.set()
        if child is not None and child.pid:
            os.kill(child.pid, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    delay = 1.0
    while not stopping.is_set():
        child = multiprocessing.Process(target=target, name=name)
        child.start()
        started = time.monotonic()
        child.join()
        if stopping.is_set() or child.exitcode == 0:
            break
        # A child that lived for a while was fine until this crash: start again quickly.
        delay = 1.0 if time.monotonic() - started > 60 else min(delay * 2, MAX_RECONNECT_DELAY)
        LOGGER.error("%s exited with %s; restarting in %.0fs", name, child.exitcode, delay)
        stopping.wait(delay)
