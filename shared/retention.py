"""When a finished job or pipeline expires (``CONVEYOR_RETENTION_DAYS`` after it ended).

Only the rule lives here; the relay's sweeper (services.relay.sweeper) deletes what expired. The
expiry is computed from the end time, not stored, so a changed setting applies to every job at once.
A pipeline's steps expire with their pipeline: a later step may read an earlier step's artifact.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional


def expiry(finished_at: Optional[datetime], days: float) -> Optional[datetime]:
    """When something that ended at ``finished_at`` expires; None while it runs or with no retention."""
    if finished_at is None or not days or days <= 0:
        return None
    return finished_at + timedelta(days=days)


def cutoff(now: datetime, days: float) -> Optional[datetime]:
    """What ended before this instant has expired at ``now``; None when nothing ever expires."""
    if not days or days <= 0:
        return None
    return now - timedelta(days=days)
