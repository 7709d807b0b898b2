"""HTTP endpoints of pipelines: submit (preset or explicit steps), list, look, cancel, retry, subtitles."""
from __future__ import annotations

import json

from flask import Response, request, stream_with_context
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy.exc import IntegrityError

from services.api import idempotency, pipelines
from services.api.jobs import NotFound
from services.api.kinds import SubmitRefused
from services.api.pipeline_events import pipeline_event_stream
from services.api.views import submission
from shared.db import db
from shared.errors import MAX_PAGE, fail
from shared.models import PRIORITIES
from shared.pipelineflow import PIPELINE_STATUSES
from shared.principal import current_user, login_required

bp = Blueprint("pipelines", __name__, url_prefix="/api/v1",
               description="Pipelines: several jobs chained, each step's output feeding the next")

MAX_PER_PAGE = 100


class PipelineSubmitSchema(Schema):
    preset = fields.String(validate=validate.Length(min=1, max=32), metadata={
        "description": "transcribe-translate, read-translate or subtitles (or give steps)"})
    options = fields.Dict(metadata={"description": (
        "The preset's options, e.g. {\"target_langs\": [\"es\", \"ca\"]}. All: target_lang or target_langs, "
        "source_lang (default en). transcribe-translate and subtitles: engine, model (asr). subtitles also: "
        "mux (mp4, mkv, mov or webm: the uploaded video with one subtitle stream per language, tagged with "
        "its ISO 639-2 code and name), burn_in (one of the target languages, drawn into the picture; into "
        "mp4 unless mux names another container, which then holds the other languages as streams) and "
        "subtitle_size (burned-in text height, 2-25 percent of the picture's); either adds a last convert "
        "step, add-subtitles, whose artifact is the video")})
    steps = fields.List(fields.Dict(), metadata={
        "description": "Explicit steps: [{name, kind, options, input: \"upload\" | an earlier step's name, "
                       "subtitles?}]; a convert step's subtitles lists asr steps, or translate steps reading "
                       "one, whose transcripts it puts into the video (options target, burn_in, subtitle_size): "
                       "it starts when its input and all of those have succeeded"})
    priority = fields.String(load_default="normal", validate=validate.OneOf(list(PRIORITIES)))
    callback_url = fields.String(validate=validate.Length(max=2048), metadata={
        "description": "POSTed a signed pipeline.succeeded|failed|cancelled event when the pipeline ends"})


class PipelineStepSchema(Schema):
    name = fields.String(dump_only=True)
    kind = fields.String(dump_only=True)
    input = fields.String(dump_only=True, allow_none=True)
    subtitles = fields.List(fields.String(), dump_only=True, metadata={
        "description": "A convert step's: the steps whose transcripts it puts into the video"})
    status = fields.String(dump_only=True, metadata={"description": "pending until its job exists, then the job's"})
    job_id = fields.UUID(dump_only=True, allow_none=True)
    progress = fields.Float(dump_only=True, allow_none=True)
    error = fields.String(dump_only=True, allow_none=True)
    links = fields.Dict(dump_only=True)


class PipelineSchema(Schema):
    id = fields.UUID(dump_only=True)
    status = fields.String(dump_only=True, metadata={"enum": list(PIPELINE_STATUSES)})
    preset = fields.String(dump_only=True, allow_none=True)
    priority = fields.String(dump_only=True)
    run = fields.Integer(dump_only=True, metadata={"description": "1, then one more per retry"})
    error = fields.String(dump_only=True, allow_none=True)
    progress = fields.Dict(dump_only=True, metadata={
        "description": "{percent, eta_seconds}: weighted by the steps' expected times, and the expected time left"})
    input = fields.Dict(dump_only=True, allow_none=True)
    steps = fields.List(fields.Nested(PipelineStepSchema), dump_only=True)
    subtitles = fields.Dict(dump_only=True, metadata={"description": "per language, srt and vtt links"})
    translated_lines = fields.Dict(dump_only=True, metadata={
        "description": "per language, the lines OCR read: [{text, translation, x, y, width, height}] "
                       "(box centre and size as fractions of the image)"})
    created_at = fields.DateTime(dump_only=True)
    finished_at = fields.DateTime(dump_only=True, allow_none=True)
    expires_at = fields.DateTime(dump_only=True, allow_none=True, metadata={
        "description": "when the pipeline, its steps' jobs and all their files are deleted "
                       "(CONVEYOR_RETENTION_DAYS after it ended); null while it runs or when kept"})


class PipelinePageSchema(Schema):
    items = fields.List(fields.Nested(PipelineSchema), dump_only=True)
    page = fields.Integer(dump_only=True)
    per_page = fields.Integer(dump_only=True)
    total = fields.Integer(dump_only=True)


class PipelineListArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PER_PAGE))


class SubtitleArgs(Schema):
    format = fields.String(load_default="vtt", validate=validate.OneOf(pipelines.SUBTITLE_FORMATS))


def _pipeline_or_404(pipeline_id):
    try:
        return pipelines.get_pipeline_for(current_user(), pipeline_id)
    except NotFound:
        fail(404, "Pipeline not found.")


def _pipeline_submission() -> tuple[dict, object, str | None, str | None]:
    """The pipeline request: a JSON body, or multipart with 'file' and the fields (options/steps as JSON)."""
    body, upload, filename, content_type = submission()
    if request.mimetype == "multipart/form-data":
        for name in ("options", "steps"):
            if name in body:
                try:
                    body[name] = json.loads(body[name])
                except ValueError:
                    fail(400, f"The {name!r} field must be JSON.")
    return body, upload, filename, content_type


