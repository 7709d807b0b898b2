"""The worker registry: a worker announces its kind and capabilities to the API periodically.

The API counts a worker as running while its last announcement is younger than three periods
(``running_since``: services/api/kinds/base.py and /metrics both read it, so there is one rule).
A worker also tells its supervisor (shared.worker.supervisor) which id it claims jobs under, so the
supervisor can hand those jobs back the moment the process dies.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Any, Callable, Optional

from shared.clock import utcnow
from shared.internal_api import ApiError, ApiUnavailable, InternalApi

LOGGER = logging.getLogger(__name__)

REGISTRY_EVERY_SECONDS = 30.0
RUNNING_WITHIN_HEARTBEATS = 3

# Set in a supervised child (by shared.worker.supervisor) to the queue its supervisor reads.
_supervisor_inbox: Optional[Any] = None


def running_since() -> datetime:
    """A worker last seen before this moment is not running any more (missed three heartbeats)."""
    return utcnow() - timedelta(seconds=RUNNING_WITHIN_HEARTBEATS * REGISTRY_EVERY_SECONDS)


def tell_supervisor(worker_id: str) -> None:
    """Let the supervising process know the id this process claims jobs under (no-op unsupervised)."""
    if _supervisor_inbox is not None:
        _supervisor_inbox.put(worker_id)


def registry_loop(api: InternalApi, worker_id: str, kind: str,
                  capabilities: Callable[[], dict[str, Any]], stopping: threading.Event,
                  recheck_every: float = REGISTRY_EVERY_SECONDS) -> None:
    """Register ``worker_id`` now and every REGISTRY_EVERY_SECONDS until ``stopping`` is set.

    Capabilities are read every ``recheck_every`` seconds and announced at once when they changed
    (a translate worker's catalog after a package was installed), else only on the regular beat.
    """
    announced, announced_at = None, float("-inf")
    while not stopping.is_set():
        current = capabilities()
        # A second of slack: a wait that wakes a hair early must not push the beat a whole period later.
        if current != announced or time.monotonic() - announced_at >= REGISTRY_EVERY_SECONDS - 1:
            try:
                api.heartbeat(worker_id, kind, current)
                announced, announced_at = current, time.monotonic()
            except (ApiError, ApiUnavailable) as exc:
                LOGGER.warning("%s: registration failed: %s", worker_id, exc)
        stopping.wait(min(recheck_every, REGISTRY_EVERY_SECONDS))
