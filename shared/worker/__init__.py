"""The reusable AMQP worker, by role: consumer (pika), runner (one claimed job), registry, supervisor.

The life of a delivery is told in shared.worker.consumer. The names below are re-exported for the
worker kinds' entry points; patch a setting (e.g. PROGRESS_EVERY_SECONDS) in the module that uses it.
"""
from __future__ import annotations

from shared.worker.consumer import MAX_RECONNECT_DELAY, Worker
from shared.worker.registry import REGISTRY_EVERY_SECONDS, registry_loop
from shared.worker.runner import PROGRESS_EVERY_SECONDS, ClaimLost, JobRunner, RemoteJobIO
from shared.worker.supervisor import run_supervised, run_worker_process

__all__ = ["MAX_RECONNECT_DELAY", "PROGRESS_EVERY_SECONDS", "REGISTRY_EVERY_SECONDS", "ClaimLost",
           "JobRunner", "RemoteJobIO", "Worker", "registry_loop", "run_supervised", "run_worker_process"]
