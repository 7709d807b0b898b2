"""The convert kind in the API: target and options, and a probe of the upload at submit."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from flask import current_app
from marshmallow import INCLUDE, fields

from services.api.kinds.base import KindSpec, SubmitCommonSchema, SubmitRefused, require_workers
from shared.kinds.convert.limits import ConvertLimits
from shared.kinds.convert.targets import TARGETS, validate_params
from shared.media_probe import probe


def _option(description: str) -> fields.Raw:
    # Raw: multipart forms send strings ("0.5", "00:01:02", "128k", "true"), JSON may send numbers;
    # the conversion's own validation parses both and words its refusals for the user.
    return fields.Raw(allow_none=True, metadata={"description": description})


class ConvertParamsSchema(SubmitCommonSchema):
    """Target and options; unknown options pass through so the check can list the supported ones."""

    class Meta:
        unknown = INCLUDE

    # Not required here: the check's refusal of a missing target lists the supported ones.
    target = fields.String(metadata={
        "enum": list(TARGETS),
        "description": "mp4, webm, mkv, mov, gif, mp3, wav, ogg, flac, m4a, jpg, png or webp "
                       "(jpg, png and webp also from an image: jpeg, png, webp, bmp, gif)"})
    start = _option("Trim start: seconds or HH:MM:SS(.fff)")
    end = _option("Trim end: seconds or HH:MM:SS(.fff)")
    at = _option("Thumbnail time of a video (jpg, png, webp): seconds or HH:MM:SS(.fff)")
    width = _option("Output width in pixels (height follows the aspect unless given)")
    height = _option("Output height in pixels (width follows the aspect unless given)")
    fps = _option("Output frame rate")
    video_bitrate = _option("Video bitrate, e.g. 800k or 2M")
    crf = _option("Constant quality (x264: 0-51, VP9: 0-63); not with video_bitrate")
    audio_bitrate = _option("Audio bitrate, e.g. 128k")
    mute = _option("Drop the audio (true/false)")
    sample_rate = _option("Audio sample rate in Hz")
    channels = _option("Audio channels")
    quality = _option("Image quality 1-100, higher is better (jpg, webp)")


def offered_targets(capabilities: list[dict[str, Any]]) -> set[str]:
    """Targets that at least one live convert worker reported."""
    return {name for worker in capabilities for name in (worker.get("targets") or {})}


def check(params: dict[str, Any], upload: Optional[Path]) -> dict[str, Any]:
    """Probe the stored upload and validate the request against it; 400 says what is wrong."""
    offered = offered_targets(require_workers("convert"))
    if upload is None:
        raise SubmitRefused("A conversion needs a file (multipart/form-data, a 'file' part).")
    try:
        info = probe(upload)
        normalized = validate_params(params, info, ConvertLimits.from_config(current_app.config))
    except ValueError as exc:  # ProbeError included: undecodable, playlist, no usable stream
        raise SubmitRefused(str(exc)) from exc
    if normalized["target"] not in offered:
        raise SubmitRefused(f"no running convert worker makes {normalized['target']}; "
                            f"targets available now: {', '.join(sorted(offered)) or 'none'}")
    # The probed length, kept with the job: the queue's estimates size the job by it.
    return {**normalized, "duration": round(info.duration, 3)}


SPEC = KindSpec("convert", ConvertParamsSchema, needs_file=True, check=check)
