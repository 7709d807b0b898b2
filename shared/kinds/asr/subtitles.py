"""Cut timed words into subtitle cues that follow the speech's sentences and read comfortably.

The limits are the ones broadcast and streaming guidelines share (Netflix's timed-text style guide,
the BBC's subtitle guidelines): at most 42 characters a line and 2 lines a cue, a cue on screen from
1 to 7 seconds, and never more than 20 characters a second.

How a transcript becomes cues:

* A cue never spans two segments or two sentences: each sentence of each segment is cut on its own.
  A silence of PAUSE_SECONDS or more inside a sentence also cuts it (text does not stay up over it).
* A sentence that fits one cue is one cue. One that does not is cut where it reads best among the
  places that leave a first cue within the limits: after a comma, semicolon or colon first, then
  before a conjunction ("and", "but", "which", ...), never leaving an article, preposition or
  conjunction ("the", "in", "of", "and", ...) at a cue's end unless no other place fits. Lines are
  wrapped by the same rules, as evenly as they can be.
* Timing: a cue starts at its first word and ends at its last. A cue too short for its text (under
  1 s, or over 20 characters a second) is *extended*, never merged with a neighbour (that would join
  two sentences): first its end into the silence that follows, then its start into the silence
  before, then into time the cues around it can spare: the next cue may start later when the
  silence after it leaves it enough time, the previous one end sooner when it has more than it needs.
  Only speech faster than 20 characters a second with no spare time anywhere near stays denser.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.kinds.asr.alignment import sentences

MAX_LINE_CHARS = 42
MAX_LINES = 2
MIN_CUE_SECONDS = 1.0
MAX_CUE_SECONDS = 7.0
MAX_CHARS_PER_SECOND = 20.0
# A silence this long inside a sentence ends a cue, so text never stays on screen over a pause.
PAUSE_SECONDS = 1.0
# A silence this long between two words makes a better place to cut than none.
_BREATH_SECONDS = 0.25
_CLAUSE_ENDS = (",", ";", ":", "–", "—")
_CONJUNCTIONS = frozenset(
    "and but or nor so yet because which who whom whose where when while if although though "
    "since unless until whereas then that".split()
)
# Words that lean on the next one: a line or a cue should not end with them.
WEAK_ENDINGS = frozenset(
    "the a an and or but nor of in on at to for from with by into onto upon about as than "
    "my your his her its our their this these those some any no every".split()
)


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

    @property
    def characters(self) -> int:
        """Characters read, spaces included, line break not."""
        return len(" ".join(self.lines))

    def needed_seconds(self) -> float:
        """How long the text needs on screen: 1 s at least, 20 characters a second, 7 s at most."""
        return min(MAX_CUE_SECONDS, max(MIN_CUE_SECONDS, self.characters / MAX_CHARS_PER_SECOND))


def _plain(word: str) -> str:
    return word.strip("\"'“”‘’()[]").lower()


def _weak(word: str) -> bool:
    return _plain(word) in WEAK_ENDINGS


def _seam_score(before: str, after: str) -> float:
    """How well a cut between two words reads: after a clause best, after a weak word worst."""
    if before.endswith(_CLAUSE_ENDS):
        return 4.0
    if _weak(before):
        return -10.0
    return 2.0 if _plain(after) in _CONJUNCTIONS else 0.0


def wrap(words: list[str]) -> list[str] | None:
    """Lay words out in at most two lines of MAX_LINE_CHARS, even and cut well; None if they do not fit."""
    text = " ".join(words)
    if len(text) <= MAX_LINE_CHARS:
        return [text]
    best: tuple[float, list[str]] | None = None
    for split in range(1, len(words)):
        first, second = " ".join(words[:split]), " ".join(words[split:])
        if len(first) > MAX_LINE_CHARS or len(second) > MAX_LINE_CHARS:
            continue
        # Ten characters of unevenness weigh as much as a cut after a clause.
        cost = abs(len(first) - len(second)) / 2.5 - _seam_score(words[split - 1], words[split])
        if best is None or cost < best[0]:
            best = (cost, [first, second])
    return best[1] if best else None


def _fits(run: list[dict]) -> bool:
    return (
        run[-1]["end"] - run[0]["start"] <= MAX_CUE_SECONDS
        and wrap([w["word"] for w in run]) is not None
    )


def _length(run: list[dict]) -> int:
    return len(" ".join(w["word"] for w in run))


def _cut_score(run: list[dict], at: int) -> float:
    head, rest = run[:at], run[at:]
    score = _seam_score(head[-1]["word"], rest[0]["word"])
    if rest[0]["start"] - head[-1]["end"] >= _BREATH_SECONDS:
        score += 1.0
    room = MAX_LINES * MAX_LINE_CHARS
    if _fits(rest):
        # The last two cues of a sentence: share the words out evenly.
        return score + 2.0 * (1.0 - abs(_length(head) - _length(rest)) / room)
    # More cues follow: fuller cues make fewer of them.
    return score + 2.0 * _length(head) / room


def _split(run: list[dict]) -> list[list[dict]]:
    """A sentence's words in runs that each fit a cue, cut where it reads best."""
    pieces = []
    while run:
        if _fits(run):
            pieces.append(run)
            break
        best_at, best_score = 1, None
        for at in range(1, len(run)):
            if not _fits(run[:at]):
                break
            score = _cut_score(run, at)
            if best_score is None or score >= best_score:
                best_at, best_score = at, score
        pieces.append(run[:best_at])
        run = run[best_at:]
    return pieces


