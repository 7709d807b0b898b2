"""Server-sent events for one job: status/progress changes and chunks as they arrive.

A stream re-reads its job when PostgreSQL NOTIFYs a change of it (migration 0008: a status or
progress move, a chunk), so a finished job reaches the client as soon as the worker's report
commits; ``change_stream`` is the loop the pipeline stream (pipeline_events.py) shares.
"""
from __future__ import annotations

import json
import time
import uuid
from typing import Any, Callable, Iterator

from flask import current_app
from sqlalchemy import select

from services.api import jobs
from shared.db import db
from shared.models import Job, JobChunk
from shared.pg_notify import JOB_CHANNEL, listener_for
from shared.states import is_terminal

# How often a stream re-reads its row while this process's notification listener is not connected.
POLL_SECONDS = 0.25
KEEPALIVE_SECONDS = 15.0

# What a stream sends after one read of the database, and whether it is over.
Step = Callable[[], tuple[list[str], bool]]


def _sse(event: str, data: Any, event_id: str | None = None) -> str:
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append("data: " + json.dumps(data, default=str))
    return "\n".join(lines) + "\n\n"


def change_stream(channel: str, key: uuid.UUID, step: Step) -> Iterator[str]:
    """Yield ``step()``'s events at the start and after every NOTIFY on ``channel`` naming ``key``.

    Ends when ``step`` says so or after CONVEYOR_SSE_MAX_SECONDS; a comment line keeps an idle
    stream open. The database connection is released between reads (a stream may last long).
    While the notification listener is not connected, the stream polls every POLL_SECONDS.
    """
    max_seconds = float(current_app.config["SSE_MAX_SECONDS"])
    listener = listener_for(current_app.config["SQLALCHEMY_DATABASE_URI"])
    started = last_sent = time.monotonic()
    yield "retry: 2000\n\n"
    # Watching starts before the first read, so a change committed in between still wakes the stream.
    with listener.watch(channel, str(key)) as watch:
        while True:
            events, finished = step()
            db.session.close()
            yield from events
            now = time.monotonic()
            if events:
                last_sent = now
            if finished or now - started > max_seconds:
                return
            if now - last_sent > KEEPALIVE_SECONDS:
                yield ": keep-alive\n\n"
                last_sent = now
            wait = KEEPALIVE_SECONDS - (now - last_sent) if listener.connected else POLL_SECONDS
            watch.wait(max(0.0, min(wait, max_seconds - (now - started))))


def job_event_stream(job_id: uuid.UUID, user_id: int, last_seq: int = -1) -> Iterator[str]:
    """``status`` on every change, ``chunk`` per partial result after ``last_seq``, ``end`` at the end."""
    previous: tuple | None = None

    def step() -> tuple[list[str], bool]:
        nonlocal previous, last_seq
        job = db.session.scalars(select(Job).where(Job.id == job_id, Job.user_id == user_id)).first()
        if job is None:
            return [_sse("end", {"status": "deleted"})], True
        events = []
        state = (job.status, job.progress_current, job.progress_total)
        if state != previous:
            previous = state
            view = jobs.job_view(job, with_position=True)
            events.append(_sse("status", {key: view[key] for key in ("id", "status", "progress", "error")}))
        for chunk in db.session.scalars(select(JobChunk).where(JobChunk.job_id == job_id, JobChunk.seq > last_seq)
                                        .order_by(JobChunk.seq)):
            last_seq = chunk.seq
            events.append(_sse("chunk", {"seq": chunk.seq, **chunk.data}, event_id=str(chunk.seq)))
        if is_terminal(job.status):
            events.append(_sse("end", {"status": job.status}))
            return events, True
        return events, False

    return change_stream(JOB_CHANNEL, job_id, step)
