"""The one clock of Conveyor: timezone-aware UTC, as PostgreSQL stores it."""
from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
