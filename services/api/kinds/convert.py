"""The convert kind in the API: target and options, and a probe of the upload at submit."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from flask import current_app
from marshmallow import INCLUDE, fields

from services.api.kinds.base import KindSpec, SubmitCommonSchema, SubmitRefused, require_workers
from shared.kinds.convert.limits import ConvertLimits
from shared.kinds.convert.subtitles import MAX_SUBTITLE_BYTES, MAX_SUBTITLE_TRACKS, SUBTITLE_SIZE_RANGE
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
    subtitles = fields.Raw(allow_none=True, metadata={
        "description": "Video targets: [{language, text, title?}], each text a SubRip or WebVTT file's content "
                       f"(at most {MAX_SUBTITLE_TRACKS}, {MAX_SUBTITLE_BYTES // 1024} KiB each); each becomes a "
                       "subtitle stream tagged with the language (ISO 639-2) and title (default: the language's "
                       "name): mov_text in mp4 and mov, SubRip in mkv, WebVTT in webm. In a form, the list "
                       "as JSON text; in a pipeline, name the steps instead (a step's \"subtitles\")"})
    burn_in = _option("The language of one of the subtitles to draw into the picture (re-encodes the video); "
                      "the others stay subtitle streams")
    subtitle_size = _option("Burned-in text height in percent of the picture's height "
                            f"({SUBTITLE_SIZE_RANGE[0]:g}-{SUBTITLE_SIZE_RANGE[1]:g})")


def offered_targets(capabilities: list[dict[str, Any]]) -> set[str]:
    """Targets that at least one live convert worker reported."""
    return {name for worker in capabilities for name in (worker.get("targets") or {})}


def require_subtitles_offered(params: dict[str, Any], capabilities: list[dict[str, Any]]) -> None:
    """400 unless a live convert worker puts subtitles into this target (and burns them in, if asked)."""
    if not params.get("subtitles"):
        return
    offers = [worker.get("subtitles") or {} for worker in capabilities]
    target = str(params.get("target"))
    if not any(target in offer.get("soft", ()) for offer in offers):
        raise SubmitRefused(f"no running convert worker puts subtitles into {target}.")
    if params.get("burn_in") and not any(offer.get("burn_in") for offer in offers):
        raise SubmitRefused("no running convert worker burns subtitles in (its ffmpeg has no libass "
                            "'subtitles' filter); leave out burn_in to mux them as streams.")


def check(params: dict[str, Any], upload: Optional[Path]) -> dict[str, Any]:
    """Probe the stored upload and validate the request against it; 400 says what is wrong."""
    capabilities = require_workers("convert")
    offered = offered_targets(capabilities)
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
    require_subtitles_offered(normalized, capabilities)
    # The probed length, kept with the job: the queue's estimates size the job by it.
    return {**normalized, "duration": round(info.duration, 3)}


SPEC = KindSpec("convert", ConvertParamsSchema, needs_file=True, check=check)
