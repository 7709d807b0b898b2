"""Server-sent events for one pipeline: its status, weighted progress and each step's status as they change."""
from __future__ import annotations

import uuid
from typing import Iterator

from sqlalchemy import select

from services.api.events import _sse, change_stream
from services.api.pipelines import pipeline_view
from shared.db import db
from shared.models import Pipeline
from shared.pg_notify import PIPELINE_CHANNEL
from shared.pipelineflow import RUNNING


def _snapshot(view: dict) -> dict:
    """What a watcher follows: the pipeline's status, progress and error, and each step's status and job."""
    return {"id": view["id"], "status": view["status"], "progress": view["progress"], "error": view["error"],
            "steps": [{key: step[key] for key in ("name", "kind", "status", "job_id", "progress", "error")}
                      for step in view["steps"]]}


def pipeline_event_stream(pipeline_id: uuid.UUID, user_id: int) -> Iterator[str]:
    """Yield a ``status`` event on every change until the pipeline ends (``end``) or CONVEYOR_SSE_MAX_SECONDS.

    The pipeline's row and each of its steps' jobs NOTIFY on change (migration 0008).
    """
    previous = None

    def step() -> tuple[list[str], bool]:
        nonlocal previous
        pipeline = db.session.scalars(select(Pipeline).where(Pipeline.id == pipeline_id,
                                                             Pipeline.user_id == user_id)).first()
        if pipeline is None:
            return [_sse("end", {"status": "deleted"})], True
        snapshot = _snapshot(pipeline_view(pipeline))
        events = []
        if snapshot != previous:
            previous = snapshot
            events.append(_sse("status", snapshot))
        if snapshot["status"] != RUNNING:
            events.append(_sse("end", {"status": snapshot["status"]}))
            return events, True
        return events, False

    return change_stream(PIPELINE_CHANNEL, pipeline_id, step)
