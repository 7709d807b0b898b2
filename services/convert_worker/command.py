"""Build the ffmpeg argument list for a validated conversion, copying streams that already fit."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.kinds.convert.subtitles import SOFT_CODECS, burn_in_filter, iso639_2
from shared.kinds.convert.targets import (
    AUDIO_REENCODE_OPTIONS,
    TARGETS,
    VIDEO_REENCODE_OPTIONS,
    Target,
)
from shared.media_probe import MediaInfo, StreamInfo, input_args

# A GIF at full HD is tens of megabytes a second; unless asked for a size, keep it this wide.
GIF_DEFAULT_MAX_WIDTH = 480
GIF_DEFAULT_FPS = 10
# Encoder settings chosen for throughput on small shared CPUs; crf/bitrate options override quality.
_VIDEO_ENCODER_ARGS = {
    "libx264": ["-preset", "veryfast", "-pix_fmt", "yuv420p"],
    "libvpx-vp9": ["-deadline", "realtime", "-cpu-used", "8", "-row-mt", "1",
                   "-pix_fmt", "yuv420p"],
}
_DEFAULT_CRF = {"libx264": 23, "libvpx-vp9": 33}
_DEFAULT_AUDIO_ARGS = {
    "aac": ["-b:a", "128k"],
    "libopus": ["-b:a", "96k"],
    "libmp3lame": ["-q:a", "2"],
    "pcm_s16le": [],
    "flac": [],
}
_MUXER_ARGS = {"mp4": ["-movflags", "+faststart"], "ipod": ["-movflags", "+faststart"],
               "mov": ["-movflags", "+faststart"], "image2": ["-update", "1"]}


@dataclass(frozen=True)
class Plan:
    """One ffmpeg run: its arguments, how many media seconds it produces, what it copies."""

    args: list[str]
    output_seconds: float
    copied: tuple[str, ...]  # 'video' and/or 'audio' streams taken over without re-encoding
    encoded: tuple[str, ...]

    @property
    def remux(self) -> bool:
        """True when every output stream is copied: a change of container only."""
        return bool(self.copied) and not self.encoded


def build_plan(ffmpeg: str, source: Path, info: MediaInfo, params: dict[str, Any],
               output: Path, subtitle_files: dict[str, Path] | None = None) -> Plan:
    """The ffmpeg command that turns ``source`` into ``output`` as validated ``params`` ask.

    ``subtitle_files`` holds the SubRip file the worker wrote for each language of
    ``params["subtitles"]``: the one named by ``burn_in`` is drawn into the picture, the others
    become subtitle streams.
    """
    subtitle_files = subtitle_files or {}
    soft = [track for track in params.get("subtitles", ()) if track["language"] != params.get("burn_in")]
    target = TARGETS[params["target"]]
    video = info.first("video") if target.video_encoder else None
    audio = None if params.get("mute") else (info.first("audio") if target.audio_encoder else None)
    start = params.get("start", 0.0)
    end = params.get("end", info.duration)
    trimmed = start > 0 or end < info.duration
    args = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    if target.kind == "image":
        if not info.still_image:
            args += ["-ss", _seconds(params["at"])]
    elif start > 0:
        # Before -i: a fast seek, frame-accurate because the streams are re-encoded when trimmed.
        args += ["-ss", _seconds(start)]
    args += input_args(source, info)
    for track in soft:
        args += ["-protocol_whitelist", "file", "-format_whitelist", "srt", "-f", "srt",
                 "-i", "file:" + str(subtitle_files[track["language"]])]
    if trimmed and target.kind != "image":
        args += ["-t", _seconds(end - start)]
    copied: list[str] = []
    encoded: list[str] = []
    if video:
        args += ["-map", f"0:{video.index}"]
        if _can_copy(video, target.video_copy, VIDEO_REENCODE_OPTIONS, params, trimmed):
            args += ["-c:v", "copy"]
            copied.append("video")
        else:
            burn = subtitle_files[params["burn_in"]] if params.get("burn_in") else None
            args += _video_args(target, video, params, burn)
            encoded.append("video")
    if audio:
        args += ["-map", f"0:{audio.index}"]
        if _can_copy(audio, target.audio_copy, AUDIO_REENCODE_OPTIONS, params, trimmed):
            args += ["-c:a", "copy"]
            copied.append("audio")
        else:
            args += _audio_args(target, params)
            encoded.append("audio")
    else:
        args += ["-an"]
    if not video:
        args += ["-vn"]
    args += _soft_subtitle_args(target, soft) if soft else ["-sn"]
    args += ["-dn", "-progress", "pipe:1", "-nostats",
             *_MUXER_ARGS.get(target.muxer, []), "-f", target.muxer, "file:" + str(output)]
    output_seconds = 0.0 if target.kind == "image" else end - start
    return Plan(args, output_seconds, tuple(copied), tuple(encoded))


def _can_copy(stream: StreamInfo, copyable: frozenset[str], reencode_options: frozenset[str],
              params: dict[str, Any], trimmed: bool) -> bool:
    # Copying while trimming would cut at keyframes, not at the asked time.
    return (stream.codec_name in copyable and not trimmed
            and not reencode_options.intersection(params))


def _soft_subtitle_args(target: Target, tracks: list[dict[str, Any]]) -> list[str]:
    """Map each subtitle input (inputs 1..n) to a stream in the target's codec, with its language and title."""
    args: list[str] = []
    for number, track in enumerate(tracks):
        args += ["-map", f"{number + 1}:0", f"-metadata:s:s:{number}", f"language={iso639_2(track['language'])}",
                 f"-metadata:s:s:{number}", f"title={track['title']}"]
        if SOFT_CODECS[target.name] == "mov_text":
            # MP4 and QuickTime players show a track's handler name as its title.
            args += [f"-metadata:s:s:{number}", f"handler_name={track['title']}"]
    return args + ["-c:s", SOFT_CODECS[target.name], "-disposition:s:0", "default"]


