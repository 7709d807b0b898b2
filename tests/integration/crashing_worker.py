"""A supervised translate worker whose handler kills its own process on one input (HARDENING R7).

``python -m tests.integration.crashing_worker LOG`` runs it as ``make up`` runs a worker kind
(``run_worker_process``: a supervisor restarting a child). Each call of the handler appends
``<job id> <pid>`` to LOG before it acts, so a test counts the attempts that really ran.
"""
from __future__ import annotations

import os
import sys
from typing import Any

from shared.handler import JobIO

CRASHING_TEXT = "this input kills the worker"


def crash_on_one_input(job: dict[str, Any], io: JobIO) -> dict[str, Any]:
    """Die at once, with no report, on CRASHING_TEXT (a segfaulting decoder, an OOM kill); else echo."""
    with open(os.environ["CRASHING_WORKER_LOG"], "a") as log:
        log.write(f"{job['id']} {os.getpid()}\n")
    if job["params"]["text"] == CRASHING_TEXT:
        os._exit(1)
    return {"translated_text": job["params"]["text"].upper()}


def serve(config) -> None:
    from shared.logging_setup import configure_logging
    from shared.worker import Worker

    configure_logging()
    Worker("translate", crash_on_one_input, config, worker_id=f"crashing-{os.getpid()}").run()


def main() -> None:
    from shared.worker import run_worker_process

    os.environ["CRASHING_WORKER_LOG"] = sys.argv[1]
    run_worker_process("crashing-worker", serve)


if __name__ == "__main__":
    main()
