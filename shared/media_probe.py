"""Probe an untrusted media file with ffmpeg alone (no ffprobe ships with imageio-ffmpeg).

``probe(path)`` answers what the file holds (container, duration, streams) and proves that it
decodes. It is also the first line of defence against files that are not media at all: ffmpeg
may only open local files (``-protocol_whitelist file,pipe``) and only through the demuxers in
``ALLOWED_DEMUXERS``, so a playlist or concat script disguised as ``.mp4`` is refused before its
header is read — no file it names is opened and no connection is made. Whoever runs ffmpeg on
the file afterwards should open it with ``input_args(path, info)``, which pins the demuxer that
the probe found.
"""
from __future__ import annotations

import logging
import os
import re
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path

from shared.config import Config

LOGGER = logging.getLogger(__name__)

# Single still images, read by the image "pipe" demuxers: each reads only the bytes it is given,
# unlike ``image2``, which expands a name pattern into a sequence of other files (absent on purpose).
STILL_IMAGE_DEMUXERS = ("png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe")
# Containers, raw audio formats and still images that only ever read the one file they are given.
# Playlist and script demuxers (hls, dash, concat, image2 sequences, tty, ...) are absent on purpose.
ALLOWED_DEMUXERS = (
    "mov", "matroska", "avi", "flv", "mpegts", "mpeg", "ogg", "asf", "gif",
    "wav", "w64", "mp3", "flac", "aac", "aiff", "caf", "amr", "ac3", "eac3", "wv",
    *STILL_IMAGE_DEMUXERS,
)
# The signatures of the still images, so the probe can name their demuxer: left to guess, ffmpeg
# scores its image2 demuxer above them for a file named *.jpg and then refuses it (not allowed).
_IMAGE_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", 0, "png_pipe"), (b"\xff\xd8\xff", 0, "jpeg_pipe"),
                     (b"WEBP", 8, "webp_pipe"), (b"BM", 0, "bmp_pipe"))
PROTOCOL_WHITELIST = "file,pipe"
PROBE_TIMEOUT_SECONDS = 30.0
# How much of the file the probe decodes to prove that it is decodable.
DECODE_CHECK_SECONDS = 0.5

_INPUT_RE = re.compile(r"^Input #0, (?P<format>.+), from '")
_DURATION_RE = re.compile(r"^  Duration: (?:(?P<h>\d+):(?P<m>\d+):(?P<s>[\d.]+)|N/A)")
_STREAM_RE = re.compile(
    r"^  Stream #0:(?P<index>\d+)(?:\[[^\]]*\])?(?:\((?P<language>[^)]*)\))?: "
    r"(?P<type>Video|Audio|Subtitle|Data|Attachment): (?P<codec>[\w-]+)(?P<rest>.*)$")
_STREAM_TITLE_RE = re.compile(r"^      (title|handler_name)\s*: (.*)$")
_DEFAULT_HANDLER_RE = re.compile(r"^(?:Video|Sound|Subtitle|Text|Data)Handler$|^(?:Core Media|Apple|ISO Media)")
_SIZE_RE = re.compile(r"\b([1-9]\d*)x([1-9]\d*)\b")
_FPS_RE = re.compile(r"\b([\d.]+)(k?) (?:fps|tbr)\b")
_RATE_RE = re.compile(r"\b(\d+) Hz, ([^,]+)")
_BITRATE_RE = re.compile(r"\b(\d+) kb/s")
_REFUSED_FORMAT_RE = re.compile(r"^\[(?P<name>[\w,-]+) @ [^\]]*\] Format not on whitelist", re.M)
_NAMED_LAYOUTS = {"mono": 1, "stereo": 2, "downmix": 2, "quad": 4, "hexagonal": 6,
                  "octagonal": 8, "hexadecagonal": 16, "22.2": 24}


class ProbeError(ValueError):
    """The file is not media this platform will decode; the message is safe to show its owner."""


@dataclass(frozen=True)
class StreamInfo:
    """One stream of a probed file, as ffmpeg reports it."""

    index: int
    codec_type: str  # 'video' | 'audio' | 'subtitle' | 'data' | 'attachment'
    codec_name: str
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    bit_rate: int | None = None
    attached_pic: bool = False  # cover art shown as a video stream (mp3, m4a)
    language: str | None = None  # the container's tag (ISO 639-2, 'spa'); None when undetermined
    title: str | None = None  # its title tag (MP4: the handler name, when not ffmpeg's default)


