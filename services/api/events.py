"""Server-sent events for one job: status/progress changes and chunks as they arrive."""
from __future__ import annotations

import json
import time
import uuid
from typing import Any, Iterator

from flask import current_app
from sqlalchemy import select

from services.api import jobs
from shared.db import db
from shared.models import Job, JobChunk
from shared.states import is_terminal

POLL_SECONDS = 0.25
KEEPALIVE_SECONDS = 15.0


def _sse(event: str, data: Any, event_id: str | None = None) -> str:
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append("data: " + json.dumps(data, default=str))
    return "\n".join(lines) + "\n\n"


def job_event_stream(job_id: uuid.UUID, user_id: int, last_seq: int = -1) -> Iterator[str]:
    """Yield events until the job ends or the stream reaches CONVEYOR_SSE_MAX_SECONDS."""
    max_seconds = float(current_app.config["SSE_MAX_SECONDS"])
    started = last_sent = time.monotonic()
    previous: tuple | None = None
    yield "retry: 2000\n\n"
    while True:
        job = db.session.scalars(select(Job).where(Job.id == job_id, Job.user_id == user_id)).first()
        if job is None:
            yield _sse("end", {"status": "deleted"})
            return
        state = (job.status, job.progress_current, job.progress_total)
        if state != previous:
            previous = state
            view = jobs.job_view(job, with_position=True)
            yield _sse("status", {key: view[key] for key in ("id", "status", "progress", "error")})
            last_sent = time.monotonic()
        for chunk in db.session.scalars(select(JobChunk).where(JobChunk.job_id == job_id, JobChunk.seq > last_seq)
                                        .order_by(JobChunk.seq)):
            last_seq = chunk.seq
            yield _sse("chunk", {"seq": chunk.seq, **chunk.data}, event_id=str(chunk.seq))
            last_sent = time.monotonic()
        finished = is_terminal(job.status)
        # Release the connection between polls: a stream may stay open for a long time.
        db.session.close()
        if finished:
            yield _sse("end", {"status": state[0]})
            return
        now = time.monotonic()
        if now - started > max_seconds:
            return
        if now - last_sent > KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            last_sent = now
        time.sleep(POLL_SECONDS)
