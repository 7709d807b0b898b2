"""The media-conversion domain function: ``process(job, io) -> result``, free of AMQP and HTTP."""
from __future__ import annotations

import logging
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from services.convert_worker.command import build_plan
from services.convert_worker.runner import run_ffmpeg
from shared.config import Config
from shared.handler import JobIO, PermanentError
from shared.kinds.convert.limits import ConvertLimits
from shared.kinds.convert.subtitles import parse_cues, srt_of
from shared.kinds.convert.targets import TARGETS, validate_params
from shared.media_probe import MediaInfo, ProbeError, ffmpeg_exe, probe

LOGGER = logging.getLogger(__name__)

_UNSAFE_NAME_RE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_STEM_CHARS = 80


def process(job: dict[str, Any], io: JobIO) -> dict[str, Any]:
    """Convert the job's input file to the requested target and upload it as one artifact."""
    config = Config()
    limits = ConvertLimits.from_config(config)
    ffmpeg = ffmpeg_exe(config.FFMPEG)
    source = io.input_path()
    try:
        info = probe(source, ffmpeg)
        params = validate_params(job.get("params") or {}, info, limits)
    except ValueError as exc:  # ProbeError included: bad input never gets better on retry
        raise PermanentError(str(exc)) from exc
    target = TARGETS[params["target"]]
    name = artifact_name((job.get("input") or {}).get("filename"), target.extension)
    with tempfile.TemporaryDirectory(prefix="conveyor-convert-") as workdir:
        output = Path(workdir) / f"output.{target.extension}"
        subtitle_files = write_subtitles(params.get("subtitles", ()), Path(workdir))
        plan = build_plan(ffmpeg, source, info, params, output, subtitle_files)
        LOGGER.info("job %s: %s %s -> %s (copy: %s)", io.job_id,
                    "remuxing" if plan.remux else "converting", info.demuxer, target.name,
                    ",".join(plan.copied) or "none")
        io.log(f"{'Remuxing (stream copy)' if plan.remux else 'Converting'} to {target.name}")
        total = plan.output_seconds
        started = time.monotonic()
        run_ffmpeg(plan.args, output=output, timeout=limits.timeout_for(total),
                   max_output_bytes=limits.max_output_bytes,
                   on_progress=lambda done: io.progress(min(done, total), total, "seconds"),
                   on_idle=io.check_cancelled, stderr_path=Path(workdir) / "ffmpeg.log")
        elapsed = time.monotonic() - started
        result = describe_output(output, target.kind, ffmpeg)
        io.add_artifact(name, output, target.content_type)
    io.progress(total, total, "seconds")
    LOGGER.info("job %s: %s written in %.2f s", io.job_id, name, elapsed)
    subtitles = {"subtitles": [{"language": t["language"], "title": t["title"]} for t in params["subtitles"]
                               if t["language"] != params.get("burn_in")],
                 "burned_in": params.get("burn_in")} if params.get("subtitles") else {}
    return {"target": target.name, "artifact": name, "content_type": target.content_type,
            "remuxed": plan.remux, "copied_streams": list(plan.copied),
            "elapsed_seconds": round(elapsed, 3), **subtitles, **result}


def write_subtitles(tracks: list[dict[str, Any]], folder: Path) -> dict[str, Path]:
    """Each track's cues written out again as a SubRip file named by its position: what ffmpeg reads.

    Only cues parsed here reach ffmpeg, never the submitted bytes nor a name from the request.
    """
    files = {}
    for number, track in enumerate(tracks, start=1):
        path = folder / f"subtitles-{number}.srt"
        path.write_text(srt_of(parse_cues(track["text"])), encoding="utf-8")
        files[track["language"]] = path
    return files


def artifact_name(filename: str | None, extension: str) -> str:
    """A download name from the upload's name: 'My clip (1).MOV' -> 'My_clip_1.mp4'."""
    stem = Path(filename or "").stem
    stem = _UNSAFE_NAME_RE.sub("_", stem).strip("._-")[:MAX_STEM_CHARS]
    return f"{stem or 'output'}.{extension}"


def describe_output(path: Path, kind: str, ffmpeg: str) -> dict[str, Any]:
    """Result metadata from a probe of the produced file, so it reports what was made."""
    if kind == "image":
        return _describe_image(path)
    try:
        # Its header only: ffmpeg has just written this file and exited cleanly (a decode check
        # would cost a second ffmpeg start and decoder set-up per job, ~0.2 s).
        info = probe(path, ffmpeg, decode_check=False)
    except ProbeError as exc:
        raise PermanentError(f"the converted file cannot be read: {exc}") from exc
    return _describe_media(info)


def _describe_media(info: MediaInfo) -> dict[str, Any]:
    video, audio = info.first("video"), info.first("audio")
    return {
        "format": info.format_name, "duration": round(info.duration, 3), "size": info.size,
        "video": video and {"codec": video.codec_name, "width": video.width,
                            "height": video.height, "fps": video.fps},
        "audio": audio and {"codec": audio.codec_name, "sample_rate": audio.sample_rate,
                            "channels": audio.channels},
    }


def _describe_image(path: Path) -> dict[str, Any]:
    # Pillow names the formats as people do (jpeg, png, webp) where ffmpeg says mjpeg, png_pipe.
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            width, height, codec = image.width, image.height, image.format.lower()
    except (UnidentifiedImageError, OSError) as exc:
        raise PermanentError("the image could not be made (no frame at that time?)") from exc
    return {"format": codec, "duration": 0.0, "size": path.stat().st_size,
            "video": {"codec": codec, "width": width, "height": height, "fps": None},
            "audio": None}
