"""Subtitles into a video: parsing srt/vtt, the options' checks, the filter escaping, and ffmpeg runs on real clips.

The burned-in text is read back with the vision worker's own OCR (PP-OCRv4 through rapidocr).
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from services.convert_worker.command import build_plan
from services.convert_worker.convert import process, write_subtitles
from services.vision_worker.ocr import load as load_ocr
from shared.handler import PermanentError
from shared.kinds.convert.limits import ConvertLimits
from shared.kinds.convert.subtitles import (
    MAX_SUBTITLE_BYTES,
    burn_in_filter,
    filter_value,
    iso639_2,
    parse_cues,
)
from shared.kinds.convert.targets import validate_params
from shared.media_probe import ffmpeg_exe, probe
from tests.fakes import FakeJobIO
from tests.unit.test_media_probe import TESTSRC, TONE, make_media

SPANISH_VTT = """WEBVTT - lecture

NOTE made by hand

00:00.500 --> 00:01.800 align:start
Hola <i>mundo</i> &amp; amigos

intro-2
00:02.000 --> 00:03.500
<v Ana>Adiós</v> {\\an8}amigo
segunda línea
"""
CATALAN_SRT = ("\ufeff1\r\n00:00:00,500 --> 00:00:01,800\r\nHola món\r\n\r\n"
               "2\r\n00:00:02,000 --> 00:00:03,500\r\nAdéu amic\r\n")
BIG_WORDS_SRT = "1\n00:00:00,000 --> 00:00:04,000\nPATIENCE GARDEN\n"


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("subtitled")
    return make_media(folder / "clip.mp4", *TESTSRC, *TONE, "-t", "4", "-pix_fmt", "yuv420p",
                      "-c:v", "libx264", "-c:a", "aac")


def test_srt_and_vtt_parse_into_plain_timed_cues():
    cues = parse_cues(SPANISH_VTT)
    assert [(c.start, c.end) for c in cues] == [(0.5, 1.8), (2.0, 3.5)]
    assert [c.text for c in cues] == ["Hola mundo & amigos", "Adiós amigo\nsegunda línea"]
    assert [(c.start, c.end, c.text) for c in parse_cues(CATALAN_SRT)] == [
        (0.5, 1.8, "Hola món"), (2.0, 3.5, "Adéu amic")]
    assert parse_cues("WEBVTT\n\n01:02:03.250 --> 01:02:04.000\nx\n")[0].start == 3723.25


@pytest.mark.parametrize("text, words", [
    ("", "no cue"),
    ("WEBVTT\n", "no cue"),
    ("just some words\nand more", "line 2: expected a cue timing"),
    ("1\n00:00:02,000 --> 00:00:01,000\nback in time\n", "ends .* before it starts"),
    ("1\n00:00:01 --> 00:00:02\nno millis\n", "is not a time"),
    ("1\n00:00:01,000 --> 00:99:02,000\nbad minutes\n", "is not a time"),
    ("1\n00:00:01,000 --> 00:00:02,000\nok\n\nrubbish between cues\n", "line 5"),
    ("1\n00:00:01,000 --> 00:00:02,000\nnul\x00\n", "NUL"),
    (b"1\n00:00:01,000 --> 00:00:02,000\nbytes\n", "must be a string"),
    ("1\n00:00:01,000 --> 00:00:02,000\n" + "x" * MAX_SUBTITLE_BYTES, "at most"),
])
def test_what_is_no_srt_or_vtt_is_refused_with_the_line(text, words):
    with pytest.raises(ValueError, match=words):
        parse_cues(text)


def test_languages_are_tagged_with_iso_639_2_codes():
    assert [iso639_2(code) for code in ("es", "ca", "en", "FR", "spa")] == ["spa", "cat", "eng", "fra", "spa"]
    with pytest.raises(ValueError, match="unknown language"):
        iso639_2("xx")


def options(clip: Path, **params):
    return validate_params(params, probe(clip), ConvertLimits())


def test_the_options_come_back_normalized_and_checking_them_again_changes_nothing(clip):
    checked = options(clip, target="mkv", burn_in="ES", subtitle_size="12",
                      subtitles=[{"language": "spa", "text": SPANISH_VTT}, {"language": "ca", "text": CATALAN_SRT,
                                                                             "title": " Català "}])
    assert checked["burn_in"] == "es" and checked["subtitle_size"] == 12.0
    assert [(t["language"], t["title"]) for t in checked["subtitles"]] == [("es", "Spanish"), ("ca", "Català")]
    assert options(clip, **checked) == checked


@pytest.mark.parametrize("params, words", [
    ({"target": "mp3", "subtitles": [{"language": "es", "text": CATALAN_SRT}]}, "unknown option"),
    ({"target": "gif", "subtitles": [{"language": "es", "text": CATALAN_SRT}]}, "unknown option"),
    ({"target": "mp4", "subtitles": []}, "list of 1 to 8"),
    ({"target": "mp4", "subtitles": "WEBVTT"}, "subtitles must be JSON"),
    ({"target": "mp4", "subtitles": '"WEBVTT"'}, "list of 1 to 8"),
    ({"target": "mp4", "subtitles": [{"language": "es", "text": CATALAN_SRT}] * 9}, "list of 1 to 8"),
    ({"target": "mp4", "subtitles": [{"language": "es", "text": CATALAN_SRT, "path": "/etc/passwd"}]},
     "subtitle 1 must be an object"),
    ({"target": "mp4", "subtitles": [{"language": "klingon", "text": CATALAN_SRT}]}, "unknown language"),
    ({"target": "mp4", "subtitles": [{"language": "es", "text": "<html>"}]}, r"subtitle 1 \(es\): line 1"),
    ({"target": "mp4", "subtitles": [{"language": "es", "text": CATALAN_SRT},
                                     {"language": "spa", "text": CATALAN_SRT}]}, "twice"),
    ({"target": "mp4", "subtitles": [{"language": "es", "text": CATALAN_SRT, "title": "a\nb"}]}, "printable"),
    ({"target": "mp4", "subtitles": [{"language": "es", "text": CATALAN_SRT}], "burn_in": "ca"}, "not the language"),
    ({"target": "mp4", "burn_in": "es"}, "need subtitles"),
    ({"target": "mp4", "subtitles": [{"language": "es", "text": CATALAN_SRT}], "subtitle_size": 10},
     "give burn_in too"),
    ({"target": "mp4", "subtitles": [{"language": "es", "text": CATALAN_SRT}], "burn_in": "es",
      "subtitle_size": 80}, "from 2 to 25"),
    ({"target": "mp4", "subtitles": [{"language": "es", "text": CATALAN_SRT}], "start": 1}, "leave out start"),
])
def test_subtitle_options_that_cannot_work_are_refused_with_the_reason(clip, params, words):
    with pytest.raises(ValueError, match=words):
        options(clip, **params)


@pytest.mark.parametrize("value, escaped", [
    ("/tmp/a.srt", "/tmp/a.srt"),
    ("C:\\x", "C\\\\:\\\\\\\\x"),
    ("it's", "it\\\\\\'s"),
    ("a,b;c[d]", "a\\,b\\;c\\[d\\]"),
])
def test_filter_values_are_escaped_on_both_levels_of_the_filtergraph_syntax(value, escaped):
    assert filter_value(value) == escaped


def test_a_hostile_file_name_reaches_the_subtitles_filter_as_one_file_name(tmp_path, clip):
    """A name made of the filtergraph's own syntax opens that file and adds no filter or option."""
    folder = tmp_path / "it's [x],y;z=1:force_style=FontSize=200 \\ q"
    folder.mkdir()
    srt = folder / "s.srt"
    srt.write_text(BIG_WORDS_SRT, encoding="utf-8")
    out = tmp_path / "out.mp4"
    run = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(clip), "-t", "1",
                          "-vf", burn_in_filter(str(srt), 12), "-c:v", "libx264", "-preset", "ultrafast", str(out)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr  # libass opened the file: a name cut short would not open
    assert probe(out).first("video").width == 320
    srt.unlink()
    missing = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(clip), "-t", "1",
                              "-vf", burn_in_filter(str(srt), 12), "-f", "null", "-"], capture_output=True, timeout=120)
    assert missing.returncode != 0  # and the filter does read that name: without the file it fails


