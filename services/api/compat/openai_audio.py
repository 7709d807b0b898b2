"""OpenAI's speech-to-text API (/v1/audio/transcriptions, /v1/audio/translations, /v1/models) over asr jobs.

OpenAI clients (the official ``openai`` packages, tools built on them) point their base URL at
``<conveyor>/v1`` with a Conveyor API key (``cvk_...``) or access token as the key. Each request runs
one native asr job (it shows in the job list like any other) and answers when the job has ended:
OpenAI clients expect the transcript in the reply.

Decisions where Conveyor differs from OpenAI:

* ``model``: ``whisper-1`` is the installation's default model, or when that one does not speak the
  ``language`` asked (or, for translations, does not translate) the first Whisper model that does; a
  Conveyor model id (``whisper-tiny.en``, ``whisper-base``, ``vosk-ko``) picks that model; anything
  else is 400 listing the models. ``GET /v1/models`` lists the same ids.
* ``prompt`` and ``temperature`` are accepted and ignored: the asr kind has no initial-prompt or
  sampling option (faster-whisper decodes with its own temperature fallback). ``stream=true`` is
  refused with 400: answers come whole.
* ``timestamp_granularities[]`` shapes verbose_json as OpenAI does: ``segments`` only when
  ``segment`` is asked or nothing is, ``words`` only when ``word`` is. Word timestamps need
  ``response_format=verbose_json``; with another format they are refused with 400, as OpenAI does.
* verbose_json: ``language`` is the language's English name in lower case ("english"); a
  translation's is always "english", as OpenAI writes it. A word is ``{word, start, end}``: a word
  of the transcript as written, without the punctuation around it ("o'clock" stays whole). A
  Whisper segment carries what faster-whisper decoded (``tokens``, ``temperature``,
  ``avg_logprob``, ``compression_ratio``, ``no_speech_prob``); its ``seek`` is the decoding
  window's offset in 10 ms frames from the file's start (Conveyor decodes in chunks, and the VAD
  drops silence before decoding, so it is not OpenAI's 30 s window grid). A Vosk segment has no
  tokens (``[]``), ``temperature`` and ``no_speech_prob`` 0.0, ``seek`` its start in 10 ms frames,
  ``avg_logprob`` the mean log of its words' confidences and ``compression_ratio`` Whisper's
  (text bytes over zlib-compressed bytes). Results transcribed before segments kept these fields
  get the Vosk values.
* ``GET /v1/models``: ``created`` is when the model's files were installed (their newest
  modification time); ``whisper-1``'s is its default model's. A worker too old to report that time
  gives 0.
* The request waits at most CONVEYOR_OPENAI_AUDIO_WAIT_SECONDS (default 600 s); then the job is
  cancelled and the answer is 504. OpenAI's clients retry 5xx answers (twice by default).
* Errors keep OpenAI's body ``{"error": {"message", "type", "param", "code"}}``: 400 bad request
  (a file that is not audio included), 401 bad credentials, 403 an account that may not submit, 413
  too large a file, 429 too many active jobs, 500 a failed job, 503 no asr worker, 504 no answer
  in time.
"""
from __future__ import annotations

import logging
import math
import uuid
import zlib
from typing import Any, Optional

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.datastructures import FileStorage

from services.api import jobs
from services.api.compat.common import CompatError, JobVanished, WaitTimedOut, compat_user, error_handler, wait_for_jobs
from services.api.kinds import SubmitRefused
from services.api.kinds.base import live_models
from shared.kinds.asr.alignment import bare_word, timed_segments
from shared.kinds.asr.exports import export
from shared.kinds.asr.params import TRANSCRIBE, TRANSLATE, can_translate, validate_params
from shared.kinds.translate.languages import language_name
from shared.models import User
from shared.states import JobStatus

LOGGER = logging.getLogger(__name__)

bp = Blueprint("compat_openai_audio", __name__)

KIND = "asr"
# The model name every OpenAI client sends.
ALIAS = "whisper-1"
FORMATS = ("json", "text", "srt", "verbose_json", "vtt")
GRANULARITIES = ("word", "segment")
# A short clip takes a second or two: poll often at first, then back off so that a long file costs
# a couple of indexed reads per second.
FIRST_POLL_SECONDS = 0.05
MAX_POLL_SECONDS = 0.5
# Word probabilities of 0 would make the mean log infinite.
SMALLEST_PROBABILITY = 1e-6

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "invalid_request_error", 413: "invalid_request_error", 429: "rate_limit_error"}
ERROR_CODES = {401: "invalid_api_key", 429: "rate_limit_exceeded", 503: "service_unavailable",
               504: "timeout"}


def _body(status: int, message: str, param: Optional[str] = None, code: Optional[str] = None) -> dict:
    return {"error": {"message": message, "type": ERROR_TYPES.get(status, "server_error"),
                      "param": param, "code": code or ERROR_CODES.get(status)}}


def _error(status: int, message: str, param: Optional[str] = None, code: Optional[str] = None) -> CompatError:
    return CompatError(status, _body(status, message, param, code))


