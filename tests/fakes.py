"""Test doubles for the worker contract (``shared.handler``)."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from shared.handler import JobCancelled


class FakeJobIO:
    """A JobIO that records what a domain function reports, with no AMQP or HTTP behind it."""

    def __init__(self, job_id: str = "job-1", input_file: Path | None = None,
                 cancel_after_events: int | None = None, workdir: Path | None = None):
        self.job_id = job_id
        self._input_file = input_file
        self._cancel_after = cancel_after_events
        self.workdir = workdir
        self.progress_events: list[tuple[float, float, str]] = []
        self.chunks: dict[int, dict[str, Any]] = {}
        self.logs: list[str] = []
        self.artifacts: dict[str, tuple[Path, str]] = {}

    def _events(self) -> int:
        return len(self.progress_events) + len(self.chunks)

    def input_path(self) -> Path:
        if self._input_file is None:
            raise AssertionError("this job has no input file")
        return self._input_file

    def check_cancelled(self) -> None:
        if self._cancel_after is not None and self._events() >= self._cancel_after:
            raise JobCancelled()

    def progress(self, current: float, total: float, unit: str) -> None:
        self.progress_events.append((current, total, unit))
        self.check_cancelled()

    def chunk(self, seq: int, data: dict[str, Any]) -> None:
        self.chunks[seq] = data
        self.check_cancelled()

    def log(self, message: str) -> None:
        self.logs.append(message)

    def add_artifact(self, name: str, path: Path, content_type: str) -> None:
        # Copy, as the real upload does: the domain function may delete its temp dir afterwards.
        if self.workdir is None:
            raise AssertionError("FakeJobIO needs a workdir to keep artifacts")
        kept = self.workdir / name
        shutil.copyfile(path, kept)
        self.artifacts[name] = (kept, content_type)
