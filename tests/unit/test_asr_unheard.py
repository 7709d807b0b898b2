"""Which stretches of a chunk the Whisper engine hears again (services.asr_worker.engines).

Whisper can end a window early with speech still to come, sometimes stamping a last word of no
length at the window's end; on this suite's 160 words-a-minute speech that lost two sentences
(tests/unit/test_asr_transcribe.py, the short-first-chunk test, measures the whole path).
"""
from __future__ import annotations

from services.asr_worker.engines import unheard_stretches


def word(start: float, end: float, text: str = "w") -> dict:
    return {"word": text, "start": start, "end": end, "conf": 0.9}


def test_speech_covered_to_the_end_is_not_heard_again():
    words = [word(0.0, 0.4), word(0.5, 1.9), word(2.0, 2.5)]
    assert unheard_stretches(words, 4.4) == []  # 1.9 s after the last word: under two seconds


def test_the_audio_after_a_last_word_of_no_length_is_heard_again():
    words = [word(14.9, 15.8, "than"), word(15.8, 16.48, "words."), word(21.52, 21.52, "The")]
    assert unheard_stretches(words, 21.547) == [(16.48, 21.547)]


def test_a_long_gap_between_words_is_heard_again_and_a_short_one_is_not():
    words = [word(0.0, 1.0), word(3.0, 4.0), word(5.9, 6.0)]
    assert unheard_stretches(words, 6.5) == [(1.0, 3.0)]


def test_at_most_the_three_longest_stretches_in_time_order():
    words = [word(0.0, 1.0), word(3.5, 5.0), word(7.5, 8.0), word(13.0, 14.0), word(17.0, 18.0)]
    assert unheard_stretches(words, 28.0) == [(8.0, 13.0), (14.0, 17.0), (18.0, 28.0)]
