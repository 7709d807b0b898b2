"""build_plan: which streams are copied, and the hardening every ffmpeg run carries."""
from __future__ import annotations

from pathlib import Path

import pytest

from services.convert_worker.command import build_plan
from shared.kinds.convert.limits import ConvertLimits
from shared.kinds.convert.targets import validate_params
from shared.media_probe import MediaInfo, StreamInfo

LIMITS = ConvertLimits()
AAC = StreamInfo(1, "audio", "aac", sample_rate=44100, channels=1)
H264_AAC = MediaInfo("matroska,webm", 3.0, 1000, [StreamInfo(0, "video", "h264", 320, 240), AAC])
MPEG4_AAC = MediaInfo("matroska,webm", 3.0, 1000, [StreamInfo(0, "video", "mpeg4", 320, 240), AAC])
ODD_SIZED = MediaInfo("avi", 3.0, 1000, [StreamInfo(0, "video", "mpeg4", 321, 241, 25.0)])


def plan_for(info: MediaInfo, **params):
    checked = validate_params(params, info, LIMITS)
    return build_plan("ffmpeg", Path("/in/source.mkv"), info, checked, Path("/out/output.bin"))


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_h264_aac_into_mp4_is_a_remux():
    plan = plan_for(H264_AAC, target="mp4")

    assert plan.remux
    assert option(plan.args, "-c:v") == "copy" and option(plan.args, "-c:a") == "copy"


def test_mpeg4_into_mp4_is_transcoded_while_aac_is_copied():
    plan = plan_for(MPEG4_AAC, target="mp4")

    assert not plan.remux
    assert (plan.copied, plan.encoded) == (("audio",), ("video",))
    assert option(plan.args, "-c:v") == "libx264"


@pytest.mark.parametrize("params", [{"start": 1}, {"end": 2}, {"width": 160}, {"fps": 10},
                                    {"crf": 28}, {"audio_bitrate": "64k"}])
def test_options_that_change_the_streams_prevent_copying(params):
    plan = plan_for(H264_AAC, target="mp4", **params)

    assert not plan.remux


def test_mute_drops_audio_and_still_remuxes_video():
    plan = plan_for(H264_AAC, target="mp4", mute=True)

    assert plan.remux and plan.copied == ("video",)
    assert "-an" in plan.args and "0:1" not in plan.args


def test_every_run_pins_the_demuxer_and_allows_only_local_protocols():
    plan = plan_for(MPEG4_AAC, target="webm")

    assert option(plan.args, "-protocol_whitelist") == "file,pipe"
    assert option(plan.args, "-f") == "matroska"  # the first -f is the input's
    assert plan.args[plan.args.index("-i") + 1] == "file:/in/source.mkv"
    assert plan.args[-3:] == ["-f", "webm", "file:/out/output.bin"]


def test_trim_seeks_before_the_input_and_bounds_the_output():
    plan = plan_for(MPEG4_AAC, target="mp3", start=0.5, end=2.25)

    assert plan.args.index("-ss") < plan.args.index("-i")
    assert option(plan.args, "-ss") == "0.500" and option(plan.args, "-t") == "1.750"
    assert plan.output_seconds == pytest.approx(1.75)


def test_resize_to_a_box_keeps_the_aspect_ratio():
    plan = plan_for(MPEG4_AAC, target="mp4", width=200, height=200)

    assert option(plan.args, "-vf") == ("scale=200:200:force_original_aspect_ratio=decrease:"
                                        "force_divisible_by=2")


def test_odd_sized_source_is_evened_for_h264():
    plan = plan_for(ODD_SIZED, target="mp4")

    assert option(plan.args, "-vf") == "scale=trunc(iw/2)*2:trunc(ih/2)*2"


def test_gif_uses_a_palette_from_the_clip():
    plan = plan_for(MPEG4_AAC, target="gif", fps=5)

    assert option(plan.args, "-vf").startswith("fps=5,")
    assert "palettegen" in option(plan.args, "-vf") and "-an" in plan.args


def test_thumbnail_takes_one_frame_at_the_asked_time():
    plan = plan_for(H264_AAC, target="png", at=1.25)

    assert option(plan.args, "-ss") == "1.250" and option(plan.args, "-frames:v") == "1"
    assert plan.output_seconds == 0.0
