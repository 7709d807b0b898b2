"""LibreTranslate's API at the root paths it uses (/translate, /translate_file, /languages, /detect,
/frontend/settings), over native jobs.

LibreTranslate clients (libretranslatepy, editor plugins, bots) point at Conveyor's base URL
unchanged. A Conveyor API key goes in ``api_key`` (JSON body or form), where LibreTranslate keys
go, or in the Authorization / X-API-Key header. ``/translate`` runs one native translate job per
text and answers when they have ended: LibreTranslate clients expect the translation in the reply.

Decisions where Conveyor differs from LibreTranslate:

* Errors keep LibreTranslate's body ``{"error": "..."}`` and its codes: 400 bad request or missing
  key, 403 invalid key, 429 too many active jobs; beside them 503 when no translate worker runs,
  500 when a job failed, and 504 when the jobs did not end in time (they are then cancelled).
* ``format=html`` is the translate kind's ``format: "html"``: Apertium's HTML deformatter keeps tags,
  attributes, comments, scripts and entities, and the text nodes are translated (by Argos one by one).
* ``source=auto`` takes, as LibreTranslate does, the detector's best guess among the languages the
  workers translate into ``target`` from, however unsure, and reports it as ``detectedLanguage``
  ``{language, confidence (0-100)}``; in a batch a text under 40 characters takes the guess for the
  whole batch, as LibreTranslate's does. Only a text with no letters at all (no guess) is refused.
  The native API stays stricter (it refuses a guess under 50 %).
* ``alternatives`` (an integer 0-3, as LibreTranslate takes) is answered with the Argos engine's other
  hypotheses where the route is one Argos hop (CTranslate2's ``num_hypotheses``), else with
  ``alternatives: []`` (a list per text in a batch): Apertium gives one translation, none is invented.
* A batch (``q`` as an array) may hold at most MAX_ACTIVE_JOBS texts, one job each.
* ``/translate_file`` takes .txt and .html/.htm (UTF-8) as text jobs, and .docx, .odt, .pptx, .xlsx
  and .rtf as native document jobs (checked at submit: type sniffed, zip bombs, macros and DTDs
  refused with 400), and answers once the job has ended; its ``translatedFileUrl``
  (``/download_file/<job id>/<file name>``) needs no key, as LibreTranslate's does: the job's random
  UUID is the capability. Other formats are refused with 400.
* ``/frontend/settings`` is public and built from this installation: its text limit, its live
  pairs (the default target is the language most sources translate into), keys always required.
* Errors name LibreTranslate's parameters (``q``, ``source``, ``target``), not the native ones.
* ``/languages`` is public, as in LibreTranslate, and lists the live pairs, pivot routes included;
  beside ``targets`` each language has ``engines``: {target: [the engines serving the pair alone]}.
"""
from __future__ import annotations

import logging
import re
import uuid
from collections import Counter
from pathlib import PurePosixPath
from typing import Any, Mapping, Optional

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for
from marshmallow import ValidationError
from werkzeug.utils import secure_filename

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
from services.api.downloads import send_stored
from services.api.kinds import SubmitRefused
from services.api.kinds.translate import TranslateParamsSchema, best_guess, translation_pairs
from shared.db import db
from shared.kinds.translate.documents import EXTENSIONS as DOCUMENT_EXTENSIONS
from shared.kinds.translate.formats import HTML, TEXT, TEXT_FORMATS, visible_text
from shared.kinds.translate.languages import language_name, normalize
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
MAX_ALTERNATIVES = 3
# LibreTranslate detects a short text of a batch from the whole batch: a few words say little.
SHORT_TEXT_CHARS = 40
# The file formats /translate_file takes, by extension: the translate kind's format, the type served.
FILE_FORMATS = {".txt": (TEXT, "text/plain; charset=utf-8"), ".html": (HTML, "text/html; charset=utf-8"),
                ".htm": (HTML, "text/html; charset=utf-8")}
