"""The OpenAI and LibreTranslate faces in the public OpenAPI document, and where each seed surface's contract is.

The faces are plain Flask views that parse their clients' bodies themselves (their shapes are fixed by
OpenAI's and LibreTranslate's clients, not by Conveyor's schemas), so their operations are written
here, each under its own tag. The five seed surfaces keep the shapes of their seeds: the document
names where each one's contract is rather than repeating it.
"""
from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from shared.compat.mount import SURFACES
from shared.kinds.translate.formats import TEXT_FORMATS

OPENAI, LIBRETRANSLATE = "OpenAI", "LibreTranslate"
TAGS = [
    {"name": OPENAI, "description": "OpenAI's speech-to-text API: point an OpenAI client's base URL at "
     "<conveyor>/v1 and use a Conveyor API key or access token as its key. Each request runs one asr "
     "job and answers when it has ended. Decisions where Conveyor differs: services/api/compat/openai_audio.py."},
    {"name": LIBRETRANSLATE, "description": "LibreTranslate's API at the base URL: a Conveyor API key goes "
     "in api_key (or the Authorization / X-API-Key header). /translate answers when its jobs have "
     "ended. Decisions where Conveyor differs: services/api/compat/libretranslate.py."},
]
_SURFACE_SEEDS = {"nevisa": "speech to text (Django REST framework + celery-progress)",
                  "primitives": "image tasks (FastAPI)", "translate": "translation (Django REST framework)",
                  "lecture": "lecture transcription (FastAPI)", "converter": "media conversion (Flask + Celery)"}


def seed_surfaces_section() -> str:
    """A Markdown section of the document's description: each seed surface, its prefix and its contract."""
    lines = ["## Seed surfaces", "",
             "Five older APIs answer in their own shapes, each over native jobs. They are not operations of "
             "this document: each one's contract is its seed's API, with the decisions Conveyor took written "
             "at the top of its module, and a Postman collection that runs it end to end.", ""]
    for surface in SURFACES:
        lines.append(f"- **{surface}** ({_SURFACE_SEEDS[surface]}): `/compat/{surface}/...`; contract "
                     f"`services/api/compat/{surface}.py`, logins `services/auth/compat/{surface}.py`, "
                     f"collection `docs/postman/compat-{surface}.postman_collection.json`.")
    return "\n".join(lines)


def _error(description: str) -> dict:
    return {"description": description}


def _form(properties: dict, required: list[str]) -> dict:
    return {"type": "object", "properties": properties, "required": required}


_FILE = {"type": "string", "format": "binary"}
_MODEL = {"type": "string", "default": "whisper-1",
          "description": "whisper-1 (the default model) or a Conveyor model id from GET /v1/models"}
_RESPONSE_FORMAT = {"type": "string", "enum": ["json", "text", "srt", "vtt", "verbose_json"], "default": "json"}
_OPENAI_ERRORS = {"400": _error("Bad request, or not audio"), "401": _error("Bad credentials"),
                  "413": _error("Too large a file"), "429": _error("Too many active jobs"),
                  "503": _error("No asr worker"), "504": _error("The job did not end in time")}
_TRANSCRIPT = {"description": "The transcript in response_format: {text} for json, verbose_json adds "
               "language, duration, segments and words", "content": {
                   "application/json": {"schema": {"type": "object", "properties": {"text": {"type": "string"}}}},
                   "text/plain": {"schema": {"type": "string"}}}}
_KEY_PARAM = {"api_key": {"type": "string", "description": "A Conveyor API key (or use a header)"}}
_LT_ERRORS = {"400": _error("Bad request or missing key"), "403": _error("Invalid key"),
              "429": _error("Too many active jobs"), "503": _error("No translate worker"),
              "504": _error("The jobs did not end in time")}
