"""Native asr jobs seen as seed 003's transcriptions: their states, counters, chunks and pages.

A transcription is one of the user's asr jobs (whichever surface submitted it); its integer id is
the job's ``number``. A chunk is one of the job's chunk events: ``chunk_order`` is its ``seq`` and
its integer ``id`` is ``number * 1_000_000 + seq`` (unique, and stable across reads).
"""
from __future__ import annotations

import math
from typing import Any, Optional

from sqlalchemy import func, select

from shared.compat.lecture import lecture_time
from shared.db import db
from shared.models import Job, JobChunk, User
from shared.states import ACTIVE, JobStatus

KIND = "asr"
CHUNK_ID_FACTOR = 1_000_000
DESCRIPTION_CHARS = 256
STATES = {"queued": "queued", "running": "in_progress", "retrying": "processing_error",
          "succeeded": "completed", "partial": "completed_partially", "failed": "processing_fail",
          "cancelled": "cancelled"}


def lecture_state(job: Job) -> str:
    return STATES[job.status]


def error_count(job: Job) -> int:
    """Failed attempts: every claim but a running or successful one ended in an error."""
    failed_now = job.status in (JobStatus.RETRYING.value, JobStatus.FAILED.value) or (
        job.status == JobStatus.PARTIAL.value and job.cancelled_at is None)
    return job.attempts if failed_now else max(job.attempts - 1, 0)


def audio_seconds(job: Job) -> float:
    return float(job.params.get("duration") or job.progress_total or 0.0)


def chunk_seconds(job: Job) -> float:
    return float(job.params.get("chunk_seconds") or 0.0)


def first_chunk_texts(jobs: list[Job]) -> dict[Any, str]:
    """Each job's description: the start of its chunk 0, in one query for the whole page."""
    if not jobs:
        return {}
    rows = db.session.execute(select(JobChunk.job_id, JobChunk.data).where(
        JobChunk.job_id.in_([job.id for job in jobs]), JobChunk.seq == 0)).all()
    return {job_id: str((data or {}).get("text") or "")[:DESCRIPTION_CHARS] for job_id, data in rows}


def transcription_view(job: Job, description: Optional[str] = None) -> dict[str, Any]:
    """The seed's TranscriptionResponse."""
    if description is None:
        description = first_chunk_texts([job]).get(job.id, "")
    return {"id": job.number, "creator_id": job.user_id, "audio_len_secs": audio_seconds(job),
            "chunk_size_secs": chunk_seconds(job), "current_state": lecture_state(job),
            "create_date": lecture_time(job.created_at), "update_date": lecture_time(job.updated_at),
            "description": description, "error_count": error_count(job)}


def page_fields(page: int, size: int, total: int) -> dict[str, int]:
    return {"page": page, "size": size, "total": total, "pages": math.ceil(total / size)}


def transcriptions_page(user: User, page: int, size: int) -> dict[str, Any]:
    """The user's transcriptions, newest first."""
    query = select(Job).where(Job.user_id == user.id, Job.kind == KIND)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(query.order_by(Job.created_at.desc(), Job.number.desc())
                              .offset((page - 1) * size).limit(size)).all()
    descriptions = first_chunk_texts(rows)
    return {**page_fields(page, size, total),
            "transcriptions": [transcription_view(job, descriptions.get(job.id, "")) for job in rows]}


def chunks_page(job: Job, page: int, size: int) -> dict[str, Any]:
    """One page of the transcription's chunks, in order."""
    query = select(JobChunk).where(JobChunk.job_id == job.id)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(query.order_by(JobChunk.seq).offset((page - 1) * size).limit(size)).all()
    return {**page_fields(page, size, total), "transcriptions": [
        {"id": job.number * CHUNK_ID_FACTOR + chunk.seq, "chunk_order": chunk.seq,
         "chunk_size_secs": int(chunk_seconds(job)), "transcription": str(chunk.data.get("text") or "")}
        for chunk in rows]}


def chunk_data(job: Job) -> list[dict[str, Any]]:
    """The job's chunk events, in order."""
    return [dict(data) for data in db.session.scalars(
        select(JobChunk.data).where(JobChunk.job_id == job.id).order_by(JobChunk.seq))]


def transcription_for(user: Optional[User], number: int, lock: bool = False) -> Optional[Job]:
    """The asr job with this number, of ``user`` unless None (the worker callback); else None."""
    if not 0 < number < 2**63:
        return None
    query = select(Job).where(Job.number == number, Job.kind == KIND)
    if user is not None:
        query = query.where(Job.user_id == user.id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.scalars(query).first()


def lock_and_find_active(user: User) -> Optional[Job]:
    """The user's active transcription, under a lock on the user's row (held until commit)."""
    db.session.execute(select(User.id).where(User.id == user.id).with_for_update())
    return db.session.scalars(select(Job).where(
        Job.user_id == user.id, Job.kind == KIND, Job.status.in_([s.value for s in ACTIVE]))
        .order_by(Job.created_at)).first()