def test_the_plan_maps_each_soft_track_with_its_tags_and_draws_the_burned_one(tmp_path, clip):
    info = probe(clip)
    params = options(clip, target="mp4", burn_in="es", subtitle_size=10,
                     subtitles=[{"language": "es", "text": SPANISH_VTT}, {"language": "ca", "text": CATALAN_SRT}])
    files = write_subtitles(params["subtitles"], tmp_path)
    assert files["es"].read_text(encoding="utf-8").startswith("1\n00:00:00,500 --> 00:00:01,800\nHola mundo & amigos")
    args = build_plan("ffmpeg", clip, info, params, tmp_path / "out.mp4", files).args
    assert args.count("-i") == 2 and f"file:{files['ca']}" in args
    assert "-c:v" in args and args[args.index("-c:v") + 1] == "libx264"  # drawn in: re-encoded
    assert args[args.index("-vf") + 1].startswith("subtitles=filename=" + filter_value(str(files["es"])))
    assert args[args.index("-map", args.index("-map", args.index("-map") + 1) + 1) + 1] == "1:0"
    assert "language=cat" in args and "title=Catalan" in args and "language=spa" not in args
    assert args[args.index("-c:s") + 1] == "mov_text" and "-sn" not in args


def convert(clip: Path, tmp_path: Path, **params) -> tuple[dict, Path]:
    io = FakeJobIO(input_file=clip, workdir=tmp_path)
    result = process({"id": "job-1", "kind": "convert", "params": params,
                      "input": {"filename": "lecture.mp4"}}, io)
    return result, io.artifacts[result["artifact"]][0]


