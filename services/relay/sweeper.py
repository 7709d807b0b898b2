"""The retention sweeper: deletes jobs and pipelines that expired, files first, then their rows.

It runs as a thread of the relay process (``python -m services.relay``), every
``CONVEYOR_SWEEP_SECONDS``; the rule of what expires is shared.retention's. Only what ended is ever
touched: a job in a terminal state (succeeded, partial, failed, cancelled) that is no pipeline's
step, and a pipeline that ended with no step still active; queued, running and retrying jobs keep
their files whatever their age. A pipeline's steps go with their pipeline, never alone.

Several relays may sweep at once (two API hosts, two relays): each batch is taken with
``FOR UPDATE SKIP LOCKED``, so a row is swept by one of them, and the others take the next rows.
The files go before the rows, inside the transaction holding the row locks: if the store fails,
the rows stay and the next sweep tries again (deleting what is already gone is no error), so no
object outlives its row. The row lock also keeps an owner's concurrent DELETE waiting until the
sweep commits, and a retry of a failed pipeline cannot start while it is swept.
"""
from __future__ import annotations

import logging
import threading
from typing import Optional

from flask import Flask
from sqlalchemy import delete, exists, select

from shared.clock import utcnow
from shared.db import db, transaction
from shared.models import Job, Pipeline
from shared.retention import cutoff
from shared.states import ACTIVE, TERMINAL, values
from shared.storage import Storage, storage_from_config

LOGGER = logging.getLogger(__name__)

BATCH = 50
RUNNING = "running"  # shared.pipelineflow.RUNNING (not imported: it pulls in the kinds' contracts)


def sweep_jobs(store: Storage, before, limit: int = BATCH) -> int:
    """Delete up to ``limit`` ended jobs (not pipeline steps) that finished before ``before``."""
    with transaction():
        expired = db.session.scalars(
            select(Job.id).where(Job.pipeline_id.is_(None), Job.status.in_(values(TERMINAL)),
                                 Job.finished_at < before)
            .order_by(Job.finished_at).limit(limit).with_for_update(skip_locked=True)).all()
        for job_id in expired:
            store.delete_prefix(f"jobs/{job_id}")
        if expired:
            db.session.execute(delete(Job).where(Job.id.in_(expired)))
    for job_id in expired:
        LOGGER.info("job %s: expired; deleted with its files", job_id)
    return len(expired)


def sweep_pipelines(store: Storage, before, limit: int = BATCH) -> int:
    """Delete up to ``limit`` ended pipelines that finished before ``before``, with their steps' jobs."""
    still_active = exists().where(Job.pipeline_id == Pipeline.id, Job.status.in_(values(ACTIVE)))
    with transaction():
        expired = db.session.scalars(
            select(Pipeline.id).where(Pipeline.status != RUNNING, Pipeline.finished_at < before, ~still_active)
            .order_by(Pipeline.finished_at).limit(limit).with_for_update(of=Pipeline, skip_locked=True)).all()
        steps = db.session.execute(select(Job.id, Job.pipeline_id).where(Job.pipeline_id.in_(expired))).all()
        for job_id, _ in steps:
            store.delete_prefix(f"jobs/{job_id}")
        for pipeline_id in expired:
            store.delete_prefix(f"pipelines/{pipeline_id}")
        if expired:
            # The steps' jobs (with their chunks, artifacts and logs) go by the foreign keys' cascade.
            db.session.execute(delete(Pipeline).where(Pipeline.id.in_(expired)))
    for pipeline_id in expired:
        LOGGER.info("pipeline %s: expired; deleted with its %d step jobs and their files", pipeline_id,
                    sum(1 for _, owner in steps if owner == pipeline_id))
    return len(expired)


def sweep(store: Storage, days: float, limit: int = BATCH) -> int:
    """One round: every job and pipeline expired by now (in batches of ``limit``); how many went."""
    before = cutoff(utcnow(), days)
    if before is None:
        return 0
    swept = 0
    for sweep_some in (sweep_jobs, sweep_pipelines):
        while (count := sweep_some(store, before, limit)) > 0:
            swept += count
            if count < limit:
                break
    return swept


class Sweeper:
    """Runs :func:`sweep` every ``SWEEP_SECONDS`` as a thread of the relay process."""

    def __init__(self, app: Flask, store: Optional[Storage] = None):
        self.app = app
        self.store = store or storage_from_config(app.config)

    def run(self, stop: threading.Event) -> None:
        """Sweep until ``stop`` is set, surviving database and store outages."""
        config = self.app.config
        if not config["RETENTION_DAYS"]:
            LOGGER.info("retention is off (CONVEYOR_RETENTION_DAYS empty or 0): nothing is swept")
            return
        while not stop.is_set():
            try:
                with self.app.app_context():
                    swept = sweep(self.store, config["RETENTION_DAYS"])
                if swept:
                    LOGGER.info("sweeper: %d expired jobs and pipelines deleted", swept)
            except Exception as exc:  # noqa: BLE001 - the sweeper must outlive outages
                LOGGER.error("sweeper error: %s", exc)
            stop.wait(config["SWEEP_SECONDS"])
