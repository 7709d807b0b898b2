"""Speech engines behind one small interface: PCM chunk in, words and segments (chunk-relative) out.

A third engine is one more class with ``transcribe``, an entry in ``ENGINES`` and its name in
``shared.kinds.asr.params.ENGINE_NAMES``. Engine libraries are imported when a model is loaded, so
listing the engines costs nothing to the API.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from shared.config import Config

LOGGER = logging.getLogger(__name__)

# Models are loaded from local directories only; this makes any accidental hub lookup fail fast.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SAMPLE_RATE = 16_000
# Word times for the result; Silero VAD (shipped inside faster-whisper) skips silence, so silence
# cannot hallucinate text. Not conditioning on the previous window's text avoids the repetition
# loops that set off temperature fallbacks: on bench_asr's 60 s clip it cut tiny.en's WER from
# 27 % to 12 % and its time by about 2.5x.
WHISPER_OPTIONS = {"word_timestamps": True, "vad_filter": True, "condition_on_previous_text": False}
# Stretches no word covers are heard again (``unheard_stretches``).
UNHEARD_SECONDS = 2.0
MIN_WORD_SECONDS = 0.02
MAX_REHEARD = 3


@dataclass
class ChunkTranscript:
    """What an engine heard in one chunk; times are seconds from the chunk's start."""

    text: str
    language: str | None
    words: list[dict] = field(default_factory=list)
    segments: list[dict] = field(default_factory=list)


class Engine(Protocol):
    """A loaded model that turns 16 kHz mono s16le PCM into a transcript."""

    def transcribe(
        self, pcm: bytes, language: str | None, task: str = "transcribe"
    ) -> ChunkTranscript:
        """Transcribe one chunk, or translate it to English; ``language`` None detects it."""


def _word(text: str, start: float, end: float, conf: float) -> dict:
    return {
        "word": text.strip(),
        "start": float(start),
        "end": float(end),
        "conf": round(float(conf), 4),
    }


def _decoded_segment(segment, text: str, offset: float = 0.0) -> dict:
    """A faster-whisper segment with what the decoder knew of it (OpenAI's verbose_json passes it on).

    ``seek`` is the decoding window's offset in 10 ms frames, counted in the audio the VAD kept of
    the stretch decoded; times are moved by ``offset``, the stretch's start in the chunk.
    """
    return {
        "start": float(segment.start) + offset,
        "end": float(segment.end) + offset,
        "text": text,
        "seek": int(segment.seek),
        "tokens": [int(token) for token in segment.tokens],
        "temperature": float(segment.temperature if segment.temperature is not None else 0.0),
        "avg_logprob": round(float(segment.avg_logprob), 4),
        "compression_ratio": round(float(segment.compression_ratio), 4),
        "no_speech_prob": round(float(segment.no_speech_prob), 4),
    }


class WhisperEngine:
    """faster-whisper (CTranslate2, int8 on the CPU) over a converted Whisper model directory."""

    def __init__(self, model_dir: Path, threads: int = 0):
        from faster_whisper import WhisperModel

        self.model = WhisperModel(
            str(model_dir),
            device="cpu",
            compute_type="int8",
            cpu_threads=threads,
            local_files_only=True,
        )

    def transcribe(
        self, pcm: bytes, language: str | None, task: str = "transcribe"
    ) -> ChunkTranscript:
        """Transcribe, or translate to English, with word timestamps (WHISPER_OPTIONS)."""
        import numpy as np  # here, not at the top: the API lists engines without numpy

        samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
        words, kept, detected = self._hear(samples, 0.0, language, task)
        if words:
            for start, end in unheard_stretches(words, len(samples) / SAMPLE_RATE):
                stretch = samples[round(start * SAMPLE_RATE):round(end * SAMPLE_RATE)]
                more_words, more_segments, _ = self._hear(stretch, start, language or detected, task)
                if more_words:
                    # A word of no length stamped in the stretch was the early end's placeholder.
                    words = [w for w in words if not start <= w["start"] <= end] + more_words
                kept.extend(more_segments)
            words.sort(key=lambda w: w["start"])
            kept.sort(key=lambda s: s["start"])
        return ChunkTranscript(
            text=" ".join(s["text"] for s in kept),
            language=detected,
            words=words,
            segments=kept,
        )

    def _hear(self, samples, offset: float, language: str | None,
              task: str) -> tuple[list[dict], list[dict], str | None]:
        """Words and segments of one stretch of audio (times moved by ``offset``), and its language."""
        segments, info = self.model.transcribe(
            samples, language=language, task=task, **WHISPER_OPTIONS
        )
        words, kept = [], []
        for segment in segments:
            text = segment.text.strip()
            if not text:
                continue
            kept.append(_decoded_segment(segment, text, offset))
            words.extend(
                _word(w.word, w.start + offset, w.end + offset, w.probability)
                for w in segment.words or ()
            )
        return [w for w in words if w["word"]], kept, info.language