@dataclass(frozen=True)
class MediaInfo:
    """What a probed file holds: container, duration in seconds, size in bytes, streams."""

    format_name: str
    duration: float
    size: int
    streams: list[StreamInfo] = field(default_factory=list)

    @property
    def demuxer(self) -> str:
        """The demuxer name to pass to ``ffmpeg -f`` (the first of ffmpeg's aliases)."""
        return self.format_name.split(",")[0]

    @property
    def still_image(self) -> bool:
        """A single picture (png, jpeg, webp, bmp): one frame, no duration."""
        return self.demuxer in STILL_IMAGE_DEMUXERS

    def first(self, codec_type: str) -> StreamInfo | None:
        """The first stream of a type; cover art never counts as video."""
        return next((s for s in self.streams
                     if s.codec_type == codec_type and not s.attached_pic), None)


def ffmpeg_exe(configured: str | None = None) -> str:
    """Path of the ffmpeg binary: ``configured`` (default Config.FFMPEG, CONVEYOR_FFMPEG) else imageio-ffmpeg's."""
    if configured is None:
        configured = Config().FFMPEG
    if configured:
        return configured
    import imageio_ffmpeg  # imported late: only media services need it installed

    return imageio_ffmpeg.get_ffmpeg_exe()


def input_args(path: str | os.PathLike, info: MediaInfo) -> list[str]:
    """ffmpeg arguments that open a probed file with the probe's restrictions and demuxer."""
    return ["-protocol_whitelist", PROTOCOL_WHITELIST,
            "-format_whitelist", ",".join(ALLOWED_DEMUXERS),
            "-f", info.demuxer, "-i", _file_url(path)]


def probe(path: str | os.PathLike, ffmpeg: str | None = None, *,
          timeout: float = PROBE_TIMEOUT_SECONDS, decode_check: bool = True) -> MediaInfo:
    """Describe a media file and prove that its first moments decode; raise ProbeError otherwise.

    ``decode_check=False`` reads the header alone, about a quarter of the time: for a file this
    platform's own ffmpeg has just written (a conversion's output), never for an upload.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ProbeError("the file cannot be read") from exc
    if size == 0:
        raise ProbeError("the file is empty")
    ffmpeg = ffmpeg or ffmpeg_exe()
    cmd = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "info",
           "-protocol_whitelist", PROTOCOL_WHITELIST,
           "-format_whitelist", ",".join(ALLOWED_DEMUXERS),
           *_forced_image_demuxer(path),
           "-i", _file_url(path)]
    if decode_check:
        cmd += ["-map", "0:V?", "-map", "0:a?", "-t", str(DECODE_CHECK_SECONDS),
                "-progress", "pipe:1", "-nostats", "-f", "null", "-"]
    stdout, stderr, returncode = _run(cmd, timeout)
    if not decode_check and "Input #0" in stderr:
        # Without an output ffmpeg stops after the header, saying that it needs an output file.
        returncode = 0
    refused = _REFUSED_FORMAT_RE.search(stderr)
    if refused:
        raise ProbeError(f"the file is a '{refused.group('name')}' file, which is not an accepted "
                         f"media container")
    info = _parse_input_block(stderr, size)
    if returncode != 0 or info is None:
        LOGGER.info("probe of %s failed (exit %s): %s", path.name, returncode, _last_line(stderr))
        raise ProbeError("the file is not a media file that can be decoded")
    if not any(s.codec_type in ("video", "audio") for s in info.streams):
        raise ProbeError("the file has no audio or video stream")
    if decode_check and not _decoded_something(stdout):
        raise ProbeError("the file's audio/video streams cannot be decoded")
    if info.still_image:
        # ffmpeg gives a still image the length of one frame at a made-up 25 fps; it has none.
        info = MediaInfo(info.format_name, 0.0, info.size, info.streams)
    elif info.duration <= 0:
        info = MediaInfo(info.format_name, _measure_duration(ffmpeg, path, info, timeout),
                         info.size, info.streams)
    return info


def _forced_image_demuxer(path: Path) -> list[str]:
    """``-f <demuxer>`` for a file that starts like a still image, else nothing (ffmpeg guesses)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError:
        return []
    for signature, offset, demuxer in _IMAGE_SIGNATURES:
        if head[offset:offset + len(signature)] == signature and (demuxer != "webp_pipe"
                                                                  or head.startswith(b"RIFF")):
            return ["-f", demuxer]
    return []


