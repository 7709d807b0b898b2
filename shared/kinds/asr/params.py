"""Check and normalise a speech-to-text job's options, at submit time and again in the worker."""

from __future__ import annotations

import math

# The engines of services.asr_worker.engines, named here so that the API, which checks options
# against them, imports no engine library.
ENGINE_NAMES = ("whisper", "vosk")
DEFAULT_ENGINE = "whisper"
DEFAULT_CHUNK_SECONDS = 30.0
MIN_CHUNK_SECONDS = 5.0
MAX_CHUNK_SECONDS = 1800.0
PARAM_NAMES = ("engine", "model", "language", "chunk_seconds", "task", "steady_chunks")
TRANSCRIBE = "transcribe"
# Whisper's other task: speech in any of its languages written out in English.
TRANSLATE = "translate"


def _choose_model(engine: str | None, model_id: str | None, models: list[dict]) -> dict:
    if model_id:
        model = next((m for m in models if m["id"] == model_id), None)
        if model is None:
            installed = ", ".join(sorted({m["id"] for m in models})) or "none"
            raise ValueError(f"unknown model {model_id!r} (installed: {installed})")
        if engine and model["engine"] != engine:
            raise ValueError(
                f"model {model_id!r} belongs to engine {model['engine']!r}, not {engine!r}"
            )
        return model
    engine = engine or DEFAULT_ENGINE
    of_engine = [m for m in models if m["engine"] == engine]
    if not of_engine:
        raise ValueError(f"no model of engine {engine!r} is installed")
    return next((m for m in of_engine if m.get("default")), of_engine[0])


def _choose_language(model: dict, language: object) -> str | None:
    languages = list(model["languages"])
    if language is None or (isinstance(language, str) and language.strip().lower() in ("", "auto")):
        if model["detects_language"]:
            return None
        if len(languages) == 1:
            return languages[0]
        raise ValueError(
            f"model {model['id']!r} cannot detect the language: choose one of {languages}"
        )
    if not isinstance(language, str):
        raise ValueError("language must be a language code such as 'en', or 'auto'")
    # Region subtags do not change the model: "en-US" and "pt_BR" mean "en" and "pt".
    code = language.strip().lower().replace("_", "-").split("-")[0]
    if code not in languages:
        raise ValueError(
            f"model {model['id']!r} does not speak {language!r} (it speaks {', '.join(languages)})"
        )
    return code


def can_translate(model: dict) -> bool:
    """Whether a catalog model can write speech out in English: multilingual Whisper models can."""
    return model["engine"] == "whisper" and bool(model["detects_language"])


def _task(model: dict, value: object) -> str:
    if value is None or value == "" or value == TRANSCRIBE:
        return TRANSCRIBE
    if value != TRANSLATE:
        raise ValueError(f"task must be {TRANSCRIBE!r} or {TRANSLATE!r}, not {value!r}")
    if not can_translate(model):
        raise ValueError(
            f"model {model['id']!r} cannot translate: only a multilingual Whisper model "
            "writes speech out in English"
        )
    return TRANSLATE


def _chunk_seconds(value: object) -> float:
    if value is None or value == "":
        return DEFAULT_CHUNK_SECONDS
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"chunk_seconds must be a number, not {value!r}") from None
    if (
        isinstance(value, bool)
        or not math.isfinite(seconds)
        or not MIN_CHUNK_SECONDS <= seconds <= MAX_CHUNK_SECONDS
    ):
        raise ValueError(
            f"chunk_seconds must be between {MIN_CHUNK_SECONDS:g} and {MAX_CHUNK_SECONDS:g}"
        )
    return seconds


def validate_params(params: dict | None, models: list[dict]) -> dict:
    """Normalise {engine, model, language, chunk_seconds, task}; a clear ValueError if invalid.

    ``models`` is a model catalog in its public form: what the workers reported to the API, or a
    worker's own installed models. Other keys in ``params`` are not this kind's business and are left
    out. The answer names engine and model; ``language`` is None when the model detects it (with
    ``task`` "translate", the language spoken, not English). ``task`` is named only when it is
    "translate": a transcription's options read as they did before the option existed, and so is
    ``steady_chunks`` only when true: every chunk ``chunk_seconds`` long from the start (a surface
    whose clients count chunks on that grid), without the short first chunk the worker otherwise
    makes so that the first words come early.
    """
    params = params or {}
    engine = params.get("engine") or None
    if engine is not None and engine not in ENGINE_NAMES:
        raise ValueError(f"unknown engine {engine!r} (engines: {', '.join(ENGINE_NAMES)})")
    model = _choose_model(engine, params.get("model") or None, models)
    checked = {
        "engine": model["engine"],
        "model": model["id"],
        "language": _choose_language(model, params.get("language")),
        "chunk_seconds": _chunk_seconds(params.get("chunk_seconds")),
    }
    if _task(model, params.get("task")) == TRANSLATE:
        checked["task"] = TRANSLATE
    if params.get("steady_chunks") is True:
        checked["steady_chunks"] = True
    return checked