_TRANSLATE_FIELDS = {
    "q": {"description": "A text, or an array of texts (one job each)",
          "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
    "source": {"type": "string", "description": "A language code, or auto"},
    "target": {"type": "string", "description": "A language code (GET /languages lists the pairs)"},
    "format": {"type": "string", "enum": list(TEXT_FORMATS), "default": TEXT_FORMATS[0]},
    "alternatives": {"type": "integer", "minimum": 0, "maximum": 3, "default": 0},
    **_KEY_PARAM,
}
_JSON_ARRAY = {"type": "array", "items": {"type": "object"}}


def _json(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _operation(tag: str, summary: str, responses: dict, body: dict | None = None, public: bool = False) -> dict:
    operation = {"tags": [tag], "summary": summary, "responses": responses}
    if body is not None:
        operation["requestBody"] = {"required": True, "content": body}
    if public:
        operation["security"] = []
    return operation


def _openai_operations() -> dict[str, dict]:
    """The OpenAI face's operations by Flask endpoint."""
    transcription_fields = {
        "file": _FILE, "model": _MODEL,
        "language": {"type": "string", "description": "ISO 639-1 code of the speech (detected if absent)"},
        "prompt": {"type": "string", "description": "Accepted and ignored"},
        "response_format": _RESPONSE_FORMAT,
        "temperature": {"type": "number", "description": "Accepted and ignored"},
        "timestamp_granularities[]": {"type": "array", "items": {"type": "string", "enum": ["word", "segment"]},
                                      "description": "With verbose_json: words and/or segments"},
    }
    translation_fields = {name: transcription_fields[name]
                          for name in ("file", "model", "prompt", "response_format", "temperature")}
    model = {"type": "object", "properties": {"id": {"type": "string"}, "object": {"type": "string"},
                                              "created": {"type": "integer"}, "owned_by": {"type": "string"}}}
    return {
        "compat_openai_audio.transcriptions": {"post": _operation(
            OPENAI, "Transcribe the uploaded audio in the language spoken",
            {"200": _TRANSCRIPT, **_OPENAI_ERRORS},
            {"multipart/form-data": {"schema": _form(transcription_fields, ["file", "model"])}})},
        "compat_openai_audio.translations": {"post": _operation(
            OPENAI, "Write the uploaded speech out in English (multilingual Whisper models)",
            {"200": _TRANSCRIPT, **_OPENAI_ERRORS},
            {"multipart/form-data": {"schema": _form(translation_fields, ["file", "model"])}})},
        "compat_openai_audio.list_models": {"get": _operation(
            OPENAI, "The speech models the live asr workers offer, and whisper-1",
            {"200": _json("{object: list, data: [model]}", {"type": "object", "properties": {
                "object": {"type": "string"}, "data": {"type": "array", "items": model}}}), **_OPENAI_ERRORS})},
        "compat_openai_audio.get_model": {"get": _operation(
            OPENAI, "One model of the list", {"200": _json("The model", model), "401": _error("Bad credentials"),
                                               "404": _error("No such model")})},
    }


def _libretranslate_operations() -> dict[str, dict]:
    """The LibreTranslate face's operations by Flask endpoint."""
    form_or_json = {kind: {"schema": _form(_TRANSLATE_FIELDS, ["q", "source", "target"])}
                    for kind in ("application/json", "application/x-www-form-urlencoded")}
    detect = {kind: {"schema": _form({"q": {"type": "string"}, **_KEY_PARAM}, ["q"])}
              for kind in ("application/json", "application/x-www-form-urlencoded")}
    file_fields = {"file": {**_FILE, "description": ".txt or .html (UTF-8)"},
                   "source": _TRANSLATE_FIELDS["source"], "target": _TRANSLATE_FIELDS["target"], **_KEY_PARAM}
    return {
        "compat_libretranslate.translate": {"post": _operation(
            LIBRETRANSLATE, "Translate q from source (or auto) to target",
            {"200": _json("{translatedText} (a list for a batch), detectedLanguage for auto, alternatives",
                          {"type": "object"}), **_LT_ERRORS}, form_or_json)},
        "compat_libretranslate.languages": {"get": _operation(
            LIBRETRANSLATE, "Every language of the live pairs, with the languages it translates to",
            {"200": _json("[{code, name, targets}]", _JSON_ARRAY)}, public=True)},
        "compat_libretranslate.detect_language": {"post": _operation(
            LIBRETRANSLATE, "The languages q may be in, most likely first (confidence in percent)",
            {"200": _json("[{language, confidence}]", _JSON_ARRAY), **_LT_ERRORS}, detect)},
        "compat_libretranslate.frontend_settings": {"get": _operation(
            LIBRETRANSLATE, "LibreTranslate's settings for its web page, from this installation",
            {"200": _json("Limits, languages and the default pair", {"type": "object"})}, public=True)},
        "compat_libretranslate.translate_file": {"post": _operation(
            LIBRETRANSLATE, "Translate an uploaded .txt or .html file; answers its URL",
            {"200": _json("{translatedFileUrl}", {"type": "object"}), **_LT_ERRORS},
            {"multipart/form-data": {"schema": _form(file_fields, ["file", "source", "target"])}})},
        "compat_libretranslate.download_file": {"get": _operation(
            LIBRETRANSLATE, "The file /translate_file translated (the job's random id is the capability)",
            {"200": {"description": "The translated file"}, "404": _error("No such file")}, public=True)},
    }


def document_faces(app: Flask, api: Api) -> None:
    """Add the two faces' tags and operations to the public document, at the paths their routes have."""
    rules = {rule.endpoint: rule for rule in app.url_map.iter_rules()}
    for tag in TAGS:
        api.spec.tag(tag)
    for endpoint, operations in {**_openai_operations(), **_libretranslate_operations()}.items():
        # The route's own rule: the path and its parameters cannot drift from what the face serves.
        api.spec.path(rule=rules[endpoint], operations=operations, parameters=[])

