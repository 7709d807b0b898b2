"""What each job kind accepts at submit time, checked before anything is queued.

A kind is listed here once its worker exists; submitting another kind answers
503 until then. Each kind's check runs in the API, with no engine installed:
it relies on what that kind's workers reported (their capabilities).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Optional

from flask import current_app
from marshmallow import Schema
from sqlalchemy import select

from services.api.schemas import TranslateParamsSchema
from services.translate_worker.translate import validate_pair
from shared.db import db
from shared.jobflow import utcnow
from shared.models import WorkerRecord


class SubmitRefused(Exception):
    """The submission cannot work (bad language pair, no worker, ...): 400/503 with this message."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


Exporter = Callable[[dict[str, Any]], tuple[bytes, str, str]]


@dataclass
class KindSpec:
    name: str
    params_schema: type[Schema]
    needs_file: bool
    check: Callable[[dict[str, Any], Optional[Path]], dict[str, Any]]
    exporters: dict[str, Exporter] = field(default_factory=dict)


def live_capabilities(kind: str) -> list[dict[str, Any]]:
    """Capabilities of the workers of ``kind`` seen recently (see CONVEYOR_WORKER_SEEN_SECONDS)."""
    since = utcnow() - timedelta(seconds=current_app.config["WORKER_SEEN_SECONDS"])
    return [record.capabilities or {} for record in db.session.scalars(
        select(WorkerRecord).where(WorkerRecord.kind == kind, WorkerRecord.last_seen_at >= since))]


_PAIRS_TTL_SECONDS = 5.0
_pairs_cache: tuple[float, list[dict[str, Any]]] = (0.0, [])


def translation_pairs() -> list[dict[str, Any]]:
    """Language pairs the translate workers serve (re-read every few seconds; submits are hot)."""
    global _pairs_cache
    read_at, pairs = _pairs_cache
    if pairs and time.monotonic() - read_at < _PAIRS_TTL_SECONDS:
        return pairs
    pairs = _read_translation_pairs()
    _pairs_cache = (time.monotonic(), pairs)
    return pairs


def _read_translation_pairs() -> list[dict[str, Any]]:
    """Language pairs the translate workers serve, direct ones first, without repeats."""
    pairs: dict[tuple[str, str], dict[str, Any]] = {}
    for capabilities in live_capabilities("translate"):
        for pair in capabilities.get("pairs", []):
            key = (pair["source"], pair["target"])
            if key not in pairs or len(pair.get("via", [])) < len(pairs[key].get("via", [])):
                pairs[key] = {"source": pair["source"], "target": pair["target"], "via": pair.get("via", [])}
    return sorted(pairs.values(), key=lambda p: (len(p["via"]), p["source"], p["target"]))


def _check_translate(params: dict[str, Any], upload: Optional[Path]) -> dict[str, Any]:
    if len(params["text"]) > current_app.config["MAX_TEXT_CHARS"]:
        raise SubmitRefused(f"Text is longer than {current_app.config['MAX_TEXT_CHARS']} characters.", 413)
    if not params["text"].strip():
        raise SubmitRefused("Text is empty.")
    pairs = translation_pairs()
    if not pairs:
        raise SubmitRefused("No translate worker has registered yet; start one and retry.", 503)
    try:
        source, target = validate_pair(params["source_lang"], params["target_lang"], pairs)
    except ValueError as exc:
        raise SubmitRefused(str(exc)) from exc
    return {**params, "source_lang": source, "target_lang": target}


def _export_translation_text(result: dict[str, Any]) -> tuple[bytes, str, str]:
    return result["translated_text"].encode(), "text/plain; charset=utf-8", "txt"


KINDS: dict[str, KindSpec] = {
    "translate": KindSpec("translate", TranslateParamsSchema, needs_file=False, check=_check_translate,
                          exporters={"txt": _export_translation_text}),
}
