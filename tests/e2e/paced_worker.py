"""A translate worker process for the gateway tests: fast jobs for load, paced ones for event streams.

A job whose text is ``steps=<n>`` posts n chunks (``{"text": "step i"}``, seq 0..n-1) with progress,
``PACED_STEP_SECONDS`` apart (default 0.2); any other text is answered at once, upper-cased. It
announces the Apertium pairs of this machine, so the API accepts ordinary translate submits.
Run as ``python -m tests.e2e.paced_worker`` with the stack's settings.
"""
from __future__ import annotations

import os
import re
import time
from typing import Any

from shared.handler import JobIO

STEP_SECONDS = float(os.environ.get("PACED_STEP_SECONDS", "0.2"))


def paced_handler(job: dict[str, Any], io: JobIO) -> dict[str, Any]:
    text = job["params"]["text"]
    match = re.fullmatch(r"steps=(\d+)", text)
    if not match:
        return {"translated_text": text.upper()}
    steps = int(match.group(1))
    for step in range(steps):
        time.sleep(STEP_SECONDS)
        io.chunk(step, {"text": f"step {step}"})
        io.progress(step + 1, steps, "steps")
    return {"translated_text": f"{steps} steps"}


def main() -> None:
    from services.translate_worker.apertium import ApertiumTranslator
    from shared.config import Config
    from shared.logging_setup import configure_logging
    from shared.worker import Worker

    configure_logging()
    pairs = ApertiumTranslator().supported_pairs()
    Worker("translate", paced_handler, Config(), capabilities=lambda: {"pairs": pairs},
           worker_id=f"paced-{os.getpid()}").run()


if __name__ == "__main__":
    main()
