"""Running one claimed job: the handler call, the lease renewal beside it, and the report of its end.

The consumer (shared.worker.consumer) claims a job and hands it to a ``JobRunner``; the runner knows
nothing of AMQP. ``RemoteJobIO`` is the handler's JobIO, backed by the internal API.
"""
from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Optional

from shared.handler import Handler, JobCancelled, PermanentError, TransientError
from shared.internal_api import ApiError, ApiUnavailable, InternalApi
from shared.logging_setup import job_context

LOGGER = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 0.25


class ClaimLost(Exception):
    """Another worker took the job over (our lease ran out) or the job was deleted."""


class RemoteJobIO:
    """The JobIO of a claimed job, backed by the internal API."""

    def __init__(self, api: InternalApi, job: dict[str, Any], claim_id: str, workdir: Path):
        self.api = api
        self.job = job
        self.job_id = job["id"]
        self.claim_id = claim_id
        self.workdir = workdir
        self.cancelled = threading.Event()
        # Set (with ``cancelled``) when a heartbeat was refused because the claim is no longer ours.
        self.claim_lost: Optional[ClaimLost] = None
        self._input: Optional[Path] = None
        self._pending_progress: Optional[dict[str, Any]] = None
        # Counted from the start, so a job that ends within the first quarter second sends no
        # progress of its own: its last report goes with the result (JobRunner.execute).
        self._last_progress_sent = time.monotonic()

    def _send(self, events: list[dict[str, Any]]) -> None:
        try:
            if self.api.post_events(self.job_id, self.claim_id, events):
                self.cancelled.set()
        except ApiError as exc:
            if exc.status in (404, 409):
                raise ClaimLost(str(exc)) from exc
            raise
        self.check_cancelled()

    def input_path(self) -> Path:
        if self._input is None:
            name = Path(self.job["input"]["filename"] if self.job.get("input") else "input").name
            self._input = self.api.download_input(self.job_id, self.claim_id, self.workdir / f"input-{name}")
        return self._input

    def progress(self, current: float, total: float, unit: str) -> None:
        self._pending_progress = {"type": "progress", "current": current, "total": total, "unit": unit}
        # Throttled: a fast loop may report thousands of times; the last report goes with the result.
        if time.monotonic() - self._last_progress_sent >= PROGRESS_EVERY_SECONDS:
            self.flush()
        else:
            self.check_cancelled()

    def flush(self) -> None:
        event = self.take_pending_progress()
        if event is not None:
            self._last_progress_sent = time.monotonic()
            self._send([event])

    def take_pending_progress(self) -> Optional[dict[str, Any]]:
        """The progress report held back by the throttle (None if none), no longer pending."""
        event, self._pending_progress = self._pending_progress, None
        return event

    def chunk(self, seq: int, data: dict[str, Any]) -> None:
        events = [{"type": "chunk", "seq": seq, "data": data}]
        progress = self.take_pending_progress()
        if progress is not None:
            events.append(progress)
        self._send(events)

    def log(self, message: str) -> None:
        self._send([{"type": "log", "message": message}])

    def add_artifact(self, name: str, path: Path, content_type: str) -> None:
        self.api.upload_artifact(self.job_id, self.claim_id, name, path, content_type)

    def heartbeat(self) -> None:
        self._send([{"type": "heartbeat"}])

    def check_cancelled(self) -> None:
        if self.claim_lost is not None:
            raise self.claim_lost
        if self.cancelled.is_set():
            raise JobCancelled()


class JobRunner:
    """Runs a handler on claimed jobs, renewing each job's lease while it runs, and reports the end."""

    def __init__(self, api: InternalApi, handler: Handler):
        self.api = api
        self.handler = handler

    def execute(self, job: dict[str, Any], claim_id: str) -> None:
        """Run the handler on a claimed job and report how it ended."""
        job_id = job["id"]
        workdir = Path(tempfile.mkdtemp(prefix=f"conveyor-{job_id}-"))
        io = RemoteJobIO(self.api, job, claim_id, workdir)
        done = threading.Event()
        beat = threading.Thread(target=self._heartbeat_loop, args=(io, done, job.get("lease_seconds", 60)),
                                name=f"lease-{job_id}", daemon=True)
        beat.start()
        started = time.monotonic()
        LOGGER.info("job %s: started (attempt %s)", job_id, job.get("attempt"))
        try:
            result = self.handler(job, io)
            try:
                # The last progress and the result in one call: one round trip, one transaction.
                self.api.succeed(job_id, claim_id, result, io.take_pending_progress())
            except ApiError as exc:
                if exc.status not in (404, 409):
                    raise
                # The lease ran out (a cut network, a long pause) and another worker took the job
                # over, or it was deleted: the API keeps the other attempt's result, not this one.
                raise ClaimLost(f"result refused: {exc}") from exc
            LOGGER.info("job %s: succeeded in %.2fs", job_id, time.monotonic() - started)
        except JobCancelled:
            LOGGER.info("job %s: cancelled by its owner; stopped", job_id)
        except ClaimLost as exc:
            LOGGER.warning("job %s: claim lost (%s); stopped", job_id, exc)
        except PermanentError as exc:
            self._report_failure(job_id, claim_id, str(exc), transient=False)
        except TransientError as exc:
            self._report_failure(job_id, claim_id, str(exc), transient=True)
        except (ApiError, ApiUnavailable) as exc:
            LOGGER.error("job %s: API failure (%s); the lease will hand the job back", job_id, exc)
        except Exception as exc:  # noqa: BLE001 - an unexpected crash is retried, within the attempt limit
            LOGGER.exception("job %s: unexpected error", job_id)
            self._report_failure(job_id, claim_id, f"internal error ({exc.__class__.__name__})", transient=True)
        finally:
            done.set()
            shutil.rmtree(workdir, ignore_errors=True)

    def _report_failure(self, job_id: str, claim_id: str, error: str, transient: bool) -> None:
        try:
            status = self.api.fail(job_id, claim_id, error, transient)
            LOGGER.info("job %s: failed (%s, %s) -> %s", job_id, "transient" if transient else "permanent",
                        error, status)
        except (ApiError, ApiUnavailable) as exc:
            LOGGER.error("job %s: could not report failure (%s)", job_id, exc)

    def _heartbeat_loop(self, io: RemoteJobIO, done: threading.Event, lease_seconds: float) -> None:
        """Renew the lease while the handler runs; also learns about cancellation between events."""
        with job_context(io.job_id):
            self._renew_until(io, done, lease_seconds)

    def _renew_until(self, io: RemoteJobIO, done: threading.Event, lease_seconds: float) -> None:
        while not done.wait(max(0.2, lease_seconds / 3)):
            try:
                io.heartbeat()
            except JobCancelled:
                return
            except (ClaimLost, ApiError, ApiUnavailable) as exc:
                LOGGER.warning("job %s: heartbeat failed (%s)", io.job_id, exc)
                if isinstance(exc, ClaimLost):
                    io.claim_lost = exc
                    io.cancelled.set()
                    return
