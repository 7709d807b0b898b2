"""Follow a job to its end: its server-sent events, or polling when the stream breaks."""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Iterable

import requests

from conveyor_cli.errors import ApiError
from conveyor_cli.sse import ServerEvent

LOGGER = logging.getLogger(__name__)

TERMINAL = frozenset({"succeeded", "partial", "failed", "cancelled"})
POLL_SECONDS = 1.0

# What a broken or stalled stream raises while it is read (a refused stream is a 5xx ApiError).
STREAM_BROKEN = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


def follow_job(
    open_events: Callable[[], Iterable[ServerEvent]],
    fetch_job: Callable[[], dict[str, Any]],
    on_status: Callable[[dict[str, Any]], None],
    sleep: Callable[[float], None] = time.sleep,
    poll_seconds: float = POLL_SECONDS,
) -> str:
    """Call ``on_status`` with each status update until the job ends; return its final status."""
    try:
        for event in open_events():
            if event.event == "status":
                update = event.json()
                on_status(update)
                if update.get("status") in TERMINAL:
                    return update["status"]
            elif event.event == "end":
                status = event.json().get("status", "")
                if status == "deleted":
                    raise ApiError(404, "The job was deleted while it was being watched.")
                return status
        LOGGER.info("the event stream ended early; polling instead")
    except STREAM_BROKEN as exc:
        LOGGER.info("the event stream broke (%s); polling instead", exc.__class__.__name__)
    except ApiError as exc:
        if exc.status < 500:
            raise
        LOGGER.info("the event stream was refused (HTTP %s); polling instead", exc.status)
    while True:
        job = fetch_job()
        on_status(job)
        if job["status"] in TERMINAL:
            return job["status"]
        sleep(poll_seconds)
