"""LibreTranslate's API at the root paths it uses (/translate, /languages, /detect), over native jobs.

LibreTranslate clients (libretranslatepy, editor plugins, bots) point at Conveyor's base URL
unchanged. A Conveyor API key goes in ``api_key`` (JSON body or form), where LibreTranslate keys
go, or in the Authorization / X-API-Key header. ``/translate`` runs one native translate job per
text and answers when they have ended: LibreTranslate clients expect the translation in the reply.

Decisions where Conveyor differs from LibreTranslate:

* Errors keep LibreTranslate's body ``{"error": "..."}`` and its codes: 400 bad request or missing
  key, 403 invalid key, 429 too many active jobs; beside them 503 when no translate worker runs,
  500 when a job failed, and 504 when the jobs did not end in time (they are then cancelled).
* ``format=html`` is refused with 400: the translate workers translate plain text.
* ``source=auto`` detects each text's language among the languages the workers translate from, as
  the native ``source_lang: "auto"`` does; a text whose language cannot be told with confidence is
  refused with 400 rather than translated from a guess (LibreTranslate falls back to English).
* A batch (``q`` as an array) may hold at most MAX_ACTIVE_JOBS texts, one job each.
* ``/languages`` is public, as in LibreTranslate, and lists the live pairs, pivot routes included.
"""
from __future__ import annotations

import logging
import uuid
from typing import Any, Mapping

from flask import Blueprint, current_app, g, jsonify, request
from marshmallow import ValidationError

from services.api import jobs
from services.api.compat.common import (
    CompatError,
    JobVanished,
    WaitTimedOut,
    cancel_jobs,
    compat_user,
    error_handler,
    wait_for_jobs,
)
from services.api.kinds import SubmitRefused
from services.api.kinds.translate import TranslateParamsSchema, translation_pairs
from shared.kinds.translate.languages import language_name
from shared.kinds.translate.pairs import AUTO_DETECT
from shared.language_detect import detect
from shared.models import Job, User
from shared.principal import user_for_api_key
from shared.states import JobStatus

LOGGER = logging.getLogger(__name__)

bp = Blueprint("compat_libretranslate", __name__)

KIND = "translate"
# A translation takes a few hundred milliseconds: poll often at first, then back off so that a
# long wait costs a handful of indexed reads per second.
FIRST_POLL_SECONDS = 0.02
MAX_POLL_SECONDS = 0.25

error_handler(bp, lambda code, message: {"error": message})


def _error(status: int, message: str) -> CompatError:
    return CompatError(status, {"error": message})


def _body() -> Mapping[str, Any]:
    """The request's fields: a JSON object, or form fields and query arguments as LibreTranslate reads them."""
    if request.is_json:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise _error(400, "Invalid JSON format")
        return data
    return request.values


def _caller(data: Mapping[str, Any]) -> User:
    """The owner of the API key in the body, else the caller named by the Authorization header."""
    key = data.get("api_key")
    if key:
        user = user_for_api_key(key) if isinstance(key, str) else None
        if user is None:
            raise _error(403, "Invalid API key")
        g.user = user
        return user
    if not request.headers.get("Authorization") and not request.headers.get("X-API-Key"):
        raise _error(400, "Please contact the server operator to get an API key")
    return compat_user({"error": "Invalid API key"}, status=403)


def _required(data: Mapping[str, Any], name: str) -> Any:
    value = data.get(name)
    if not value:
        raise _error(400, f"Invalid request: missing {name} parameter")
    return value


def _refusal(exc: SubmitRefused) -> CompatError:
    if exc.status == 429:
        return _error(429, f"Slowdown: {exc}")
    # Too long a text is a plain bad request to LibreTranslate (its character limit).
    return _error(400 if exc.status == 413 else exc.status, str(exc))


