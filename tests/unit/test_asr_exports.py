"""Transcript exports: txt, docx, srt, vtt and json, for finished and partial jobs."""

from __future__ import annotations

import io
import json

import docx
import pytest
import srt
import webvtt

from services.asr_worker.transcribe import process
from shared.kinds.asr.exports import export
from shared.kinds.asr.subtitles import (
    MAX_CUE_SECONDS,
    MAX_LINE_CHARS,
    MIN_CUE_SECONDS,
    build_cues,
)
from tests.fakes import FakeJobIO
from tests.media import ENGLISH_SENTENCES, speak


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    wav = speak(" ".join(ENGLISH_SENTENCES[:4]), tmp_path_factory.mktemp("export") / "speech.wav")
    return process({"id": "job-export", "params": {}}, FakeJobIO(input_file=wav))


def _timed(text: str, start: float, step: float = 0.3) -> list[dict]:
    return [
        {
            "word": w,
            "start": round(start + i * step, 3),
            "end": round(start + i * step + 0.25, 3),
            "conf": 0.9,
        }
        for i, w in enumerate(text.split())
    ]


def _check_cues_against_words(cues: list[tuple[float, float, str]], words: list[dict]) -> None:
    """Each cue holds the next run of words, starts with its first word and ends after its last."""
    position = 0
    for number, (start, end, text) in enumerate(cues):
        shown = text.split()
        run = words[position : position + len(shown)]
        assert [w["word"] for w in run] == shown
        assert start == pytest.approx(run[0]["start"], abs=0.001)
        assert end >= run[-1]["end"] - 0.001
        if number + 1 < len(cues):
            assert end <= cues[number + 1][0] + 0.001
        lines = text.split("\n")
        assert len(lines) <= 2 and all(len(line) <= MAX_LINE_CHARS for line in lines)
        assert end - start <= MAX_CUE_SECONDS + 0.001
        position += len(shown)
    assert position == len(words)


def test_srt_parses_back_with_cue_times_matching_the_words(result):
    body, content_type, extension = export(result, "srt")
    assert (content_type.split(";")[0], extension) == ("application/x-subrip", "srt")
    cues = [
        (c.start.total_seconds(), c.end.total_seconds(), c.content)
        for c in srt.parse(body.decode())
    ]
    assert len(cues) >= 2
    _check_cues_against_words(cues, result["words"])


def test_vtt_parses_back_with_cue_times_matching_the_words(result):
    body, content_type, extension = export(result, "vtt")
    assert (content_type.split(";")[0], extension) == ("text/vtt", "vtt")
    captions = webvtt.from_string(body.decode())
    cues = [(_seconds(c.start), _seconds(c.end), c.text) for c in captions]
    _check_cues_against_words(cues, result["words"])


def _seconds(clock: str) -> float:
    hours, minutes, seconds = clock.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def test_docx_opens_with_python_docx_and_holds_the_text(result):
    body, content_type, extension = export(result, "docx")
    assert extension == "docx" and "wordprocessingml" in content_type
    document = docx.Document(io.BytesIO(body))
    paragraphs = [p.text for p in document.paragraphs]
    assert paragraphs[0] == "Transcript"
    assert "Language: en" in paragraphs[1]
    body_text = " ".join(p.split("] ", 1)[1] for p in paragraphs[2:])
    assert body_text == " ".join(s["text"] for s in result["segments"])
    assert paragraphs[2].startswith("[00:00:00] ")


def test_doc_is_accepted_as_word_format(result):
    assert export(result, "doc")[2] == "docx"


def test_txt_has_one_line_per_segment(result):
    body, content_type, extension = export(result, "txt")
    assert extension == "txt" and content_type.startswith("text/plain")
    assert body.decode().splitlines() == [s["text"] for s in result["segments"]]


def test_json_round_trips_the_words_and_text(result):
    body, content_type, _ = export(result, "json")
    loaded = json.loads(body)
    assert content_type == "application/json"
    assert loaded["words"] == result["words"] and loaded["text"] == result["text"]
    assert loaded["partial"] is False


def test_partial_job_exports_from_its_chunks():
    chunks = [
        {
            "seq": 1,
            "start": 6.0,
            "end": 12.0,
            "text": "second part here",
            "words": _timed("second part here", 6.5),
        },
        {
            "seq": 0,
            "start": 0.0,
            "end": 6.0,
            "text": "first part",
            "words": _timed("first part", 0.5),
        },
    ]
    cues = list(srt.parse(export(chunks, "srt")[0].decode()))
    assert [c.content for c in cues] == ["first part", "second part here"]
    assert cues[1].start.total_seconds() == 6.5
    assert export(chunks, "txt")[0].decode() == "first part\nsecond part here\n"
    document = docx.Document(io.BytesIO(export(chunks, "docx")[0]))
    assert document.paragraphs[0].text == "Transcript (partial)"
    assert json.loads(export(chunks, "json")[0])["partial"] is True


def test_pause_and_cue_length_limits_split_cues():
    words = _timed("one two three", 0.0) + _timed("after the pause", 3.0)
    assert [c.text for c in build_cues(words)] == ["one two three", "after the pause"]
    slow = _timed("a b c d e f g h i j k l m n o p", 0.0, step=0.6)
    cues = build_cues(slow)
    assert len(cues) == 2 and all(c.end - c.start <= MAX_CUE_SECONDS for c in cues)


def test_long_text_wraps_into_two_balanced_lines_then_a_new_cue():
    text = "this sentence runs on without any punctuation at all so that its lines must wrap"
    cues = build_cues(_timed(text, 0.0, step=0.05))
    assert len(cues) == 2
    assert all(len(line) <= MAX_LINE_CHARS for c in cues for line in c.lines)
    first, second = cues[0].lines
    assert abs(len(first) - len(second)) <= 10
    assert " ".join(" ".join(c.lines) for c in cues) == text


def test_sentence_end_closes_a_cue_that_already_says_enough():
    cues = build_cues(_timed("The meeting starts now. Please take a seat.", 0.0))
    assert [c.text.replace("\n", " ") for c in cues] == [
        "The meeting starts now.",
        "Please take a seat.",
    ]


def test_short_cue_is_held_long_enough_to_read_without_overlapping():
    cues = build_cues(
        [{"word": "Yes.", "start": 1.0, "end": 1.1}, {"word": "No.", "start": 2.5, "end": 2.6}]
    )
    assert cues[0].end == pytest.approx(1.0 + MIN_CUE_SECONDS)
    # A quick full sentence closes its cue; the next cue starts 0.1 s later, which caps the hold.
    quick = _timed("This sentence was said quickly.", 1.0, step=0.05) + _timed("Then", 1.6)
    held = build_cues(quick)
    assert len(held) == 2 and held[0].end - held[0].start < MIN_CUE_SECONDS
    assert held[0].end == held[1].start == 1.6


def test_transcript_without_word_times_gets_cues_from_its_segments():
    result = {
        "text": "hello there world",
        "language": "en",
        "duration": 3.0,
        "words": [],
        "segments": [{"start": 0.0, "end": 3.0, "text": "hello there world"}],
    }
    cues = list(srt.parse(export(result, "srt")[0].decode()))
    assert [c.content for c in cues] == ["hello there world"]
    assert cues[0].end.total_seconds() == 3.0


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="unknown export format 'pdf'"):
        export({"text": "x", "words": [], "segments": []}, "pdf")
