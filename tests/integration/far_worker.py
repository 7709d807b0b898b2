"""A translate worker for the "other host" tests, run as a process inside a network namespace.

Its handler works in silence: a job whose text (or input file, fetched as every worker fetches its
input: from the object store by presigned URL on S3) is ``work <seconds> s`` posts one log line, then
computes for that long without a single event (as ffmpeg or a model does between reports; only the
worker's lease heartbeats travel meanwhile) and returns a result naming this worker. Run as
``python -m tests.integration.far_worker`` with FAR_WORKER_ID and the usual settings.
"""
from __future__ import annotations

import os
import re
import time
from typing import Any

from shared.handler import JobIO

WORKER_ID = os.environ.get("FAR_WORKER_ID", f"far-{os.getpid()}")


def silent_handler(job: dict[str, Any], io: JobIO) -> dict[str, Any]:
    text = io.input_path().read_text().strip() if job.get("input") else job["params"]["text"]
    match = re.fullmatch(r"work (\d+(?:\.\d+)?) s", text)
    seconds = float(match.group(1)) if match else 0.0
    io.log(f"working {seconds:g} s on {WORKER_ID}")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.1)
    return {"translated_text": f"done by {WORKER_ID}", "worker": WORKER_ID}


def main() -> None:
    from shared.config import Config
    from shared.logging_setup import configure_logging
    from shared.worker import Worker

    configure_logging()
    Worker("translate", silent_handler, Config(), worker_id=WORKER_ID).run()


if __name__ == "__main__":
    main()
