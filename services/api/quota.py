"""Per-user storage quota (``CONVEYOR_USER_QUOTA_MB``): what a user's files take, and the check at upload.

A user's stored bytes are the inputs of their own jobs and pipelines plus every artifact of their
jobs. A pipeline step's job owns no input (it reads the pipeline's upload or an earlier step's
artifact by reference), so it is not counted twice; an administrator's retry copies the input and
counts as the new job's. The sum is ``users.stored_bytes``, which triggers on the jobs, artifacts and
pipelines tables keep (migration 0007): every insert, replaced artifact, delete and cascade moves it
in the same transaction, so it cannot drift from the rows, and the check at upload reads one number
(a primary-key lookup) instead of summing rows (about 25 ms for a user with 10,000 jobs here).

Two answers, told apart so a client knows what to do (the docstring of :func:`check` says why):

* **413 Payload Too Large** when the file alone is larger than the whole quota (or the upload
  limit): sending it again can never work. This is caught while the upload streams, at no cost.
* **429 Too Many Requests** when the file fits the quota but not beside what the user already
  stores: the same request works later, once older jobs expire (``CONVEYOR_RETENTION_DAYS``) or the
  user deletes some, as with the active-job limit's 429.

Artifacts a worker produces are counted but never refused: a job that was accepted must be able
to finish; its output then counts against the user's next uploads.
"""
from __future__ import annotations

from typing import Optional

from flask import current_app
from sqlalchemy import select

from services.api.kinds import SubmitRefused
from shared.db import db
from shared.models import User

MB = 1024 * 1024


def limit() -> Optional[int]:
    """The quota in bytes, or None when there is none."""
    return current_app.config["USER_QUOTA_BYTES"] or None


def upload_limit() -> int:
    """The most bytes one upload may hold: the upload limit, or the quota when that is smaller."""
    quota = limit()
    upload = current_app.config["MAX_UPLOAD_BYTES"]
    return min(upload, quota) if quota else upload


def too_large(size_limit: int) -> SubmitRefused:
    """The 413 for an upload that passed ``size_limit`` while streaming, saying which limit it was."""
    quota = limit()
    if quota and quota < current_app.config["MAX_UPLOAD_BYTES"]:
        return SubmitRefused(f"The file is larger than your whole storage quota ({quota / MB:.0f} MB).", 413)
    return SubmitRefused("The file is larger than the upload limit.", 413)


def used_bytes(user_id: int) -> int:
    """Bytes of the user's stored files (own inputs of jobs and pipelines, and artifacts), as committed."""
    return int(db.session.scalar(select(User.stored_bytes).where(User.id == user_id)) or 0)


def check(user_id: int, size: int) -> None:
    """Refuse (429) an upload of ``size`` bytes that would take the user past the quota.

    Call it after the user's row is locked (jobflow.lock_user_and_count_active_jobs, which a
    pipeline's submit takes before writing; a job's submit makes the same check inside
    jobflow.submit_job's one statement): uploads of one user are then counted one after the other,
    and this read, a statement of its own run after the lock was granted, sees every upload committed
    before, so two concurrent uploads cannot both slip under the quota. 429 rather than 413: the
    request itself is acceptable and will be accepted later, once space is freed (see the module).
    """
    quota = limit()
    if quota:
        used = used_bytes(user_id)
        if used + size > quota:
            raise refusal(used, size)


def refusal(used: int, size: int) -> SubmitRefused:
    """The 429 for an upload of ``size`` bytes that does not fit beside the ``used`` ones."""
    return SubmitRefused(
        f"Storage quota exceeded: your files use {used / MB:.1f} MB of your {limit() / MB:.0f} MB and this "
        f"file needs {size / MB:.1f} MB more. Delete jobs you no longer need, or wait for finished ones "
        "to expire.", 429)
