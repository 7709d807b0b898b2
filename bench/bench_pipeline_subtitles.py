"""The subtitles pipeline against the same steps run by hand through the API, and its fan-out to 3 languages.

A lecture clip (espeak-ng reading English sentences over an ffmpeg test pattern, 640x360, 2 minutes by
default) goes through the whole platform: the API under gunicorn, the outbox relay, RabbitMQ, and one
convert, one asr and one translate worker process (`python -m services.<kind>_worker`). Figures:

* pipeline: POST /api/v1/pipelines with preset ``subtitles`` (``target_lang`` es, ``mux`` mp4) until its
  event stream ends with ``succeeded``;
* by hand: what a client does without pipelines, one job after another, each followed on its event
  stream: convert the clip to 16 kHz wav, download it, submit it to asr, translate the transcript's
  segments (one per line), render the WebVTT, submit the clip again with it to convert (mux mp4).
  The ratio pipeline / by hand is the issue's target (<= 1.05);
* fan-out: the pipeline into 3 languages (each a parallel translate step, all muxed) against 1.

Run from the repo root: python -m bench.bench_pipeline_subtitles [--seconds 120] [--repeats 1].
Needs PostgreSQL, RabbitMQ, espeak-ng, Apertium and a Whisper model package; uses its own database and
queue prefix. Prints figures; asserts nothing about speed.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import psycopg
import requests

from bench.bench_platform import api_under_gunicorn, follow_to_end, process, wait_http
from shared.config import DEV_AMQP_URL
from shared.kinds.asr.exports import export
from shared.pipelineflow import translated_transcript
from tests.broker_tools import BrokerTools
from tests.media import ENGLISH_SENTENCES, ffmpeg, speak, wav_seconds

BENCH_DB = "conveyor_bench_pipeline_subtitles"
ADMIN_DSN = "postgresql://conveyor:conveyor@127.0.0.1:5432/postgres"
KINDS = ("convert", "asr", "translate")
FAN_OUT_CANDIDATES = ("es", "ca", "pt", "it", "fr")


def lecture(folder: Path, seconds: float) -> Path:
    """English speech for about ``seconds`` (the sentences read again and again) over a test pattern."""
    sentences: list[str] = []
    wav = folder / "speech.wav"
    while not sentences or wav_seconds(wav) < seconds:
        sentences += ENGLISH_SENTENCES
        speak(" ".join(sentences), wav)
    clip = folder / "lecture.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=640x360:rate=25", "-i", str(wav), "-t", f"{seconds:g}",
           "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac", str(clip))
    return clip


def wait_for_workers(timeout: float = 300.0) -> None:
    """Until a worker of each kind has registered (the asr worker loads its model first)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(f"postgresql://conveyor:conveyor@127.0.0.1:5432/{BENCH_DB}", autocommit=True) as conn:
        while {row[0] for row in conn.execute("SELECT DISTINCT kind FROM workers")} < set(KINDS):
            if time.monotonic() > deadline:
                raise RuntimeError("the workers did not all register")
            time.sleep(0.5)


def pipeline_run(session: requests.Session, api: str, clip: Path, langs: list[str]) -> float:
    started = time.perf_counter()
    with open(clip, "rb") as handle:
        reply = session.post(f"{api}/api/v1/pipelines", files={"file": (clip.name, handle, "video/mp4")}, data={
            "preset": "subtitles", "options": json.dumps({"target_langs": langs, "mux": "mp4"})})
    reply.raise_for_status()
    follow_to_end(session, api, reply.json()["id"], "pipelines")
    return time.perf_counter() - started


def job(session: requests.Session, api: str, kind: str, **request) -> dict:
    reply = session.post(f"{api}/api/v1/jobs/{kind}", **request)
    reply.raise_for_status()
    done = follow_to_end(session, api, reply.json()["id"])
    return session.get(f"{api}/api/v1/jobs/{done['id']}/result").json()["result"] | {"_job": done}


