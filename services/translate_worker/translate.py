"""The "translate" kind: plain text or HTML from one language to another, piece by piece, through
Apertium or Argos (services.translate_worker.engines: ``params.engine`` names one, else the best route)."""
from __future__ import annotations

import bisect
import logging
import re
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from services.translate_worker.apertium import ApertiumError, ApertiumTranslator
from services.translate_worker.argos_engine import ArgosError, ArgosTranslator
from services.translate_worker.documents import is_document_job, process_document
from services.translate_worker.engines import Translators
from shared.config import Config
from shared.handler import JobIO, PermanentError, TransientError
from shared.kinds.translate.engines import Hop, check_engine
from shared.kinds.translate.formats import HTML, TEXT, check_format, markup_spans, visible_text
from shared.kinds.translate.pairs import validate_pair

LOGGER = logging.getLogger(__name__)

PIECE_LIMIT = 2000

# Pieces end after a blank line, else after a sentence's final punctuation (and closing quotes), else
# after a word: never inside one. Each separator stays with the piece before it, so joining the pieces
# gives the text back exactly.
_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r]*\n\s*")
_SENTENCE_BREAK = re.compile(r"[.!?\u2026][\"'\u00bb\u201d\u2019)\]]*\s+")
_WORD_BREAK = re.compile(r"\s+")
_SURROUNDING_BLANKS = re.compile(r"^(\s*)(.*?)(\s*)$", re.DOTALL)

_default_translator: Translators | None = None
_default_lock = threading.Lock()


def default_translator() -> Translators:
    """Return the process-wide translators, so every job reuses the same warm pipelines and models."""
    global _default_translator
    with _default_lock:
        if _default_translator is None:
            config = Config()
            _default_translator = Translators(argos=ArgosTranslator(config.ARGOS_PACKAGES_DIR,
                                                                    config.ARGOS_THREADS))
        return _default_translator


def _as_translators(translator: Translators | ApertiumTranslator | None) -> Translators:
    """The engines to use: an Apertium translator alone (as unit tests pass) serves without Argos."""
    if isinstance(translator, ApertiumTranslator):
        return Translators(apertium=translator, argos=ArgosTranslator(None))
    return translator or default_translator()


def split_text(text: str, limit: int = PIECE_LIMIT, text_format: str = TEXT) -> list[str]:
    """Cut text into pieces of at most ``limit`` characters at paragraph, sentence or word ends.

    Joining the pieces gives the text back; a single word longer than the limit stays whole. In HTML
    no cut falls inside a tag, comment, script or style element (one longer than the limit stays whole).
    """
    keep_whole = _Markup(markup_spans(text)) if text_format == HTML else _Markup([])
    pieces: list[str] = []
    current = ""
    for unit in _units(text, limit, keep_whole):
        if current and len(current) + len(unit) > limit:
            pieces.append(current)
            current = ""
        current += unit
    if current:
        pieces.append(current)
    return pieces


def process(job: dict[str, Any], io: JobIO,
            translator: Translators | ApertiumTranslator | None = None) -> dict[str, Any]:
    """Translate ``params.text`` from ``source_lang`` to ``target_lang``, reporting progress per piece.

    A job that brought a document instead goes to documents.py (same format back, as an artifact,
    through Apertium's deformatters and reformatters, whichever engine translates).
    """
    if is_document_job(job):
        return process_document(job, io, _as_translators(translator))
    params = job.get("params") or {}
    text = params.get("text")
    if not isinstance(text, str) or not text.strip():
        raise PermanentError("params.text must be a non-empty string")
    translator = _as_translators(translator)
    translator.refresh()
    try:
        text_format = check_format(params.get("format") or TEXT)
        engine = check_engine(params.get("engine"))
        source, target = validate_pair(params.get("source_lang"), params.get("target_lang"),
                                       translator.pairs())
        route = translator.route(source, target, engine)
    except ValueError as exc:
        raise PermanentError(str(exc)) from exc
    pieces = split_text(text, text_format=text_format)
    LOGGER.info("job %s: translating %d characters of %s in %d pieces along %s",
                job.get("id"), len(text), text_format, len(pieces),
                " ".join(f"{hop.source}-{hop.engine}->{hop.target}" for hop in route))
    # Alternatives only where the whole text is one piece: pieces' hypotheses do not combine.
    wanted = int(params.get("alternatives") or 0) if len(pieces) == 1 else 0
    translated: list[str] = []
    alternatives: list[str] = []
    done = 0
    for piece in pieces:
        found = _translate_piece(translator, piece, route, text_format, wanted, job.get("id"))
        translated.append(found[0])
        alternatives = found[1:]
        done += len(piece)
        io.progress(done, len(text), "characters")
    result = {
        "translated_text": "".join(translated),
        "source_lang": source,
        "target_lang": target,
        "format": text_format,
        "route": [route[0].source] + [hop.target for hop in route],
        "engines": [hop.engine for hop in route],
        "word_count": len((visible_text(text) if text_format == HTML else text).split()),
        "characters": len(text),
    }
    if params.get("alternatives"):
        result["alternatives"] = alternatives
    return result


def _translate_piece(translator: Translators, piece: str, route: list[Hop], text_format: str,
                     alternatives: int, job_id: Any) -> list[str]:
    """The piece's translation (and its alternatives, when asked and given), blanks around kept."""
    # The blanks around a piece are kept verbatim so that paragraph breaks between pieces survive.
    lead, core, trail = _SURROUNDING_BLANKS.match(piece).groups()
    if not core:
        return [piece]
    try:
        found = translator.translate(core, route, text_format, alternatives)
        return [lead + value + trail for value in found]
    except (ApertiumError, ArgosError) as exc:
        LOGGER.warning("job %s: %s", job_id, exc)
        raise TransientError(str(exc)) from exc


class _Markup:
    """Spans of a text that no cut may fall inside (markup of an HTML text)."""

    def __init__(self, spans: Sequence[tuple[int, int]]):
        self._starts = [start for start, _ in spans]
        self._ends = [end for _, end in spans]

    def cuts_into(self, start: int, end: int) -> bool:
        """Whether text[start:end] overlaps a span (so a separator there lies inside markup)."""
        index = bisect.bisect_right(self._starts, end - 1) - 1
        return index >= 0 and self._ends[index] > start


def _units(text: str, limit: int, keep_whole: _Markup) -> Iterator[str]:
    offset = 0
    for paragraph in _split_after(text, _PARAGRAPH_BREAK, keep_whole, 0):
        if len(paragraph) <= limit:
            yield paragraph
            offset += len(paragraph)
            continue
        for sentence in _split_after(paragraph, _SENTENCE_BREAK, keep_whole, offset):
            if len(sentence) <= limit:
                yield sentence
            else:
                yield from _split_after(sentence, _WORD_BREAK, keep_whole, offset)
            offset += len(sentence)


def _split_after(text: str, separator: re.Pattern, keep_whole: _Markup, offset: int) -> list[str]:
    """Cut ``text`` (found at ``offset`` in the whole text) after each separator outside markup."""
    parts = []
    start = 0
    for match in separator.finditer(text):
        if keep_whole.cuts_into(offset + match.start(), offset + match.end()):
            continue
        if match.end() > start:
            parts.append(text[start:match.end()])
            start = match.end()
    if start < len(text):
        parts.append(text[start:])
    return parts
