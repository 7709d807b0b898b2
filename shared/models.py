"""Conveyor's tables: users and their credentials, jobs with their chunks, artifacts and outbox."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Optional

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import JSONType, db
from shared.states import JobStatus

PRIORITIES = {"low": 1, "normal": 5, "high": 9}


def _now_column(**kwargs: Any) -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), **kwargs)


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4, unique=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    phone: Mapped[Optional[str]] = mapped_column(String(32), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="user")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    may_submit: Mapped[bool] = mapped_column(Boolean, default=True)
    # Signs this user's webhook deliveries (HMAC-SHA256); made on first use, rotatable.
    webhook_secret: Mapped[Optional[str]] = mapped_column(String(64))
    # Tokens issued before this instant are void (password change, deactivation).
    tokens_valid_after: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    # Bytes of this user's stored files (own inputs, artifacts): kept by triggers (migration 0007),
    # never written by the application; the storage quota reads it.
    stored_bytes: Mapped[int] = mapped_column(BigInteger, server_default="0")
    # Queued, running and retrying jobs: kept by a trigger on jobs (migration 0009), never written by
    # the application; the active-job limit reads it from the user's locked row.
    active_jobs: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime] = _now_column()
    last_login_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class AuthSession(db.Model):
    """One login: its access and refresh tokens carry this id, so logout revokes both."""

    __tablename__ = "auth_sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    refresh_jti: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))


class ApiKey(db.Model):
    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = _now_column()
    last_used_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    # None: the key never expires.
    expires_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    # What the key may do (shared.principal.KEY_SCOPES), space-separated like OAuth2 scopes.
    scopes: Mapped[str] = mapped_column(String(200), server_default="jobs:read jobs:write")

    user: Mapped[User] = relationship(lazy="joined")

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()


class Job(db.Model):
    __tablename__ = "jobs"
    # INSERT ... RETURNING fetches the server-made number and timestamps in the same round trip.
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        Index("ix_jobs_user_created", "user_id", "created_at"),
        Index("ix_jobs_status_lease", "status", "lease_expires_at"),
        # The retention sweeper's (services.relay.sweeper): ended jobs that are no pipeline's step.
        Index("ix_jobs_standalone_finished", "finished_at", postgresql_where="pipeline_id IS NULL"),
        UniqueConstraint("pipeline_id", "pipeline_step", "pipeline_run", name="uq_jobs_pipeline_step_run"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    number: Mapped[int] = mapped_column(BigInteger, Identity(), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED.value)
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    params: Mapped[dict] = mapped_column(JSONType, default=dict)
    input_key: Mapped[Optional[str]] = mapped_column(String(255))
    input_filename: Mapped[Optional[str]] = mapped_column(String(255))
    input_content_type: Mapped[Optional[str]] = mapped_column(String(127))
    input_size: Mapped[Optional[int]] = mapped_column(BigInteger)
    progress_current: Mapped[float] = mapped_column(Float, default=0.0)
    progress_total: Mapped[Optional[float]] = mapped_column(Float)
    progress_unit: Mapped[Optional[str]] = mapped_column(String(32))
    result: Mapped[Optional[dict]] = mapped_column(JSONType)
    error: Mapped[Optional[str]] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claim_id: Mapped[Optional[uuid.UUID]] = mapped_column()
    worker_id: Mapped[Optional[str]] = mapped_column(String(128))
    lease_expires_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now_column()
    started_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    # Where signed job events are POSTed (terminal states; progress too when callback_progress).
    callback_url: Mapped[Optional[str]] = mapped_column(String(2048))
    callback_progress: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    updated_at: Mapped[datetime] = _now_column(onupdate=func.now())
    # A step of a pipeline (see Pipeline below): which pipeline, which step, and which run of it
    # (a retried pipeline starts run + 1); the unique triple makes each step start once per run.
    pipeline_id: Mapped[Optional[uuid.UUID]] = mapped_column(
        ForeignKey("pipelines.id", ondelete="CASCADE"), index=True)
    pipeline_step: Mapped[Optional[str]] = mapped_column(String(64))
    pipeline_run: Mapped[Optional[int]] = mapped_column(Integer)

    user: Mapped[User] = relationship()
    artifacts: Mapped[list["Artifact"]] = relationship(
        back_populates="job", cascade="all, delete-orphan", order_by="Artifact.name")

    @property
    def input_info(self) -> Optional[dict[str, Any]]:
        """The input file as clients and workers see it (never its storage key), or None."""
        if not self.input_key:
            return None
        return {"filename": self.input_filename, "content_type": self.input_content_type, "size": self.input_size}

    @property
    def progress_percent(self) -> Optional[float]:
        if not self.progress_total:
            return None
        return round(min(100.0, 100.0 * self.progress_current / self.progress_total), 1)


class JobChunk(db.Model):
    """A partial result (e.g. an ASR segment); ``(job_id, seq)`` is upserted, never duplicated."""

    __tablename__ = "job_chunks"

    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[dict] = mapped_column(JSONType)
    created_at: Mapped[datetime] = _now_column()


class JobLog(db.Model):
    __tablename__ = "job_logs"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _now_column()


class Artifact(db.Model):
    __tablename__ = "artifacts"
    __table_args__ = (UniqueConstraint("job_id", "name"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    content_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int] = mapped_column(BigInteger)
    storage_key: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = _now_column()

    job: Mapped[Job] = relationship(back_populates="artifacts")


class OutboxMessage(db.Model):
    """A message to publish, written in the same transaction as the job change it announces."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "available_at", postgresql_where="sent_at IS NULL"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict] = mapped_column(JSONType)
    priority: Mapped[int] = mapped_column(SmallInteger, default=PRIORITIES["normal"])
    available_at: Mapped[datetime] = _now_column()
    created_at: Mapped[datetime] = _now_column()
    sent_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[Optional[str]] = mapped_column(Text)