def _at_pauses(run: list[dict]) -> list[list[dict]]:
    pieces = [[run[0]]]
    for before, word in zip(run, run[1:]):
        if word["start"] - before["end"] >= PAUSE_SECONDS:
            pieces.append([])
        pieces[-1].append(word)
    return pieces


def _cue(run: list[dict]) -> Cue:
    texts = [w["word"] for w in run]
    # Only a single word longer than a line can fail to wrap; it then stands alone on its line.
    return Cue(start=run[0]["start"], end=run[-1]["end"], lines=wrap(texts) or [" ".join(texts)])


def _short_by(cue: Cue) -> float:
    return cue.needed_seconds() - (cue.end - cue.start)


def _spare(cue: Cue) -> float:
    return max(0.0, -_short_by(cue))


def _give_time(cues: list[Cue], until: float | None) -> None:
    """Extend each cue that is too short for its text (see the module's docstring), in place."""
    later_limit_of_last = until if until is not None else float("inf")
    for index, cue in enumerate(cues):
        following = cues[index + 1] if index + 1 < len(cues) else None
        previous = cues[index - 1] if index else None
        later_limit = following.start if following else later_limit_of_last
        earlier_limit = previous.end if previous else 0.0
        if _short_by(cue) > 0:
            cue.end = max(cue.end, min(cue.start + cue.needed_seconds(), later_limit))
        if _short_by(cue) > 0:
            cue.start = min(cue.start, max(cue.end - cue.needed_seconds(), earlier_limit))
        if _short_by(cue) > 0 and following is not None and cue.end == following.start:
            # The next cue starts later by what it can spare before the cue after it (or the end).
            after = cues[index + 2].start if index + 2 < len(cues) else later_limit_of_last
            taken = min(_short_by(cue), max(0.0, after - following.start - following.needed_seconds()))
            cue.end += taken
            following.start += taken
        if _short_by(cue) > 0 and previous is not None and cue.start == previous.end:
            taken = min(_short_by(cue), _spare(previous))
            cue.start -= taken
            previous.end -= taken


def build_cues(segments: list[list[dict]], until: float | None = None) -> list[Cue]:
    """Cues for each segment's timed words ({word, start, end}), in order, none overlapping the next.

    ``until`` is the end of the media: no cue is held past it.
    """
    cues = []
    for words in segments:
        for sentence in sentences(words):
            for run in _at_pauses(sentence):
                cues.extend(_cue(piece) for piece in _split(run))
    for cue, following in zip(cues, cues[1:]):
        cue.end = min(cue.end, following.start)
    _give_time(cues, until)
    return cues
