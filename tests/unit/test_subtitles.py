"""Subtitle cues from timed words (shared.kinds.asr.subtitles), on hand-timed words: no speech model.

The cues of real Whisper output are checked in test_asr_exports.
"""
from __future__ import annotations

from shared.kinds.asr.subtitles import build_cues
from tests.subtitle_checks import MAX_LINE_CHARS, MAX_SECONDS, check_cues


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


def test_a_long_sentence_is_cut_after_its_comma_not_after_an_article():
    text = ("When the storm finally passed over the hills of the north, we walked down to the river "
            "and looked at the damage in the evening light.")
    words = _timed(text, 0.0, step=0.25)
    cues = build_cues([words])
    shown = [c.text.replace("\n", " ") for c in cues]
    assert shown[0].endswith("of the north,")
    assert " ".join(shown) == text
    check_cues([(c.start, c.end, c.text) for c in cues], [text])


def test_pause_and_cue_length_limits_split_cues():
    words = _timed("one two three", 0.0) + _timed("after the pause", 3.0)
    assert [c.text for c in build_cues([words])] == ["one two three", "after the pause"]
    slow = _timed("a b c d e f g h i j k l m n o p", 0.0, step=0.6)
    cues = build_cues([slow])
    assert len(cues) == 2 and all(c.end - c.start <= MAX_SECONDS for c in cues)
    # Word "l" ends at 6.85 s and "m" at 7.45 s: the first cue stops at the 7-second cap.
    alphabet = build_cues([_timed(" ".join("abcdefghijklmnopqrstuvwxyz"), 0.0, step=0.6)])
    assert alphabet[0].text == "a b c d e f g h i j k l" and alphabet[0].end == 6.85


def test_long_text_wraps_into_two_balanced_lines_then_a_new_cue():
    text = "this sentence runs on without any punctuation at all so that its lines must wrap"
    cues = build_cues([_timed(text, 0.0, step=0.1)])
    assert all(len(line) <= MAX_LINE_CHARS for c in cues for line in c.lines)
    assert " ".join(" ".join(c.lines) for c in cues) == text
    first, second = cues[0].lines
    assert abs(len(first) - len(second)) <= 12


def test_each_sentence_and_each_segment_is_its_own_cue():
    cues = build_cues([_timed("The meeting starts now. Please sit.", 0.0), _timed("Welcome", 2.4)])
    assert [c.text for c in cues] == ["The meeting starts now.", "Please sit.", "Welcome"]


def test_a_short_cue_is_extended_into_the_silence_after_it():
    cues = build_cues([[{"word": "Yes.", "start": 1.0, "end": 1.1}, {"word": "No.", "start": 2.5, "end": 2.6}]],
                      until=3.0)
    assert (cues[0].start, cues[0].end) == (1.0, 2.0)
    # The last cue may not outlast the media: it takes the silence before it as well.
    assert (cues[1].start, cues[1].end) == (2.0, 3.0)


def test_fast_speech_borrows_spare_time_from_the_next_cue_to_stay_under_20_cps():
    fast = _timed("Absolutely extraordinary circumstances here.", 0.0, step=0.1)  # 44 chars in 0.35 s
    slow = _timed("Then.", 0.4) + _timed("Nothing.", 5.0)
    cues = build_cues([fast + slow], until=6.0)
    assert [c.text for c in cues][:1] == ["Absolutely extraordinary\ncircumstances here."]
    for cue in cues:
        assert len(" ".join(cue.lines)) / (cue.end - cue.start) <= 20.0 + 1e-9
    assert all(a.end <= b.start for a, b in zip(cues, cues[1:]))