# LibreTranslate's own default: how long its web page waits after a keystroke before translating.
FRONTEND_TIMEOUT_MS = 500
# The native parameter names, as LibreTranslate calls them, for error messages.
NATIVE_NAMES = {"text": "q", "source_lang": "source", "target_lang": "target"}
_NATIVE_NAME = re.compile(r"\b(source_lang|target_lang)\b")

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
    message = _NATIVE_NAME.sub(lambda match: NATIVE_NAMES[match.group(1)], str(exc))
    if exc.status == 429:
        return _error(429, f"Slowdown: {message}")
    # Too long a text is a plain bad request to LibreTranslate (its character limit).
    return _error(400 if exc.status == 413 else exc.status, message)


@bp.post("/translate")
def translate():
    """Translate ``q`` (a string or an array of strings) from ``source`` (or ``auto``) to ``target``."""
    data = _body()
    user = _caller(data)
    texts = _required(data, "q")
    source = _required(data, "source")
    target = _required(data, "target")
    text_format = _text_format(data)
    alternatives = _alternatives(data)
    batch = isinstance(texts, list)
    texts = texts if batch else [texts]
    if not all(isinstance(text, str) and text for text in texts):
        raise _error(400, "Invalid request: q must be a text or an array of texts")
    limit = current_app.config["MAX_ACTIVE_JOBS"]
    if len(texts) > limit:
        raise _error(400, f"Invalid request: request ({len(texts)}) exceeds text limit ({limit})")
    guesses = _guesses(texts, target, text_format) if _is_auto(source) else [None] * len(texts)
    submitted = _submit_all(user, texts, source, target, text_format, guesses,
                            {"alternatives": alternatives} if alternatives else None)
    results = _results(user, submitted)
    translated = [result["translated_text"] for result in results]
    reply: dict[str, Any] = {"translatedText": translated if batch else translated[0]}
    if _is_auto(source):
        detected = [_detected_language(guess) for guess in guesses]
        reply["detectedLanguage"] = detected if batch else detected[0]
    if alternatives:
        # Argos gives other hypotheses (CTranslate2's num_hypotheses); Apertium one translation: [].
        found = [result.get("alternatives", []) for result in results]
        reply["alternatives"] = found if batch else found[0]
    return jsonify(reply)


def _is_auto(source: Any) -> bool:
    return isinstance(source, str) and source.strip().lower() == AUTO_DETECT


def _text_format(data: Mapping[str, Any]) -> str:
    text_format = data.get("format") or TEXT
    if text_format not in TEXT_FORMATS:
        raise _error(400, f"{text_format} format is not supported")
    return text_format


def _alternatives(data: Mapping[str, Any]) -> int:
    """``alternatives`` as LibreTranslate takes it: an integer from 0 to 3 (0 when absent)."""
    value = data.get("alternatives")
    if value is None or value == "":
        return 0
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ALTERNATIVES:
        raise _error(400, f"Invalid request: alternatives must be an integer from 0 to {MAX_ALTERNATIVES}")
    return value


def _guesses(texts: list[str], target: Any, text_format: str) -> list[dict[str, Any]]:
    """Each text's likeliest language among the sources that reach ``target``, however unsure."""
    pairs = _live_pairs()
    try:
        wanted = normalize(target)
    except ValueError:
        wanted = None  # the job's check refuses the target, naming it
    # Sources that lead to the target: fewer candidates, better guesses; all of them if none does.
    pairs = [pair for pair in pairs if pair["target"] == wanted] or pairs
    readable = [visible_text(text) if text_format == HTML else text for text in texts]
    whole = best_guess(" ".join(readable), pairs) if len(readable) > 1 else None
    guesses = []
    for text in readable:
        guess = whole if whole and len(text) < SHORT_TEXT_CHARS else best_guess(text, pairs)
        if guess is None:
            raise _error(400, "Invalid request: cannot tell which language q is in (it has no letters); "
                              "set source to its language code, e.g. 'en'")
        guesses.append(guess)
    return guesses