def stream_cues(path: Path, number: int) -> list[tuple[float, float, str]]:
    """The cues of the file's subtitle stream ``number``, read back by ffmpeg as WebVTT."""
    vtt = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(path),
                          "-map", f"0:s:{number}", "-f", "webvtt", "-"], capture_output=True, check=True,
                         timeout=60).stdout.decode("utf-8")
    return [(c.start, c.end, c.text) for c in parse_cues(vtt)]


@pytest.mark.parametrize("target, codec", [("mp4", "mov_text"), ("mkv", "subrip"), ("webm", "webvtt")])
def test_each_language_becomes_a_tagged_stream_with_the_cues_it_was_given(tmp_path, clip, target, codec):
    result, out = convert(clip, tmp_path, target=target, subtitles=[
        {"language": "es", "text": SPANISH_VTT}, {"language": "ca", "text": CATALAN_SRT, "title": "Català"}])
    streams = [s for s in probe(out).streams if s.codec_type == "subtitle"]
    assert [(s.codec_name, s.language, s.title) for s in streams] == [
        (codec, "spa", "Spanish"), (codec, "cat", "Català")]
    assert result["subtitles"] == [{"language": "es", "title": "Spanish"}, {"language": "ca", "title": "Català"}]
    assert stream_cues(out, 0) == [(c.start, c.end, c.text) for c in parse_cues(SPANISH_VTT)]
    assert stream_cues(out, 1) == [(0.5, 1.8, "Hola món"), (2.0, 3.5, "Adéu amic")]
    if target != "webm":
        assert result["remuxed"]  # the picture and sound are copied: only streams are added


def frame_at(path: Path, seconds: float, folder: Path) -> np.ndarray:
    png = folder / f"frame-{seconds}.png"
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-ss", str(seconds), "-i", str(path),
                    "-frames:v", "1", str(png)], check=True, timeout=60)
    return np.asarray(Image.open(png).convert("RGB"))


def test_burned_in_words_are_read_back_by_ocr_during_their_cue_and_the_others_stay_streams(tmp_path, clip):
    result, out = convert(clip, tmp_path, target="mp4", burn_in="en", subtitle_size=12, subtitles=[
        {"language": "en", "text": BIG_WORDS_SRT}, {"language": "ca", "text": CATALAN_SRT}])
    assert result["burned_in"] == "en" and not result["remuxed"]
    streams = [s for s in probe(out).streams if s.codec_type == "subtitle"]
    assert [(s.language, s.title) for s in streams] == [("cat", "Catalan")]
    ocr = load_ocr()
    read = " ".join(text for _, text, _ in ocr.read(frame_at(out, 2.0, tmp_path))).upper()
    assert "PATIENCE" in read and "GARDEN" in read, read
    before = " ".join(text for _, text, _ in ocr.read(frame_at(clip, 2.0, tmp_path))).upper()
    assert "PATIENCE" not in before, before


def test_a_stored_subtitle_that_does_not_parse_fails_the_job_for_good(tmp_path, clip):
    with pytest.raises(PermanentError, match="subtitle 1"):
        convert(clip, tmp_path, target="mp4", subtitles=[{"language": "es", "text": "not subtitles"}])