error_handler(bp, _body)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> tuple[Response, int]:
    # Without this the app's handler would answer in the native envelope, which OpenAI clients cannot read.
    LOGGER.exception("unhandled error in the OpenAI face")
    return jsonify(_body(500, "Internal error; it has been logged.")), 500


def _caller() -> User:
    return compat_user(_body(401, "Invalid or missing credentials: send 'Authorization: Bearer <key>' "
                                  "with a Conveyor API key (cvk_...) or access token."))


def _live_models() -> list[dict[str, Any]]:
    """Each model the live asr workers offer, once, in the order they report them."""
    unique: dict[str, dict[str, Any]] = {}
    for model in live_models(KIND):
        unique.setdefault(model["id"], model)
    return list(unique.values())


def _default_model(models: list[dict[str, Any]], task: str, language: Optional[str]) -> Optional[dict[str, Any]]:
    """What ``whisper-1`` means here: the default Whisper model, else the first that can do what is asked."""
    candidates = sorted(models, key=lambda m: (m["engine"] != "whisper", not m.get("default")))
    if task == TRANSLATE:
        candidates = [m for m in candidates if can_translate(m)]
    for model in candidates:
        try:
            validate_params({"model": model["id"], "language": language}, models=[model])
        except ValueError:
            continue
        return model
    # None speaks the language asked: the default model's refusal will say which it speaks.
    return candidates[0] if candidates else None


def _model_for(name: Optional[str], task: str, language: Optional[str]) -> dict[str, Any]:
    """The catalog model a request's ``model`` names; 400 naming the choices, 503 without a worker."""
    if not name:
        raise _error(400, "you must provide a model parameter", "model")
    models = _live_models()
    if not models:
        raise _error(503, "No asr worker has registered yet; start one and retry.")
    translators = [m["id"] for m in models if can_translate(m)]
    if task == TRANSLATE and not translators:
        raise _error(400, "No installed model translates speech to English: install a multilingual Whisper "
                          "model (python scripts/install_whisper_base.py).", "model", "model_not_found")
    model = (_default_model(models, task, language) if name == ALIAS
             else next((m for m in models if m["id"] == name), None))
    if model is None:
        listed = ", ".join([ALIAS] + [m["id"] for m in models])
        raise _error(400, f"The model '{name}' does not exist here; models: {listed}.", "model", "model_not_found")
    if task == TRANSLATE and not can_translate(model):
        raise _error(400, f"The model '{name}' cannot translate; models that do: {', '.join(translators)}.",
                     "model")
    return model


def _response_format() -> str:
    wanted = request.form.get("response_format") or "json"
    if wanted not in FORMATS:
        raise _error(400, f"response_format must be one of {', '.join(FORMATS)}, not '{wanted}'.", "response_format")
    return wanted


def _granularities(fmt: str) -> set[str]:
    """The granularities asked; segment alone when none is. Word times come with verbose_json only."""
    wanted = set(request.form.getlist("timestamp_granularities[]") + request.form.getlist("timestamp_granularities"))
    unknown = wanted - set(GRANULARITIES)
    if unknown:
        raise _error(400, f"timestamp_granularities may hold {' and '.join(GRANULARITIES)}, not "
                          f"{', '.join(sorted(unknown))}.", "timestamp_granularities")
    if "word" in wanted and fmt != "verbose_json":
        raise _error(400, "timestamp_granularities 'word' needs response_format 'verbose_json'.",
                     "timestamp_granularities")
    return wanted or {"segment"}


def _check_accepted_fields() -> None:
    """Fields Conveyor accepts without acting on them must still be well formed; stream is refused."""
    temperature = request.form.get("temperature")
    if temperature:
        try:
            value = float(temperature)
        except ValueError:
            value = math.nan
        if not 0.0 <= value <= 1.0:
            raise _error(400, "temperature must be a number between 0 and 1.", "temperature")
    if (request.form.get("stream") or "").lower() == "true":
        raise _error(400, "Streaming is not supported here: omit stream and get the whole answer.", "stream")


def _upload() -> FileStorage:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise _error(400, "you must provide a file parameter (multipart/form-data)", "file")
    return upload


def _submit(user: User, model: dict[str, Any], task: str, language: Optional[str],
            upload: FileStorage) -> uuid.UUID:
    """Queue the asr job; the options are checked first so that a bad language names its field."""
    params = {"model": model["id"], "language": language}
    if task == TRANSLATE:
        params["task"] = TRANSLATE
    try:
        validate_params(params, models=[model])
    except ValueError as exc:
        raise _error(400, str(exc), "language") from None
    try:
        return jobs.submit(user, KIND, params, upload.stream, upload.filename, upload.mimetype).id
    except SubmitRefused as exc:
        raise _error(exc.status, str(exc), "file" if exc.status in (400, 413) else None) from None


