"""The pipeline presets: a name and a few options that expand into explicit steps.

Pure functions: a preset only writes the steps a client could have sent itself, so the same
checks (shared.pipelineflow.check_dag, then each kind's contract) apply to both.
"""
from __future__ import annotations

from typing import Any, Callable

from shared.kinds.vision.catalog import TEXT_ID
from shared.pipelineflow import UPLOAD, PipelineRefused

DEFAULT_SOURCE_LANG = "en"

# The subtitles preset's options for its last step: the container, the language drawn in, its size.
VIDEO_OPTIONS = ("mux", "burn_in", "subtitle_size")
MUX_TARGETS = ("mp4", "mkv", "mov", "webm")
DEFAULT_BURN_IN_TARGET = "mp4"


def _target_langs(options: dict[str, Any]) -> list[str]:
    """The languages to translate into: ``target_lang`` or ``target_langs`` (one step each)."""
    langs = options.get("target_langs", options.get("target_lang"))
    if isinstance(langs, str):
        langs = [langs]
    if not isinstance(langs, list) or not langs or not all(isinstance(lang, str) and lang for lang in langs):
        raise PipelineRefused("Give target_lang (a language code) or target_langs (a list of them).")
    if len(set(langs)) != len(langs):
        raise PipelineRefused("target_langs lists a language twice.")
    return langs


def _only(options: dict[str, Any], allowed: set[str], preset: str) -> None:
    unknown = set(options) - allowed
    if unknown:
        raise PipelineRefused(f"Preset {preset!r} has no option(s) {', '.join(sorted(unknown))}; "
                              f"it takes {', '.join(sorted(allowed))}.")


def _translations(source_step: str, source_lang: str, langs: list[str]) -> list[dict[str, Any]]:
    """One translate step per target language, all reading ``source_step`` (a fan-out)."""
    return [{"name": f"translate-{lang}", "kind": "translate", "input": source_step,
             "options": {"source_lang": source_lang, "target_lang": lang}} for lang in langs]


def transcribe_translate(options: dict[str, Any]) -> list[dict[str, Any]]:
    """audio or video -> asr -> the transcript, one line per segment, translated per language."""
    _only(options, {"target_lang", "target_langs", "source_lang", "engine", "model"}, "transcribe-translate")
    source_lang = options.get("source_lang", DEFAULT_SOURCE_LANG)
    asr = {key: options[key] for key in ("engine", "model") if key in options}
    asr["language"] = source_lang
    return [{"name": "transcribe", "kind": "asr", "input": UPLOAD, "options": asr},
            *_translations("transcribe", source_lang, _target_langs(options))]


def read_translate(options: dict[str, Any]) -> list[dict[str, Any]]:
    """image -> the vision worker's OCR (PP-OCRv4) -> the text found, one line per box, translated."""
    _only(options, {"target_lang", "target_langs", "source_lang"}, "read-translate")
    source_lang = options.get("source_lang", DEFAULT_SOURCE_LANG)
    return [{"name": "read", "kind": "vision", "input": UPLOAD,
             "options": {"detection_model_id": TEXT_ID, "max_detections": 1000}},
            *_translations("read", source_lang, _target_langs(options))]


def subtitles(options: dict[str, Any]) -> list[dict[str, Any]]:
    """video or audio -> convert (the sound track as wav) -> asr -> each language's translation
    [-> convert: the video with the subtitles in it].

    Each language's subtitles (srt, vtt) are made from the transcript's segment timings and the
    translated lines: GET /api/v1/pipelines/<id>/subtitles/<lang>?format=vtt. With ``mux`` (mp4,
    mkv, mov or webm) a last convert step, ``add-subtitles``, writes the uploaded video into that
    container with one subtitle stream per language (tagged with its ISO 639-2 code and its name);
    with ``burn_in`` (one of the languages) it draws that language into the picture instead,
    ``subtitle_size`` percent of the picture high (into mp4 unless ``mux`` names another container,
    which then holds the other languages as streams).
    """
    _only(options, {"target_lang", "target_langs", "source_lang", "engine", "model", *VIDEO_OPTIONS}, "subtitles")
    source_lang = options.get("source_lang", DEFAULT_SOURCE_LANG)
    langs = _target_langs(options)
    asr = {key: options[key] for key in ("engine", "model") if key in options}
    asr["language"] = source_lang
    steps = [{"name": "extract-audio", "kind": "convert", "input": UPLOAD,
              "options": {"target": "wav", "sample_rate": 16000, "channels": 1}},
             {"name": "transcribe", "kind": "asr", "input": "extract-audio", "options": asr},
             *_translations("transcribe", source_lang, langs)]
    video = _subtitled_video(options, langs)
    return steps + ([video] if video else [])


def _subtitled_video(options: dict[str, Any], langs: list[str]) -> dict[str, Any] | None:
    """The convert step putting the translations into the uploaded video, or None when not asked for."""
    mux, burn_in, size = (options.get(name) for name in VIDEO_OPTIONS)
    if mux is None and burn_in is None:
        if size is not None:
            raise PipelineRefused("subtitle_size sizes burned-in subtitles: give burn_in too.")
        return None
    if mux is not None and mux not in MUX_TARGETS:
        raise PipelineRefused(f"mux must be one of {', '.join(MUX_TARGETS)} (the container of the video "
                              "with the subtitles), or null.")
    if burn_in is not None and burn_in not in langs:
        raise PipelineRefused(f"burn_in must be one of the target languages ({', '.join(langs)}), or null.")
    # Burning in alone draws one language; muxing carries every language (but the one drawn in).
    tracks = langs if mux is not None else [burn_in]
    convert: dict[str, Any] = {"target": mux or DEFAULT_BURN_IN_TARGET}
    if burn_in is not None:
        convert["burn_in"] = burn_in
    if size is not None:
        convert["subtitle_size"] = size
    return {"name": "add-subtitles", "kind": "convert", "input": UPLOAD, "options": convert,
            "subtitles": [f"translate-{lang}" for lang in tracks]}


PRESETS: dict[str, Callable[[dict[str, Any]], list[dict[str, Any]]]] = {
    "transcribe-translate": transcribe_translate,
    "read-translate": read_translate,
    "subtitles": subtitles,
}


def expand(preset: str, options: Any) -> list[dict[str, Any]]:
    """The steps of ``preset`` with ``options``; PipelineRefused for an unknown preset or option."""
    if preset not in PRESETS:
        raise PipelineRefused(f"Unknown preset {preset!r}; use one of {', '.join(PRESETS)}.")
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise PipelineRefused("options must be an object.")
    return PRESETS[preset](options)
