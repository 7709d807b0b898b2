"""The speech-to-text job: decode the input in chunks, transcribe and report each, join them."""

from __future__ import annotations

import logging
import time
from contextlib import closing
from pathlib import Path
from typing import Any

from services.asr_worker.audio import FIRST_CHUNK_SECONDS, AudioChunk, DecodeError, iter_chunks
from services.asr_worker.catalog import ModelInfo, catalog, find_model, installed_models
from services.asr_worker.engines import ChunkTranscript, Engine, ModelLoadError, load_engine
from shared.handler import JobIO, PermanentError, TransientError
from shared.kinds.asr.params import TRANSCRIBE, validate_params
from shared.media_probe import MediaInfo, ProbeError, probe

LOGGER = logging.getLogger(__name__)

TIME_DECIMALS = 3
# A job this model is expected to finish within this many seconds runs as one chunk: its words all
# arrive within that time anyway, and a short first chunk would cost a whole extra engine pass
# (Whisper encodes every chunk as a 30 s window). Any longer job starts with a short chunk.
FIRST_WORDS_SECONDS = 2.0
# Engine seconds per audio second of each model in this process (a moving average over chunks):
# how fast this worker, on this machine under its present load, hears.
_seconds_per_audio_second: dict[str, float] = {}


def first_chunk_seconds(duration: float, chunk_seconds: float, pace: float | None) -> float | None:
    """How long the first chunk may be: FIRST_CHUNK_SECONDS, or None (no short first chunk) when a
    file of ``duration`` seconds at ``pace`` engine seconds per audio second ends within
    FIRST_WORDS_SECONDS, or is no longer than one short chunk. Before the pace is known (None), only
    a file longer than one chunk is split: it is cut anyway, while cutting a clip that one chunk
    holds could split a sentence and cost the transcript words for nothing measured."""
    if duration <= FIRST_CHUNK_SECONDS or chunk_seconds <= FIRST_CHUNK_SECONDS:
        return None
    if pace is None:
        return FIRST_CHUNK_SECONDS if duration > chunk_seconds else None
    if duration * pace <= FIRST_WORDS_SECONDS:
        return None
    return FIRST_CHUNK_SECONDS


def _note_pace(model_id: str, engine_seconds: float, audio_seconds: float) -> None:
    if audio_seconds <= 0:
        return
    pace = engine_seconds / audio_seconds
    before = _seconds_per_audio_second.get(model_id)
    _seconds_per_audio_second[model_id] = pace if before is None else 0.5 * before + 0.5 * pace


def _absolute_words(words: list[dict], chunk: AudioChunk, not_before: float) -> list[dict]:
    """Shift chunk-relative word times to the file's clock, inside the chunk, never going back."""
    placed = []
    for word in words:
        start = min(max(chunk.start + word["start"], not_before, chunk.start), chunk.end)
        end = min(max(chunk.start + word["end"], start), chunk.end)
        placed.append(
            {
                "word": word["word"],
                "start": round(start, TIME_DECIMALS),
                "end": round(end, TIME_DECIMALS),
                "conf": word["conf"],
            }
        )
        not_before = end
    return placed


def _absolute_segments(segments: list[dict], chunk: AudioChunk) -> list[dict]:
    """Segments on the file's clock; a decoder's ``seek`` (10 ms frames) moves by the chunk's start."""
    placed = []
    for segment in segments:
        moved = {
            **segment,
            "start": round(min(chunk.start + segment["start"], chunk.end), TIME_DECIMALS),
            "end": round(min(chunk.start + segment["end"], chunk.end), TIME_DECIMALS),
        }
        if "seek" in segment:
            moved["seek"] = round(chunk.start * 100) + segment["seek"]
        placed.append(moved)
    return placed


def _chunk_event(
    chunk: AudioChunk, heard: ChunkTranscript, words: list[dict], segments: list[dict],
    language: str | None,
) -> dict[str, Any]:
    # The segments travel with the chunk so that a cancelled job's exports keep sentence-long
    # segments rather than chunk-long ones.
    return {
        "seq": chunk.seq,
        "start": round(chunk.start, TIME_DECIMALS),
        "end": round(chunk.end, TIME_DECIMALS),
        "text": heard.text,
        "words": words,
        "segments": segments,
        "language": language,
    }


