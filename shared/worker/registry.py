"""The worker registry loop: a worker announces its kind and capabilities to the API periodically.

The API counts a worker as present while its last announcement is younger than three periods
(services/api/kinds/base.py reads ``REGISTRY_EVERY_SECONDS`` for that).
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from shared.internal_api import ApiError, ApiUnavailable, InternalApi

LOGGER = logging.getLogger(__name__)

REGISTRY_EVERY_SECONDS = 30.0


def registry_loop(api: InternalApi, worker_id: str, kind: str,
                  capabilities: Callable[[], dict[str, Any]], stopping: threading.Event) -> None:
    """Register ``worker_id`` now and every REGISTRY_EVERY_SECONDS until ``stopping`` is set."""
    while not stopping.is_set():
        try:
            api.heartbeat(worker_id, kind, capabilities())
        except (ApiError, ApiUnavailable) as exc:
            LOGGER.warning("%s: registration failed: %s", worker_id, exc)
        stopping.wait(REGISTRY_EVERY_SECONDS)