def unheard_stretches(words: list[dict], duration: float) -> list[tuple[float, float]]:
    """The longest stretches (at most ``MAX_REHEARD``) of at least ``UNHEARD_SECONDS`` that no
    timed word covers: between two words, or after the last one up to ``duration``.

    Whisper may end a window early, with speech still to come, sometimes with a last word of no
    length stamped at the window's end: tiny.en (int8, on a CPU without AVX-512) once dropped the
    last 5 s of a 17 s chunk of test speech that way. Such a stretch is heard again on its own;
    when it is a pause, the VAD drops it before any decoding.
    """
    timed = [w for w in words if w["end"] - w["start"] >= MIN_WORD_SECONDS]
    edges = [w["end"] for w in timed]
    starts = [w["start"] for w in timed[1:]] + [duration]
    gaps = [(start, end) for start, end in zip(edges, starts) if end - start >= UNHEARD_SECONDS]
    return sorted(sorted(gaps, key=lambda gap: gap[0] - gap[1])[:MAX_REHEARD])


class VoskEngine:
    """Vosk (Kaldi) over any Vosk model directory: timed words, one recognizer kept per thread.

    A new recognizer starts cold: on a 60 s clip cut in two chunks, fresh recognizers took ~40% longer
    than one recognizer reset between chunks. After ``Reset()`` Vosk keeps counting time from its
    creation, so each chunk's times are taken back by the audio fed before it.
    """

    # Feed the recognizer a quarter second at a time, as Vosk's own examples do.
    _BLOCK_BYTES = SAMPLE_RATE // 4 * 2

    def __init__(self, model_dir: Path, threads: int = 0):
        import vosk

        vosk.SetLogLevel(-1)
        self._vosk = vosk
        self.model = vosk.Model(str(model_dir))
        self._local = threading.local()

    def _recognizer(self):
        """This thread's recognizer, reset, and the seconds of audio it was fed before."""
        local = self._local
        if getattr(local, "recognizer", None) is None:
            local.recognizer = self._vosk.KaldiRecognizer(self.model, SAMPLE_RATE)
            local.recognizer.SetWords(True)
            local.fed_seconds = 0.0
        else:
            local.recognizer.Reset()
        return local.recognizer, local.fed_seconds

    def release(self) -> None:
        """Drop this thread's recognizer (its native memory is freed now, not at interpreter exit)."""
        vars(self._local).clear()

    def transcribe(
        self, pcm: bytes, language: str | None, task: str = "transcribe"
    ) -> ChunkTranscript:
        """Transcribe with SetWords(True); every utterance Vosk closes becomes a segment."""
        if task != "transcribe":
            # params.validate_params refuses this before a job reaches the engine.
            raise ValueError("Vosk models only transcribe")
        recognizer, base = self._recognizer()
        utterances = []
        for offset in range(0, len(pcm), self._BLOCK_BYTES):
            if recognizer.AcceptWaveform(pcm[offset : offset + self._BLOCK_BYTES]):
                utterances.append(json.loads(recognizer.Result()))
        utterances.append(json.loads(recognizer.FinalResult()))
        self._local.fed_seconds = base + len(pcm) / (SAMPLE_RATE * 2)
        words, segments = [], []
        for utterance in utterances:
            heard = [
                _word(w["word"], max(0.0, w["start"] - base), max(0.0, w["end"] - base),
                      w.get("conf", 1.0))
                for w in utterance.get("result", ())
            ]
            heard = [w for w in heard if w["word"]]
            if heard:
                words.extend(heard)
                segments.append(
                    {
                        "start": heard[0]["start"],
                        "end": heard[-1]["end"],
                        "text": " ".join(w["word"] for w in heard),
                    }
                )
        return ChunkTranscript(
            text=" ".join(s["text"] for s in segments),
            language=language,
            words=words,
            segments=segments,
        )


ENGINES: dict[str, type] = {"whisper": WhisperEngine, "vosk": VoskEngine}

_loaded: dict[tuple[str, str], Engine] = {}
_failed: set[tuple[str, str]] = set()
_load_lock = threading.Lock()


@atexit.register
def _release_native_models() -> None:
    """Free Vosk's native objects while its module still exists: its finalizers fail during teardown."""
    for engine in _loaded.values():
        if isinstance(engine, VoskEngine):
            engine.release()
    _loaded.clear()


class ModelLoadError(RuntimeError):
    """A model directory did not load (missing or corrupt files, not enough memory)."""


def load_engine(engine: str, model_dir: Path) -> Engine:
    """The engine for a model directory, loaded once per process and reused by every later job."""
    key = (engine, str(model_dir))
    with _load_lock:
        if key not in _loaded:
            threads = Config().ASR_THREADS
            LOGGER.info("loading %s model from %s", engine, model_dir)
            try:
                _loaded[key] = ENGINES[engine](model_dir, threads=threads)
            # Vosk raises a bare Exception and CTranslate2 a RuntimeError or ValueError: whatever
            # the library, the caller needs one error that names the model.
            except Exception as exc:  # noqa: BLE001
                _failed.add(key)
                raise ModelLoadError(
                    f"the {engine} model in {model_dir.name} could not be loaded: {exc}"
                ) from exc
            _failed.discard(key)
        return _loaded[key]


def load_failed(engine: str, model_dir: Path) -> bool:
    """Whether the last attempt to load this model in this process failed."""
    return (engine, str(model_dir)) in _failed
