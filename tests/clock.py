"""A clock that tests move by hand, patched over the ``utcnow`` a module imported from shared.clock."""
from __future__ import annotations

from datetime import datetime, timedelta

from shared.clock import utcnow


class HandClock:
    """Stands in for ``shared.clock.utcnow``: answers the same instant until the test advances it."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
