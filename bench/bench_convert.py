"""Conversion overhead: process() end to end vs the bare ffmpeg command it runs, and vs moviepy.

A 30 s 720p clip (mpeg4 + mp3, so nothing can be copied) goes to mp4 and to webm three ways:
the domain function with a FakeJobIO (probe, validation, watched run, output probe, artifact copy),
the bare ffmpeg command with the very same arguments, and moviepy's write_videofile with the same
encoder settings. A remux (H.264/AAC mkv to mp4) is timed against a forced transcode of that file.

Run from the repo root: python -m bench.bench_convert [--seconds 30] [--repeats 2]
"""
from __future__ import annotations

import argparse
import logging
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from moviepy import VideoFileClip

from services.convert_worker.command import build_plan
from services.convert_worker.convert import process
from shared.config import Config
from shared.kinds.convert.limits import ConvertLimits
from shared.kinds.convert.targets import validate_params
from shared.media_probe import ffmpeg_exe, probe
from tests.fakes import FakeJobIO

# moviepy gets the encoder settings that command.py gives ffmpeg, so only the plumbing differs.
MOVIEPY_SETTINGS = {
    "mp4": {"codec": "libx264", "audio_codec": "aac", "preset": "veryfast",
            "ffmpeg_params": ["-crf", "23", "-pix_fmt", "yuv420p"]},
    # libopus takes no 44.1 kHz, moviepy's default audio rate.
    "webm": {"codec": "libvpx-vp9", "audio_codec": "libopus", "audio_fps": 48000,
             "ffmpeg_params": ["-deadline", "realtime", "-cpu-used", "8", "-row-mt", "1",
                               "-crf", "33", "-b:v", "0", "-pix_fmt", "yuv420p"]},
}


def render(path: Path, seconds: float, *codec_args: str) -> Path:
    """A 720p test pattern with a tone, encoded with ``codec_args``."""
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
                    "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
                    "-f", "lavfi", "-i", "sine=frequency=440", "-t", str(seconds), *codec_args,
                    str(path)], check=True)
    return path


def timed(call) -> float:
    """Wall seconds of one call."""
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def domain_run(source: Path, workdir: Path, params: dict) -> dict:
    """process() end to end, as a worker would run it."""
    io = FakeJobIO(input_file=source, workdir=workdir)
    return process({"id": "bench", "kind": "convert", "number": 1, "params": params,
                    "input": {"filename": source.name}, "attempt": 1}, io)


def bare_run(source: Path, workdir: Path, params: dict) -> None:
    """The same ffmpeg arguments that process() builds, run with nothing around them."""
    info = probe(source)
    limits = ConvertLimits.from_config(Config())
    args = build_plan(ffmpeg_exe(), source, info, validate_params(params, info, limits),
                      workdir / f"bare.{params['target']}").args
    subprocess.run(args, stdout=subprocess.DEVNULL, check=True)


def moviepy_run(source: Path, workdir: Path, target: str) -> None:
    """moviepy 2.x write_videofile with the same encoder settings."""
    with VideoFileClip(str(source)) as clip:
        # moviepy cannot guess a file extension for libopus, so it is given its temp audio file.
        clip.write_videofile(str(workdir / f"moviepy.{target}"), logger=None,
                             temp_audiofile=str(workdir / f"moviepy-audio-{target}.ogg"
                                                if target == "webm" else
                                                workdir / f"moviepy-audio-{target}.m4a"),
                             **MOVIEPY_SETTINGS[target])


def main() -> None:
    """Print wall times and ratios; no assertions (speed claims live here, not in tests)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--skip-moviepy", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="bench-convert-") as tmp:
        folder = Path(tmp)
        print(f"rendering a {args.seconds:g} s 1280x720 30 fps clip ...", flush=True)
        source = render(folder / "clip.avi", args.seconds, "-c:v", "mpeg4", "-q:v", "3",
                        "-c:a", "libmp3lame")
        h264 = render(folder / "h264.mkv", args.seconds, "-c:v", "libx264", "-preset",
                      "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac")
        print(f"{'case':<34}{'median s':>10}{'min s':>10}{'ratio (median)':>17}")
        for target in ("mp4", "webm"):
            params = {"target": target}
            domain, bare = [], []
            for _ in range(args.repeats):  # interleaved, so drifting machine load hits both
                bare.append(timed(lambda params=params: bare_run(source, folder, params)))
                domain.append(timed(lambda params=params: domain_run(source, folder, params)))
            base = statistics.median(bare)
            report(f"{target}: bare ffmpeg", bare, base)
            report(f"{target}: process() end to end", domain, base)
            if not args.skip_moviepy:
                report(f"{target}: moviepy write_videofile",
                       [timed(lambda target=target: moviepy_run(source, folder, target))], base)
        transcode = [timed(lambda: domain_run(h264, folder, {"target": "mp4", "crf": 23}))
                     for _ in range(args.repeats)]
        remux = [timed(lambda: domain_run(h264, folder, {"target": "mp4"}))
                 for _ in range(args.repeats)]
        base = statistics.median(transcode)
        report("h264 mkv->mp4: forced transcode", transcode, base)
        report("h264 mkv->mp4: remux (copy)", remux, base)
        print("ratios are against the first row of each group (lower is faster)")


def report(case: str, seconds: list[float], base: float) -> None:
    """One row: median and min wall seconds and the ratio of the median to the group's baseline."""
    median = statistics.median(seconds)
    print(f"{case:<34}{median:>10.2f}{min(seconds):>10.2f}{median / base:>17.3f}", flush=True)


if __name__ == "__main__":
    main()
