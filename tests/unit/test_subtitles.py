"""Subtitle cues from timed words (shared.kinds.asr.subtitles), on hand-timed words: no speech model.

The cues of real Whisper output are checked in test_asr_exports.
"""
from __future__ import annotations

import pytest

from shared.kinds.asr.subtitles import Cue, build_cues, wrap
from tests.subtitle_checks import MAX_LINE_CHARS, MAX_SECONDS, check_cues, timed_words


def test_a_long_sentence_is_cut_after_its_comma_not_after_an_article():
    text = ("When the storm finally passed over the hills of the north, we walked down to the river "
            "and looked at the damage in the evening light.")
    words = timed_words(text, 0.0, step=0.25)
    cues = build_cues([words])
    shown = [c.text.replace("\n", " ") for c in cues]
    assert shown[0].endswith("of the north,")
    assert " ".join(shown) == text
    check_cues([(c.start, c.end, c.text) for c in cues], [text])


def test_pause_and_cue_length_limits_split_cues():
    words = timed_words("one two three", 0.0) + timed_words("after the pause", 3.0)
    assert [c.text for c in build_cues([words])] == ["one two three", "after the pause"]
    slow = timed_words("a b c d e f g h i j k l m n o p", 0.0, step=0.6)
    cues = build_cues([slow])
    assert len(cues) == 2 and all(c.end - c.start <= MAX_SECONDS for c in cues)
    # Word "l" ends at 6.85 s and "m" at 7.45 s: the first cue stops at the 7-second cap.
    alphabet = build_cues([timed_words(" ".join("abcdefghijklmnopqrstuvwxyz"), 0.0, step=0.6)])
    assert alphabet[0].text == "a b c d e f g h i j k l" and alphabet[0].end == 6.85


def test_long_text_wraps_into_two_balanced_lines_then_a_new_cue():
    text = "this sentence runs on without any punctuation at all so that its lines must wrap"
    cues = build_cues([timed_words(text, 0.0, step=0.1)])
    assert all(len(line) <= MAX_LINE_CHARS for c in cues for line in c.lines)
    assert " ".join(" ".join(c.lines) for c in cues) == text
    first, second = cues[0].lines
    assert abs(len(first) - len(second)) <= 12


def test_each_sentence_and_each_segment_is_its_own_cue():
    cues = build_cues([timed_words("The meeting starts now. Please sit.", 0.0), timed_words("Welcome", 2.4)])
    assert [c.text for c in cues] == ["The meeting starts now.", "Please sit.", "Welcome"]


def test_a_short_cue_is_extended_into_the_silence_after_it():
    cues = build_cues([[{"word": "Yes.", "start": 1.0, "end": 1.1}, {"word": "No.", "start": 2.5, "end": 2.6}]],
                      until=3.0)
    assert (cues[0].start, cues[0].end) == (1.0, 2.0)
    # The last cue may not outlast the media: it takes the silence before it as well.
    assert (cues[1].start, cues[1].end) == (2.0, 3.0)


def test_fast_speech_borrows_spare_time_from_the_next_cue_to_stay_under_20_cps():
    fast = timed_words("Absolutely extraordinary circumstances here.", 0.0, step=0.1)  # 44 chars in 0.35 s
    slow = timed_words("Then.", 0.4) + timed_words("Nothing.", 5.0)
    cues = build_cues([fast + slow], until=6.0)
    assert [c.text for c in cues][:1] == ["Absolutely extraordinary\ncircumstances here."]
    for cue in cues:
        assert len(" ".join(cue.lines)) / (cue.end - cue.start) <= 20.0 + 1e-9
    assert all(a.end <= b.start for a, b in zip(cues, cues[1:]))


def test_a_text_of_exactly_one_line_stays_one_line():
    assert wrap(["x" * 20, "y" * 21]) == ["x" * 20 + " " + "y" * 21]  # 42 characters
    assert wrap(["x" * 21, "y" * 21]) == ["x" * 21, "y" * 21]  # 43
    assert wrap(["x" * 42, "y"]) == ["x" * 42, "y"]  # a first line of exactly 42 is allowed
    assert wrap(["y", "x" * 42]) == ["y", "x" * 42]
    assert wrap(["x" * 43, "y"]) is None


def test_ten_characters_of_unevenness_weigh_as_much_as_a_clause_cut():
    # After the comma the lines differ by 13 characters, one word later by 1: 13/2.5 - 4 > 1/2.5.
    words = "a efg ijkl mnop, qrstu vwxy zabc defg hijk lmn".split()
    assert wrap(words) == ["a efg ijkl mnop, qrstu", "vwxy zabc defg hijk lmn"]
    # Differing by 9 after the comma against 1 without: the comma wins (9/2.5 - 4 < 1/2.5).
    assert wrap("abcd efgh ijkl mnop, qrst uvwx yzab cdef ghij klmn".split()) == [
        "abcd efgh ijkl mnop,", "qrst uvwx yzab cdef ghij klmn"]


def test_a_line_is_cut_before_a_conjunction_rather_than_evenly():
    # Before "so": 5 characters uneven, less 2 for the conjunction; one word later: 1 character.
    assert wrap("abcd efgh ijkl mnop so qrst uvwx yzab cdefgh".split()) == [
        "abcd efgh ijkl mnop", "so qrst uvwx yzab cdefgh"]


@pytest.mark.parametrize("article", ["the", "The", "(the"])
def test_a_line_does_not_end_with_a_word_that_leans_on_the_next(article):
    words = f"abcd efgh ijkl mnop {article} qrst uvwx yzab cdef ghij".split()
    assert wrap(words)[0] == "abcd efgh ijkl mnop"


def test_a_cue_needs_a_second_at_least_20_characters_a_second_and_7_seconds_at_most():
    assert Cue(0, 1, ["ab"]).needed_seconds() == 1.0
    assert Cue(0, 1, ["x" * 30]).needed_seconds() == 1.5
    assert Cue(0, 1, ["x" * 41, "y" * 40]).characters == 82
    assert Cue(0, 1, ["x" * 41, "y" * 40]).needed_seconds() == 4.1
    assert Cue(0, 1, ["x" * 42, "y" * 42, "z" * 100]).needed_seconds() == 7.0
    assert Cue(0, 1, ["one", "two"]).text == "one\ntwo"


def test_a_silence_of_a_second_inside_a_sentence_ends_a_cue():
    words = [{"word": "Wait", "start": 0.0, "end": 0.5}, {"word": "for", "start": 1.5, "end": 1.8},
             {"word": "it.", "start": 1.9, "end": 2.2}]
    assert [c.text for c in build_cues([words])] == ["Wait", "for it."]
    words[1]["start"] = 1.49  # a shorter silence does not
    assert [c.text for c in build_cues([words])] == ["Wait for it."]
