"""A stand-in domain function for testing the worker shell: slow, with chunks and progress.

Run as a process: ``python -m tests.integration.slow_worker`` (settings from the environment);
``SLOW_WORKER_SUPERVISED=1`` runs it under the workers' supervisor, as ``make up`` runs a worker kind.
"""
from __future__ import annotations

import os
import time
from typing import Any

from shared.handler import JobIO

STEPS = int(os.environ.get("SLOW_WORKER_STEPS", "8"))
STEP_SECONDS = float(os.environ.get("SLOW_WORKER_STEP_SECONDS", "0.3"))
CALLS: list[str] = []


def slow_handler(job: dict[str, Any], io: JobIO) -> dict[str, Any]:
    """Post one chunk and one progress report per step, sleeping in between."""
    CALLS.append(job["id"])
    for step in range(STEPS):
        time.sleep(STEP_SECONDS)
        io.chunk(step, {"text": f"step {step}", "pid": os.getpid()})
        io.progress(step + 1, STEPS, "steps")
    return {"translated_text": "done", "steps": STEPS, "pid": os.getpid()}


def serve(config) -> None:
    from shared.logging_setup import configure_logging
    from shared.worker import Worker

    configure_logging()
    Worker("translate", slow_handler, config, worker_id=f"slow-{os.getpid()}").run()


def main() -> None:
    from shared.config import Config
    from shared.worker import run_worker_process

    if os.environ.get("SLOW_WORKER_SUPERVISED") == "1":
        run_worker_process("slow-worker", serve)
    else:
        serve(Config())


if __name__ == "__main__":
    main()
