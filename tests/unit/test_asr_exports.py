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
from tests.fakes import FakeJobIO
from tests.media import ENGLISH_SENTENCES, speak
from tests.subtitle_checks import check_cues, srt_cues, timed_words, vtt_cues

# Whisper writes "nine o'clock" as "9 o'clock" and times it as three pieces: "9", "o", "'clock".
CLOCK_SENTENCE = "We will meet again at nine o'clock in the evening."


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    spoken = " ".join(ENGLISH_SENTENCES[:4] + [CLOCK_SENTENCE])
    wav = speak(spoken, tmp_path_factory.mktemp("export") / "speech.wav")
    return process({"id": "job-export", "params": {}}, FakeJobIO(input_file=wav))


def _texts(result: dict) -> list[str]:
    return [s["text"] for s in result["segments"]]


def test_srt_cues_are_whole_words_of_one_sentence_within_the_limits(result):
    body, content_type, extension = export(result, "srt")
    assert (content_type.split(";")[0], extension) == ("application/x-subrip", "srt")
    cues = srt_cues(srt.parse(body.decode()))
    assert len(cues) >= 5
    check_cues(cues, _texts(result))


def test_vtt_cues_are_whole_words_of_one_sentence_within_the_limits(result):
    body, content_type, extension = export(result, "vtt")
    assert (content_type.split(";")[0], extension) == ("text/vtt", "vtt")
    check_cues(vtt_cues(webvtt.from_string(body.decode())), _texts(result))


def test_a_word_whisper_times_in_pieces_stays_whole_in_the_cues(result):
    assert "o'clock" in result["text"]
    assert "'clock" in [w["word"] for w in result["words"]]  # the engine's pieces, kept as timed
    shown = " ".join(c.content for c in srt.parse(export(result, "srt")[0].decode())).split()
    assert "o'clock" in shown and "'clock" not in shown


def test_cues_sit_on_the_words_they_show(result):
    cues = srt_cues(srt.parse(export(result, "srt")[0].decode()))
    heard = [(w["start"], w["end"]) for w in result["words"]]
    for start, end, _ in cues:
        assert any(start - 0.001 <= w_start and w_end <= end + 0.001 for w_start, w_end in heard)


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


def test_partial_job_exports_sentences_from_chunks_that_carry_no_segments():
    first = "We met at 9 o 'clock. It rained."
    chunks = [
        {"seq": 1, "start": 6.0, "end": 12.0, "text": "Then we left.", "words": timed_words("Then we left.", 6.5)},
        {"seq": 0, "start": 0.0, "end": 6.0, "text": "We met at 9 o'clock. It rained.",
         "words": timed_words(first, 0.5)},
    ]
    segments = json.loads(export(chunks, "json")[0])["segments"]
    assert [s["text"] for s in segments] == ["We met at 9 o'clock.", "It rained.", "Then we left."]
    assert (segments[0]["start"], segments[0]["end"]) == (0.5, 0.5 + 5 * 0.3 + 0.25)
    assert export(chunks, "txt")[0].decode() == "We met at 9 o'clock.\nIt rained.\nThen we left.\n"
    cues = list(srt.parse(export(chunks, "srt")[0].decode()))
    assert [c.content for c in cues] == ["We met at 9 o'clock.", "It rained.", "Then we left."]
    assert cues[2].start.total_seconds() == 6.5
    document = docx.Document(io.BytesIO(export(chunks, "docx")[0]))
    assert document.paragraphs[0].text == "Transcript (partial)"
    assert json.loads(export(chunks, "json")[0])["partial"] is True


def test_partial_job_keeps_the_segments_its_chunks_carry():
    chunks = [
        {"seq": 0, "start": 0.0, "end": 6.0, "text": "one two three four",
         "words": timed_words("one two three four", 0.5),
         "segments": [{"start": 0.5, "end": 1.05, "text": "one two"},
                      {"start": 1.1, "end": 1.65, "text": "three four"}]},
    ]
    assert json.loads(export(chunks, "json")[0])["segments"] == chunks[0]["segments"]
    assert export(chunks, "txt")[0].decode() == "one two\nthree four\n"


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
