"""A tqdm progress bar on stderr that shows a job's status, percentage and place in the queue."""

from __future__ import annotations

import sys
from typing import Any, Optional, TextIO

from tqdm import tqdm

BAR_FORMAT = "{desc} {percentage:3.0f}%|{bar:30}| {elapsed}{postfix}"


def _queue_note(progress: dict[str, Any]) -> str:
    position = progress.get("queue_position")
    if not position:
        return ""
    return "next in line" if position == 1 else f"{position} in line"


class JobProgressBar:
    """Percent of a job as its status updates arrive (the job view or an SSE ``status`` event)."""

    def __init__(self, label: str, stream: Optional[TextIO] = None):
        self._bar = tqdm(
            total=100,
            desc=label,
            bar_format=BAR_FORMAT,
            file=stream or sys.stderr,
            dynamic_ncols=True,
            mininterval=0.2,
        )
        self._label = label

    def update(self, job: dict[str, Any]) -> None:
        """Move the bar to the job's percentage and show its status."""
        progress = job.get("progress") or {}
        percent = progress.get("percent")
        if job.get("status") == "succeeded":
            percent = 100.0
        if percent is not None:
            self._bar.n = max(0.0, min(100.0, float(percent)))
        self._bar.set_description_str(f"{self._label} {job.get('status', '')}", refresh=False)
        self._bar.set_postfix_str(_queue_note(progress), refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()

    def __enter__(self) -> "JobProgressBar":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