@bp.route("/pipelines", methods=["POST"])
@login_required
@bp.doc(requestBody={"description": "A preset with its options, or explicit steps; with a file, "
                                    "multipart/form-data with 'file' and the same fields (options and "
                                    "steps as JSON text).",
                     "content": {"application/json": {"schema": {"type": "object"}},
                                 "multipart/form-data": {"schema": {"type": "object", "properties": {
                                     "file": {"type": "string", "format": "binary"}}}}}},
        responses={"400": {"description": "A step that cannot run here, or more steps than the active-job limit"},
                   "413": {"description": "Too large (than the upload limit or the whole storage quota)"},
                   "429": {"description": "Its steps would pass the active-job limit (each counts until it ends), "
                                          "or the file does not fit in the storage quota"},
                   "503": {"description": "No worker"}})
@bp.response(202, PipelineSchema)
def submit():
    """Submit a pipeline; the steps that can start are queued at once, the others as their inputs finish."""
    raw, upload, filename, content_type = _pipeline_submission()
    key = idempotency.key_from_request()
    user = current_user()
    digest = ""
    try:
        body = PipelineSubmitSchema().load(raw)
        digest = idempotency.request_hash("pipeline", body, upload) if key else ""
        earlier = pipelines.earlier_pipeline(user, key, digest) if key else None
        if earlier is None:
            pipeline = pipelines.submit(user, body, upload, filename, content_type,
                                        idempotency=(key, digest) if key else None)
    except ValidationError as exc:
        fail(422, "Invalid pipeline.", errors={"json": exc.messages})
    except SubmitRefused as exc:
        fail(exc.status, str(exc))
    except idempotency.KeyReused as exc:
        fail(409, str(exc))
    except IntegrityError:
        # A concurrent request with the same key committed first (this one rolled back): answer with its pipeline.
        earlier = pipelines.earlier_pipeline(user, key, digest) if key else None
        if earlier is None:
            raise
    if earlier is not None:
        return pipelines.pipeline_view(earlier), 202, {"Location": f"/api/v1/pipelines/{earlier.id}",
                                                       "Idempotent-Replayed": "true"}
    return pipelines.pipeline_view(pipeline), 202, {"Location": f"/api/v1/pipelines/{pipeline.id}"}


@bp.route("/pipelines", methods=["GET"])
@login_required
@bp.arguments(PipelineListArgs, location="query")
@bp.response(200, PipelinePageSchema)
def list_pipelines(args):
    """The caller's pipelines, newest first."""
    return pipelines.list_pipelines(current_user(), args["page"], args["per_page"])


@bp.route("/pipelines/<pipeline_id>", methods=["GET"])
@login_required
@bp.response(200, PipelineSchema)
def get_pipeline(pipeline_id):
    """One pipeline: its status, each step with its job, the weighted progress and links to every output."""
    return pipelines.pipeline_view(_pipeline_or_404(pipeline_id))


@bp.route("/pipelines/<pipeline_id>/events", methods=["GET"])
@login_required
@bp.doc(responses={"200": {"description": "text/event-stream: status on every change, end at the end",
                           "content": {"text/event-stream": {}}}})
def events(pipeline_id):
    """Server-sent events: ``status`` (pipeline and steps) on every change, ``end`` once it has ended."""
    pipeline = _pipeline_or_404(pipeline_id)
    stream = pipeline_event_stream(pipeline.id, current_user().id)
    db.session.close()
    return Response(stream_with_context(stream), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@bp.route("/pipelines/<pipeline_id>/cancel", methods=["POST"])
@login_required
@bp.response(200, PipelineSchema)
def cancel(pipeline_id):
    """Cancel a running pipeline: running steps are cancelled (keeping what they did), pending ones never start."""
    try:
        pipeline = pipelines.cancel(current_user(), pipeline_id)
    except NotFound:
        fail(404, "Pipeline not found.")
    except pipelines.NotNow as exc:
        fail(409, f"Cannot cancel: {exc}.")
    return pipelines.pipeline_view(pipeline)


@bp.route("/pipelines/<pipeline_id>/retry", methods=["POST"])
@login_required
@bp.response(202, PipelineSchema)
def retry(pipeline_id):
    """Run a failed or cancelled pipeline again from the steps that did not succeed."""
    try:
        pipeline = pipelines.retry(current_user(), pipeline_id)
    except NotFound:
        fail(404, "Pipeline not found.")
    except pipelines.NotNow as exc:
        fail(409, f"Cannot retry: {exc}.")
    except SubmitRefused as exc:
        fail(exc.status, str(exc))
    return pipelines.pipeline_view(pipeline)


@bp.route("/pipelines/<pipeline_id>/subtitles/<lang>", methods=["GET"])
@login_required
@bp.arguments(SubtitleArgs, location="query")
@bp.response(200, content_type="text/vtt")
def subtitles(args, pipeline_id, lang):
    """A language's subtitles: the transcript's segment timings with the translated lines."""
    try:
        body, content_type, extension = pipelines.subtitle_file(_pipeline_or_404(pipeline_id), lang, args["format"])
    except NotFound:
        fail(404, f"This pipeline translates no transcript into {lang!r}.")
    except pipelines.NotNow as exc:
        fail(409, str(exc))
    return Response(body, mimetype=content_type,
                    headers={"Content-Disposition": f'attachment; filename="subtitles-{lang}.{extension}"'})
