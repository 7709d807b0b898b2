"""Job states and the transitions between them (the one state machine of Conveyor)."""
from __future__ import annotations

import enum


class JobStatus(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return self.value


TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.PARTIAL, JobStatus.FAILED, JobStatus.CANCELLED})
ACTIVE = frozenset({JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.RETRYING})
# Active, and no worker holds the job now: it waits in its queue.
WAITING = frozenset({JobStatus.QUEUED, JobStatus.RETRYING})

_ALLOWED = {
    JobStatus.QUEUED: {JobStatus.RUNNING, JobStatus.CANCELLED, JobStatus.FAILED},
    # RUNNING -> RUNNING is a takeover by another worker after the first one's lease ran out.
    JobStatus.RUNNING: {JobStatus.RUNNING, JobStatus.RETRYING, JobStatus.SUCCEEDED, JobStatus.PARTIAL,
                        JobStatus.FAILED, JobStatus.CANCELLED},
    JobStatus.RETRYING: {JobStatus.RUNNING, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.PARTIAL},
}


class InvalidTransition(Exception):
    """A state change the state machine does not allow (e.g. anything out of a terminal state)."""


def can_transition(current: JobStatus | str, new: JobStatus | str) -> bool:
    """Whether a job in ``current`` may move to ``new``."""
    return JobStatus(new) in _ALLOWED.get(JobStatus(current), set())


def check_transition(current: JobStatus | str, new: JobStatus | str) -> JobStatus:
    """Return ``new`` as a JobStatus, or raise InvalidTransition."""
    if not can_transition(current, new):
        raise InvalidTransition(f"a {JobStatus(current).value} job cannot become {JobStatus(new).value}")
    return JobStatus(new)


def is_terminal(status: JobStatus | str) -> bool:
    return JobStatus(status) in TERMINAL


def is_active(status: JobStatus | str) -> bool:
    return JobStatus(status) in ACTIVE


def is_waiting(status: JobStatus | str) -> bool:
    return JobStatus(status) in WAITING


def values(statuses: frozenset[JobStatus]) -> list[str]:
    """The statuses as stored in the database, for ``Job.status.in_(...)``."""
    return sorted(status.value for status in statuses)


def stopped_status(kept_chunks: int) -> JobStatus:
    """The terminal state of a job stopped early: partial when some chunks were kept, else cancelled."""
    return JobStatus.PARTIAL if kept_chunks > 0 else JobStatus.CANCELLED