def _submit_all(user: User, texts: list[str], source: str, target: str, text_format: str,
                guesses: list[Optional[dict[str, Any]]], extra: Optional[dict[str, Any]] = None) -> list[Job]:
    """One translate job per text; if one is refused, the ones already queued are cancelled."""
    submitted: list[Job] = []
    try:
        for text, guess in zip(texts, guesses, strict=True):
            params = TranslateParamsSchema().load({"text": text, "source_lang": guess["language"] if guess else source,
                                                   "target_lang": target, "format": text_format})
            if guess:
                # As a native "auto" job records it; the guess is the face's, below the native threshold too.
                params["detected_source"] = guess
            submitted.append(jobs.submit(user, KIND, {**params, **(extra or {})}))
    except ValidationError as exc:
        cancel_jobs(user.id, [job.id for job in submitted])
        problems = "; ".join(f"{NATIVE_NAMES.get(name, name)}: {' '.join(map(str, messages))}"
                             for name, messages in exc.messages.items())
        raise _error(400, f"Invalid request: {problems}") from None
    except SubmitRefused as exc:
        cancel_jobs(user.id, [job.id for job in submitted])
        raise _refusal(exc) from None
    return submitted


def _results(user: User, submitted: list[Job]) -> list[dict[str, Any]]:
    """The jobs' results, in order, once all have succeeded; 500 if one did not."""
    finished = _wait(user.id, [job.id for job in submitted])
    results = []
    for job in submitted:
        status, result, error = finished[job.id]
        if status != JobStatus.SUCCEEDED.value:
            raise _error(500, f"Cannot translate text: {error or status}")
        results.append(result)
    return results


def _wait(user_id: int, job_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[str, Any, Any]]:
    """Each job's (status, result, error) once all have ended; 504 (and cancelled) when time runs out."""
    timeout = current_app.config["LIBRETRANSLATE_WAIT_SECONDS"]
    try:
        return wait_for_jobs(user_id, job_ids, timeout, FIRST_POLL_SECONDS, MAX_POLL_SECONDS)
    except JobVanished:
        raise _error(500, "Cannot translate text: the job was deleted while it ran") from None
    except WaitTimedOut:
        raise _error(504, f"The translation did not finish within {timeout:g} s; try again later") from None


def _detected_language(guess: dict[str, Any]) -> dict[str, Any]:
    return {"confidence": round(guess["confidence"] * 100, 1), "language": guess["language"]}


def _live_pairs() -> list[dict[str, Any]]:
    pairs = translation_pairs()
    if not pairs:
        raise _error(503, "No translate worker has registered yet; start one and retry.")
    return pairs


