"""Run one ffmpeg process under watch: progress, cancellation, a time limit, an output size cap."""
from __future__ import annotations

import logging
import os
import re
import selectors
import subprocess
import time
from pathlib import Path
from typing import Callable

from shared.handler import PermanentError, TransientError

LOGGER = logging.getLogger(__name__)

POLL_SECONDS = 0.2
# With no progress line for this long (ffmpeg writes one every 0.5 s), ask whether to go on anyway.
IDLE_CHECK_SECONDS = 1.0
STDERR_TAIL_BYTES = 4096
_PATH_RE = re.compile(r"(?:file:)?(/[^\s'\"]+)")


def run_ffmpeg(args: list[str], *, output: Path, timeout: float, max_output_bytes: int,
               on_progress: Callable[[float], None], on_idle: Callable[[], None],
               stderr_path: Path) -> None:
    """Run ffmpeg (``-progress pipe:1`` in args) to the end, or kill it and raise.

    ``on_progress(media_seconds_done)`` is called for each progress report and ``on_idle()`` when
    reports stall; either may raise (JobCancelled) to stop the run. The process is killed and
    reaped before any exception leaves, so no ffmpeg outlives the call.
    """
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=stderr, start_new_session=True)
    try:
        _watch(proc, output, time.monotonic() + timeout, timeout, max_output_bytes,
               on_progress, on_idle)
    except BaseException:
        _kill(proc)
        raise
    finally:
        proc.stdout.close()
    if proc.returncode < 0:
        raise TransientError(f"ffmpeg was killed by signal {-proc.returncode}")
    if proc.returncode != 0:
        raise PermanentError(f"ffmpeg failed: {_error_summary(stderr_path)}")
    if output.exists() and output.stat().st_size > max_output_bytes:
        raise PermanentError(f"the output would be larger than {max_output_bytes} bytes")


def _watch(proc: subprocess.Popen, output: Path, deadline: float, timeout: float,
           max_output_bytes: int, on_progress: Callable[[float], None],
           on_idle: Callable[[], None]) -> None:
    pending = b""
    block: dict[str, str] = {}
    furthest = 0.0  # ffmpeg's out_time can step back (muxer interleaving) or read N/A under load
    last_report = time.monotonic()
    fd = proc.stdout.fileno()
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            if selector.select(timeout=POLL_SECONDS):
                data = os.read(fd, 65536)
                if not data:
                    break
                pending += data
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    key, _, value = line.decode("utf-8", "replace").strip().partition("=")
                    block[key] = value
                    if key == "progress":  # ends one report
                        last_report = time.monotonic()
                        furthest = max(furthest, _media_seconds(block))
                        on_progress(furthest)
                        block = {}
            now = time.monotonic()
            if now > deadline:
                raise _too_slow(timeout)
            if output.exists() and output.stat().st_size > max_output_bytes:
                raise PermanentError(f"the output would be larger than {max_output_bytes} bytes")
            if now - last_report > IDLE_CHECK_SECONDS:
                last_report = now
                on_idle()
    # stdout closed: ffmpeg is exiting; its last writes (trailer, faststart) may take a moment.
    try:
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        raise _too_slow(timeout) from None


def _too_slow(timeout: float) -> PermanentError:
    return PermanentError(f"the conversion took longer than its limit of {timeout:.0f} s")


def _media_seconds(block: dict[str, str]) -> float:
    value = block.get("out_time_us", "")
    return int(value) / 1_000_000 if value.lstrip("-").isdigit() else 0.0


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def _error_summary(stderr_path: Path) -> str:
    """ffmpeg's last error lines, with file paths cut to their names (no server paths leak)."""
    with open(stderr_path, "rb") as stderr:
        stderr.seek(max(0, stderr_path.stat().st_size - STDERR_TAIL_BYTES))
        tail = stderr.read().decode("utf-8", "replace")
    lines = [line.strip() for line in tail.splitlines() if line.strip()][-3:]
    text = " | ".join(lines) or "no error message"
    return _PATH_RE.sub(lambda m: os.path.basename(m.group(1)), text)
