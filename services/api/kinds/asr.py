"""The speech-to-text kind in the API: options, the upload's probe at submit, transcript exports."""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Optional

from flask import current_app
from marshmallow import fields

from services.api.kinds.base import KindSpec, SubmitCommonSchema, SubmitRefused, live_models, require_workers
from shared.kinds.asr.exports import FORMATS, export, transcript_of
from shared.kinds.asr.params import DEFAULT_CHUNK_SECONDS, ENGINE_NAMES, TRANSCRIBE, TRANSLATE, validate_params
from shared.media_probe import MediaInfo, ProbeError, probe

RESULT_DOC = (
    "Submit the audio or video file as multipart/form-data ('file': mp3, wav, ogg/opus, flac, "
    "m4a/aac, webm, mp4, mkv, ...; it is probed at submit: no audio stream, undecodable, or a "
    "duration outside the configured bounds is refused with 400) and these fields. While the job "
    "runs, progress counts audio seconds and each finished chunk is a chunk event {seq, start, "
    "end, text, words, segments, language}. The result is {text, language, duration, words: "
    "[{word, start, end, conf}], segments: [{start, end, text, and for Whisper seek, tokens, "
    "temperature, avg_logprob, compression_ratio, no_speech_prob}], engine, model}, times in "
    "seconds from the start of the file. A cancelled job keeps its chunks (status partial): its result and exports are "
    "assembled from them and say \"partial\": true. Exports: txt, docx, srt, vtt, json. Model "
    "ids, languages and sizes: GET /api/v1/models.")


class AsrParamsSchema(SubmitCommonSchema):
    class Meta:
        description = RESULT_DOC

    engine = fields.String(allow_none=True, metadata={
        "description": "whisper (the default) or vosk", "enum": list(ENGINE_NAMES)})
    model = fields.String(allow_none=True, metadata={
        "description": "A model id from GET /api/v1/models (default: the engine's default model)"})
    language = fields.String(allow_none=True, metadata={
        "description": "A language code such as en, or auto (the default) where the model detects "
                       "it; a one-language model needs none"})
    task = fields.String(allow_none=True, metadata={
        "enum": [TRANSCRIBE, TRANSLATE],
        "description": "transcribe (the default), or translate: the speech written out in English "
                       "(multilingual Whisper models only)"})
    chunk_seconds = fields.Float(allow_none=True, metadata={
        "description": f"Audio per chunk event, 5 to 1800 s (default {DEFAULT_CHUNK_SECONDS:g})"})
    steady_chunks = fields.Boolean(allow_none=True, metadata={
        "description": "true: every chunk event holds chunk_seconds of audio from the start. Default: a "
                       "long job's first chunk is short, so that its first words arrive within about 2 s"})


def _probe_upload(upload: Path) -> MediaInfo:
    """The upload's probe; 400 unless it decodes, holds audio and lasts within the bounds."""
    try:
        info = probe(upload)
    except ProbeError as exc:
        raise SubmitRefused(f"The file cannot be transcribed: {exc}.") from exc
    if info.first("audio") is None:
        raise SubmitRefused("The file cannot be transcribed: it has no audio stream.")
    shortest = current_app.config["MIN_AUDIO_SECONDS"]
    longest = current_app.config["MAX_AUDIO_SECONDS"]
    if not shortest <= info.duration <= longest:
        raise SubmitRefused(
            f"The audio lasts {info.duration:.1f} s; this installation transcribes audio of "
            f"{shortest:g} s to {longest:g} s ({longest / 3600:g} h).")
    return info


def check(params: dict[str, Any], upload: Optional[Path]) -> dict[str, Any]:
    """503 without a worker; then the options against the live catalog, then the file's probe."""
    require_workers("asr")
    if upload is None:
        raise SubmitRefused("A transcription needs an audio or video file: send it as the 'file' "
                            "part.")
    try:
        normalized = validate_params(params, models=live_models("asr"))
    except ValueError as exc:
        raise SubmitRefused(str(exc)) from exc
    info = _probe_upload(upload)
    # Known at submit, so a client can show "x of y seconds" before the worker reports progress.
    return {**normalized, "duration": round(info.duration, 3)}


def assemble_partial(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """A cancelled job's transcript from its chunks, in the result's shape, marked partial."""
    return transcript_of(chunks)


SPEC = KindSpec("asr", AsrParamsSchema, needs_file=True, check=check,
                exporters={fmt: functools.partial(export, fmt=fmt) for fmt in FORMATS},
                assemble_partial=assemble_partial)