def _video_args(target: Target, video: StreamInfo, params: dict[str, Any],
                burn: Path | None = None) -> list[str]:
    encoder = target.video_encoder
    if target.name == "gif":
        return ["-vf", _gif_filter(params)]
    if target.kind == "image":
        args = ["-frames:v", "1", "-c:v", encoder]
        scale = _scale_filter(params, even=False)
        if scale:
            args[0:0] = ["-vf", scale]
        return args + _image_quality_args(encoder, params.get("quality"))
    filters = []
    if "fps" in params:
        filters.append(f"fps={params['fps']:g}")
    scale = _scale_filter(params, even=True)
    if scale:
        filters.append(scale)
    elif (video.width or 0) % 2 or (video.height or 0) % 2:
        # 4:2:0 chroma needs even dimensions; an odd source loses one row or column.
        filters.append("scale=trunc(iw/2)*2:trunc(ih/2)*2")
    if burn is not None:
        # Drawn last, on the frame at its output size, so the text keeps its asked height.
        filters.append(burn_in_filter(str(burn), params.get("subtitle_size")))
    args = ["-c:v", encoder, *_VIDEO_ENCODER_ARGS[encoder]]
    if filters:
        args += ["-vf", ",".join(filters)]
    if "video_bitrate" in params:
        args += ["-b:v", str(params["video_bitrate"])]
    else:
        args += ["-crf", str(params.get("crf", _DEFAULT_CRF[encoder]))]
        if encoder == "libvpx-vp9":
            args += ["-b:v", "0"]  # libvpx's constant-quality mode needs the bitrate cap off
    return args


def _image_quality_args(encoder: str, quality: int | None) -> list[str]:
    """The encoder's own quality scale from the 1-100 one (higher is better, as in most tools)."""
    if encoder == "mjpeg":
        # mjpeg's qscale runs the other way, 2 (best) to 31 (worst); unasked, the best.
        qscale = 2 if quality is None else round(31 - (quality - 1) * 29 / 99)
        return ["-q:v", str(qscale)]
    if encoder == "libwebp":
        return ["-quality", str(75 if quality is None else quality)]
    return []


def _audio_args(target: Target, params: dict[str, Any]) -> list[str]:
    args = ["-c:a", target.audio_encoder]
    if "audio_bitrate" in params:
        args += ["-b:a", str(params["audio_bitrate"])]
    else:
        args += _DEFAULT_AUDIO_ARGS[target.audio_encoder]
    if "sample_rate" in params:
        args += ["-ar", str(params["sample_rate"])]
    if "channels" in params:
        args += ["-ac", str(params["channels"])]
    return args


def _scale_filter(params: dict[str, Any], even: bool) -> str | None:
    """Resize keeping the aspect ratio: to a width, a height, or to fit inside both."""
    width, height = params.get("width"), params.get("height")
    if width and height:
        divisible = ":force_divisible_by=2" if even else ""
        return f"scale={width}:{height}:force_original_aspect_ratio=decrease{divisible}"
    free = -2 if even else -1
    if width:
        return f"scale={width - width % 2 if even else width}:{free}"
    if height:
        return f"scale={free}:{height - height % 2 if even else height}"
    return None


def _gif_filter(params: dict[str, Any]) -> str:
    fps = params.get("fps", GIF_DEFAULT_FPS)
    scale = _scale_filter(params, even=False) or f"scale='min({GIF_DEFAULT_MAX_WIDTH},iw)':-1"
    # A palette made from the clip itself, instead of GIF's fixed 256 colours, avoids banding.
    return (f"fps={fps:g},{scale}:flags=lanczos,split[a][b];"
            f"[a]palettegen=stats_mode=diff[p];[b][p]paletteuse=dither=bayer")


def _seconds(value: float) -> str:
    return f"{value:.3f}"