def by_hand_run(session: requests.Session, api: str, clip: Path, lang: str, folder: Path) -> float:
    """The subtitles preset's steps as a client runs them without pipelines: jobs one after another."""
    started = time.perf_counter()
    with open(clip, "rb") as handle:
        audio = job(session, api, "convert", files={"file": (clip.name, handle, "video/mp4")},
                    data={"target": "wav", "sample_rate": "16000", "channels": "1"})
    wav = folder / "by-hand.wav"
    wav.write_bytes(session.get(f"{api}{audio['_job']['artifacts'][0]['url']}").content)
    with open(wav, "rb") as handle:
        transcript = job(session, api, "asr", files={"file": (wav.name, handle, "audio/wav")}, data={"language": "en"})
    lines = "\n".join(s["text"].strip() for s in transcript["segments"] if s["text"].strip())
    translation = job(session, api, "translate", json={"text": lines, "source_lang": "en", "target_lang": lang})
    vtt = export(translated_transcript(transcript, translation), "vtt")[0].decode("utf-8")
    with open(clip, "rb") as handle:
        job(session, api, "convert", files={"file": (clip.name, handle, "video/mp4")},
            data={"target": "mp4", "subtitles": json.dumps([{"language": lang, "text": vtt}])})
    return time.perf_counter() - started


def row(name: str, values: list[float], base: float | None = None) -> None:
    median = statistics.median(values)
    ratio = f"{median / base:>17.3f}" if base else f"{'':>17}"
    print(f"{name:<44}{median:>10.2f}{min(values):>10.2f}{ratio}", flush=True)


def main() -> None:
    """Print wall times and ratios; no assertions (speed claims live here, not in tests)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="conveyor-bench-subtitles-"))
    env, token, api, gunicorn = api_under_gunicorn(workdir, BENCH_DB)
    broker = BrokerTools(env.get("AMQP_URL", DEV_AMQP_URL), env["CONVEYOR_AMQP_PREFIX"])
    print(f"rendering a {args.seconds:g} s lecture clip (espeak-ng over testsrc, 640x360) ...", flush=True)
    clip = lecture(workdir, args.seconds)
    print(f"clip: {clip.stat().st_size / 1e6:.1f} MB")
    try:
        with ExitStack() as stack:
            stack.enter_context(process(gunicorn, env, workdir / "api.log"))
            stack.enter_context(process([sys.executable, "-m", "services.relay"], env, workdir / "relay.log"))
            for kind in KINDS:
                stack.enter_context(process([sys.executable, "-m", f"services.{kind}_worker"], env,
                                            workdir / f"{kind}.log"))
            wait_http(f"{api}/healthz")
            wait_for_workers()
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {token}"
            offered = {pair["target"] for pair in session.get(f"{api}/api/v1/languages").json().get("pairs", [])
                       if pair.get("source") == "en"}
            fan_out = [lang for lang in FAN_OUT_CANDIDATES if lang in offered][:3]
            print(f"{'case (wall seconds)':<44}{'median':>10}{'min':>10}{'ratio (median)':>17}")
            pipeline, hand, wide = [], [], []
            for _ in range(args.repeats):  # interleaved, so drifting machine load hits each case alike
                hand.append(by_hand_run(session, api, clip, "es", workdir))
                pipeline.append(pipeline_run(session, api, clip, ["es"]))
                if len(fan_out) == 3:
                    wide.append(pipeline_run(session, api, clip, fan_out))
            row("by hand: 4 jobs one after another (es)", hand)
            row("pipeline subtitles es, mux mp4", pipeline, statistics.median(hand))
            if wide:
                row(f"pipeline subtitles {'+'.join(fan_out)}, mux mp4", wide, statistics.median(pipeline))
            else:
                print(f"fan-out skipped: fewer than 3 target languages from en are offered ({sorted(offered)})")
            print("ratios: the pipeline against by hand (target <= 1.05), 3 languages against 1")
    finally:
        broker.delete_everything()
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
