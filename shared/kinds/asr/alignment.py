"""The words a reader sees, each timed: a segment's text cut at spaces, timed from the engine's words.

Engines time pieces, not written words: Whisper hears "9 o'clock" as "9", "o" and "'clock", so
joining its words with spaces gives "9 o 'clock". The segment's text spells it as said. Aligning the
two (their letters without spaces are the same) times each word of the text from its first piece's
start to its last piece's end. Where they do not agree (an old result, another engine), the
segment's time is spread evenly over its words.
"""

from __future__ import annotations

import string

SENTENCE_ENDS = (".", "?", "!", "…", "。", "？", "！")
# Closing quotes and brackets may follow a sentence's full stop.
_CLOSERS = "\"'”’)]}»"
# A full stop after these does not end the sentence.
_ABBREVIATIONS = frozenset({"mr.", "mrs.", "ms.", "dr.", "prof.", "st.", "vs.", "e.g.", "i.e.", "no."})
# Stripped from a word's ends for OpenAI's word list; inner apostrophes and hyphens stay ("o'clock").
_PUNCTUATION = string.punctuation + "“”‘’«»¿¡…–—。、？！，"


def _squeezed(text: str) -> str:
    return "".join(text.split())


def spread(segment: dict) -> list[dict]:
    """The segment's words with its time shared out evenly, for a segment without word times."""
    texts = segment["text"].split()
    step = (segment["end"] - segment["start"]) / max(len(texts), 1)
    return [
        {"word": text, "start": segment["start"] + i * step, "end": segment["start"] + (i + 1) * step}
        for i, text in enumerate(texts)
    ]


def _aligned(text: str, pieces: list[dict]) -> list[dict]:
    """The text's words timed from the pieces that spell them (the caller checked that they do)."""
    owner: list[int] = []
    for index, piece in enumerate(pieces):
        owner.extend([index] * len(_squeezed(piece["word"])))
    timed, position = [], 0
    for word in text.split():
        first, last = pieces[owner[position]], pieces[owner[position + len(word) - 1]]
        timed.append({"word": word, "start": first["start"], "end": max(last["end"], first["start"])})
        position += len(word)
    return timed


def timed_segments(segments: list[dict], words: list[dict]) -> list[list[dict]]:
    """For each segment ({start, end, text}), its text's words timed from ``words`` (consumed in order)."""
    result, next_word = [], 0
    for segment in segments:
        target = _squeezed(segment["text"])
        end, spelled = next_word, ""
        while end < len(words) and len(spelled) < len(target):
            spelled += _squeezed(words[end]["word"])
            end += 1
        if target and spelled == target:
            result.append(_aligned(segment["text"], words[next_word:end]))
        else:
            result.append(spread(segment))
            # Pick up again after the words heard within this segment's time.
            end = next_word
            while end < len(words) and words[end]["start"] < segment["end"]:
                end += 1
        next_word = end
    return result


def ends_sentence(word: str) -> bool:
    """Whether a written word closes its sentence ("now.", "said?”"), abbreviations aside."""
    bare = word.rstrip(_CLOSERS)
    return bare.endswith(SENTENCE_ENDS) and bare.lower() not in _ABBREVIATIONS


def sentences(words: list[dict]) -> list[list[dict]]:
    """Timed words cut after each word that ends a sentence."""
    runs: list[list[dict]] = [[]]
    for word in words:
        runs[-1].append(word)
        if ends_sentence(word["word"]):
            runs.append([])
    return [run for run in runs if run]


def bare_word(word: str) -> str:
    """A written word without the punctuation around it ("everyone." -> "everyone")."""
    return word.strip(_PUNCTUATION)