def _file_url(path: str | os.PathLike) -> str:
    # The file: prefix stops a name such as "http:x" or "subfile,,..." being read as a protocol.
    return "file:" + str(Path(path).resolve())


def _run(cmd: list[str], timeout: float) -> tuple[str, str, int]:
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ProbeError(f"the file could not be probed within {timeout:.0f} s") from exc
    return (done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace"),
            done.returncode)


def _parse_input_block(stderr: str, size: int) -> MediaInfo | None:
    """Read ffmpeg's description of input #0 (the block up to the first unindented line)."""
    lines = stderr.splitlines()
    start = next((i for i, line in enumerate(lines) if _INPUT_RE.match(line)), None)
    if start is None:
        return None
    format_name = _INPUT_RE.match(lines[start]).group("format")
    duration = 0.0
    streams: list[StreamInfo] = []
    for line in lines[start + 1:]:
        if not line.startswith(" "):
            break
        if m := _DURATION_RE.match(line):
            if m.group("h") is not None:
                duration = int(m.group("h")) * 3600 + int(m.group("m")) * 60 + float(m.group("s"))
        elif m := _STREAM_RE.match(line):
            streams.append(_parse_stream(m))
        elif streams and (m := _STREAM_TITLE_RE.match(line)) and not _DEFAULT_HANDLER_RE.match(m.group(2)):
            if m.group(1) == "title" or streams[-1].title is None:
                streams[-1] = replace(streams[-1], title=m.group(2))
    return MediaInfo(format_name, duration, size, streams)


def _parse_stream(m: re.Match) -> StreamInfo:
    rest = m.group("rest")
    codec_type = m.group("type").lower()
    width = height = fps = sample_rate = channels = None
    if codec_type == "video":
        if size := _SIZE_RE.search(rest):
            width, height = int(size.group(1)), int(size.group(2))
        if rate := _FPS_RE.search(rest):
            fps = float(rate.group(1)) * (1000 if rate.group(2) else 1)
    elif codec_type == "audio" and (rate := _RATE_RE.search(rest)):
        sample_rate = int(rate.group(1))
        channels = _channel_count(rate.group(2).strip())
    bit_rate = _BITRATE_RE.search(rest)
    return StreamInfo(index=int(m.group("index")), codec_type=codec_type,
                      codec_name=m.group("codec"), width=width, height=height, fps=fps,
                      sample_rate=sample_rate, channels=channels,
                      bit_rate=int(bit_rate.group(1)) * 1000 if bit_rate else None,
                      attached_pic="(attached pic)" in rest,
                      language=m.group("language") if m.group("language") not in (None, "und") else None)


def _channel_count(layout: str) -> int | None:
    """Channels from ffmpeg's layout name: 'mono', 'stereo', '5.1(side)', '3 channels', ..."""
    layout = layout.split("(")[0].strip()
    if layout in _NAMED_LAYOUTS:
        return _NAMED_LAYOUTS[layout]
    if m := re.fullmatch(r"(\d+) channels", layout):
        return int(m.group(1))
    if m := re.fullmatch(r"(\d+)\.(\d+)", layout):
        return int(m.group(1)) + int(m.group(2))
    return None


def _progress_values(stdout: str, key: str) -> list[str]:
    prefix = key + "="
    return [line[len(prefix):] for line in stdout.splitlines() if line.startswith(prefix)]


def _decoded_something(progress: str) -> bool:
    frames = [int(v) for v in _progress_values(progress, "frame") if v.isdigit()]
    out_us = [int(v) for v in _progress_values(progress, "out_time_us") if v.lstrip("-").isdigit()]
    return (bool(frames) and max(frames) > 0) or (bool(out_us) and max(out_us) > 0)


def _measure_duration(ffmpeg: str, path: Path, info: MediaInfo, timeout: float) -> float:
    """Duration of a file whose header lacks one (live recordings): remux it to nowhere."""
    cmd = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", *input_args(path, info),
           "-map", "0:V?", "-map", "0:a?", "-c", "copy",
           "-progress", "pipe:1", "-nostats", "-f", "null", "-"]
    stdout, stderr, returncode = _run(cmd, timeout)
    out_us = [int(v) for v in _progress_values(stdout, "out_time_us") if v.lstrip("-").isdigit()]
    if returncode != 0 or not out_us or max(out_us) <= 0:
        LOGGER.info("duration of %s unknown (exit %s): %s", path.name, returncode,
                    _last_line(stderr))
        raise ProbeError("the file's duration cannot be determined")
    return max(out_us) / 1_000_000


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""
