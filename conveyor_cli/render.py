"""What a person reads: each kind's result, the kinds and their options, as plain text lines."""

from __future__ import annotations

import re
from typing import Any, Callable, Optional

# One line per kind for `conveyor kinds`: what goes in, what comes out, how to submit it.
KINDS: dict[str, tuple[str, str]] = {
    "translate": ("text to another language",
                  "conveyor submit translate --text '...' --source-lang en --target-lang es"),
    "asr": ("speech in an audio or video file to text", "conveyor submit asr FILE [-o model=ID]"),
    "vision": ("objects and the top class in an image", "conveyor submit vision FILE"),
    "convert": ("a media file to another format", "conveyor submit convert FILE -o target=mp3"),
}


def kind_line(kind: str) -> str:
    """The one line `conveyor kinds` prints for ``kind``."""
    summary, example = KINDS[kind]
    return f"{kind:<10} {summary:<42} {example}"


# A sentence ends at ". " before a capital, so that "e.g. 128k" stays whole.
FIRST_SENTENCE = re.compile(r"(?<=[a-z0-9)])\. (?=[A-Z])")

# Parameters the CLI takes as its own flags rather than as -o KEY=VALUE.
FLAGS = {"text": "--text", "source_lang": "--source-lang", "target_lang": "--target-lang",
         "priority": "--priority"}


def _translate(result: dict[str, Any]) -> list[str]:
    return [result.get("translated_text", "")]


def _asr(result: dict[str, Any]) -> list[str]:
    return [result.get("text", "")]


def _pixels(detection: dict[str, Any], width: int, height: int) -> str:
    # The API gives the box's centre and extent as fractions of the image; people think in pixels.
    left = (detection["x"] - detection["width"] / 2) * width
    top = (detection["y"] - detection["height"] / 2) * height
    return (f"{round(left)},{round(top)} {round(detection['width'] * width)}x"
            f"{round(detection['height'] * height)}")


def _vision(result: dict[str, Any]) -> list[str]:
    lines = []
    scores = result.get("class_scores") or []
    if result.get("image_class"):
        top = next((s["score"] for s in scores if s["label"] == result["image_class"]), None)
        lines.append(f"class: {result['image_class']}" + ("" if top is None else f" ({top:.0%})"))
    detections = result.get("detections") or []
    if not detections:
        lines.append("no detections")
        return lines
    width, height = result.get("width") or 0, result.get("height") or 0
    has_text = any("text" in d for d in detections)
    header = f"{'LABEL':<20} {'PROB':>5}  {'BOX (left,top WxH px)':<22}" + ("  TEXT" if has_text else "")
    lines.append(header.rstrip())
    for detection in detections:
        line = (f"{detection['label'][:20]:<20} {detection['probability']:>5.0%}  "
                f"{_pixels(detection, width, height):<22}")
        if has_text and detection.get("text"):
            line += f"  {detection['text']}"
        lines.append(line.rstrip())
    return lines


def convert_summary(result: dict[str, Any]) -> str:
    """One line about a conversion's output: its name, format, duration and size."""
    parts = [result.get("target", "")]
    if result.get("duration"):
        parts.append(f"{result['duration']:g} s")
    video = result.get("video") or {}
    if video.get("width") and video.get("height"):
        parts.append(f"{video['width']}x{video['height']}")
    if result.get("size") is not None:
        parts.append(f"{result['size']} bytes")
    if result.get("remuxed"):
        parts.append("remuxed, not re-encoded")
    return f"{result.get('artifact', '?')} ({', '.join(p for p in parts if p)})"


def _convert(result: dict[str, Any]) -> list[str]:
    return [convert_summary(result)]


RENDERERS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "translate": _translate,
    "asr": _asr,
    "vision": _vision,
    "convert": _convert,
}


def result_lines(kind: str, result: Optional[dict[str, Any]]) -> Optional[list[str]]:
    """The lines a person wants from a finished job of ``kind``; None for a kind this CLI does not know."""
    renderer = RENDERERS.get(kind)
    if renderer is None:
        return None
    return renderer(result or {})


