"""Resident memory of each process kind of a running stack: idle, then after a job of each kind.

The stack is ``bench.stack.whole_stack``: the API under gunicorn (its master and workers), the
outbox relay and one worker of each kind (each a supervisor and its worker child). The figure is
VmRSS from /proc/<pid>/status. After the idle reading, translate jobs with ``source_lang: auto``
go to the API from several clients at once (so that every gunicorn worker detects a language),
then one asr, vision and convert job each; the second column is read when they have ended.

    python -m bench.bench_memory [--auto-jobs 8]

Needs PostgreSQL, RabbitMQ, Apertium and the packaged models; uses its own database and queue prefix.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bench.bench_platform import follow_to_end
from bench.stack import Stack, print_memory, whole_stack

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "docs" / "postman" / "samples"
BENCH_DB = "conveyor_bench_memory"
AUTO_TEXTS = ["The cat is black and the house is very big, but the garden is small.",
              "Le chat est noir et la maison est très grande, mais le jardin est petit.",
              "O gato é preto e a casa é muito grande, mas o jardim é pequeno.",
              "Il gatto è nero e la casa è molto grande, ma il giardino è piccolo."]


def session_of(stack: Stack) -> requests.Session:
    """A requests session that carries the bench user's token."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {stack.token}"
    return session


def submit(session: requests.Session, api: str, kind: str, number: int = 0) -> str:
    """Submit one job of ``kind`` with a small sample input; its id."""
    if kind == "translate":
        reply = session.post(f"{api}/api/v1/jobs/translate", json={
            "text": AUTO_TEXTS[number % len(AUTO_TEXTS)], "source_lang": "auto",
            "target_lang": "es"})
    else:
        sample, form = {"asr": ("hello.mp3", {"language": "en"}),
                        "vision": ("shapes.png", {}),
                        "convert": ("hello.mp3", {"target": "wav"})}[kind]
        with open(SAMPLES / sample, "rb") as handle:
            reply = session.post(f"{api}/api/v1/jobs/{kind}", data=form,
                                 files={"file": (sample, handle)})
    if reply.status_code != 202:
        raise RuntimeError(f"{kind} submit answered {reply.status_code}: {reply.text[:300]}")
    return reply.json()["id"]


def main() -> None:
    """Print the resident size of every process, idle and after work; no assertions."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--auto-jobs", type=int, default=8,
                        help="translate jobs with source_lang auto, sent from as many clients")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as workdir:
        with whole_stack(Path(workdir), BENCH_DB) as stack:
            time.sleep(2)  # let start-up settle (warm-ups, first heartbeats)
            idle = stack.memory()
            session = session_of(stack)
            with ThreadPoolExecutor(args.auto_jobs) as pool:
                ids = list(pool.map(lambda n: submit(session_of(stack), stack.api, "translate", n),
                                    range(args.auto_jobs)))
            ids += [submit(session, stack.api, kind) for kind in ("asr", "vision", "convert")]
            for job_id in ids:
                follow_to_end(session, stack.api, job_id)
            after = stack.memory()
    print(f"\n== resident memory (VmRSS) per process: idle, then after {args.auto_jobs} translate "
          f"jobs with source_lang auto and one asr, vision and convert job ==")
    print_memory({"idle": idle, "after jobs": after})
    api_workers = [name for name in after if name.startswith("api worker")]
    grown = [(after[name] - idle.get(name, 0)) / 1024 for name in api_workers]
    print(f"API workers grew by {', '.join(f'{mb:.0f}' for mb in grown)} MB "
          f"(the language detector's models load in each API worker that detects)")


if __name__ == "__main__":
    main()
