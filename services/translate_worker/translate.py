"""The "translate" kind: plain text from one language to another, piece by piece, through Apertium."""
from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from typing import Any

from services.translate_worker.apertium import ApertiumError, ApertiumTranslator
from shared.handler import JobIO, PermanentError, TransientError
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

_default_translator: ApertiumTranslator | None = None
_default_lock = threading.Lock()


def default_translator() -> ApertiumTranslator:
    """Return the process-wide translator, so every job reuses the same warm pipelines."""
    global _default_translator
    with _default_lock:
        if _default_translator is None:
            _default_translator = ApertiumTranslator()
        return _default_translator


def split_text(text: str, limit: int = PIECE_LIMIT) -> list[str]:
    """Cut text into pieces of at most ``limit`` characters at paragraph, sentence or word ends.

    Joining the pieces gives the text back; a single word longer than the limit stays whole.
    """
    pieces: list[str] = []
    current = ""
    for unit in _units(text, limit):
        if current and len(current) + len(unit) > limit:
            pieces.append(current)
            current = ""
        current += unit
    if current:
        pieces.append(current)
    return pieces


def process(job: dict[str, Any], io: JobIO, translator: ApertiumTranslator | None = None) -> dict[str, Any]:
    """Translate ``params.text`` from ``source_lang`` to ``target_lang``, reporting progress per piece."""
    params = job.get("params") or {}
    text = params.get("text")
    if not isinstance(text, str) or not text.strip():
        raise PermanentError("params.text must be a non-empty string")
    translator = translator or default_translator()
    try:
        source, target = validate_pair(params.get("source_lang"), params.get("target_lang"),
                                       translator.pairs())
        route = translator.route(source, target)
    except ValueError as exc:
        raise PermanentError(str(exc)) from exc
    pieces = split_text(text)
    LOGGER.info("job %s: translating %d characters in %d pieces along %s",
                job.get("id"), len(text), len(pieces), "->".join(route))
    translated: list[str] = []
    done = 0
    for piece in pieces:
        translated.append(_translate_piece(translator, piece, source, target, job.get("id")))
        done += len(piece)
        io.progress(done, len(text), "characters")
    return {
        "translated_text": "".join(translated),
        "source_lang": source,
        "target_lang": target,
        "route": route,
        "word_count": len(text.split()),
        "characters": len(text),
    }


def _translate_piece(translator: ApertiumTranslator, piece: str, source: str, target: str,
                     job_id: Any) -> str:
    # The blanks around a piece are kept verbatim so that paragraph breaks between pieces survive.
    lead, core, trail = _SURROUNDING_BLANKS.match(piece).groups()
    if not core:
        return piece
    try:
        return lead + translator.translate(core, source, target) + trail
    except ApertiumError as exc:
        LOGGER.warning("job %s: %s", job_id, exc)
        raise TransientError(str(exc)) from exc


def _units(text: str, limit: int) -> Iterator[str]:
    for paragraph in _split_after(text, _PARAGRAPH_BREAK):
        if len(paragraph) <= limit:
            yield paragraph
            continue
        for sentence in _split_after(paragraph, _SENTENCE_BREAK):
            if len(sentence) <= limit:
                yield sentence
            else:
                yield from _split_after(sentence, _WORD_BREAK)


def _split_after(text: str, separator: re.Pattern) -> list[str]:
    parts = []
    start = 0
    for match in separator.finditer(text):
        if match.end() > start:
            parts.append(text[start:match.end()])
            start = match.end()
    if start < len(text):
        parts.append(text[start:])
    return parts