def submitted_line(job: dict[str, Any]) -> str:
    """The one line `submit` prints: the job, its status, and what to run next."""
    return (f"{job['id']}  {job['kind']} #{job['number']}  {job['status']}  "
            f"(follow it: conveyor watch {job['id']})")


# --- options ------------------------------------------------------------------------------------


def _schema_type(prop: dict[str, Any]) -> str:
    kind = prop.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    words = [kind] if kind else []
    if "enum" in prop:
        words = ["|".join(str(v) for v in prop["enum"])]
    if "minimum" in prop or "maximum" in prop:
        words.append(f"{prop.get('minimum', '')}..{prop.get('maximum', '')}")
    if "default" in prop:
        words.append(f"default {prop['default']}")
    return ", ".join(words)


def parameter_lines(schema: dict[str, Any]) -> list[str]:
    """A kind's parameters from its OpenAPI schema, each with the flag or -o that sets it."""
    required = set(schema.get("required") or [])
    lines = []
    for name, prop in (schema.get("properties") or {}).items():
        if name.startswith("callback_"):
            continue  # webhooks are for programs, set through the API, not from a terminal
        flag = FLAGS.get(name, f"-o {name}=")
        details = _schema_type(prop)
        description = FIRST_SENTENCE.split(prop.get("description") or "")[0].rstrip(".")
        line = f"  {flag:<24} {details}" if details else f"  {flag:<24}"
        if name in required:
            line += " (required)"
        if description:
            line = f"{line:<56} {description}"
        lines.append(line.rstrip())
    return lines


def model_lines(kind: str, models: list[dict[str, Any]]) -> list[str]:
    """The live models of asr or vision, one line each, with the option that picks one."""
    lines = []
    if kind == "asr":
        lines.append("Models (-o model=ID):")
        for model in models:
            languages = model.get("languages") or []
            shown = ", ".join(languages[:8]) + (f" +{len(languages) - 8} more" if len(languages) > 8 else "")
            notes = [model.get("engine") or ""]
            if model.get("detects_language"):
                notes.append("detects the language")
            if model.get("default"):
                notes.append("default")
            lines.append(f"  {model['id']:<28} {', '.join(n for n in notes if n):<40} {shown}".rstrip())
        return lines
    for role in ("detection", "classification"):
        chosen = [m for m in models if m.get("kind") == role]
        if not chosen:
            continue
        lines.append(f"{role.capitalize()} models (-o {role}_model_id=ID):")
        for model in chosen:
            labels = f"{model['labels_count']} labels" if model.get("labels_count") else ""
            lines.append(f"  {model['id']:<4} {model.get('name', ''):<28} {labels:<12} "
                         f"{model.get('title', '')}".rstrip())
    return lines


def pair_lines(pairs: list[dict[str, Any]]) -> list[str]:
    """Translation pairs grouped by source language; a pair through a pivot shows it (via ...)."""
    targets: dict[str, list[str]] = {}
    for pair in pairs:
        via = pair.get("via") or []
        label = pair["target"] + (f" (via {'+'.join(via)})" if via else "")
        targets.setdefault(pair["source"], []).append(label)
    lines = ["Language pairs (--source-lang X --target-lang Y; 'via': a pivot language):"]
    lines.extend(f"  {source:<4} -> {', '.join(found)}" for source, found in sorted(targets.items()))
    return lines


def target_lines(targets: list[dict[str, Any]]) -> list[str]:
    """The live convert targets, one line each: what it makes, from which inputs, with which options."""
    lines = ["Targets (-o target=NAME):"]
    for target in targets:
        inputs = " or ".join(target.get("inputs") or []) or "any media"
        lines.append(f"  {target['id']:<5} {target.get('kind', ''):<6} from {inputs}; "
                     f"options: {', '.join(target.get('options') or []) or 'none'}")
    return lines