def _wait(user_id: int, job_id: uuid.UUID) -> tuple[str, Any, Any]:
    """The job's (status, result, error) once it has ended; 504 (and the job cancelled) when time runs out."""
    timeout = current_app.config["OPENAI_AUDIO_WAIT_SECONDS"]
    try:
        return wait_for_jobs(user_id, [job_id], timeout, FIRST_POLL_SECONDS, MAX_POLL_SECONDS)[job_id]
    except JobVanished:
        raise _error(500, "The transcription job was deleted while it ran.") from None
    except WaitTimedOut:
        raise _error(504, f"The transcription did not finish within {timeout:g} s; job {job_id} was "
                          "cancelled. Try a shorter file or try again later.") from None


def _language(code: Optional[str], task: str) -> Optional[str]:
    if task == TRANSLATE:
        return "english"
    if not code:
        return None
    try:
        return language_name(code).lower()
    except ValueError:
        return code


def _avg_logprob(words: list[dict[str, Any]]) -> float:
    if not words:
        return 0.0
    return sum(math.log(max(w.get("conf", 1.0), SMALLEST_PROBABILITY)) for w in words) / len(words)


def _compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def _segment(number: int, segment: dict[str, Any], words: list[dict[str, Any]]) -> dict[str, Any]:
    """OpenAI's segment: the decoder's own figures where the engine kept them, else derived ones."""
    derived = {"seek": round(segment["start"] * 100), "tokens": [], "temperature": 0.0,
               "avg_logprob": round(_avg_logprob(words), 4),
               "compression_ratio": round(_compression_ratio(segment["text"]), 4), "no_speech_prob": 0.0}
    figures = {key: segment.get(key, value) for key, value in derived.items()}
    return {"id": number, "seek": figures.pop("seek"), "start": segment["start"], "end": segment["end"],
            "text": segment["text"], **figures}


def _segments(result: dict[str, Any]) -> list[dict[str, Any]]:
    words = result.get("words") or []
    return [_segment(number, segment, [w for w in words if segment["start"] <= w["start"] <= segment["end"]])
            for number, segment in enumerate(result.get("segments") or [])]


def _words(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The transcript's written words, timed, without their punctuation."""
    timed = timed_segments(result.get("segments") or [], result.get("words") or [])
    return [{"word": bare_word(w["word"]), "start": w["start"], "end": w["end"]}
            for words in timed for w in words if bare_word(w["word"])]


def _verbose(result: dict[str, Any], task: str, granularities: set[str]) -> dict[str, Any]:
    body: dict[str, Any] = {"task": task, "language": _language(result.get("language"), task),
                            "duration": result.get("duration") or 0.0, "text": result.get("text") or ""}
    if "word" in granularities:
        body["words"] = _words(result)
    if "segment" in granularities:
        body["segments"] = _segments(result)
    return body


def _reply(result: dict[str, Any], fmt: str, task: str, granularities: set[str]) -> Response:
    if fmt == "json":
        return jsonify({"text": result.get("text") or ""})
    if fmt == "verbose_json":
        return jsonify(_verbose(result, task, granularities))
    if fmt == "text":
        return Response((result.get("text") or "") + "\n", content_type="text/plain; charset=utf-8")
    content, content_type, _ = export(result, fmt)
    return Response(content, content_type=content_type)


def _run(task: str) -> Response:
    """Check the request, run one asr job to its end and answer in the requested format."""
    user = _caller()
    upload = _upload()
    fmt = _response_format()
    granularities = _granularities(fmt)
    _check_accepted_fields()
    language = request.form.get("language") or None
    model = _model_for(request.form.get("model"), task, language)
    job_id = _submit(user, model, task, language, upload)
    LOGGER.info("job %s: OpenAI %s with %s for user %s", job_id, task, model["id"], user.id)
    status, result, error = _wait(user.id, job_id)
    if status != JobStatus.SUCCEEDED.value:
        raise _error(500, f"The transcription job ended {status}: {error or 'no result'} (job {job_id}).")
    return _reply(result, fmt, task, granularities)


@bp.post("/v1/audio/transcriptions")
def transcriptions():
    """Transcribe the uploaded audio in the language spoken."""
    return _run(TRANSCRIBE)


@bp.post("/v1/audio/translations")
def translations():
    """Write the uploaded speech out in English (multilingual Whisper models)."""
    return _run(TRANSLATE)


def _model_entry(model_id: str, model: dict[str, Any]) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": int(model.get("installed_at") or 0),
            "owned_by": "conveyor"}


def _listed() -> dict[str, dict[str, Any]]:
    """Each listed id and the catalog model behind it; whisper-1 stands for the default model."""
    models = _live_models()
    listed = {m["id"]: m for m in models}
    default = _default_model(models, TRANSCRIBE, None)
    return {ALIAS: default, **listed} if default else listed


@bp.get("/v1/models")
def list_models():
    """The speech models the live asr workers offer, and whisper-1 (the default one)."""
    _caller()
    return jsonify({"object": "list", "data": [_model_entry(model_id, model) for model_id, model in _listed().items()]})


@bp.get("/v1/models/<path:model_id>")
def get_model(model_id: str):
    """One model of the list, or 404 in OpenAI's shape."""
    _caller()
    listed = _listed()
    if model_id not in listed:
        raise _error(404, f"The model '{model_id}' does not exist", "model", "model_not_found")
    return jsonify(_model_entry(model_id, listed[model_id]))
