"""Server-sent events for one pipeline: its status, weighted progress and each step's status as they change."""
from __future__ import annotations

import time
import uuid
from typing import Iterator

from flask import current_app
from sqlalchemy import select

from services.api.events import KEEPALIVE_SECONDS, POLL_SECONDS, _sse
from services.api.pipelines import pipeline_view
from shared.db import db
from shared.models import Pipeline
from shared.pipelineflow import RUNNING


def _snapshot(view: dict) -> dict:
    """What a watcher follows: the pipeline's status, progress and error, and each step's status and job."""
    return {"id": view["id"], "status": view["status"], "progress": view["progress"], "error": view["error"],
            "steps": [{key: step[key] for key in ("name", "kind", "status", "job_id", "progress", "error")}
                      for step in view["steps"]]}


def pipeline_event_stream(pipeline_id: uuid.UUID, user_id: int) -> Iterator[str]:
    """Yield a ``status`` event on every change until the pipeline ends (``end``) or CONVEYOR_SSE_MAX_SECONDS."""
    max_seconds = float(current_app.config["SSE_MAX_SECONDS"])
    started = last_sent = time.monotonic()
    previous = None
    yield "retry: 2000\n\n"
    while True:
        pipeline = db.session.scalars(select(Pipeline).where(Pipeline.id == pipeline_id,
                                                             Pipeline.user_id == user_id)).first()
        if pipeline is None:
            yield _sse("end", {"status": "deleted"})
            return
        snapshot = _snapshot(pipeline_view(pipeline))
        if snapshot != previous:
            previous = snapshot
            yield _sse("status", snapshot)
            last_sent = time.monotonic()
        # Release the connection between polls: a stream may stay open for a long time.
        db.session.close()
        if snapshot["status"] != RUNNING:
            yield _sse("end", {"status": snapshot["status"]})
            return
        now = time.monotonic()
        if now - started > max_seconds:
            return
        if now - last_sent > KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            last_sent = now
        time.sleep(POLL_SECONDS)
