"""Group timed words into subtitle cues that read well: short lines, two at most, a few seconds."""

from __future__ import annotations

from dataclasses import dataclass

# Common broadcast and streaming guidance: 42 characters a line, two lines, about 7 seconds a cue.
MAX_LINE_CHARS = 42
MAX_CUE_SECONDS = 7.0
# A silence this long ends a cue, so text never stays on screen over a pause.
PAUSE_SECONDS = 1.0
# A sentence that ends once the cue holds this much text closes the cue rather than running on.
SENTENCE_BREAK_CHARS = 20
# Cues shorter than this are stretched (up to the next cue) so that they can be read.
MIN_CUE_SECONDS = 0.7
_SENTENCE_ENDS = (".", "?", "!", "…", "。", "？", "！")


@dataclass
class Cue:
    """One subtitle: start and end in seconds and its lines of text."""

    start: float
    end: float
    lines: list[str]

    @property
    def text(self) -> str:
        """The cue's lines joined with a newline, as subtitle files hold them."""
        return "\n".join(self.lines)


def wrap(words: list[str]) -> list[str] | None:
    """Lay words out in at most two balanced lines of MAX_LINE_CHARS; None when they do not fit."""
    text = " ".join(words)
    if len(text) <= MAX_LINE_CHARS:
        return [text]
    best: list[str] | None = None
    for split in range(1, len(words)):
        first, second = " ".join(words[:split]), " ".join(words[split:])
        fits = len(first) <= MAX_LINE_CHARS and len(second) <= MAX_LINE_CHARS
        if fits and (best is None or max(len(first), len(second)) < max(map(len, best))):
            best = [first, second]
    return best


def _starts_new_cue(current: list[dict], word: dict) -> bool:
    if word["start"] - current[-1]["end"] >= PAUSE_SECONDS:
        return True
    if word["end"] - current[0]["start"] > MAX_CUE_SECONDS:
        return True
    texts = [w["word"] for w in current]
    if (
        current[-1]["word"].endswith(_SENTENCE_ENDS)
        and len(" ".join(texts)) >= SENTENCE_BREAK_CHARS
    ):
        return True
    return wrap(texts + [word["word"]]) is None


def _cue(words: list[dict]) -> Cue:
    texts = [w["word"] for w in words]
    # Only a single word longer than a line can fail to wrap; it then stands alone on its line.
    return Cue(
        start=words[0]["start"], end=words[-1]["end"], lines=wrap(texts) or [" ".join(texts)]
    )


def build_cues(words: list[dict]) -> list[Cue]:
    """Cues for timed words ({word, start, end}), in order, none overlapping the next."""
    cues: list[Cue] = []
    current: list[dict] = []
    for word in words:
        if current and _starts_new_cue(current, word):
            cues.append(_cue(current))
            current = []
        current.append(word)
    if current:
        cues.append(_cue(current))
    for cue, following in zip(cues, cues[1:] + [None]):
        if cue.end - cue.start < MIN_CUE_SECONDS:
            limit = following.start if following is not None else cue.start + MIN_CUE_SECONDS
            cue.end = max(cue.end, min(cue.start + MIN_CUE_SECONDS, limit))
    return cues


def words_from_segments(segments: list[dict]) -> list[dict]:
    """Timed words spread evenly over each segment, for transcripts that carry no word times."""
    words = []
    for segment in segments:
        texts = segment["text"].split()
        step = (segment["end"] - segment["start"]) / max(len(texts), 1)
        words.extend(
            {
                "word": text,
                "start": segment["start"] + i * step,
                "end": segment["start"] + (i + 1) * step,
            }
            for i, text in enumerate(texts)
        )
    return words
