"""Per-call latency: the bare `apertium -u eng-spa` command per call vs the warm pipeline, side by side.

Run from the repo root: python -m bench.bench_apertium [--bare-calls 30] [--warm-calls 300]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import time

from services.translate_worker.apertium import ApertiumTranslator

WORD = "house"
PARAGRAPH = ("The cat is black and the dog is white. I have a big house near the river, "
             "and every morning I walk to the old market to buy bread. ") * 6


def bare_call(text: str) -> str:
    """Translate with the stock command: every program of the mode starts and stops."""
    return subprocess.run(["apertium", "-u", "eng-spa"], input=text, capture_output=True, text=True,
                          check=True).stdout


def timings(call, text: str, calls: int) -> list[float]:
    """Return the wall time of each call in milliseconds."""
    result = []
    for _ in range(calls):
        start = time.perf_counter()
        call(text)
        result.append((time.perf_counter() - start) * 1000)
    return result


def percentile(values: list[float], share: float) -> float:
    """Return the nearest-rank percentile of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    """Print p50/p95 of both ways for one word and for one paragraph, with their ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bare-calls", type=int, default=30)
    parser.add_argument("--warm-calls", type=int, default=300)
    args = parser.parse_args()

    with ApertiumTranslator() as translator:
        pipeline = translator.pipeline("en", "es")
        start = time.perf_counter()
        pipeline.start()
        print(f"warm pipeline start-up (once per worker): {(time.perf_counter() - start) * 1000:.1f} ms")
        assert bare_call(WORD).strip() == pipeline.translate(WORD).strip()

        print(f"{'input':<22}{'way':<10}{'calls':>6}{'p50 ms':>10}{'p95 ms':>10}")
        for label, text in [("one word", WORD), (f"paragraph ({len(PARAGRAPH)} ch)", PARAGRAPH)]:
            bare = timings(bare_call, text, args.bare_calls)
            warm = timings(pipeline.translate, text, args.warm_calls)
            for way, values in [("bare", bare), ("warm", warm)]:
                print(f"{label:<22}{way:<10}{len(values):>6}{percentile(values, 0.5):>10.2f}"
                      f"{percentile(values, 0.95):>10.2f}")
            print(f"{label:<22}{'ratio':<10}{'':>6}"
                  f"{statistics.median(bare) / statistics.median(warm):>9.1f}x"
                  f"{percentile(bare, 0.95) / percentile(warm, 0.95):>9.1f}x")


if __name__ == "__main__":
    main()
