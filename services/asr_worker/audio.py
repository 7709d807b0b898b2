"""Decode a probed audio or video file to 16 kHz mono PCM with bundled ffmpeg, chunk by chunk."""

from __future__ import annotations

import logging
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.media_probe import MediaInfo, ffmpeg_exe, input_args

LOGGER = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
BYTES_PER_SECOND = SAMPLE_RATE * 2  # s16le mono
# A chunk boundary moves back to the quietest 200 ms inside this window: a cut rarely splits a word.
BOUNDARY_SEARCH_SECONDS = 2.0
_FRAME_SAMPLES = SAMPLE_RATE // 50
_PAUSE_FRAMES = 10  # 200 ms
_READ_BYTES = 1 << 16
# The first chunk is this short (or the job's chunk length, if shorter), so that a file's first
# words reach the client within a second or two of the start; the chunks after it take the job's
# length. Shorter chunks cost more engine passes, so only the first one is short.
FIRST_CHUNK_SECONDS = 5.0


class DecodeError(Exception):
    """ffmpeg could not read an audio stream from the file."""


@dataclass(frozen=True)
class AudioChunk:
    """A contiguous piece of decoded audio: 16 kHz mono s16le PCM starting at ``start`` seconds."""

    seq: int
    start: float
    pcm: bytes

    @property
    def duration(self) -> float:
        """Length of this chunk in seconds."""
        return len(self.pcm) / BYTES_PER_SECOND

    @property
    def end(self) -> float:
        """Where this chunk ends, in seconds from the start of the file."""
        return self.start + self.duration

    def samples(self) -> np.ndarray:
        """The chunk as float32 samples in [-1, 1], the form Whisper takes."""
        return np.frombuffer(self.pcm, dtype=np.int16).astype(np.float32) / 32768.0


def _decode_command(path: Path, info: MediaInfo) -> list[str]:
    # input_args pins the demuxer and protocols the probe accepted, so decoding opens nothing else.
    return [
        ffmpeg_exe(),
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        *input_args(path, info),
        "-map",
        "0:a:0",
        "-vn",
        "-sn",
        "-dn",
        "-ac",
        "1",
        "-ar",
        str(SAMPLE_RATE),
        "-acodec",
        "pcm_s16le",
        "-f",
        "s16le",
        "pipe:1",
    ]


def _quietest_cut(window: bytes, search_bytes: int) -> int:
    """Byte offset amid the quietest stretch in the last ``search_bytes`` of ``window``."""
    search_start = len(window) - search_bytes
    tail = np.frombuffer(window, dtype=np.int16, offset=search_start)
    frames = len(tail) // _FRAME_SAMPLES
    if frames < 2:
        return len(window)
    energy = (
        np.square(tail[: frames * _FRAME_SAMPLES].astype(np.float32))
        .reshape(frames, -1)
        .sum(axis=1)
    )
    # Summing over a pause-long stretch makes a pause between sentences beat a gap between words.
    span = min(_PAUSE_FRAMES, frames)
    stretch = np.convolve(energy, np.ones(span, dtype=np.float32), mode="valid")
    # The last quietest stretch: the longest chunk that still ends in silence.
    quietest = len(stretch) - 1 - int(np.argmin(stretch[::-1]))
    return search_start + (quietest + span // 2) * _FRAME_SAMPLES * 2


def chunk_plan(chunk_seconds: float, first_seconds: float | None = None) -> Iterator[float]:
    """The longest each chunk may be, in order: ``first_seconds`` once (at most ``chunk_seconds``),
    then ``chunk_seconds`` for ever. ``first_seconds`` None: every chunk is ``chunk_seconds``."""
    yield min(first_seconds, chunk_seconds) if first_seconds else chunk_seconds
    while True:
        yield chunk_seconds


def _window(seconds: float) -> tuple[int, int]:
    """(chunk bytes, bytes at its end searched for a quiet cut) of a chunk of at most ``seconds``."""
    search_seconds = min(BOUNDARY_SEARCH_SECONDS, seconds * 0.2)
    return int(seconds * SAMPLE_RATE) * 2, int(search_seconds * SAMPLE_RATE) * 2


def iter_chunks(
    path: Path, info: MediaInfo, chunk_seconds: float, first_seconds: float | None = None
) -> Iterator[AudioChunk]:
    """Yield a probed file's first audio stream in chunks of at most ``chunk_seconds``, streamed;
    the first is at most ``first_seconds`` long when given (see :func:`chunk_plan`)."""
    with tempfile.TemporaryFile() as stderr:
        # stderr goes to a file, not a pipe: a chatty ffmpeg can then never block on a full pipe.
        proc = subprocess.Popen(
            _decode_command(path, info),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        try:
            yield from _split(proc, map(_window, chunk_plan(chunk_seconds, first_seconds)))
            if proc.wait() != 0:
                stderr.seek(0)
                lines = stderr.read().decode("utf-8", "replace").strip().splitlines()
                reason = lines[-1] if lines else f"ffmpeg exited with {proc.returncode}"
                LOGGER.info("decoding %s failed: %s", path.name, reason)
                raise DecodeError(reason)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()


def _split(
    proc: subprocess.Popen, windows: Iterator[tuple[int, int]]
) -> Iterator[AudioChunk]:
    pending = bytearray()
    seq = 0
    consumed = 0
    eof = False
    while not eof or pending:
        window_bytes, search_bytes = next(windows)
        while not eof and len(pending) < window_bytes:
            data = proc.stdout.read(min(_READ_BYTES, window_bytes - len(pending)))
            if not data:
                eof = True
            pending += data
        if eof and len(pending) % 2:
            del pending[-1:]  # a truncated last sample
        if not pending:
            break
        cut = len(pending) if eof else _quietest_cut(bytes(pending), search_bytes)
        piece = bytes(pending[:cut])
        del pending[:cut]
        yield AudioChunk(seq=seq, start=consumed / BYTES_PER_SECOND, pcm=piece)
        consumed += len(piece)
        seq += 1
