"""Seed 003's transcription API (lazy-lecture, FastAPI conventions) under /compat/lecture.

Transcriptions are native asr jobs (see ``lecture_transcriptions``); accounts and tokens are in the
auth service under ``/compat/lecture/auth/``. Decisions on what the seed leaves open or gets wrong:

* ``POST /upload-audiofile`` takes the multipart part ``audiofile``. The file must be MP3 by its
  content (its declared type, when it has one, ``audio/mpeg``) and last 10 s to 2 h, as the seed
  says; it is cut into the seed's 15-minute chunks. The reply's ``file`` is the stored file's name,
  never a server path. One active transcription per user: another upload meanwhile is 409.
  The seed's deletion of a user's oldest transcription past 100 is not done: jobs are deleted
  only by their owner or an operator.
* Another user's transcription is 404 ``{"detail": "Transcription not found"}`` on every route that
  takes an id, exactly as a missing one: the seed let anyone read any transcript by its id.
* Errors the seed answers with 418 (any exception) are proper codes: 400 for a file that is not
  MP3, 409 for a second active transcription, for cancelling a finished one and for exporting
  before any chunk exists, 401 for a wrong worker secret, 404 for an unknown transcription.
* Pages really are pages: ``GET /transcript`` returns ``size`` chunks of page ``page`` (the seed
  returned all of them whatever the page).
* ``POST /transcript/export`` renders ``doc`` as a Word (.docx) document, named
  ``<task_id>.docx``; ``txt`` is plain UTF-8 text, one line per chunk.
"""
from __future__ import annotations

import hmac
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any, Optional

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from services.api import jobs
from services.api.compat import lecture_transcriptions as transcriptions
from services.api.compat.lecture_worker import ChunkOutOfRange, apply_report
from services.api.kinds import SubmitRefused
from shared import credential_throttle as throttle
from shared import jobflow
from shared.compat.lecture import Invalid, Refused, caller, detail, install_error_handlers, problem
from shared.db import db
from shared.errors import MAX_PAGE
from shared.kinds.asr.exports import export as render_export
from shared.media_probe import ProbeError, probe
from shared.models import Job, User
from shared.states import is_terminal

LOGGER = logging.getLogger(__name__)

MAX_PAGE_SIZE = 100

bp = Blueprint("compat_lecture", __name__, url_prefix="/compat/lecture")
install_error_handlers(bp)

CHUNK_SECONDS = 15 * 60
MIN_SECONDS, MAX_SECONDS = 10, 2 * 60 * 60
MP3_TYPES = ("audio/mpeg", "audio/mp3", "", "application/octet-stream")
STATES = ("queued", "in_progress", "processing_error", "completed", "completed_partially",
          "processing_fail", "cancelled")
EXPORT_FORMATS = ("doc", "txt")
NOT_FOUND = "Transcription not found"
INT_PARSING = "Input should be a valid integer, unable to parse string as an integer"


def _query_int(name: str, problems: list, default: Optional[int] = None, minimum: Optional[int] = None,
               maximum: Optional[int] = None):
    raw = request.args.get(name)
    if raw is None:
        if default is None:
            problems.append(problem("missing", ["query", name], "Field required"))
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        problems.append(problem("int_parsing", ["query", name], INT_PARSING, raw))
        return None
    if minimum is not None and value < minimum:
        problems.append(problem("greater_than_equal", ["query", name],
                                f"Input should be greater than or equal to {minimum}", raw))
    if maximum is not None and value > maximum:
        problems.append(problem("less_than_equal", ["query", name],
                                f"Input should be less than or equal to {maximum}", raw))
    return value


def _checked(problems: list) -> None:
    if problems:
        raise Invalid(problems)


def _pagination(problems: list) -> tuple[int, int]:
    # fastapi-pagination's Params, which the seed's service uses: size 1..100 (default 50), page >= 1.
    # Pages stop at MAX_PAGE so the offset never overflows PostgreSQL's bigint.
    return (_query_int("page", problems, 1, 1, MAX_PAGE),
            _query_int("size", problems, 50, 1, MAX_PAGE_SIZE))


def _transcription(user: User, number: int, lock: bool = False) -> Job:
    job = transcriptions.transcription_for(user, number, lock=lock)
    if job is None:
        raise Refused(404, NOT_FOUND)
    return job


@bp.get("/")
def health():
    try:
        db.session.execute(text("SELECT 1"))
        database = True
    except SQLAlchemyError as exc:
        LOGGER.warning("lecture health: database unavailable (%s)", exc.__class__.__name__)
        database = False
    db.session.rollback()
    return jsonify({"api": True, "database": database})


@bp.get("/transcriptions")
def list_transcriptions():
    user = caller()
    problems: list = []
    page, size = _pagination(problems)
    _checked(problems)
    return jsonify(transcriptions.transcriptions_page(user, page, size))


@bp.get("/transcript")
def list_chunks():
    user = caller()
    problems: list = []
    page, size = _pagination(problems)
    task_id = _query_int("task_id", problems)
    _checked(problems)
    return jsonify(transcriptions.chunks_page(_transcription(user, task_id), page, size))


@bp.post("/transcript/export")
def export_transcript():
    user = caller()
    problems: list = []
    task_id = _query_int("task_id", problems)
    fmt = request.args.get("format")
    if fmt is None:
        problems.append(problem("missing", ["query", "format"], "Field required"))
    elif fmt not in EXPORT_FORMATS:
        problems.append(problem("literal_error", ["query", "format"], "Input should be 'doc' or 'txt'", fmt))
    _checked(problems)
    job = _transcription(user, task_id)
    source: Any = jobs.export_source(job)
    if source is None:
        source = transcriptions.chunk_data(job)
    if not source:
        raise Refused(409, "No transcription chunks for this transcription is available right now. "
                           "Try again later.")
    body, content_type, extension = render_export(source, fmt)
    return Response(body, content_type=content_type, headers={
        "Content-Disposition": f'attachment; filename="{job.number}.{extension}"'})


