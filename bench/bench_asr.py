"""Speech-to-text benchmark: the job pipeline against a bare engine call, and how well models hear.

1. Speed: the same 60 s espeak-ng clip through a bare faster-whisper call (model loaded, file
   decoded by faster-whisper; with its default options and with the engine's) and through
   ``transcribe.process`` (probe, ffmpeg pipe, chunks, events). Real-time factor (RTF = processing
   seconds / audio seconds) side by side, and the ratios. Whisper's temperature fallback samples at
   random, so runs of the same clip vary: the median of interleaved runs is printed, and the
   probe + decode row shows the pipeline's own, deterministic cost.
2. Accuracy: word error rate on 10+ espeak-ng sentences for every installed model (Korean for
   vosk-ko, with the character error rate beside it: one wrong syllable fails a whole Korean word).

    python bench/bench_asr.py [--runs 3] [--skip-accuracy]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from services.asr_worker.audio import iter_chunks
from services.asr_worker.catalog import find_model, installed_models
from services.asr_worker.engines import WHISPER_OPTIONS, load_engine
from services.asr_worker.transcribe import process
from shared.media_probe import probe
from tests.fakes import FakeJobIO
from tests.media import (
    ENGLISH_SENTENCES,
    KOREAN_SENTENCES,
    character_errors,
    encode,
    speak,
    wav_seconds,
    word_errors,
)

CLIP_SECONDS = 60
SPANISH_SENTENCES = [
    "El perro come pan.",
    "La casa es grande y bonita.",
    "Hoy hace buen tiempo.",
    "Me gusta leer libros por la noche.",
    "Mi hermana vive en la ciudad.",
    "El tren sale a las ocho.",
    "Necesito comprar leche y huevos.",
    "Los niños juegan en el parque.",
    "La comida está muy rica.",
    "Vamos a la playa mañana.",
]


def make_clip(folder: Path) -> Path:
    """A 60 s English clip: the test sentences spoken three times over, cut to exactly 60 s."""
    long_wav = speak(" ".join(ENGLISH_SENTENCES * 3), folder / "long.wav")
    return encode(long_wav, folder / "clip.wav", "-t", str(CLIP_SECONDS))


def bare_faster_whisper(model_dir: Path, clip: Path, **options) -> float:
    """Seconds for one bare faster-whisper transcription of the clip (model already loaded)."""
    model = load_engine("whisper", model_dir).model
    started = time.perf_counter()
    segments, _ = model.transcribe(str(clip), language="en", **options)
    list(segments)
    return time.perf_counter() - started


def domain_process(clip: Path, chunk_seconds: float) -> float:
    """Seconds for one ``process`` run of the clip (model already loaded, as in a warm worker)."""
    started = time.perf_counter()
    process({"id": "bench", "params": {"chunk_seconds": chunk_seconds}}, FakeJobIO(input_file=clip))
    return time.perf_counter() - started


def decode_only(clip: Path, chunk_seconds: float) -> float:
    """Seconds the pipeline spends outside the engine: probing and decoding the clip into chunks."""
    started = time.perf_counter()
    info = probe(clip)
    for _ in iter_chunks(clip, info, chunk_seconds):
        pass
    return time.perf_counter() - started


def speed(folder: Path, runs: int) -> None:
    """Print RTF of the bare call and of the domain function, side by side."""
    clip = make_clip(folder)
    seconds = wav_seconds(clip)
    model = find_model("whisper-tiny.en")
    load_engine(model.engine, model.path)
    bare_faster_whisper(
        model.path, clip, **WHISPER_OPTIONS
    )  # warm-up: first call pays for lazy initialisation
    defaults = {"word_timestamps": True, "vad_filter": True}
    rows = [
        (
            "bare faster-whisper, default options",
            lambda: bare_faster_whisper(model.path, clip, **defaults),
        ),
        (
            "bare faster-whisper, the engine's options",
            lambda: bare_faster_whisper(model.path, clip, **WHISPER_OPTIONS),
        ),
    ]
    for chunk_seconds in (30, 900):
        rows.append(
            (
                f"process(), chunk_seconds={chunk_seconds}",
                lambda c=chunk_seconds: domain_process(clip, c),
            )
        )
    rows.append(("probe + ffmpeg decode only (no engine)", lambda: decode_only(clip, 30)))
    print(
        f"\n== speed: whisper-tiny.en, int8 CPU, {seconds:.1f} s clip, median of {runs} runs "
        f"(runs interleaved) =="
    )
    timings: dict[str, list[float]] = {name: [] for name, _ in rows}
    for _ in range(runs):
        for name, run in rows:
            timings[name].append(run())
    default_bare = statistics.median(timings[rows[0][0]])
    same_bare = statistics.median(timings[rows[1][0]])
    print(
        f"{'variant':44} {'median s':>9} {'RTF':>7} "
        f"{'vs bare default':>16} {'vs bare same opts':>18}"
    )
    for name, _ in rows:
        median = statistics.median(timings[name])
        print(
            f"{name:44} {median:9.2f} {median / seconds:7.3f} {median / default_bare:15.2f}x "
            f"{median / same_bare:17.2f}x"
        )


def _score(
    model_id: str, sentences: list[str], voice: str, language: str | None, folder: Path
) -> tuple[float, float, float]:
    words = word_total = chars = char_total = 0
    audio = busy = 0.0
    for n, sentence in enumerate(sentences):
        wav = speak(sentence, folder / f"{model_id}-{n}.wav", voice=voice, words_per_minute=150)
        params = {"model": model_id, "language": language}
        started = time.perf_counter()
        text = process({"id": "bench", "params": params}, FakeJobIO(input_file=wav))["text"]
        busy += time.perf_counter() - started
        audio += wav_seconds(wav)
        errors, total = word_errors(sentence, text)
        words, word_total = words + errors, word_total + total
        errors, total = character_errors(sentence, text)
        chars, char_total = chars + errors, char_total + total
    return words / word_total, chars / char_total, busy / audio


def accuracy(folder: Path) -> None:
    """Print WER (and CER) of every installed model on sentences spoken by espeak-ng."""
    print("\n== accuracy: espeak-ng speech, one clip per sentence ==")
    print(f"{'model':18} {'speech':22} {'WER':>6} {'CER':>6} {'RTF':>6}")
    for model in installed_models():
        suites = []
        if "en" in model.languages:
            suites.append(("English", ENGLISH_SENTENCES, "en-us", "en"))
        if "es" in model.languages:
            suites.append(("Spanish (given)", SPANISH_SENTENCES, "es", "es"))
            suites.append(("Spanish (detected)", SPANISH_SENTENCES, "es", None))
        if "ko" in model.languages:
            suites.append(("Korean", KOREAN_SENTENCES, "ko", "ko"))
        for label, sentences, voice, language in suites:
            wer, cer, rtf = _score(model.id, sentences, voice, language, folder)
            print(
                f"{model.id:18} {label + f' x{len(sentences)}':22} {wer:6.1%} {cer:6.1%} {rtf:6.3f}"
            )


def main() -> int:
    """Run the speed and accuracy benchmarks and print their tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-accuracy", action="store_true")
    args = parser.parse_args()
    print(
        f"cores: {os.cpu_count()}, "
        f"CONVEYOR_ASR_THREADS={os.environ.get('CONVEYOR_ASR_THREADS', '0 (auto)')}"
    )
    with tempfile.TemporaryDirectory() as folder:
        speed(Path(folder), args.runs)
        if not args.skip_accuracy:
            accuracy(Path(folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
