"""The real outbox relay in a process of its own that stops dead at one point, for a test to kill -9 there.

``python -m tests.integration.pausing_relay MARKER STEP WHEN`` relays the outbox (settings from the
environment) exactly as ``python -m services.relay`` does, except at the message of the pipeline
step named STEP: with WHEN ``before-publish`` it stops before handing it to the broker, with
``before-mark-sent`` after the broker confirmed it but before the row is marked sent. There it
writes ``<job id>`` to MARKER and sleeps, holding its transaction open, until it is killed.
"""
from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

from services.relay.outbox import OutboxRelay
from shared.config import Config
from shared.db import database_app, db
from shared.logging_setup import configure_logging
from shared.messaging import Publisher
from shared.models import Job, OutboxMessage


def _is_step(job_id: Any, step: str) -> bool:
    job = db.session.get(Job, job_id)
    return job is not None and job.pipeline_step == step


def _stop_dead(marker: Path, job_id: Any) -> None:
    marker.write_text(str(job_id))
    while True:  # until SIGKILL
        time.sleep(60)


class PausingPublisher(Publisher):
    def __init__(self, url: str, prefix: str, marker: Path, step: str):
        super().__init__(url, prefix)
        self.marker, self.step = marker, step

    def publish(self, kind: str, payload: dict[str, Any], **options: Any) -> None:
        if _is_step(payload.get("job_id"), self.step) and not payload.get("dead_letter"):
            _stop_dead(self.marker, payload["job_id"])
        super().publish(kind, payload, **options)


class PausingRelay(OutboxRelay):
    def __init__(self, app, publisher: Publisher, marker: Path, step: str):
        super().__init__(app, publisher)
        self.marker, self.step = marker, step

    def _mark_sent(self, row: OutboxMessage) -> None:
        if _is_step(row.job_id, self.step) and not row.payload.get("dead_letter"):
            _stop_dead(self.marker, row.job_id)
        super()._mark_sent(row)


def main() -> None:
    marker, step, when = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    configure_logging()
    config = Config()
    app = database_app(config)
    if when == "before-publish":
        relay = OutboxRelay(app, PausingPublisher(config.AMQP_URL, config.AMQP_PREFIX, marker, step))
    elif when == "before-mark-sent":
        relay = PausingRelay(app, Publisher(config.AMQP_URL, config.AMQP_PREFIX), marker, step)
    else:
        raise SystemExit(f"unknown point {when!r}: before-publish or before-mark-sent")
    relay.run(threading.Event())


if __name__ == "__main__":
    main()
