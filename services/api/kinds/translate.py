"""The translate kind in the API: parameters, the language-pair check, exports."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from flask import current_app, has_request_context, request
from marshmallow import ValidationError, fields, validate, validates_schema

from services.api.kinds.base import KindSpec, SubmitCommonSchema, SubmitRefused, live_capabilities, require_workers
from shared.kinds.translate.documents import (
    DOCUMENT_FORMATS,
    EXTENSIONS,
    DocumentRefused,
    document_text,
    format_of,
    inspect_document,
)
from shared.kinds.translate.engines import APERTIUM, ENGINES, engines_serving
from shared.kinds.translate.formats import HTML, TEXT, TEXT_FORMATS, visible_text
from shared.kinds.translate.pairs import AUTO_DETECT, validate_pair
from shared.language_detect import detect

MAX_ALTERNATIVES = 3
# Below this share of the detector's belief the best guess is as likely wrong as right: the
# caller is asked to name the language instead of getting a translation from the wrong one.
MIN_DETECTION_CONFIDENCE = 0.5


class TranslateParamsSchema(SubmitCommonSchema):
    text = fields.String(validate=validate.Length(min=1), metadata={
        "description": "The text to translate; or leave it out and send a document as the multipart "
                       f"'file' part ({', '.join(sorted(EXTENSIONS))}): the job's artifact is the same "
                       "document with only its text translated (layout, styles, tables, images kept)."})
    source_lang = fields.String(required=True, validate=validate.Length(min=2, max=16), metadata={
        "description": "Language of the text (ISO 639-1 or 639-3), or 'auto' to detect it at submit time "
                       "among the languages the translate workers translate from. The job's params then "
                       "hold the detected code as source_lang and detected_source = {language, "
                       "confidence (0-1)}; a text whose language cannot be told with confidence "
                       f"{MIN_DETECTION_CONFIDENCE} or more is refused with 400."})
    target_lang = fields.String(required=True, validate=validate.Length(min=2, max=16))
    format = fields.String(load_default=TEXT, validate=validate.OneOf(TEXT_FORMATS + DOCUMENT_FORMATS), metadata={
        "description": "'text' (default) or 'html': with 'html' the text nodes are translated and the "
                       "markup (tags, attributes, comments, scripts, entities) comes back unchanged. With a "
                       "file, its format is told by its name's extension unless this names one of: "
                       f"{', '.join(DOCUMENT_FORMATS)}."})
    engine = fields.String(validate=validate.OneOf(ENGINES), metadata={
        "description": "'apertium' or 'argos': every hop of the route on that engine. Absent: the best "
                       "route the workers have (fewest hops, then argos over apertium), which may pivot "
                       "across engines. GET /api/v1/languages lists each pair's engines."})
    alternatives = fields.Integer(validate=validate.Range(0, MAX_ALTERNATIVES), metadata={
        "description": "Up to this many other translations in the result's alternatives, where the engine "
                       "gives them (an Argos route of one hop on a text of one piece); else an empty list."})

    @validates_schema
    def _text_or_file(self, data: dict[str, Any], **kwargs) -> None:
        """Without a document, ``text`` is required (422 naming it, as any missing field)."""
        if "text" not in data and not (has_request_context() and request.files.get("file")):
            raise ValidationError("Missing data for required field (or send a document as the 'file' part).",
                                  "text")


# The pairs made from the last capabilities read (live_capabilities keeps one list until it reads
# again): every translate submit checks its pair, and building the list costs more than the rest.
_pairs_made_from: tuple[Optional[list], list[dict[str, Any]]] = (None, [])


def translation_pairs() -> list[dict[str, Any]]:
    """Language pairs the translate workers serve, direct ones first, without repeats (do not modify it).

    Each pair lists the engines any worker serves it with (a worker without engines in its catalog
    is Apertium's) and the shortest of the workers' default routes.
    """
    global _pairs_made_from
    capabilities = live_capabilities("translate")
    made_from, pairs = _pairs_made_from
    if made_from is not capabilities:
        pairs = _pairs_of(capabilities)
        _pairs_made_from = (capabilities, pairs)
    return pairs


def _pairs_of(workers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    pairs: dict[tuple[str, str], dict[str, Any]] = {}
    for capabilities in workers:
        for pair in capabilities.get("pairs", []):
            key = (pair["source"], pair["target"])
            engines = set(pair.get("engines", [APERTIUM])) | set(pairs.get(key, {}).get("engines", []))
            if key not in pairs or len(pair.get("via", [])) < len(pairs[key].get("via", [])):
                via = pair.get("via", [])
                hops = [key[0], *via, key[1]]
                pairs[key] = {"source": key[0], "target": key[1], "via": via,
                              "route": pair.get("route") or [{"source": a, "target": b, "engine": APERTIUM}
                                                             for a, b in zip(hops, hops[1:])]}
            pairs[key]["engines"] = [name for name in ENGINES if name in engines]
    return sorted(pairs.values(), key=lambda p: (len(p["via"]), p["source"], p["target"]))


def check(params: dict[str, Any], upload: Optional[Path]) -> dict[str, Any]:
    if upload is not None:
        return check_document(params, upload)
    if "text" not in params:
        raise SubmitRefused("Send the 'text' to translate, or a document as the 'file' part of a "
                            "multipart/form-data request.")
    if params.get("format", TEXT) not in TEXT_FORMATS:
        raise SubmitRefused(f"format {params['format']!r} is a document format: send the document as the "
                            "'file' part of a multipart/form-data request.")
    if len(params["text"]) > current_app.config["MAX_TEXT_CHARS"]:
        raise SubmitRefused(f"Text is longer than {current_app.config['MAX_TEXT_CHARS']} characters.", 413)
    readable = visible_text(params["text"]) if params.get("format") == HTML else params["text"]
    if not params["text"].strip():
        raise SubmitRefused("Text is empty.")
    return _with_languages(params, readable)


def check_document(params: dict[str, Any], upload: Path) -> dict[str, Any]:
    """Refuse a spoofed, bomb-like, macro-carrying or DTD-declaring document; else the job's parameters.

    Nothing of the document is parsed as XML here: the checks read the container's directory and
    scan bytes (shared/kinds/translate/documents.py), so they cannot themselves be attacked that way.
    """
    if params.get("text"):
        raise SubmitRefused("Send either 'text' or a 'file', not both.")
    try:
        document_format = format_of(upload.name, params.get("format"))
        inspect_document(upload, document_format)
        readable = document_text(upload, document_format)
    except DocumentRefused as exc:
        raise SubmitRefused(f"Cannot translate this file: {exc}.") from exc
    if not readable.strip() and params["source_lang"].strip().lower() == AUTO_DETECT:
        raise SubmitRefused("Cannot tell which language the document is in; set source_lang, e.g. 'en'.")
    params = {key: value for key, value in params.items() if key != "text"}
    return _with_languages({**params, "format": document_format, "document_format": document_format}, readable)


def _with_languages(params: dict[str, Any], readable: str) -> dict[str, Any]:
    """The parameters with the language pair checked (and detected for 'auto') and the word count."""
    require_workers("translate")
    pairs = translation_pairs()
    detected = None
    if params["source_lang"].strip().lower() == AUTO_DETECT:
        detected = detect_source(readable, pairs)
        params = {**params, "source_lang": detected["language"]}
    try:
        source, target = validate_pair(params["source_lang"], params["target_lang"], pairs)
    except ValueError as exc:
        raise SubmitRefused(str(exc)) from exc
    check_engine_serves(params.get("engine"), source, target, pairs)
    checked = {**params, "source_lang": source, "target_lang": target, "word_count": len(readable.split())}
    if detected is not None:
        checked["detected_source"] = detected
    return checked


def check_engine_serves(engine: Optional[str], source: str, target: str, pairs: list[dict[str, Any]]) -> None:
    """Refuse at submit what the worker would fail: a named engine that does not serve the pair on its own.

    Every engine takes every format: HTML and documents are deformatted by Apertium's deformatters
    whichever engine translates (Argos gets their text runs), so a route may also cross engines.
    """
    serving = engines_serving(pairs, source, target)
    if engine and engine not in serving:
        raise SubmitRefused(f"The {engine} engine does not translate {source} to {target} here; "
                            f"engines that do: {', '.join(sorted(serving)) or 'none on their own'} "
                            "(leave engine out for the best route).")


def best_guess(text: str, pairs: list[dict[str, Any]]) -> Optional[dict[str, Any]]:
    """The likeliest language of ``text`` among the pairs' sources, as {language, confidence (0-1)}.

    None when there is no guess at all (a text without letters).
    """
    ranked = detect(text, {pair["source"] for pair in pairs})
    if not ranked or ranked[0][1] <= 0:
        return None
    language, confidence = ranked[0]
    return {"language": language, "confidence": round(confidence, 4)}


def detect_source(text: str, pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """The language of ``text`` among the pairs' sources, as {language, confidence}; refused if unsure."""
    guess = best_guess(text, pairs)
    if guess is None or guess["confidence"] < MIN_DETECTION_CONFIDENCE:
        hint = f" (best guess {guess['language']!r} at {guess['confidence']:.0%})" if guess else ""
        raise SubmitRefused(f"Cannot tell which language the text is in{hint}; "
                            "set source_lang to its language code, e.g. 'en'.")
    return guess


def _export_text(result: dict[str, Any]) -> tuple[bytes, str, str]:
    if "translated_text" not in result:  # a document's translation is its artifact, in its own format
        return (f"The translated document is the job's artifact {result.get('artifact')!r}.\n".encode(),
                "text/plain; charset=utf-8", "txt")
    return result["translated_text"].encode(), "text/plain; charset=utf-8", "txt"


def _export_json(result: dict[str, Any]) -> tuple[bytes, str, str]:
    return json.dumps(result, ensure_ascii=False, indent=2).encode(), "application/json", "json"


SPEC = KindSpec("translate", TranslateParamsSchema, needs_file=False, takes_file=True, check=check,
                exporters={"txt": _export_text, "json": _export_json})
