"""``make bench``: every benchmark, one after another, each printing its figures beside its baseline.

``python -m bench.run --only platform convert`` runs some of them. Each runs in its own process, so
one's warm caches do not flatter the next.

``peer`` runs the Flask + Celery peer (``../shared/peers/celery_baseline/run.sh --rounds 1``: the app a
user would build instead, on the same PostgreSQL and RabbitMQ); when ``platform`` runs in the same
invocation, the end prints Conveyor's figures beside the peer's, each ratio with its goal (issue 17).
The peer waits for a quiet machine only if asked (``--peer-quiet``, its ``--quiet``): the point is
the same machine mood for both.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEER = ROOT.parent / "shared" / "peers" / "celery_baseline" / "run.sh"

BENCHES = {
    "peer": [],  # not a module: see run_peer
    "platform": ["bench.bench_platform"],
    "apertium": ["bench.bench_apertium"],
    "language-detect": ["bench.bench_language_detect"],
    "vision": ["bench.bench_vision"],
    "convert": ["bench.bench_convert", "--repeats", "2"],
    "convert-platform": ["bench.bench_convert_platform", "--targets", "mp4", "webm"],
    "asr": ["bench.bench_asr", "--runs", "3"],
    "documents": ["bench.bench_documents"],
    "storage": ["bench.bench_storage", "--mb", "200"],
    "docs-page": ["bench.bench_docs_page"],
    "pipeline-subtitles": ["bench.bench_pipeline_subtitles"],
    "capacity": ["bench.bench_capacity"],
    "memory": ["bench.bench_memory"],
    "soak": ["bench.bench_soak"],
}


def run_peer(quiet: float) -> dict[str, float] | None:
    """Run the Celery peer, showing its output; its submit req/s per gunicorn setup and its latency."""
    if not PEER.exists():
        print(f"the Celery peer is not at {PEER}: no side-by-side ratios")
        return None
    lines = []
    with subprocess.Popen(["bash", str(PEER), "--rounds", "1", "--quiet", str(quiet)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True) as proc:
        for line in proc.stdout:
            print(line, end="", flush=True)
            lines.append(line)
    if proc.returncode != 0:
        return None
    text = "".join(lines)
    figures = {f"submit_rps_{workers}w": float(rps)
               for workers, rps in re.findall(r"POST /jobs, (\d+) workers\s+(\d+)", text)}
    latency = re.search(r"end-to-end, translate task\s+([\d.]+)", text)
    if latency:
        figures["translate_e2e_p50_ms"] = float(latency.group(1))
    return figures


def print_ratios(peer: dict[str, float], ours: dict[str, float]) -> None:
    """Conveyor beside the peer, each ratio with its goal."""
    print("\n######## Conveyor beside the Flask + Celery peer, same run ########")
    submits = {key: value for key, value in peer.items() if key.startswith("submit_rps_")}
    if submits:
        best_key = max(submits, key=submits.get)
        best = submits[best_key]
        setup = f"its best setup, {best_key.rsplit('_', 1)[1][:-1]} gunicorn workers"
        for label, key in (("job submit, 16 users' tokens", "submit_16_users_rps"),
                           ("job submit, 1 user's token", "submit_1_user_rps")):
            print(f"{label:<30}: Conveyor {ours[key]:6.0f} req/s, peer {best:6.0f} req/s ({setup}): "
                  f"{ours[key] / best:.2f}x  (goal >= 1.4x)")
    if "translate_e2e_p50_ms" in peer:
        print(f"{'one-word translation, p50':<30}: Conveyor {ours['translate_e2e_p50_ms']:6.1f} ms, "
              f"peer {peer['translate_e2e_p50_ms']:6.1f} ms: "
              f"{ours['translate_e2e_p50_ms'] / peer['translate_e2e_p50_ms']:.2f}x  (goal <= 0.2x)")
    print(f"{'event-stream push, p50':<30}: {ours['sse_push_p50_ms']:6.1f} ms from the worker's success report "
          f"(p95 {ours['sse_push_p95_ms']:.1f})  (goal <= 10 ms)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHES), help="run only these benchmarks")
    parser.add_argument("--peer-quiet", type=float, default=100,
                        help="the peer waits (up to 20 min) until others use less than this %% of the CPU")
    args = parser.parse_args()
    failed = []
    peer = ours = None
    figures_file = Path(tempfile.mkdtemp(prefix="conveyor-bench-")) / "platform.json"
    for name in args.only or BENCHES:
        print(f"\n######## {name} ########", flush=True)
        started = time.monotonic()
        if name == "peer":
            peer = run_peer(args.peer_quiet)
            ok = peer is not None
        else:
            command = [sys.executable, "-m", *BENCHES[name]]
            if name == "platform":
                command += ["--json", str(figures_file)]
            ok = subprocess.run(command).returncode == 0
            if name == "platform" and ok:
                ours = json.loads(figures_file.read_text())
        if not ok:
            failed.append(name)
        print(f"######## {name}: {time.monotonic() - started:.0f} s", flush=True)
    if peer and ours:
        print_ratios(peer, ours)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
