"""A 10-page .docx translated through the platform vs the bare ``apertium -u -f docx eng-spa``, same run.

The document (about 5,000 words in 10 pages of paragraphs, bold runs and a table, made with
python-docx) is submitted to the API under gunicorn, relayed through RabbitMQ to a
``python -m services.translate_worker`` process, translated, uploaded back as an artifact; the
figure is submit (upload included) → the job's event stream ends with ``succeeded``. The baseline is
the bare ``apertium -u -f docx eng-spa in.docx out.docx`` on the same file, run interleaved with it.
Words per second count the document's words (python-docx's paragraphs and table cells) once.

Run from the repo root: python -m bench.bench_documents [--pages 10] [--repeats 5]. Needs PostgreSQL,
RabbitMQ and Apertium's eng-spa; uses its own database and queue prefix.
"""
from __future__ import annotations

import argparse
import io
import itertools
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import psycopg
import requests

from bench.bench_platform import api_under_gunicorn, follow_to_end, process, wait_http
from shared.config import DEV_AMQP_URL
from tests.broker_tools import BrokerTools

BENCH_DB = "conveyor_bench_documents"
ADMIN_DSN = "postgresql://conveyor:conveyor@127.0.0.1:5432/postgres"
WORDS_PER_PAGE = 500
SENTENCES = [
    "The committee met on Tuesday to discuss the new budget for the public library.",
    "Most of the members agreed that the old building needs a new roof before the winter.",
    "A small group of volunteers offered to paint the walls of the children's room.",
    "The director explained that the number of visitors has grown every year since the town opened the park.",
    "She asked whether the city could pay for more books, computers and chairs.",
    "After a long debate, the proposal was approved by a large majority.",
    "The next meeting will take place in the main hall at seven in the evening.",
    "Everybody is welcome, and coffee will be served after the presentation.",
]


def ten_page_docx(pages: int) -> tuple[bytes, int]:
    """A document of ``pages`` pages of text (about 500 words each), bold runs and a table; and its words."""
    import docx

    document = docx.Document()
    sentences = itertools.cycle(SENTENCES)
    words = 0
    for page in range(pages):
        document.add_heading(f"Chapter {page + 1}: the library and the town", level=1)
        while words < (page + 1) * WORDS_PER_PAGE:
            paragraph = document.add_paragraph(" ".join(next(sentences) for _ in range(3)) + " ")
            paragraph.add_run("This point is important.").bold = True
            words += len(paragraph.text.split())
        table = document.add_table(rows=2, cols=2)
        for cell, text in zip(table._cells, ["The red car", "The white house", "The old roof", "The new books"]):
            cell.text = text
            words += len(text.split())
        document.add_page_break()
    out = io.BytesIO()
    document.save(out)
    return out.getvalue(), words


def wait_for_worker(timeout: float = 60.0) -> None:
    """Until the translate worker has registered its pairs (submits answer 503 before)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(f"postgresql://conveyor:conveyor@127.0.0.1:5432/{BENCH_DB}", autocommit=True) as conn:
        while not conn.execute("SELECT count(*) FROM workers WHERE kind = 'translate'").fetchone()[0]:
            if time.monotonic() > deadline:
                raise RuntimeError("the translate worker did not register")
            time.sleep(0.2)


def bare_run(source: Path, workdir: Path) -> float:
    """Wall seconds of the bare apertium command on the file."""
    started = time.perf_counter()
    subprocess.run(["apertium", "-u", "-f", "docx", "eng-spa", str(source), str(workdir / "bare-out.docx")],
                   check=True, capture_output=True)
    return time.perf_counter() - started


def platform_run(session: requests.Session, api: str, source: Path) -> tuple[float, dict]:
    """Wall seconds of submit → succeeded, and the finished job's view."""
    started = time.perf_counter()
    with open(source, "rb") as handle:
        reply = session.post(f"{api}/api/v1/jobs/translate", data={"source_lang": "en", "target_lang": "es"},
                             files={"file": (source.name, handle)})
    reply.raise_for_status()
    job = follow_to_end(session, api, reply.json()["id"])
    return time.perf_counter() - started, job


def same_text(session: requests.Session, api: str, job: dict, bare: Path) -> bool:
    """Whether the platform's document reads as the bare command's (paragraph by paragraph)."""
    import docx

    ours = docx.Document(io.BytesIO(session.get(f"{api}{job['artifacts'][0]['url']}").content))
    theirs = docx.Document(bare)
    return [p.text.strip() for p in ours.paragraphs] == [p.text.strip() for p in theirs.paragraphs]


def main() -> None:
    """Print wall times, words per second and the ratio; no assertions (speed claims live here)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="conveyor-bench-documents-"))
    env, token, api, gunicorn = api_under_gunicorn(workdir, BENCH_DB)
    broker = BrokerTools(env.get("AMQP_URL", DEV_AMQP_URL), env["CONVEYOR_AMQP_PREFIX"])
    data, words = ten_page_docx(args.pages)
    source = workdir / "report.docx"
    source.write_bytes(data)
    print(f"document: {args.pages} pages, {words} words, {len(data) / 1e3:.0f} kB")
    try:
        with ExitStack() as stack:
            stack.enter_context(process(gunicorn, env, workdir / "api.log"))
            stack.enter_context(process([sys.executable, "-m", "services.relay"], env, workdir / "relay.log"))
            stack.enter_context(process([sys.executable, "-m", "services.translate_worker"], env,
                                        workdir / "worker.log"))
            wait_http(f"{api}/healthz")
            wait_for_worker()
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {token}"
            platform_run(session, api, source)  # the first job starts the worker's eng-spa pipeline
            bare, platform = [], []
            for _ in range(args.repeats):  # interleaved, so drifting machine load hits both
                bare.append(bare_run(source, workdir))
                seconds, job = platform_run(session, api, source)
                platform.append(seconds)
            base = statistics.median(bare)
            print(f"{'case':<36}{'median s':>10}{'min s':>10}{'words/s':>10}{'ratio':>8}")
            for case, times in (("bare apertium -u -f docx", bare), ("platform: submit -> succeeded", platform)):
                median = statistics.median(times)
                print(f"{case:<36}{median:>10.3f}{min(times):>10.3f}{words / median:>10.0f}{median / base:>8.3f}")
            print(f"ratio = platform median / bare median (target <= 1.10); same text as bare: "
                  f"{same_text(session, api, job, workdir / 'bare-out.docx')}")
    finally:
        broker.delete_everything()
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