def _validated(requested: dict[str, Any]) -> dict[str, Any]:
    """The job's options checked against this worker's models (the API checked the fleet's)."""
    try:
        return validate_params(requested, catalog())
    except ValueError as exc:
        if requested.get("model") and requested["model"] not in {m.id for m in installed_models()}:
            # The API took it from another worker's catalog: that worker may take the retry.
            raise TransientError(
                f"model {requested['model']!r} is not installed on this worker"
            ) from exc
        raise PermanentError(str(exc)) from exc


def _model_and_engine(params: dict[str, Any]) -> tuple[ModelInfo, Engine]:
    """The job's model, loaded once per process; TransientError when it does not load here."""
    model = find_model(params["model"])
    try:
        return model, load_engine(model.engine, model.path)
    except ModelLoadError as exc:
        # Transient: a worker short of memory, or whose copy is damaged, is not every worker; the
        # attempt limit still ends a job whose model loads nowhere.
        raise TransientError(str(exc)) from exc


def _probe_audio(job_id: str, path: Path) -> MediaInfo:
    try:
        info = probe(path)
    except ProbeError as exc:
        raise PermanentError(str(exc)) from exc
    if info.first("audio") is None:
        raise PermanentError("the file has no audio stream")
    LOGGER.info("job %s: input is %s, %.1f s", job_id, info.format_name, info.duration)
    return info


def process(job: dict[str, Any], io: JobIO) -> dict[str, Any]:
    """Transcribe the job's audio, reporting each chunk when done; return the whole transcript."""
    params = _validated(job.get("params") or {})
    model, engine = _model_and_engine(params)
    path = io.input_path()
    info = _probe_audio(job["id"], path)
    total = info.duration
    language = params["language"]
    task = params.get("task", TRANSCRIBE)
    first = None if params.get("steady_chunks") else first_chunk_seconds(
        total, params["chunk_seconds"], _seconds_per_audio_second.get(model.id))
    LOGGER.info(
        "job %s: %s model %s, %s, language %s, a first chunk of %s s, then %g s",
        job["id"],
        model.engine,
        model.id,
        task,
        language or "auto",
        f"{first:g}" if first else f"{params['chunk_seconds']:g}",
        params["chunk_seconds"],
    )
    io.progress(0, total, "seconds")

    words: list[dict] = []
    segments: list[dict] = []
    texts: list[str] = []
    done = 0.0
    # closing(): a cancel raised mid-loop stops ffmpeg now, not when the generator is collected.
    try:
        # A short first chunk: its words reach the client while the rest is heard.
        with closing(iter_chunks(path, info, params["chunk_seconds"], first)) as chunks:
            for chunk in chunks:
                started = time.perf_counter()
                heard = engine.transcribe(chunk.pcm, language, task)
                _note_pace(model.id, time.perf_counter() - started, chunk.duration)
                if language is None and heard.words:
                    # Detect once, on the first chunk with speech: later chunks keep that language.
                    language = heard.language
                placed = _absolute_words(heard.words, chunk, words[-1]["end"] if words else 0.0)
                words.extend(placed)
                placed_segments = _absolute_segments(heard.segments, chunk)
                segments.extend(placed_segments)
                if heard.text:
                    texts.append(heard.text)
                done = chunk.end
                # A header's duration can be a little off; never report more done than the total.
                total = max(total, done)
                io.chunk(chunk.seq, _chunk_event(chunk, heard, placed, placed_segments, language))
                io.progress(round(done, TIME_DECIMALS), round(total, TIME_DECIMALS), "seconds")
    except DecodeError as exc:
        raise PermanentError(f"the audio could not be decoded: {exc}") from exc
    if 0 < done < total:
        # The header promised more audio than the stream held: all of it is done all the same.
        io.progress(round(done, TIME_DECIMALS), round(done, TIME_DECIMALS), "seconds")

    LOGGER.info("job %s: %d words in %.1f s of audio", job["id"], len(words), done)
    return {
        "text": " ".join(texts),
        "language": language or _sole_language(model.languages),
        "duration": round(done, TIME_DECIMALS),
        "words": words,
        "segments": segments,
        "engine": model.engine,
        "model": model.id,
    }


def _sole_language(languages: tuple[str, ...]) -> str | None:
    return languages[0] if len(languages) == 1 else None
