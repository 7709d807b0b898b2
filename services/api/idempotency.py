"""``Idempotency-Key`` on submit: a retried request gets the job of the first one, not a second job."""
from __future__ import annotations

import hashlib
import json
from typing import Any, BinaryIO, Optional

from flask import request

from shared.db import db
from shared.errors import fail
from shared.models import IdempotencyKey, Job

MAX_KEY_LENGTH = 255


class KeyReused(Exception):
    """The key was used before with a different request."""


def key_from_request() -> Optional[str]:
    """The request's Idempotency-Key header, if any; 400 when it is empty or too long."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 0 < len(key) <= MAX_KEY_LENGTH:
        fail(400, f"Idempotency-Key must have 1-{MAX_KEY_LENGTH} characters.")
    return key


def request_hash(kind: str, params: dict[str, Any], upload: Optional[BinaryIO]) -> str:
    """A digest of what was asked: kind, parameters and the uploaded bytes (the stream is rewound)."""
    digest = hashlib.sha256(json.dumps({"kind": kind, "params": params}, sort_keys=True, default=str).encode())
    if upload is not None:
        while block := upload.read(1024 * 1024):
            digest.update(block)
        upload.seek(0)
    return digest.hexdigest()


def earlier_job(user_id: int, key: str, digest: str) -> Optional[Job]:
    """The job made by an earlier request with this key, or None; KeyReused if that request differed."""
    record = db.session.get(IdempotencyKey, (user_id, key))
    if record is None:
        return None
    if record.request_hash != digest:
        raise KeyReused("This Idempotency-Key was already used with a different request.")
    return db.session.get(Job, record.job_id)


def remember(user_id: int, key: str, digest: str, job: Job) -> None:
    """Record the key in the job's own transaction (a concurrent twin fails on the primary key)."""
    db.session.add(IdempotencyKey(user_id=user_id, key=key, request_hash=digest, job_id=job.id))
