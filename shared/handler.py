"""The contract between the worker base and a kind's domain function.

A kind's worker is a pure function ``process(job, io) -> result`` that knows
nothing of AMQP or HTTP. ``job`` is the claimed job as the internal API hands it
over, described once by ``ClaimedJobSchema`` in ``services/api/schemas.py``
(``id``, ``number``, ``kind``, ``params``, ``attempt``, ``lease_seconds`` and
``input``: ``{"filename", "content_type", "size"}`` or ``None``); ``io`` is a :class:`JobIO`.
The worker base provides a real ``JobIO`` backed by the internal API; tests use
``tests.fakes.FakeJobIO``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Protocol


class PermanentError(Exception):
    """Bad input or an unsupported request: retrying cannot help, the job fails at once."""


class TransientError(Exception):
    """A passing fault (a resource busy, a peer down): the job is retried, up to the attempt limit."""


class JobCancelled(Exception):
    """The user cancelled the job; raised from ``JobIO`` calls so the work stops within one step."""


class JobIO(Protocol):
    """What a domain function may do with the outside world while it works."""

    job_id: str

    def input_path(self) -> Path:
        """Download the job's input file (once) and return its local path."""

    def progress(self, current: float, total: float, unit: str) -> None:
        """Report progress; raises JobCancelled when the job was cancelled."""

    def chunk(self, seq: int, data: dict[str, Any]) -> None:
        """Publish a partial result with a sequence number; raises JobCancelled when cancelled."""

    def log(self, message: str) -> None:
        """Attach a log line to the job (visible to its owner)."""

    def add_artifact(self, name: str, path: Path, content_type: str) -> None:
        """Upload an output file; it becomes downloadable as ``/jobs/<id>/artifacts/<name>``."""

    def check_cancelled(self) -> None:
        """Raise JobCancelled if the user cancelled the job."""


Handler = Callable[[dict[str, Any], JobIO], dict[str, Any]]
