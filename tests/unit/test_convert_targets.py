"""validate_params: the catalog of targets and options, checked against the input and limits."""
from __future__ import annotations

import pytest

from shared.kinds.convert.limits import ConvertLimits
from shared.kinds.convert.targets import catalog, validate_params
from shared.media_probe import MediaInfo, StreamInfo, probe
from tests.unit.test_media_probe import TESTSRC, make_media

LIMITS = ConvertLimits(max_seconds=600, max_pixels=1920 * 1080)
VIDEO = StreamInfo(0, "video", "h264", width=640, height=360, fps=25.0)
AUDIO = StreamInfo(1, "audio", "aac", sample_rate=44100, channels=2)
CLIP = MediaInfo("matroska,webm", 10.0, 1000, [VIDEO, AUDIO])
SONG = MediaInfo("mp3", 10.0, 1000, [AUDIO])


def test_unknown_target_lists_every_supported_target():
    with pytest.raises(ValueError) as err:
        validate_params({"target": "avi"}, CLIP, LIMITS)

    assert str(err.value) == ("unknown target 'avi'; supported targets: "
                              "mp4, webm, mkv, mov, gif, mp3, wav, ogg, flac, m4a, jpg, png, webp")


def test_missing_target_lists_supported_targets():
    with pytest.raises(ValueError, match="target is required; supported targets: mp4, webm"):
        validate_params({}, CLIP, LIMITS)


def test_unknown_option_lists_the_targets_options():
    with pytest.raises(ValueError) as err:
        validate_params({"target": "mp3", "width": 320, "colour": "red"}, CLIP, LIMITS)

    message = str(err.value)
    assert "colour, width" in message
    assert "supported options: start, end, audio_bitrate, sample_rate, channels" in message


def test_audio_target_from_a_silent_video_says_why(tmp_path):
    silent = probe(make_media(tmp_path / "silent.mp4", *TESTSRC, "-t", "1", "-c:v", "mpeg4"))

    with pytest.raises(ValueError, match="no audio stream .* cannot become mp3"):
        validate_params({"target": "mp3"}, silent, LIMITS)


@pytest.mark.parametrize("target", ["mp4", "gif", "jpg"])
def test_video_and_image_targets_need_a_video_stream(target):
    with pytest.raises(ValueError, match=f"no video stream, so it cannot become {target}"):
        validate_params({"target": target}, SONG, LIMITS)


def test_input_over_the_duration_limit_is_refused():
    long = MediaInfo("mp3", 7200.0, 1000, [AUDIO])

    with pytest.raises(ValueError, match="lasts 7200 s; the limit is 600 s"):
        validate_params({"target": "wav"}, long, LIMITS)


def test_input_over_the_pixel_limit_is_refused():
    huge = MediaInfo("matroska", 5.0, 1000, [StreamInfo(0, "video", "h264", 7680, 4320)])

    with pytest.raises(ValueError, match="7680x4320"):
        validate_params({"target": "mp4"}, huge, LIMITS)


def test_form_strings_become_typed_values():
    params = validate_params({"target": "MP4", "start": "00:00:01.5", "end": "4", "width": "320",
                              "fps": "12.5", "video_bitrate": "800k", "audio_bitrate": "96k",
                              "sample_rate": "22050", "channels": "1"}, CLIP, LIMITS)

    assert params == {"target": "mp4", "start": 1.5, "end": 4.0, "width": 320, "fps": 12.5,
                      "video_bitrate": 800_000, "audio_bitrate": 96_000, "sample_rate": 22050,
                      "channels": 1}


def test_normalized_params_validate_to_themselves():
    once = validate_params({"target": "jpeg", "width": 200, "mute": None}, CLIP, LIMITS)

    assert validate_params(once, CLIP, LIMITS) == once
    assert once == {"target": "jpg", "width": 200, "at": 1.0}


def test_end_just_past_the_duration_is_clamped_but_far_past_is_refused():
    assert validate_params({"target": "wav", "end": 10.3}, SONG, LIMITS)["end"] == 10.0

    with pytest.raises(ValueError, match="past the end"):
        validate_params({"target": "wav", "end": 12}, SONG, LIMITS)


@pytest.mark.parametrize("params, message", [
    ({"start": 5, "end": 3}, "must be after start"),
    ({"start": 11}, "must be before the end"),
    ({"start": -1}, "must not be negative"),
    ({"crf": 30, "video_bitrate": "1M"}, "either crf"),
    ({"crf": 60}, "crf must be an integer from 0 to 51"),
    ({"mute": True, "audio_bitrate": "64k"}, "conflict with mute"),
    ({"mute": "perhaps"}, "mute must be true or false"),
    ({"sample_rate": 44100, "target": "webm"}, "sample_rate for webm must be one of 8000"),
    ({"video_bitrate": "fast"}, "video_bitrate must be bits per second"),
    ({"width": 1920, "height": 1200}, "over the limit"),
])
def test_bad_option_values_are_refused_with_the_reason(params, message):
    with pytest.raises(ValueError, match=message):
        validate_params({"target": "mp4", **params}, CLIP, LIMITS)


