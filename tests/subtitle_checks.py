"""Checks of parsed subtitle cues against the transcript's segments, shared by the export and face tests.

The sentences are cut here with a regular expression, not with the code under test.
"""
from __future__ import annotations

import re

MAX_LINE_CHARS = 42
MAX_LINES = 2
MIN_SECONDS = 1.0
MAX_SECONDS = 7.0
MAX_CHARS_PER_SECOND = 20.0
LEANING_WORDS = {"the", "a", "an", "in", "of", "to", "and"}
_SENTENCE_END = re.compile(r"(?<=[.?!…])[\"'”’)\]]*\s+")
SLACK = 0.002  # subtitle clocks hold milliseconds


def sentences_of(segment_texts: list[str]) -> list[list[str]]:
    """Each sentence of each segment as its list of words."""
    return [sentence.split() for text in segment_texts for sentence in _SENTENCE_END.split(text.strip())
            if sentence.split()]


def check_cues(cues: list[tuple[float, float, str]], segment_texts: list[str]) -> None:
    """Each cue shows the next whole words of one sentence of one segment, within the guidelines' limits."""
    remaining = sentences_of(segment_texts)
    for number, (start, end, text) in enumerate(cues):
        shown = text.split()
        while remaining and not remaining[0]:
            remaining.pop(0)
        assert remaining, f"cue {number} ({text!r}) is beyond the transcript"
        sentence = remaining[0]
        assert sentence[:len(shown)] == shown, f"cue {number} {text!r} is not the next run of {sentence}"
        del sentence[:len(shown)]
        assert shown[-1].strip(".,;:!?\"'").lower() not in LEANING_WORDS, f"cue {number} ends leaning: {text!r}"
        lines = text.split("\n")
        assert len(lines) <= MAX_LINES and all(len(line) <= MAX_LINE_CHARS for line in lines), text
        seconds = end - start
        assert MIN_SECONDS - SLACK <= seconds <= MAX_SECONDS + SLACK, (number, start, end, text)
        assert len(" ".join(lines)) / seconds <= MAX_CHARS_PER_SECOND + 0.05, (number, start, end, text)
        if number + 1 < len(cues):
            assert end <= cues[number + 1][0] + SLACK
    assert not any(remaining), f"words left without a cue: {remaining}"


def srt_cues(parsed) -> list[tuple[float, float, str]]:
    """(start, end, text) of the cues srt.parse gives."""
    return [(c.start.total_seconds(), c.end.total_seconds(), c.content) for c in parsed]


def vtt_cues(captions) -> list[tuple[float, float, str]]:
    """(start, end, text) of the captions webvtt-py gives."""
    return [(_seconds(c.start), _seconds(c.end), c.text) for c in captions]


def _seconds(clock: str) -> float:
    hours, minutes, seconds = clock.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def timed_words(text: str, start: float, step: float = 0.3) -> list[dict]:
    """Engine-shaped words of ``text``: one every ``step`` seconds from ``start``, each 0.25 s long."""
    return [{"word": w, "start": round(start + i * step, 3), "end": round(start + i * step + 0.25, 3), "conf": 0.9}
            for i, w in enumerate(text.split())]
