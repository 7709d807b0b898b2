"""Seed 003's worker callback mapped onto the native job flow (``shared.jobflow``).

A worker of the seed's system reports ``{transcription_id, current_state, new_chunk}``; here it acts
as one more worker of the asr kind, named ``lecture-callback``:

* ``in_progress`` claims a waiting job (as a native claim does: attempts + 1, a lease) or renews
  the lease of the running one. The lease is at least one chunk long, because the seed's workers
  report once per chunk and send no heartbeat; a worker that falls silent longer loses the job to
  the native retry, like any other.
* ``new_chunk`` stores chunk ``chunk_no`` (replacing one of the same number) and moves the progress;
  a number past the end of the audio is refused. A chunk is applied before the state sent with it,
  so a last chunk and ``completed`` can come in one call.
* ``processing_error`` is a transient failure: the job is retried while attempts remain
  (``CONVEYOR_MAX_ATTEMPTS``, 3 by default, as the seed's 3 errors), then it fails for good:
  ``processing_fail``, or ``completed_partially`` when chunks were kept.
* ``completed`` finishes the job with the transcript joined from its chunks; ``cancelled`` stops it
  as a user's cancel does (``completed_partially`` when chunks were kept, as in the seed);
  ``processing_fail`` and ``completed_partially`` end it for good with the chunks it has.
* A finished job accepts nothing more (409), and no job goes back to ``queued``.
"""
from __future__ import annotations

import logging
import math
from typing import Any, Mapping, Optional

from services.api.compat.lecture_transcriptions import audio_seconds, chunk_data, chunk_seconds
from shared import jobflow
from shared.db import unit_of_work
from shared.kinds.asr.exports import transcript_of
from shared.models import Job
from shared.states import JobStatus, is_terminal, is_waiting

LOGGER = logging.getLogger(__name__)

WORKER_ID = "lecture-callback"


class ChunkOutOfRange(ValueError):
    """A chunk number before the start or past the end of the audio."""


def _lease(job: Job, config: Mapping[str, Any]) -> float:
    return max(float(config["LEASE_SECONDS"]), chunk_seconds(job))


def _hold(job: Job, config: Mapping[str, Any]) -> bool:
    """Claim a waiting job, or renew a running one's lease; False when the job ended meanwhile."""
    if is_waiting(job.status):
        outcome = jobflow.claim(job, WORKER_ID, _lease(job, config), config["MAX_ATTEMPTS"])
        if outcome.claimed:
            LOGGER.info("job %s: claimed by %s (attempt %d)", job.id, WORKER_ID, job.attempts)
        return outcome.claimed
    if job.status == JobStatus.RUNNING.value:
        jobflow.extend_lease(job, _lease(job, config))
        return True
    return False


def _store_chunk(job: Job, chunk_no: int, text: str) -> None:
    size, duration = chunk_seconds(job), audio_seconds(job)
    last = math.floor(duration / size) if size else 0
    if not 0 <= chunk_no <= last:
        raise ChunkOutOfRange(f"Chunk no is bigger than max chunk no {chunk_no} > {last}" if chunk_no > last
                              else f"Chunk no must not be negative ({chunk_no})")
    start, end = chunk_no * size, min((chunk_no + 1) * size, duration)
    jobflow.upsert_chunk(job, chunk_no, {"seq": chunk_no, "start": start, "end": end, "text": text,
                                         "words": [], "language": None})
    jobflow.record_progress(job, end, duration, "seconds")


def _joined_result(job: Job) -> dict[str, Any]:
    transcript = transcript_of(chunk_data(job))
    transcript.pop("partial")
    transcript["duration"] = audio_seconds(job) or transcript["duration"]
    return transcript


def _apply_state(job: Job, state: str, config: Mapping[str, Any]) -> None:
    if state == "queued":
        if job.status != JobStatus.QUEUED.value:
            raise jobflow.Conflict(f"a {job.status} transcription cannot go back to queued")
        return
    if state == "cancelled":
        jobflow.cancel(job)
        return
    if not _hold(job, config):
        return  # the claim found the attempts used up and failed the job
    if state == "processing_error":
        jobflow.fail(job, "the transcription worker reported a processing error", transient=True,
                     max_attempts=config["MAX_ATTEMPTS"], backoff_seconds=config["RETRY_BACKOFF_SECONDS"])
    elif state == "completed":
        jobflow.succeed(job, _joined_result(job))
    elif state in ("processing_fail", "completed_partially"):
        jobflow.fail_for_good(job, f"the transcription worker reported {state}")


@unit_of_work
def apply_report(job: Job, state: Optional[str], chunk: Optional[dict[str, Any]],
                 config: Mapping[str, Any]) -> None:
    """Apply one report of the seed's worker to ``job`` (the caller holds its lock), as one unit of work."""
    if is_terminal(job.status):
        raise jobflow.Conflict(f"the transcription has already ended ({job.status})")
    if chunk is not None:
        if is_waiting(job.status) and not _hold(job, config):
            return
        _store_chunk(job, chunk["chunk_no"], chunk["text"])
    if state is not None:
        _apply_state(job, state, config)
    LOGGER.info("job %s: lecture worker reported %s%s", job.id, state or "no state",
                f" and chunk {chunk['chunk_no']}" if chunk else "")
