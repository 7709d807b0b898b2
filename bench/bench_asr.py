"""Speech-to-text benchmark: the job pipeline against a bare engine call, and how well models hear.

1. Speed: the same 60 s espeak-ng clip through a bare faster-whisper call (model loaded, file
   decoded by faster-whisper; with its default options and with the engine's) and through
   ``transcribe.process`` (probe, ffmpeg pipe, chunks, events). Real-time factor (RTF = processing
   seconds / audio seconds) side by side, and the ratios. Whisper's temperature fallback samples at
   random, so runs of the same clip vary: the median of interleaved runs is printed, and the
   probe + decode row shows the pipeline's own, deterministic cost. Then the time to the first
   words and to the end of a job alone against the bare call, on a 14.55 s, 20 s and 60 s clip
   (goals: first words within 2 s, the whole job <= 1.10x the bare call).
2. Accuracy: word error rate on 10+ espeak-ng sentences for every installed model (Korean for
   vosk-ko, with the character error rate beside it: one wrong syllable fails a whole Korean word).
3. Platform: the 60 s clip (English for Whisper, Korean for Vosk) submitted to the API under
   gunicorn, relayed through RabbitMQ to a ``python -m services.asr_worker`` process and followed
   on its event stream to the end, against the bare engine call on the same file in the same run
   (RTF and ratio; target <= 1.10); then jobs per minute with 1 and 2 worker processes on the
   queue. Needs PostgreSQL and RabbitMQ; uses its own database and queue prefix.

    python bench/bench_asr.py [--runs 3] [--skip-speed] [--skip-accuracy] [--skip-platform]
                              [--jobs 6]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path

import psycopg
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.bench_platform import api_under_gunicorn, follow_to_end, wait_http
from bench.bench_platform import process as running
from services.asr_worker.audio import iter_chunks
from services.asr_worker.catalog import find_model, installed_models
from services.asr_worker.engines import WHISPER_OPTIONS, load_engine
from services.asr_worker.transcribe import process
from shared.config import DEV_AMQP_URL, Config
from shared.kinds.asr.params import DEFAULT_CHUNK_SECONDS
from shared.media_probe import ffmpeg_exe, probe
from tests.broker_tools import BrokerTools
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

ROOT = Path(__file__).resolve().parent.parent
CLIP_SECONDS = 60
THROUGHPUT_CLIP_SECONDS = 20
BENCH_DB = "conveyor_bench_asr"
ADMIN_DSN = "postgresql://conveyor:conveyor@127.0.0.1:5432/postgres"
BENCH_DSN = f"postgresql://conveyor:conveyor@127.0.0.1:5432/{BENCH_DB}"
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


def make_clip(
    folder: Path, seconds: float = CLIP_SECONDS, sentences: list[str] = ENGLISH_SENTENCES,
    voice: str = "en-us",
) -> Path:
    """A clip of exactly ``seconds``: the sentences spoken over and over by espeak-ng, then cut."""
    long_wav = speak(" ".join(sentences * 8), folder / f"long-{voice}.wav", voice=voice)
    return encode(long_wav, folder / f"clip-{voice}-{seconds:g}.wav", "-t", str(seconds))


def bare_faster_whisper(model_dir: Path, clip: Path, **options) -> float:
    """Seconds for one bare faster-whisper transcription of the clip (model already loaded)."""
    model = load_engine("whisper", model_dir).model
    started = time.perf_counter()
    segments, _ = model.transcribe(str(clip), language="en", **options)
    list(segments)
    return time.perf_counter() - started


def domain_process(clip: Path, chunk_seconds: float, **params) -> float:
    """Seconds for one ``process`` run of the clip (model already loaded, as in a warm worker)."""
    started = time.perf_counter()
    job = {"id": "bench", "params": {"chunk_seconds": chunk_seconds, **params}}
    process(job, FakeJobIO(input_file=clip))
    return time.perf_counter() - started


class _FirstWordsIO(FakeJobIO):
    """Notes when the first chunk carrying words is reported."""

    first_words_at: float | None = None

    def chunk(self, seq, data):
        if data["words"] and self.first_words_at is None:
            self.first_words_at = time.perf_counter()
        super().chunk(seq, data)


def first_words(clip: Path) -> tuple[float, float]:
    """(seconds to the first chunk with words, seconds to the end) of one ``process`` run."""
    io = _FirstWordsIO(input_file=clip)
    started = time.perf_counter()
    process({"id": "bench", "params": {}}, io)
    ended = time.perf_counter()
    return (io.first_words_at or ended) - started, ended - started


def bare_first_words(model_dir: Path, clip: Path) -> tuple[float, float]:
    """(seconds to the first segment, seconds to the end) of the bare faster-whisper call."""
    model = load_engine("whisper", model_dir).model
    started = time.perf_counter()
    segments, _ = model.transcribe(str(clip), language="en", **WHISPER_OPTIONS)
    first = None
    for _ in segments:
        first = first or time.perf_counter()
    ended = time.perf_counter()
    return (first or ended) - started, ended - started


def first_words_table(folder: Path, runs: int) -> None:
    """Print the time to the first words and to the end: a job alone against the bare engine call."""
    model = find_model("whisper-tiny.en")
    print(f"\n== first words: whisper-tiny.en, median of {runs} interleaved runs; goals: first words "
          f"<= 2 s, the whole job <= 1.10x the bare call ==")
    print(f"{'clip':8} {'variant':28} {'first words s':>14} {'end s':>7} {'end vs bare':>12}")
    for seconds in (14.55, THROUGHPUT_CLIP_SECONDS, CLIP_SECONDS):
        clip = make_clip(folder, seconds)
        timings: dict[str, list[tuple[float, float]]] = {"bare engine call": [], "job (process)": []}
        for _ in range(runs):
            timings["bare engine call"].append(bare_first_words(model.path, clip))
            timings["job (process)"].append(first_words(clip))
        bare_end = statistics.median(end for _, end in timings["bare engine call"])
        for name, pairs in timings.items():
            first = statistics.median(f for f, _ in pairs)
            end = statistics.median(e for _, e in pairs)
            print(f"{seconds:6.2f} s {name:28} {first:14.2f} {end:7.2f} {end / bare_end:11.2f}x")


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


def bare_vosk(model_dir: Path, clip: Path) -> float:
    """Seconds for one bare Vosk run over the clip, as Vosk's ffmpeg example does it.

    Every utterance's result is read, as the example does: skipping them would skip the word
    alignment the job needs for its timed words.
    """
    import vosk

    model = load_engine("vosk", model_dir).model
    started = time.perf_counter()
    decoder = subprocess.Popen(
        [ffmpeg_exe(), "-loglevel", "quiet", "-i", str(clip), "-ar", "16000", "-ac", "1",
         "-f", "s16le", "-"],
        stdout=subprocess.PIPE,
    )
    recognizer = vosk.KaldiRecognizer(model, 16000)
    recognizer.SetWords(True)
    while data := decoder.stdout.read(8000):
        if recognizer.AcceptWaveform(data):
            json.loads(recognizer.Result())
    json.loads(recognizer.FinalResult())
    decoder.wait()
    return time.perf_counter() - started


@contextmanager
def asr_workers(count: int, env: dict[str, str], folder: Path):
    """``count`` worker processes (python -m services.asr_worker), each warm and registered."""
    with psycopg.connect(BENCH_DSN, autocommit=True) as conn:
        conn.execute("DELETE FROM workers WHERE kind = 'asr'")
    with ExitStack() as stack:
        for n in range(count):
            stack.enter_context(running([sys.executable, "-m", "services.asr_worker"], env,
                                        folder / f"asr-worker-{count}-{n}.log"))
        deadline = time.monotonic() + 120
        with psycopg.connect(BENCH_DSN, autocommit=True) as conn:
            query = "SELECT count(*) FROM workers WHERE kind = 'asr'"
            while conn.execute(query).fetchone()[0] < count:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{count} asr worker(s) did not register")
                time.sleep(0.2)
        yield


def submit_clip(session: requests.Session, api: str, clip: Path, params: dict) -> str:
    """Upload the clip as an asr job; its id."""
    with open(clip, "rb") as handle:
        reply = session.post(f"{api}/api/v1/jobs/asr", data=params,
                             files={"file": (clip.name, handle, "audio/wav")})
    reply.raise_for_status()
    return reply.json()["id"]


def through_platform(session: requests.Session, api: str, clip: Path, params: dict):
    """(submit -> end seen by the client, started -> finished on the worker), in seconds."""
    started = time.perf_counter()
    job = follow_to_end(session, api, submit_clip(session, api, clip, params))
    wall = time.perf_counter() - started
    busy = (datetime.fromisoformat(job["finished_at"])
            - datetime.fromisoformat(job["started_at"])).total_seconds()
    return wall, busy


def rtf_against_bare(session, api: str, folder: Path, runs: int) -> None:
    """Print RTF through the platform beside the bare engine call, per engine, interleaved."""
    english = make_clip(folder)
    korean = make_clip(folder, sentences=KOREAN_SENTENCES, voice="ko")
    whisper, vosk_ko = find_model("whisper-tiny.en"), find_model("vosk-ko")
    cases = [
        ("whisper-tiny.en", english, {"engine": "whisper"},
         lambda: bare_faster_whisper(whisper.path, english, **WHISPER_OPTIONS)),
        ("vosk-ko", korean, {"engine": "vosk", "model": "vosk-ko"},
         lambda: bare_vosk(vosk_ko.path, korean)),
    ]
    print(f"\n== platform vs bare engine: {CLIP_SECONDS} s clip, 1 worker process, "
          f"median of {runs} interleaved runs ==")
    print(f"{'case':56} {'median s':>9} {'RTF':>7} {'vs bare':>8}")
    for name, clip, params, bare in cases:
        bare()  # warm-up: the bare side's first call pays for lazy initialisation too
        through_platform(session, api, clip, params)
        timings: dict[str, list[float]] = {"bare": [], "process": [], "wall": [], "busy": []}
        for _ in range(runs):
            timings["bare"].append(bare())
            timings["process"].append(domain_process(clip, DEFAULT_CHUNK_SECONDS, **params))
            wall, busy = through_platform(session, api, clip, params)
            timings["wall"].append(wall)
            timings["busy"].append(busy)
        base = statistics.median(timings["bare"])
        rows = [("bare engine call", "bare"),
                ("process() in this process, no platform", "process"),
                ("platform: worker started -> finished", "busy"),
                ("platform: submit -> end event", "wall")]
        for label, key in rows:
            median = statistics.median(timings[key])
            print(f"{name + ': ' + label:56} {median:9.2f} {median / CLIP_SECONDS:7.3f} "
                  f"{median / base:7.2f}x")
    print("target: platform / bare <= 1.10")


def jobs_per_minute(session, api: str, clip: Path, jobs: int) -> float:
    """Submit ``jobs`` at once and wait for all of them; jobs finished per minute."""
    started = time.perf_counter()
    ids = [submit_clip(session, api, clip, {"engine": "whisper"}) for _ in range(jobs)]
    for job_id in ids:
        follow_to_end(session, api, job_id)
    return jobs / (time.perf_counter() - started) * 60


def platform(folder: Path, runs: int, jobs: int) -> None:
    """Start API, relay and workers as processes and print the platform's figures."""
    env, token, api, gunicorn = api_under_gunicorn(folder, BENCH_DB)
    broker = BrokerTools(env.get("AMQP_URL", DEV_AMQP_URL), env["CONVEYOR_AMQP_PREFIX"])
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    short = make_clip(folder, THROUGHPUT_CLIP_SECONDS)
    try:
        with ExitStack() as stack:
            stack.enter_context(running(gunicorn, env, folder / "api.log"))
            stack.enter_context(running([sys.executable, "-m", "services.relay"], env,
                                        folder / "relay.log"))
            wait_http(f"{api}/healthz")
            throughput = {}
            with asr_workers(1, env, folder):
                rtf_against_bare(session, api, folder, runs)
                throughput[1] = jobs_per_minute(session, api, short, jobs)
            with asr_workers(2, env, folder):
                jobs_per_minute(session, api, short, 2)  # warm-up of the second worker
                throughput[2] = jobs_per_minute(session, api, short, jobs)
        print(f"\n== throughput: {jobs} jobs of a {THROUGHPUT_CLIP_SECONDS} s clip submitted at "
              f"once, whisper-tiny.en, {os.cpu_count()} cores ==")
        for count, rate in throughput.items():
            print(f"{count} worker process(es): {rate:6.1f} jobs/min  "
                  f"({rate / throughput[1]:.2f}x of 1 worker)")
    finally:
        broker.delete_everything()
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")


def main() -> int:
    """Run the speed, accuracy and platform benchmarks and print their tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--skip-platform", action="store_true")
    parser.add_argument("--jobs", type=int, default=6, help="jobs per throughput measurement")
    args = parser.parse_args()
    print(
        f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}, "
        f"engine threads per worker: {Config().ASR_THREADS} (CONVEYOR_ASR_THREADS, else the cores "
        f"over CONVEYOR_ASR_WORKERS)"
    )
    with tempfile.TemporaryDirectory() as folder:
        if not args.skip_speed:
            speed(Path(folder), args.runs)
            first_words_table(Path(folder), args.runs)
        if not args.skip_accuracy:
            accuracy(Path(folder))
        # Last: the platform section points this process's environment at its own database.
        if not args.skip_platform:
            platform(Path(folder), args.runs, args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
