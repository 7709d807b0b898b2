"""What a conversion can produce, and the check of a request against it and the probed input.

``validate_params(params, media_info, limits)`` is called twice: by the API at submit time (a ValueError
becomes a 400 with its message, and nothing is queued) and again by the worker, which trusts no
stored params. It returns the normalized params, and is idempotent on its own output.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from shared.kinds.convert import subtitles
from shared.kinds.convert.limits import ConvertLimits
from shared.kinds.convert.option_values import (
    parse_bitrate,
    parse_bool,
    parse_float,
    parse_int,
    parse_seconds,
)

if TYPE_CHECKING:
    # Only the probe's result type: importing the prober would bring ffprobe's subprocess along.
    from shared.media_probe import MediaInfo

SERVER_KEYS = frozenset({"target", "duration"})
TRIM = ("start", "end")
RESIZE = ("width", "height")
AUDIO_SHAPE = ("sample_rate", "channels")
# Options that change a stream's pixels or samples, so the stream cannot be copied as it is.
VIDEO_REENCODE_OPTIONS = frozenset({"width", "height", "fps", "video_bitrate", "crf", "burn_in"})
AUDIO_REENCODE_OPTIONS = frozenset({"audio_bitrate", "sample_rate", "channels"})
# Seconds by which a requested end may pass the probed duration (container rounding) before it is
# refused rather than clamped.
END_SLACK_SECONDS = 0.5

_COMMON_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)


@dataclass(frozen=True)
class Target:
    """One output format: container, encoders, which source codecs may be copied, options."""

    name: str
    kind: str  # 'video' | 'audio' | 'image'
    muxer: str
    extension: str
    content_type: str
    options: tuple[str, ...]
    video_encoder: str | None = None
    audio_encoder: str | None = None
    video_copy: frozenset[str] = frozenset()
    audio_copy: frozenset[str] = frozenset()
    crf_range: tuple[int, int] | None = None
    audio_bitrate_range: tuple[int, int] = (8_000, 512_000)
    sample_rates: tuple[int, ...] = _COMMON_RATES
    max_channels: int = 8
    inputs: tuple[str, ...] = ("video",)  # what it is made from: 'video', 'audio', 'image'

    @property
    def needs_video(self) -> bool:
        """Whether the input must have a (non cover-art) video stream."""
        return self.kind in ("video", "image")


_VIDEO_OPTIONS = (*TRIM, *RESIZE, "fps", "video_bitrate", "crf", "audio_bitrate", "mute",
                  *AUDIO_SHAPE, *subtitles.OPTIONS)
_LOSSY_AUDIO_OPTIONS = (*TRIM, "audio_bitrate", *AUDIO_SHAPE)
_LOSSLESS_AUDIO_OPTIONS = (*TRIM, *AUDIO_SHAPE)
_IMAGE_OPTIONS = ("at", *RESIZE)
_IMAGE_INPUTS = ("image", "video")  # a picture converted, or a video's frame at 'at'
_AUDIO_INPUTS = ("audio", "video")  # a video's sound track counts
# What an 'image' input is: the still-image demuxers of shared.media_probe, and GIF (its first frame).
IMAGE_INPUT_FORMATS = ("jpeg", "png", "webp", "bmp", "gif")
_H264 = frozenset({"h264"})
_X264 = (0, 51)

TARGETS: dict[str, Target] = {t.name: t for t in (
    Target("mp4", "video", "mp4", "mp4", "video/mp4", _VIDEO_OPTIONS, "libx264", "aac",
           _H264, frozenset({"aac"}), _X264),
    Target("webm", "video", "webm", "webm", "video/webm", _VIDEO_OPTIONS, "libvpx-vp9", "libopus",
           frozenset({"vp9"}), frozenset({"opus"}), (0, 63), (6_000, 510_000),
           (8000, 12000, 16000, 24000, 48000)),
    # Matroska holds nearly any codec, so more sources remux; what it cannot take is re-encoded.
    Target("mkv", "video", "matroska", "mkv", "video/x-matroska", _VIDEO_OPTIONS, "libx264", "aac",
           frozenset({"h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "mpeg2video", "theora"}),
           frozenset({"aac", "opus", "vorbis", "flac", "mp3", "ac3", "eac3", "pcm_s16le"}), _X264),
    Target("mov", "video", "mov", "mov", "video/quicktime", _VIDEO_OPTIONS, "libx264", "aac",
           frozenset({"h264", "hevc", "prores"}), frozenset({"aac", "alac"}), _X264),
    Target("gif", "video", "gif", "gif", "image/gif", (*TRIM, *RESIZE, "fps"), "gif"),
    Target("mp3", "audio", "mp3", "mp3", "audio/mpeg", _LOSSY_AUDIO_OPTIONS,
           audio_encoder="libmp3lame", audio_copy=frozenset({"mp3"}),
           audio_bitrate_range=(32_000, 320_000), max_channels=2, inputs=_AUDIO_INPUTS),
    Target("wav", "audio", "wav", "wav", "audio/wav", _LOSSLESS_AUDIO_OPTIONS,
           audio_encoder="pcm_s16le", audio_copy=frozenset({"pcm_s16le"}),
           sample_rates=(*_COMMON_RATES, 88200, 96000), inputs=_AUDIO_INPUTS),
    Target("ogg", "audio", "ogg", "ogg", "audio/ogg", _LOSSY_AUDIO_OPTIONS,
           audio_encoder="libopus", audio_copy=frozenset({"opus"}),
           audio_bitrate_range=(6_000, 510_000), sample_rates=(8000, 12000, 16000, 24000, 48000),
           inputs=_AUDIO_INPUTS),
    Target("flac", "audio", "flac", "flac", "audio/flac", _LOSSLESS_AUDIO_OPTIONS,
           audio_encoder="flac", audio_copy=frozenset({"flac"}),
           sample_rates=(*_COMMON_RATES, 88200, 96000), inputs=_AUDIO_INPUTS),
    Target("m4a", "audio", "ipod", "m4a", "audio/mp4", _LOSSY_AUDIO_OPTIONS,
           audio_encoder="aac", audio_copy=frozenset({"aac"}),
           sample_rates=(*_COMMON_RATES, 88200, 96000), inputs=_AUDIO_INPUTS),
    Target("jpg", "image", "image2", "jpg", "image/jpeg", (*_IMAGE_OPTIONS, "quality"), "mjpeg",
           inputs=_IMAGE_INPUTS),
    Target("png", "image", "image2", "png", "image/png", _IMAGE_OPTIONS, "png",
           inputs=_IMAGE_INPUTS),
    Target("webp", "image", "image2", "webp", "image/webp", (*_IMAGE_OPTIONS, "quality"),
           "libwebp", inputs=_IMAGE_INPUTS),
)}
_ALIASES = {"jpeg": "jpg", "matroska": "mkv", "opus": "ogg", "aac": "m4a"}
_AUDIO_TARGETS = ", ".join(t.name for t in TARGETS.values() if t.kind == "audio")
_IMAGE_TARGETS = ", ".join(t.name for t in TARGETS.values() if "image" in t.inputs)


def catalog() -> dict[str, dict[str, Any]]:
    """The supported targets and their options, for a catalog endpoint or an error message."""
    return {t.name: {"kind": t.kind, "content_type": t.content_type, "extension": t.extension,
                     "options": list(t.options), "inputs": list(t.inputs)}
            for t in TARGETS.values()}


def validate_params(params: dict[str, Any], media_info: MediaInfo, limits: ConvertLimits) -> dict[str, Any]:
    """Check a request against the catalog, the input and the limits; return it normalized."""
    if not isinstance(params, dict):
        raise ValueError("params must be an object with a 'target' and its options")
    target = _target(params.get("target"))
    # 'duration' is the API's record of the probed input (for the queue's estimates), not an option.
    options = {k: v for k, v in params.items()
               if k not in SERVER_KEYS and v is not None and v != ""}
    unknown = sorted(set(options) - set(target.options))
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(unknown)} for target {target.name}; "
                         f"supported options: {', '.join(target.options)}")
    _check_input(target, media_info, limits)
    out: dict[str, Any] = {"target": target.name}
    for name, value in options.items():
        if name not in subtitles.OPTIONS:
            out[name] = _PARSERS[name](name, value, target, limits)
    out.update(subtitles.validate(options, target.name, trimmed="start" in out or "end" in out))
    if target.kind == "image":
        _check_image_time(out, media_info)
    else:
        _check_trim(out, media_info)
    _check_resize(out, _pixel_limit(media_info, limits))
    if "crf" in out and "video_bitrate" in out:
        raise ValueError("give either crf (constant quality) or video_bitrate, not both")
    if out.get("mute") and AUDIO_REENCODE_OPTIONS.intersection(out):
        raise ValueError("audio options (audio_bitrate, sample_rate, channels) conflict with mute")
    return out


def _target(name: object) -> Target:
    supported = ", ".join(TARGETS)
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"a target is required; supported targets: {supported}")
    key = name.strip().lower().lstrip(".")
    key = _ALIASES.get(key, key)
    if key not in TARGETS:
        raise ValueError(f"unknown target {name!r}; supported targets: {supported}")
    return TARGETS[key]


def _is_image(info: MediaInfo) -> bool:
    return info.still_image or info.demuxer == "gif"


def _pixel_limit(info: MediaInfo, limits: ConvertLimits) -> int:
    # A picture is one frame, so it may be larger than a video's frames (MAX_IMAGE_PIXELS).
    return limits.max_image_pixels if info.still_image else limits.max_pixels


def _accepted_inputs(target: Target) -> str:
    words = {"video": "a video", "audio": "an audio file",
             "image": f"an image ({', '.join(IMAGE_INPUT_FORMATS)})"}
    return " or ".join(words[kind] for kind in target.inputs)


def _check_input(target: Target, info: MediaInfo, limits: ConvertLimits) -> None:
    if info.duration > limits.max_seconds:
        raise ValueError(f"the input lasts {info.duration:.0f} s; the limit is "
                         f"{limits.max_seconds:.0f} s")
    video, audio = info.first("video"), info.first("audio")
    max_pixels = _pixel_limit(info, limits)
    if video and video.width and video.height and video.width * video.height > max_pixels:
        what = "image is" if info.still_image else "frames are"
        raise ValueError(f"the input's {what} {video.width}x{video.height}; the limit is "
                         f"{max_pixels} pixels per {'image' if info.still_image else 'frame'}")
    if info.still_image and "image" not in target.inputs:
        raise ValueError(f"the input is a still image ({info.demuxer.removesuffix('_pipe')}), so it "
                         f"cannot become {target.name}, which is made from "
                         f"{_accepted_inputs(target)}; an image can become {_IMAGE_TARGETS}")
    if target.needs_video and video is None:
        raise ValueError(f"the input has no video stream, so it cannot become {target.name}, "
                         f"which is made from {_accepted_inputs(target)}; "
                         f"audio targets: {_AUDIO_TARGETS}")
    if target.kind == "audio" and audio is None:
        raise ValueError(f"the input has no audio stream (a silent video?), so it cannot become "
                         f"{target.name}")


def _check_trim(out: dict[str, Any], info: MediaInfo) -> None:
    start = out.get("start", 0.0)
    if start >= info.duration:
        raise ValueError(f"start ({start:g} s) must be before the end of the input "
                         f"({info.duration:g} s)")
    if "end" in out:
        if out["end"] <= start:
            raise ValueError(f"end ({out['end']:g} s) must be after start ({start:g} s)")
        if out["end"] > info.duration + END_SLACK_SECONDS:
            raise ValueError(f"end ({out['end']:g} s) is past the end of the input "
                             f"({info.duration:g} s)")
        out["end"] = min(out["end"], info.duration)


def _check_resize(out: dict[str, Any], max_pixels: int) -> None:
    if "width" in out and "height" in out and out["width"] * out["height"] > max_pixels:
        raise ValueError(f"{out['width']}x{out['height']} is over the limit of "
                         f"{max_pixels} pixels per frame")


def _check_image_time(out: dict[str, Any], info: MediaInfo) -> None:
    """Which frame an image target takes: none to choose from a picture, the first of a GIF."""
    if info.still_image:
        if "at" in out:
            raise ValueError("at picks a frame of a video; the input is a still image, so leave it out")
        return
    at = out.get("at")
    if at is None:
        # A tenth of the way into a video skips the black or title frame that many open with;
        # a GIF is a picture first, so its first frame.
        out["at"] = 0.0 if _is_image(info) else round(info.duration / 10, 3)
        return
    if at >= info.duration:
        raise ValueError(f"at ({at:g} s) must be before the end of the input ({info.duration:g} s)")


def _crf(name: str, value: object, target: Target, _limits: ConvertLimits) -> int:
    low, high = target.crf_range  # type: ignore[misc]  # only targets with a crf range list crf
    return parse_int(name, value, low, high)


def _sample_rate(name: str, value: object, target: Target, _limits: ConvertLimits) -> int:
    rate = parse_int(name, value, 1, 1_000_000)
    if rate not in target.sample_rates:
        raise ValueError(f"sample_rate for {target.name} must be one of "
                         f"{', '.join(map(str, target.sample_rates))}")
    return rate


def _dimension(name: str, value: object, target: Target, limits: ConvertLimits) -> int:
    # The area is checked against the input's own limit later; this bounds one side.
    if target.kind == "image":
        return parse_int(name, value, 16, min(16384, max(limits.max_pixels, limits.max_image_pixels) // 16))
    return parse_int(name, value, 16, min(7680, limits.max_pixels // 16))


_PARSERS: dict[str, Callable[[str, object, Target, ConvertLimits], Any]] = {
    "start": lambda n, v, t, lim: parse_seconds(n, v),
    "end": lambda n, v, t, lim: parse_seconds(n, v),
    "at": lambda n, v, t, lim: parse_seconds(n, v),
    "width": _dimension,
    "height": _dimension,
    "fps": lambda n, v, t, lim: parse_float(n, v, 1, 50 if t.name == "gif" else 120),
    "video_bitrate": lambda n, v, t, lim: parse_bitrate(n, v, 50_000, 100_000_000),
    "crf": _crf,
    "audio_bitrate": lambda n, v, t, lim: parse_bitrate(n, v, *t.audio_bitrate_range),
    "mute": lambda n, v, t, lim: parse_bool(n, v),
    "sample_rate": _sample_rate,
    "channels": lambda n, v, t, lim: parse_int(n, v, 1, t.max_channels),
    "quality": lambda n, v, t, lim: parse_int(n, v, 1, 100),
}