@bp.get("/languages")
def languages():
    """Every language of the live pairs, with the languages it translates to."""
    targets: dict[str, dict[str, list[str]]] = {}
    for pair in translation_pairs():
        targets.setdefault(pair["source"], {})[pair["target"]] = pair.get("engines", [])
        targets.setdefault(pair["target"], {})
    return jsonify([{"code": code, "name": language_name(code), "targets": sorted(targets[code]),
                     "engines": targets[code]}
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


@bp.get("/frontend/settings")
def frontend_settings():
    """LibreTranslate's settings for its web page, from this installation's limits and live pairs."""
    served = Counter(pair["target"] for pair in _live_pairs())
    # The language the most sources translate into, as the page's first target (ties by code).
    target = min(served, key=lambda code: (-served[code], code))
    return jsonify({
        "charLimit": current_app.config["MAX_TEXT_CHARS"],
        "frontendTimeout": FRONTEND_TIMEOUT_MS,
        "apiKeys": True,
        "keyRequired": True,
        "suggestions": False,
        "filesTranslation": True,
        "supportedFilesFormat": supported_file_formats(),
        "language": {"source": {"code": AUTO_DETECT, "name": "Auto Detect"},
                     "target": {"code": target, "name": language_name(target)}},
    })


@bp.post("/translate_file")
def translate_file():
    """Translate an uploaded .txt or .html file; answers the URL of the translated file."""
    data = request.form
    user = _caller(data)
    upload = request.files.get("file")
    if upload is None:
        raise _error(400, "Invalid request: missing file parameter")
    source = _required(data, "source")
    target = _required(data, "target")
    if not upload.filename:
        raise _error(400, "Invalid request: empty file")
    name = secure_filename(upload.filename) or "file"
    extension = PurePosixPath(name).suffix.lower()
    if extension not in FILE_FORMATS and extension not in DOCUMENT_EXTENSIONS:
        raise _error(400, f"Invalid request: file format not supported; supported formats: "
                          f"{', '.join(supported_file_formats())}")
    if extension not in FILE_FORMATS:
        return _translate_document(user, upload, name, source, target)
    text_format = FILE_FORMATS[extension][0]
    try:
        text = upload.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _error(400, "Invalid request: the file is not UTF-8 text") from None
    if not text.strip():
        raise _error(400, "Invalid request: empty file")
    guesses = _guesses([text], target, text_format) if _is_auto(source) else [None]
    submitted = _submit_all(user, [text], source, target, text_format, guesses, extra={"file_name": name})
    _results(user, submitted)
    return jsonify({"translatedFileUrl": url_for(".download_file", job_id=submitted[0].id, name=name,
                                                 _external=True)})


def supported_file_formats() -> list[str]:
    """The extensions /translate_file takes: text files and every document the translate kind takes."""
    return sorted(set(FILE_FORMATS) | set(DOCUMENT_EXTENSIONS))


def _translate_document(user: User, upload, name: str, source: Any, target: Any):
    """A document (.docx, .odt, ...) as a native file job; its artifact is the translated file."""
    try:
        params = TranslateParamsSchema().load({"source_lang": source, "target_lang": target})
        job = jobs.submit(user, KIND, params, upload.stream, name, upload.mimetype)
    except ValidationError as exc:
        problems = "; ".join(f"{NATIVE_NAMES.get(field, field)}: {' '.join(map(str, messages))}"
                             for field, messages in exc.messages.items())
        raise _error(400, f"Invalid request: {problems}") from None
    except SubmitRefused as exc:
        raise _refusal(exc) from None
    _results(user, [job])
    return jsonify({"translatedFileUrl": url_for(".download_file", job_id=job.id, name=name, _external=True)})


@bp.get("/download_file/<job_id>/<name>")
def download_file(job_id: str, name: str):
    """The file that /translate_file translated; the job's random id in the URL is the capability."""
    job = _translated_file_job(job_id)
    file_name = job.params.get("file_name") or job.input_filename
    if name != file_name:
        raise _error(404, "File not found")
    if "artifact" in job.result:
        found = next((a for a in job.artifacts if a.name == job.result["artifact"]), None)
        if found is None:
            raise _error(404, "File not found")
        return send_stored(found.storage_key, found.content_type, download_name=file_name, as_attachment=True)
    content_type = FILE_FORMATS[PurePosixPath(file_name).suffix.lower()][1]
    return Response(job.result["translated_text"].encode("utf-8"), content_type=content_type,
                    headers={"Content-Disposition": f'attachment; filename="{file_name}"'})


def _translated_file_job(job_id: str) -> Job:
    """A finished translate job of /translate_file by its id, else 404 (missing and unfinished alike)."""
    try:
        key = uuid.UUID(job_id)
    except ValueError:
        raise _error(404, "File not found") from None
    job = db.session.get(Job, key) if key.version == 4 else None
    if (job is None or job.kind != KIND or not (job.params.get("file_name") or job.params.get("document_format"))
            or job.status != JobStatus.SUCCEEDED.value):
        raise _error(404, "File not found")
    return job
