"""The translate kind in the API: parameters, the language-pair check, exports."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from flask import current_app
from marshmallow import fields, validate

from services.api.kinds.base import KindSpec, SubmitCommonSchema, SubmitRefused, live_capabilities, require_workers
from services.translate_worker.translate import validate_pair


class TranslateParamsSchema(SubmitCommonSchema):
    text = fields.String(required=True, validate=validate.Length(min=1))
    source_lang = fields.String(required=True, validate=validate.Length(min=2, max=16))
    target_lang = fields.String(required=True, validate=validate.Length(min=2, max=16))


def translation_pairs() -> list[dict[str, Any]]:
    """Language pairs the translate workers serve, direct ones first, without repeats."""
    pairs: dict[tuple[str, str], dict[str, Any]] = {}
    for capabilities in live_capabilities("translate"):
        for pair in capabilities.get("pairs", []):
            key = (pair["source"], pair["target"])
            if key not in pairs or len(pair.get("via", [])) < len(pairs[key].get("via", [])):
                pairs[key] = {"source": pair["source"], "target": pair["target"], "via": pair.get("via", [])}
    return sorted(pairs.values(), key=lambda p: (len(p["via"]), p["source"], p["target"]))


def check(params: dict[str, Any], upload: Optional[Path]) -> dict[str, Any]:
    if len(params["text"]) > current_app.config["MAX_TEXT_CHARS"]:
        raise SubmitRefused(f"Text is longer than {current_app.config['MAX_TEXT_CHARS']} characters.", 413)
    if not params["text"].strip():
        raise SubmitRefused("Text is empty.")
    require_workers("translate")
    try:
        source, target = validate_pair(params["source_lang"], params["target_lang"], translation_pairs())
    except ValueError as exc:
        raise SubmitRefused(str(exc)) from exc
    return {**params, "source_lang": source, "target_lang": target, "word_count": len(params["text"].split())}


def _export_text(result: dict[str, Any]) -> tuple[bytes, str, str]:
    return result["translated_text"].encode(), "text/plain; charset=utf-8", "txt"


def _export_json(result: dict[str, Any]) -> tuple[bytes, str, str]:
    return json.dumps(result, ensure_ascii=False, indent=2).encode(), "application/json", "json"


SPEC = KindSpec("translate", TranslateParamsSchema, needs_file=False, check=check,
                exporters={"txt": _export_text, "json": _export_json})
