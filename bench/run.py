"""``make bench``: every benchmark, one after another, each printing its figures beside its baseline.

``python -m bench.run --only platform convert`` runs some of them. Each runs in its own process, so
one's warm caches do not flatter the next.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time

BENCHES = {
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
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHES), help="run only these benchmarks")
    args = parser.parse_args()
    failed = []
    for name in args.only or BENCHES:
        print(f"\n######## {name} ########", flush=True)
        started = time.monotonic()
        if subprocess.run([sys.executable, "-m", *BENCHES[name]]).returncode != 0:
            failed.append(name)
        print(f"######## {name}: {time.monotonic() - started:.0f} s", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
