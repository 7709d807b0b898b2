"""Request and response shapes of the API service (unknown fields are rejected)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from shared.errors import MAX_PAGE
from shared.kinds import KINDS
from shared.states import JobStatus

STATUSES = [s.value for s in JobStatus]


class ProgressSchema(Schema):
    current = fields.Float(dump_only=True)
    total = fields.Float(dump_only=True, allow_none=True)
    percent = fields.Float(dump_only=True, allow_none=True)
    unit = fields.String(dump_only=True, allow_none=True)
    queue_position = fields.Integer(dump_only=True, allow_none=True,
                                    metadata={"description": "1 = next to run; only while queued"})
    eta_seconds = fields.Float(dump_only=True, allow_none=True,
                               metadata={"description": "estimated seconds until done, from measured durations"})
    message = fields.String(dump_only=True, allow_none=True, metadata={"example": "3rd in line, ~40 s"})


class InputFileSchema(Schema):
    filename = fields.String(dump_only=True)
    content_type = fields.String(dump_only=True)
    size = fields.Integer(dump_only=True)


class ArtifactSchema(Schema):
    name = fields.String(dump_only=True)
    content_type = fields.String(dump_only=True)
    size = fields.Integer(dump_only=True)
    url = fields.String(dump_only=True)


class JobSchema(Schema):
    id = fields.UUID(dump_only=True)
    number = fields.Integer(dump_only=True)
    kind = fields.String(dump_only=True)
    status = fields.String(dump_only=True, metadata={"enum": STATUSES})
    priority = fields.String(dump_only=True)
    progress = fields.Nested(ProgressSchema, dump_only=True)
    params = fields.Dict(dump_only=True)
    input = fields.Nested(InputFileSchema, dump_only=True, allow_none=True)
    artifacts = fields.List(fields.Nested(ArtifactSchema), dump_only=True)
    error = fields.String(dump_only=True, allow_none=True)
    attempts = fields.Integer(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    started_at = fields.DateTime(dump_only=True, allow_none=True)
    finished_at = fields.DateTime(dump_only=True, allow_none=True)
    pipeline_id = fields.UUID(dump_only=True, allow_none=True,
                              metadata={"description": "the pipeline this job is a step of, if any"})
    pipeline_step = fields.String(dump_only=True, allow_none=True, metadata={"description": "its step's name"})
    expires_at = fields.DateTime(dump_only=True, allow_none=True, metadata={
        "description": "when the job and its files are deleted (CONVEYOR_RETENTION_DAYS after it ended, "
                       "or after its pipeline ended for a step); null while it runs or when jobs are kept"})


class StorageUsageSchema(Schema):
    used_bytes = fields.Integer(dump_only=True, metadata={
        "description": "bytes of the caller's stored files: inputs of their jobs and pipelines, and artifacts"})
    limit_bytes = fields.Integer(dump_only=True, allow_none=True, metadata={
        "description": "the quota (CONVEYOR_USER_QUOTA_MB); null: none"})
    retention_days = fields.Float(dump_only=True, allow_none=True, metadata={
        "description": "days a finished job and its files are kept (CONVEYOR_RETENTION_DAYS); null: until deleted"})


class ActiveJobsSchema(Schema):
    active = fields.Integer(dump_only=True, metadata={"description": "queued, running or retrying jobs"})
    limit = fields.Integer(dump_only=True, metadata={"description": "CONVEYOR_MAX_ACTIVE_JOBS"})


class UsageSchema(Schema):
    storage = fields.Nested(StorageUsageSchema, dump_only=True)
    jobs = fields.Nested(ActiveJobsSchema, dump_only=True)


class AdminJobSchema(JobSchema):
    user_id = fields.Integer(dump_only=True)
    worker_id = fields.String(dump_only=True, allow_none=True)


class JobListArgs(Schema):
    kind = fields.String(validate=validate.OneOf(KINDS))
    status = fields.String(validate=validate.OneOf(STATUSES))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class AdminJobListArgs(JobListArgs):
    user_id = fields.Integer()


class JobPageSchema(Schema):
    items = fields.List(fields.Nested(JobSchema), dump_only=True)
    page = fields.Integer(dump_only=True)
    per_page = fields.Integer(dump_only=True)
    total = fields.Integer(dump_only=True)


class AdminJobPageSchema(JobPageSchema):
    items = fields.List(fields.Nested(AdminJobSchema), dump_only=True)


class ResultSchema(Schema):
    id = fields.UUID(dump_only=True)
    status = fields.String(dump_only=True)
    result = fields.Dict(dump_only=True, allow_none=True)
    error = fields.String(dump_only=True, allow_none=True)


class ChunkSchema(Schema):
    seq = fields.Integer(dump_only=True)
    data = fields.Dict(dump_only=True)


class ChunkListArgs(Schema):
    after = fields.Integer(load_default=-1, metadata={"description": "only chunks with a larger seq"})
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=5000))


class LogSchema(Schema):
    message = fields.String(dump_only=True)
    created_at = fields.DateTime(dump_only=True)


class ExportArgs(Schema):
    format = fields.String(required=True)


class LanguagePairSchema(Schema):
    source = fields.String(dump_only=True)
    target = fields.String(dump_only=True)
    via = fields.List(fields.String(), dump_only=True)
    engines = fields.List(fields.String(), dump_only=True, metadata={
        "description": "Engines that serve the pair on their own (apertium, argos): what a job's engine may name."})
    route = fields.List(fields.Dict(), dump_only=True, metadata={
        "description": "The default route's hops, {source, target, engine}: a pivot may cross engines."})


class LanguagesSchema(Schema):
    pairs = fields.List(fields.Nested(LanguagePairSchema), dump_only=True)
    languages = fields.List(fields.String(), dump_only=True)


# --- internal worker API -------------------------------------------------------------------------

class WorkerHeartbeatSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    capabilities = fields.Dict(load_default=dict)


class WorkerGoneSchema(Schema):
    reason = fields.String(load_default="exited", validate=validate.Length(max=200))


class ClaimRequestSchema(Schema):
    worker_id = fields.String(required=True, validate=validate.Length(min=1, max=128))


class ClaimedJobSchema(Schema):
    """The job as a worker gets it when its claim succeeds (the ``job`` of a handler)."""

    id = fields.String(dump_only=True)
    number = fields.Integer(dump_only=True)
    kind = fields.String(dump_only=True)
    params = fields.Dict(dump_only=True)
    attempt = fields.Integer(dump_only=True, metadata={"description": "1 for the first run, then 2, 3"})
    lease_seconds = fields.Float(dump_only=True, metadata={
        "description": "Renew the lease (any event) well within this, or the job is handed back"})
    input = fields.Nested(InputFileSchema, dump_only=True, allow_none=True)


class ClaimResponseSchema(Schema):
    claimed = fields.Boolean(dump_only=True)
    reason = fields.String(dump_only=True)
    claim_id = fields.UUID(dump_only=True, allow_none=True)
    job = fields.Nested(ClaimedJobSchema, dump_only=True, allow_none=True)


class WorkerEventSchema(Schema):
    type = fields.String(required=True, validate=validate.OneOf(["progress", "chunk", "log", "heartbeat"]))
    current = fields.Float()
    total = fields.Float(allow_none=True)
    unit = fields.String(allow_none=True)
    seq = fields.Integer(validate=validate.Range(min=0))
    data = fields.Dict()
    message = fields.String()


class WorkerEventsSchema(Schema):
    claim_id = fields.String(required=True)
    events = fields.List(fields.Nested(WorkerEventSchema), required=True)


class EventsReplySchema(Schema):
    cancelled = fields.Boolean(dump_only=True)


class SucceedSchema(Schema):
    claim_id = fields.String(required=True)
    result = fields.Dict(required=True)
    # The last progress event the worker held back (its throttle), recorded before the job ends.
    progress = fields.Nested(WorkerEventSchema)


class FailSchema(Schema):
    claim_id = fields.String(required=True)
    error = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    transient = fields.Boolean(load_default=False)


class DirectUploadSchema(Schema):
    claim_id = fields.String(required=True)
    size = fields.Integer(required=True, validate=validate.Range(min=0),
                          metadata={"description": "Bytes the worker is about to upload"})


class DirectUploadReplySchema(Schema):
    url = fields.String(dump_only=True, allow_none=True, metadata={
        "description": "A presigned PUT URL of the object store, valid 5 minutes; null when the store "
                       "has none (then PUT the bytes to this API's artifact route)"})


class DirectUploadDoneSchema(Schema):
    claim_id = fields.String(required=True)
    content_type = fields.String(load_default="application/octet-stream",
                                 validate=validate.Length(max=255))


class FinishReplySchema(Schema):
    status = fields.String(dump_only=True)


class QueueDepthSchema(Schema):
    kind = fields.String(dump_only=True)
    waiting = fields.Integer(dump_only=True, allow_none=True, metadata={"description": "null: not declared yet"})
    dead_letters = fields.Integer(dump_only=True, allow_none=True)


class CurrentJobSchema(Schema):
    id = fields.UUID(dump_only=True)
    number = fields.Integer(dump_only=True)
    user_id = fields.Integer(dump_only=True)


class LiveWorkerSchema(Schema):
    id = fields.String(dump_only=True)
    kind = fields.String(dump_only=True)
    started_at = fields.DateTime(dump_only=True)
    last_seen_at = fields.DateTime(dump_only=True, metadata={"description": "the last heartbeat"})
    current_job = fields.Nested(CurrentJobSchema, dump_only=True, allow_none=True)


class OperationsSchema(Schema):
    broker_up = fields.Boolean(dump_only=True)
    queues = fields.List(fields.Nested(QueueDepthSchema), dump_only=True)
    workers = fields.List(fields.Nested(LiveWorkerSchema), dump_only=True)
