"""What a job kind declares to the API: its parameters, its submit-time check, its exports.

Each kind's check runs in the API, with no engine installed: it relies on the
capabilities that the kind's workers reported (language pairs, model catalogs).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Optional

from flask import current_app
from marshmallow import Schema, fields, validate
from sqlalchemy import func, select

from shared.clock import utcnow
from shared.db import db
from shared.models import PRIORITIES, WorkerRecord
from shared.worker.registry import running_since

CAPABILITIES_TTL_SECONDS = 5.0
_capabilities_cache: dict[str, tuple[float, list[dict[str, Any]]]] = {}


class SubmitRefused(Exception):
    """The submission cannot work (bad language pair, no worker, ...): 4xx/503 with this message."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class SubmitCommonSchema(Schema):
    """Fields every kind accepts beside its own parameters."""

    priority = fields.String(load_default="normal", validate=validate.OneOf(list(PRIORITIES)))
    callback_url = fields.String(validate=validate.Length(max=2048), metadata={
        "description": "POSTed a signed event when the job ends (see /api/v1/webhooks/secret)"})
    callback_progress = fields.Boolean(load_default=False, metadata={
        "description": "also POST progress events, at every tenth of the way"})


Exporter = Callable[[dict[str, Any]], tuple[bytes, str, str]]
Check = Callable[[dict[str, Any], Optional[Path]], dict[str, Any]]
Assembler = Callable[[list[dict[str, Any]]], dict[str, Any]]


@dataclass
class KindSpec:
    """A job kind as the API sees it; ``check`` returns the normalized parameters or raises SubmitRefused."""

    name: str
    params_schema: type[Schema]
    needs_file: bool
    check: Check
    # A text kind that may bring a file instead (translate: a document), as multipart/form-data.
    takes_file: bool = False
    exporters: dict[str, Exporter] = field(default_factory=dict)
    # Builds a result from a partial job's ordered chunk data, for its /result and exports.
    assemble_partial: Optional[Assembler] = None


def forget_capabilities() -> None:
    """Drop the cached capabilities (the next submit re-reads the workers table)."""
    _capabilities_cache.clear()


def live_capabilities(kind: str) -> list[dict[str, Any]]:
    """Capabilities of the workers of ``kind`` seen recently (re-read every few seconds; submits are hot)."""
    read_at, cached = _capabilities_cache.get(kind, (0.0, []))
    if cached and time.monotonic() - read_at < CAPABILITIES_TTL_SECONDS:
        return cached
    since = utcnow() - timedelta(seconds=current_app.config["WORKER_SEEN_SECONDS"])
    fresh = [record.capabilities or {} for record in db.session.scalars(
        select(WorkerRecord).where(WorkerRecord.kind == kind, WorkerRecord.last_seen_at >= since)
        .order_by(WorkerRecord.last_seen_at.desc()))]
    _capabilities_cache[kind] = (time.monotonic(), fresh)
    return fresh


def running_workers(kind: str) -> int:
    """Workers of ``kind`` that reported within the last three heartbeats (they are running now)."""
    return db.session.scalar(select(func.count()).select_from(WorkerRecord).where(
        WorkerRecord.kind == kind, WorkerRecord.last_seen_at >= running_since())) or 0


def require_workers(kind: str) -> list[dict[str, Any]]:
    """The live capabilities of ``kind``, or 503 when no worker of that kind has registered."""
    capabilities = live_capabilities(kind)
    if not capabilities:
        raise SubmitRefused(f"No {kind} worker has registered yet; start one and retry.", 503)
    return capabilities


def live_models(kind: str) -> list[dict[str, Any]]:
    """The ``models`` that live workers of ``kind`` report, each once, freshest worker first."""
    seen: dict[str, dict[str, Any]] = {}
    for capabilities in live_capabilities(kind):
        for entry in capabilities.get("models") or []:
            seen.setdefault(json.dumps(entry, sort_keys=True), entry)
    return list(seen.values())