class WorkerRecord(db.Model):
    """A worker process that registered: its kind and what it can do (e.g. language pairs)."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    capabilities: Mapped[dict] = mapped_column(JSONType, default=dict)
    started_at: Mapped[datetime] = _now_column()
    last_seen_at: Mapped[datetime] = _now_column()


class IdempotencyKey(db.Model):
    """A client's ``Idempotency-Key`` on submit: the same key and body give back the same job."""

    __tablename__ = "idempotency_keys"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = _now_column()


class WebhookDelivery(db.Model):
    """One signed POST of a job event to the job's callback URL, retried with backoff until delivered."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "next_attempt_at", postgresql_where="status = 'pending'"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    event: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = _now_column()
    last_status_code: Mapped[Optional[int]] = mapped_column(Integer)
    last_error: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime] = _now_column()
    delivered_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))


class CredentialFailure(db.Model):
    """Recent failed guesses of one throttle scope (see shared.credential_throttle)."""

    __tablename__ = "credential_failures"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    not_before: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    last_failure_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


# ---------------------------------------------------------------------------------------------
# Pipelines (issue 15): chains of jobs. Each step is an ordinary Job carrying pipeline_id,
# pipeline_step and pipeline_run; the pipeline row holds the DAG and the overall outcome.
# shared.pipelineflow starts the steps and moves the pipeline along.
# ---------------------------------------------------------------------------------------------


class Pipeline(db.Model):
    """A DAG of job steps submitted at once; steps start as their inputs become ready."""

    __tablename__ = "pipelines"
    __table_args__ = (Index("ix_pipelines_user_created", "user_id", "created_at"),
                      Index("ix_pipelines_finished", "finished_at"),
                      # The active-job limit's: a user's running pipelines reserve their steps.
                      Index("ix_pipelines_user_running", "user_id", postgresql_where="status = 'running'"))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="running")
    preset: Mapped[Optional[str]] = mapped_column(String(32))
    # [{name, kind, input ("upload" | a step name | None), params (as checked at submit)}], in order.
    steps: Mapped[list] = mapped_column(JSONType)
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    # Where the pipeline's end (pipeline.succeeded|failed|cancelled) is POSTed, signed like a job's events.
    callback_url: Mapped[Optional[str]] = mapped_column(String(2048))
    run: Mapped[int] = mapped_column(Integer, default=1)
    # The uploaded file that "upload" steps read (never copied: their jobs point at this key).
    input_key: Mapped[Optional[str]] = mapped_column(String(255))
    input_filename: Mapped[Optional[str]] = mapped_column(String(255))
    input_content_type: Mapped[Optional[str]] = mapped_column(String(127))
    input_size: Mapped[Optional[int]] = mapped_column(BigInteger)
    error: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime] = _now_column()
    finished_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