@bp.post("/translate")
def translate():
    """Translate ``q`` (a string or an array of strings) from ``source`` (or ``auto``) to ``target``."""
    data = _body()
    user = _caller(data)
    texts = _required(data, "q")
    source = _required(data, "source")
    target = _required(data, "target")
    text_format = data.get("format") or "text"
    if text_format not in ("text", "html"):
        raise _error(400, f"{text_format} format is not supported")
    if text_format == "html":
        raise _error(400, "html format is not supported by this server; send format=text")
    batch = isinstance(texts, list)
    texts = texts if batch else [texts]
    if not all(isinstance(text, str) and text for text in texts):
        raise _error(400, "Invalid request: q must be a text or an array of texts")
    limit = current_app.config["MAX_ACTIVE_JOBS"]
    if len(texts) > limit:
        raise _error(400, f"Invalid request: request ({len(texts)}) exceeds text limit ({limit})")
    submitted = _submit_all(user, texts, source, target)
    finished = _wait(user.id, [job.id for job in submitted])
    translated = []
    for job in submitted:
        status, result, error = finished[job.id]
        if status != JobStatus.SUCCEEDED.value:
            raise _error(500, f"Cannot translate text: {error or status}")
        translated.append(result["translated_text"])
    reply: dict[str, Any] = {"translatedText": translated if batch else translated[0]}
    if str(source).strip().lower() == AUTO_DETECT:
        detected = [_detected_language(job) for job in submitted]
        reply["detectedLanguage"] = detected if batch else detected[0]
    return jsonify(reply)


def _submit_all(user: User, texts: list[str], source: str, target: str) -> list[Job]:
    """One translate job per text; if one is refused, the ones already queued are cancelled."""
    submitted: list[Job] = []
    try:
        for text in texts:
            params = TranslateParamsSchema().load({"text": text, "source_lang": source, "target_lang": target})
            submitted.append(jobs.submit(user, KIND, params))
    except ValidationError as exc:
        cancel_jobs(user.id, [job.id for job in submitted])
        problems = "; ".join(f"{name}: {' '.join(map(str, messages))}" for name, messages in exc.messages.items())
        raise _error(400, f"Invalid request: {problems}") from None
    except SubmitRefused as exc:
        cancel_jobs(user.id, [job.id for job in submitted])
        raise _refusal(exc) from None
    return submitted


def _wait(user_id: int, job_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[str, Any, Any]]:
    """Each job's (status, result, error) once all have ended; 504 (and cancelled) when time runs out."""
    timeout = current_app.config["LIBRETRANSLATE_WAIT_SECONDS"]
    try:
        return wait_for_jobs(user_id, job_ids, timeout, FIRST_POLL_SECONDS, MAX_POLL_SECONDS)
    except JobVanished:
        raise _error(500, "Cannot translate text: the job was deleted while it ran") from None
    except WaitTimedOut:
        raise _error(504, f"The translation did not finish within {timeout:g} s; try again later") from None


def _detected_language(job: Job) -> dict[str, Any]:
    detected = job.params.get("detected_source") or {"language": job.params["source_lang"], "confidence": 1.0}
    return {"confidence": round(detected["confidence"] * 100, 1), "language": detected["language"]}


def _live_pairs() -> list[dict[str, Any]]:
    pairs = translation_pairs()
    if not pairs:
        raise _error(503, "No translate worker has registered yet; start one and retry.")
    return pairs


@bp.get("/languages")
def languages():
    """Every language of the live pairs, with the languages it translates to."""
    targets: dict[str, set[str]] = {}
    for pair in translation_pairs():
        targets.setdefault(pair["source"], set()).add(pair["target"])
        targets.setdefault(pair["target"], set())
    return jsonify([{"code": code, "name": language_name(code), "targets": sorted(targets[code])}
                    for code in sorted(targets)])


@bp.post("/detect")
def detect_language():
    """The languages ``q`` may be in, most likely first, with confidences in percent."""
    data = _body()
    _caller(data)
    text = _required(data, "q")
    if isinstance(text, list):
        text = "\n".join(str(part) for part in text)
    if not isinstance(text, str):
        raise _error(400, "Invalid request: q must be a text")
    ranked = detect(text, {pair["source"] for pair in _live_pairs()})
    likely = [entry for entry in ranked if entry[1] > 0] or ranked[:1]
    return jsonify([{"confidence": round(confidence * 100, 1), "language": code} for code, confidence in likely])
