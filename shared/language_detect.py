"""Which language a text is in, by lingua's n-gram models (they ship inside its wheel: no download).

Detection is restricted to the candidate languages a caller names (the ones the translate workers
translate from): fewer candidates make short texts far more accurate. Lingua keeps its models in
one process-wide store, so a detector per candidate set is cheap once the models are loaded.

Nothing of lingua is imported or loaded until a text is first detected: the models of six languages
take about 160 MB in each process that detects, so an API process that never sees
``source_lang: auto`` (or LibreTranslate's /detect) never pays for them.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lingua import LanguageDetector

LOGGER = logging.getLogger(__name__)

# The first characters say which language a text is in as well as the whole of a long text does,
# and keep detection within a millisecond or so.
DETECT_CHARS = 2000
# Candidate sets change only when the workers' language pairs do; the bound is a safety net.
MAX_DETECTORS = 32

_detectors: dict[frozenset[str], "LanguageDetector"] = {}
_lock = threading.Lock()


def known_code(code: str) -> bool:
    """Whether lingua has a model for this ISO 639-1 code."""
    from lingua import IsoCode639_1

    try:
        IsoCode639_1.from_str(code)
    except ValueError:
        return False
    return True


def _detector(codes: frozenset[str]) -> "LanguageDetector":
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    with _lock:
        detector = _detectors.get(codes)
        if detector is None:
            if len(_detectors) >= MAX_DETECTORS:
                _detectors.clear()
            started = time.monotonic()
            detector = (LanguageDetectorBuilder.from_iso_codes_639_1(*(IsoCode639_1.from_str(c) for c in codes))
                        .with_preloaded_language_models().build())
            _detectors[codes] = detector
            LOGGER.info("language detector for %s ready in %.2f s", ",".join(sorted(codes)),
                        time.monotonic() - started)
        return detector


def detect(text: str, candidates: Iterable[str]) -> list[tuple[str, float]]:
    """The candidates (ISO 639-1 codes) ranked for ``text``, with confidences in [0, 1] summing to 1.

    Candidates lingua has no model for are left out. Every confidence is 0 when the text has no
    letters; a single known candidate gets 1.0 as soon as the text has any letter.
    """
    codes = frozenset(code for code in candidates if len(code) == 2 and known_code(code))
    sample = text[:DETECT_CHARS]
    if not codes:
        return []
    if len(codes) == 1:
        # Lingua needs two languages to compare; with one there is nothing to rank.
        return [(next(iter(codes)), 1.0 if any(ch.isalpha() for ch in sample) else 0.0)]
    values = _detector(codes).compute_language_confidence_values(sample)
    return [(value.language.iso_code_639_1.name.lower(), float(value.value)) for value in values]


def warm(candidates: Iterable[str]) -> None:
    """Load the models of these candidates now (a service may call it at start, off the request path)."""
    codes = frozenset(code for code in candidates if len(code) == 2 and known_code(code))
    if len(codes) > 1:
        _detector(codes)