@bp.post("/transcript/cancel")
def cancel_transcript():
    user = caller()
    problems: list = []
    number = _query_int("transcript_id", problems)
    _checked(problems)
    job = _transcription(user, number, lock=True)
    if is_terminal(job.status):
        raise Refused(409, "You can't cancel a finished job")
    jobs.cancel(job)
    return Response("OK", content_type="text/plain; charset=utf-8")


@bp.get("/transcript/info")
def transcript_info():
    user = caller()
    problems: list = []
    number = _query_int("transcript_id", problems)
    _checked(problems)
    return jsonify(transcriptions.transcription_view(_transcription(user, number)))


def _mp3_seconds(path: Path) -> float:
    """The duration of an MP3 file, or 400 when it is not one (whatever its name says)."""
    try:
        info = probe(path)
    except ProbeError:
        raise Refused(400, "Invalid audio file") from None
    if info.demuxer != "mp3" or info.first("audio") is None:
        raise Refused(400, "Invalid audio file")
    return info.duration


@bp.post("/upload-audiofile")
def upload_audiofile():
    user = caller(can_interact=True)
    upload = request.files.get("audiofile")
    if upload is None:
        raise Invalid([problem("missing", ["body", "audiofile"], "Field required")])
    if (upload.mimetype or "").lower() not in MP3_TYPES:
        raise Refused(400, "Invalid audio file")
    with tempfile.NamedTemporaryFile(prefix="lecture-", suffix=".mp3") as copy:
        shutil.copyfileobj(upload.stream, copy)
        copy.flush()
        seconds = _mp3_seconds(Path(copy.name))
        if not MIN_SECONDS <= seconds <= MAX_SECONDS:
            raise Invalid([problem("value_error", ["body", "audiofile"],
                                   f"Value error, Audio duration must be between {MIN_SECONDS} and "
                                   f"{MAX_SECONDS} seconds. Provided file is {seconds:.2f} seconds long.")])
        active = transcriptions.lock_and_find_active(user)
        if active is not None:
            raise Refused(409, f"Transcription {active.number} is {transcriptions.lecture_state(active)}. "
                               "Please cancel the job or wait before its completion to start a new one.")
        copy.seek(0)
        try:
            # The seed's chunks lie on a fixed grid of CHUNK_SECONDS (its clients page through them).
            params = jobs.kind_spec(transcriptions.KIND).params_schema().load(
                {"chunk_seconds": CHUNK_SECONDS, "steady_chunks": True})
            job = jobs.submit(user, transcriptions.KIND, params, copy, upload.filename, "audio/mpeg")
        except SubmitRefused as exc:
            raise Refused(exc.status, str(exc)) from None
    return jsonify({"message": "File uploaded successfully", "task_id": job.number, "file": job.input_filename})


def _worker_report(body: Any) -> tuple[int, Optional[str], Optional[dict[str, Any]]]:
    if not isinstance(body, dict):
        raise Invalid([problem("missing", ["body"], "Field required")])
    problems = []
    number, state, chunk = body.get("transcription_id"), body.get("current_state"), body.get("new_chunk")
    if "transcription_id" not in body:
        problems.append(problem("missing", ["body", "transcription_id"], "Field required"))
    elif not isinstance(number, int) or isinstance(number, bool):
        problems.append(problem("int_type", ["body", "transcription_id"], "Input should be a valid integer", number))
    if state is not None and state not in STATES:
        problems.append(problem("enum", ["body", "current_state"],
                                "Input should be " + ", ".join(f"'{s}'" for s in STATES[:-1])
                                + f" or '{STATES[-1]}'", state))
    if chunk is not None:
        if not isinstance(chunk, dict):
            problems.append(problem("model_type", ["body", "new_chunk"], "Input should be a valid dictionary",
                                    chunk))
        else:
            if not isinstance(chunk.get("text"), str):
                problems.append(problem("string_type", ["body", "new_chunk", "text"],
                                        "Input should be a valid string", chunk.get("text")))
            if not isinstance(chunk.get("chunk_no"), int) or isinstance(chunk.get("chunk_no"), bool):
                problems.append(problem("int_type", ["body", "new_chunk", "chunk_no"],
                                        "Input should be a valid integer", chunk.get("chunk_no")))
    _checked(problems)
    return number, state, chunk


@bp.post("/worker/transcription_status")
def worker_transcription_status():
    presented = request.args.get("secret_worker_token")
    if presented is None:
        raise Invalid([problem("missing", ["query", "secret_worker_token"], "Field required")])
    scopes = throttle.secret_scopes("lecture-worker-token")
    try:
        throttle.check(scopes)
    except throttle.Throttled as exc:
        response = detail(429, exc.message)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if not hmac.compare_digest(presented.encode(), current_app.config["WORKER_TOKEN"].encode()):
        throttle.record_failure(scopes)
        raise Refused(401, "Wrong worker token")
    number, state, chunk = _worker_report(request.get_json(silent=True))
    job = transcriptions.transcription_for(None, number, lock=True)
    if job is None:
        raise Refused(404, "Transcription does not exist")
    try:
        apply_report(job, state, chunk, current_app.config)
    except jobflow.Conflict as exc:
        raise Refused(409, str(exc)) from None
    except ChunkOutOfRange as exc:
        raise Refused(400, str(exc)) from None
    return jsonify({"transcription": transcriptions.transcription_view(job)})