def test_a_trim_that_starts_exactly_at_the_end_of_the_input_is_refused():
    """CLIP lasts 10 s: a start of 10 s would leave nothing to convert; 9.5 s leaves half a second."""
    with pytest.raises(ValueError) as err:
        validate_params({"target": "mp4", "start": 10}, CLIP, LIMITS)
    assert str(err.value) == "start (10 s) must be before the end of the input (10 s)"
    assert validate_params({"target": "mp4", "start": 9.5}, CLIP, LIMITS) == {"target": "mp4", "start": 9.5}


def test_a_trim_whose_end_equals_its_start_is_refused():
    with pytest.raises(ValueError) as err:
        validate_params({"target": "mp4", "start": 4, "end": 4}, CLIP, LIMITS)
    assert str(err.value) == "end (4 s) must be after start (4 s)"


def test_thumbnail_time_must_fall_inside_the_input():
    with pytest.raises(ValueError, match="at .* must be before the end"):
        validate_params({"target": "png", "at": 30}, CLIP, LIMITS)


def test_limits_come_from_the_settings(monkeypatch):
    from shared.config import Config
    from shared.kinds.convert.limits import ConvertLimits
    monkeypatch.setenv("CONVEYOR_MAX_MEDIA_SECONDS", "5")

    with pytest.raises(ValueError, match="the limit is 5 s"):
        validate_params({"target": "mp4"}, CLIP, ConvertLimits.from_config(Config()))


def test_catalog_names_content_types_and_options():
    entries = catalog()

    assert entries["webm"]["content_type"] == "video/webm"
    assert entries["m4a"] == {"kind": "audio", "content_type": "audio/mp4", "extension": "m4a",
                              "options": ["start", "end", "audio_bitrate", "sample_rate",
                                          "channels"], "inputs": ["audio", "video"]}
    assert "mute" not in entries["gif"]["options"]


PICTURE = MediaInfo("png_pipe", 0.0, 1000, [StreamInfo(0, "video", "png", width=4000, height=3000)])
GIF = MediaInfo("gif", 2.0, 1000, [StreamInfo(0, "video", "gif", width=320, height=240)])


def test_catalog_says_which_inputs_each_target_takes():
    entries = catalog()

    assert entries["webp"]["inputs"] == entries["jpg"]["inputs"] == ["image", "video"]
    assert entries["mp4"]["inputs"] == ["video"]
    assert "quality" in entries["webp"]["options"] and "quality" not in entries["png"]["options"]


@pytest.mark.parametrize("target", ["mp4", "gif", "mp3"])
def test_a_picture_to_a_target_not_made_from_pictures_names_what_is_accepted(target):
    with pytest.raises(ValueError) as err:
        validate_params({"target": target}, PICTURE, LIMITS)

    message = str(err.value)
    assert f"cannot become {target}, which is made from " in message
    assert "an image" not in message.split("which is made from")[1].split(";")[0]
    assert message.endswith("an image can become jpg, png, webp")


def test_a_picture_is_held_to_the_image_pixel_limit_not_the_frame_limit():
    # 12 Mpx is over LIMITS' 1920x1080 frames but inside its 40 Mpx for images.
    assert validate_params({"target": "webp", "quality": "80"}, PICTURE, LIMITS) == {
        "target": "webp", "quality": 80}
    with pytest.raises(ValueError, match="image is 4000x3000; the limit is 10000000 pixels per image"):
        validate_params({"target": "png"}, PICTURE,
                        ConvertLimits(max_pixels=1920 * 1080, max_image_pixels=10_000_000))


def test_a_picture_has_no_frame_to_pick():
    with pytest.raises(ValueError, match="the input is a still image"):
        validate_params({"target": "png", "at": 1}, PICTURE, LIMITS)


def test_a_gif_gives_its_first_frame_unless_asked_for_another():
    assert validate_params({"target": "jpg"}, GIF, LIMITS) == {"target": "jpg", "at": 0.0}
    assert validate_params({"target": "jpg", "at": 1.5}, GIF, LIMITS)["at"] == 1.5


@pytest.mark.parametrize("quality", [0, 101, "best", 50.5])
def test_quality_is_an_integer_from_1_to_100(quality):
    with pytest.raises(ValueError, match="quality must be an integer"):
        validate_params({"target": "jpg", "quality": quality}, PICTURE, LIMITS)


def test_png_has_no_quality_option():
    with pytest.raises(ValueError, match="unknown option.* quality for target png"):
        validate_params({"target": "png", "quality": 90}, PICTURE, LIMITS)


def test_the_apis_record_of_the_input_length_is_not_an_option():
    assert validate_params({"target": "mp4", "duration": 10.0}, CLIP, LIMITS) == {"target": "mp4"}
