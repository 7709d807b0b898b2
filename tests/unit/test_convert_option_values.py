"""Convert option values as clients send them (shared.kinds.convert.option_values, limits): each parser's
accepted forms, its bounds exactly at the edge, and its message."""
from __future__ import annotations

import pytest

from shared.kinds.convert.limits import ConvertLimits
from shared.kinds.convert.option_values import (
    parse_bitrate,
    parse_bool,
    parse_float,
    parse_int,
    parse_seconds,
)


@pytest.mark.parametrize("value, seconds", [
    (12, 12.0),
    (0, 0.0),
    ("2.5", 2.5),
    (" 7 ", 7.0),
    ("1:05", 65.0),
    ("01:02:03", 3723.0),
    ("0:00:01.250", 1.25),
    ("10:7", 607.0),
    ("2:00:00", 7200.0),
])
def test_seconds_come_from_numbers_and_clock_times(value, seconds):
    assert parse_seconds("start", value) == seconds


@pytest.mark.parametrize("value, message", [
    (-1, "start must not be negative"),
    ("-0.5", "start must not be negative"),
    ("1:2:3:4", "start must be a number of seconds or HH:MM:SS"),
    ("1:123", "start must be a number of seconds or HH:MM:SS"),
    ("soon", "start must be a number of seconds or HH:MM:SS"),
    (True, "start must be a number of seconds or HH:MM:SS"),
    (None, "start must be a number of seconds or HH:MM:SS"),
    ("nan", "start must be a number of seconds or HH:MM:SS"),
    (float("inf"), "start must be a number of seconds or HH:MM:SS"),
])
def test_bad_seconds_are_refused_by_name(value, message):
    with pytest.raises(ValueError) as refused:
        parse_seconds("start", value)
    assert str(refused.value) == message


def test_integers_are_taken_within_their_bounds_inclusive():
    assert parse_int("width", 16, 16, 64) == 16
    assert parse_int("width", "64", 16, 64) == 64
    assert parse_int("width", 32.0, 16, 64) == 32
    assert isinstance(parse_int("width", "32", 16, 64), int)


@pytest.mark.parametrize("value", [15, 65, "64.5", 20.5, "wide", False])
def test_integers_outside_their_bounds_or_not_whole_are_refused(value):
    with pytest.raises(ValueError) as refused:
        parse_int("width", value, 16, 64)
    assert str(refused.value) in ("width must be an integer from 16 to 64", "width must be an integer")


def test_an_integer_that_is_no_number_names_what_it_wants():
    with pytest.raises(ValueError) as refused:
        parse_int("width", "wide", 16, 64)
    assert str(refused.value) == "width must be an integer"


def test_floats_are_taken_within_their_bounds_inclusive():
    assert parse_float("speed", "0.5", 0.5, 2.0) == 0.5
    assert parse_float("speed", 2, 0.5, 2.0) == 2.0
    for outside in (0.49, 2.01):
        with pytest.raises(ValueError) as refused:
            parse_float("speed", outside, 0.5, 2.0)
        assert str(refused.value) == "speed must be a number from 0.5 to 2"
    with pytest.raises(ValueError) as refused:
        parse_float("speed", "fast", 0.5, 2.0)
    assert str(refused.value) == "speed must be a number"


@pytest.mark.parametrize("value, bits", [
    (128000, 128000),
    ("128000", 128000),
    ("128k", 128000),
    ("128K", 128000),
    ("2.5M", 2500000),
    ("2m", 2000000),
    (" 96 kbps ", 96000),
    ("96kb/s", 96000),
    ("96kbs", 96000),
    ("8000", 8000),
    ("10M", 10000000),
])
def test_bitrates_come_from_numbers_and_suffixed_strings(value, bits):
    assert parse_bitrate("audio_bitrate", value, 8000, 10_000_000) == bits


@pytest.mark.parametrize("value, message", [
    ("fast", "audio_bitrate must be bits per second, e.g. 128000 or '128k' or '2M'"),
    ("128g", "audio_bitrate must be bits per second, e.g. 128000 or '128k' or '2M'"),
    ("k", "audio_bitrate must be bits per second, e.g. 128000 or '128k' or '2M'"),
    (None, "audio_bitrate must be bits per second, e.g. 128000 or '128k'"),
    (7999, "audio_bitrate must be from 8k to 10M"),
    ("10.5M", "audio_bitrate must be from 8k to 10M"),
    ("7.9k", "audio_bitrate must be from 8k to 10M"),
])
def test_bad_bitrates_are_refused_with_the_range_in_kilo_and_mega(value, message):
    with pytest.raises(ValueError) as refused:
        parse_bitrate("audio_bitrate", value, 8000, 10_000_000)
    assert str(refused.value) == message


def test_a_range_under_a_megabit_is_written_in_kilobits():
    with pytest.raises(ValueError) as refused:
        parse_bitrate("audio_bitrate", 1, 32000, 320000)
    assert str(refused.value) == "audio_bitrate must be from 32k to 320k"
    with pytest.raises(ValueError) as refused:
        parse_bitrate("video_bitrate", 1, 1_000_000, 1_500_000)
    assert str(refused.value) == "video_bitrate must be from 1M to 1.5M"


@pytest.mark.parametrize("value, flag", [
    (True, True), (False, False), ("true", True), (" Yes ", True), ("1", True), ("on", True), (1, True),
    ("FALSE", False), ("0", False), ("no", False), ("off", False), (0, False),
])
def test_booleans_come_from_json_and_form_fields(value, flag):
    assert parse_bool("mute", value) is flag


@pytest.mark.parametrize("value", ["maybe", "", None, 2])
def test_other_booleans_are_refused(value):
    with pytest.raises(ValueError) as refused:
        parse_bool("mute", value)
    assert str(refused.value) == "mute must be true or false"


def test_limits_default_to_the_documented_values_and_budget_time_by_output_length():
    limits = ConvertLimits()
    assert (limits.max_seconds, limits.max_pixels, limits.max_image_pixels, limits.max_output_bytes,
            limits.timeout_base_seconds, limits.timeout_factor) == (
        14400.0, 8294400, 40000000, 2147483648, 120.0, 10.0)
    assert limits.timeout_for(0) == 120.0
    assert limits.timeout_for(30) == 420.0
    assert ConvertLimits(timeout_base_seconds=5, timeout_factor=2).timeout_for(3) == 11


def test_limits_are_read_from_the_settings():
    limits = ConvertLimits.from_config({
        "MAX_MEDIA_SECONDS": 60.0, "MAX_MEDIA_PIXELS": 1000, "MAX_IMAGE_PIXELS": 2000,
        "CONVERT_MAX_OUTPUT_BYTES": 3000, "CONVERT_TIMEOUT_BASE_SECONDS": 4.0, "CONVERT_TIMEOUT_FACTOR": 5.0})
    assert limits == ConvertLimits(60.0, 1000, 2000, 3000, 4.0, 5.0)
