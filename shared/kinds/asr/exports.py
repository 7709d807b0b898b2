"""Render a finished transcript, or the chunks of a partial one, as txt, docx, srt, vtt or json."""

from __future__ import annotations

import io
import json
from typing import Any

from shared.kinds.asr.alignment import sentences, timed_segments
from shared.kinds.asr.subtitles import Cue, build_cues
from shared.kinds.timecode import clock

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
FORMATS = {
    "txt": ("text/plain; charset=utf-8", "txt"),
    "docx": (DOCX_TYPE, "docx"),
    "srt": ("application/x-subrip; charset=utf-8", "srt"),
    "vtt": ("text/vtt; charset=utf-8", "vtt"),
    "json": ("application/json", "json"),
}
# The lecture surface asks for "doc"; it gets a Word document all the same.
ALIASES = {"doc": "docx"}


def transcript_of(source: dict | list[dict]) -> dict[str, Any]:
    """One transcript shape from a job result or from a list of chunk events (a partial job)."""
    if isinstance(source, dict):
        text = source.get("text") or ""
        segments = source.get("segments") or (
            [{"start": 0.0, "end": source.get("duration") or 0.0, "text": text}] if text else []
        )
        return {
            "text": text,
            "language": source.get("language"),
            "duration": source.get("duration"),
            "words": list(source.get("words") or []),
            "segments": segments,
            # A partial job's result assembled from its chunks (by the API) keeps saying so.
            "partial": bool(source.get("partial")),
        }
    if isinstance(source, list):
        chunks = sorted(source, key=lambda c: c["seq"])
        return {
            "text": " ".join(c["text"] for c in chunks if c.get("text")),
            "language": next((c["language"] for c in chunks if c.get("language")), None),
            "duration": chunks[-1]["end"] if chunks else 0.0,
            "words": [w for c in chunks for w in c.get("words") or []],
            "segments": [s for c in chunks for s in _chunk_segments(c)],
            "partial": True,
        }
    raise ValueError("a transcript is a job result (dict) or a list of chunks")


def _chunk_segments(chunk: dict) -> list[dict]:
    """A chunk's segments as the engine cut them; else its sentences, timed from its words if it has any.

    A chunk with neither (the lecture surface's worker reports text alone) stays one segment: its
    sentences' times would be guesses.
    """
    if "segments" in chunk:
        return chunk["segments"]
    if not chunk.get("text"):
        return []
    whole = {"start": chunk["start"], "end": chunk["end"], "text": chunk["text"]}
    if not chunk.get("words"):
        return [whole]
    (words,) = timed_segments([whole], chunk["words"])
    return [
        {"start": run[0]["start"], "end": run[-1]["end"], "text": " ".join(w["word"] for w in run)}
        for run in sentences(words)
    ]


def _cues(transcript: dict) -> list[Cue]:
    # Cue text comes from the segments' text, as txt's does: the engine's words are only its clock.
    timed = timed_segments(transcript["segments"], transcript["words"])
    last_word = max((w["end"] for words in timed for w in words), default=0.0)
    return build_cues(timed, until=max(transcript["duration"] or 0.0, last_word))


def _srt(transcript: dict) -> bytes:
    blocks = [
        f"{n}\n{clock(c.start, ',')} --> {clock(c.end, ',')}\n{c.text}\n"
        for n, c in enumerate(_cues(transcript), start=1)
    ]
    return "\n".join(blocks).encode("utf-8")


def _vtt(transcript: dict) -> bytes:
    blocks = ["WEBVTT\n"] + [
        f"{clock(c.start, '.')} --> {clock(c.end, '.')}\n{c.text}\n" for c in _cues(transcript)
    ]
    return "\n".join(blocks).encode("utf-8")


def _txt(transcript: dict) -> bytes:
    return "".join(s["text"] + "\n" for s in transcript["segments"]).encode("utf-8")


def _json(transcript: dict) -> bytes:
    return json.dumps(transcript, ensure_ascii=False, indent=2).encode("utf-8")


def _docx(transcript: dict) -> bytes:
    from docx import Document  # imported here: only this format needs python-docx

    document = Document()
    document.add_heading("Transcript (partial)" if transcript["partial"] else "Transcript", level=1)
    facts = [f"Duration: {clock(transcript['duration'] or 0.0, '.')[:8]}"]
    if transcript["language"]:
        facts.insert(0, f"Language: {transcript['language']}")
    document.add_paragraph(" · ".join(facts))
    for segment in transcript["segments"]:
        paragraph = document.add_paragraph()
        stamp = paragraph.add_run(f"[{clock(segment['start'], '.')[:8]}] ")
        stamp.italic = True
        paragraph.add_run(segment["text"])
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


_RENDERERS = {"txt": _txt, "docx": _docx, "srt": _srt, "vtt": _vtt, "json": _json}


def export(source: dict | list[dict], fmt: str) -> tuple[bytes, str, str]:
    """Render a result or a partial job's chunk list as (bytes, content type, file extension)."""
    name = ALIASES.get(fmt.lower(), fmt.lower())
    if name not in _RENDERERS:
        raise ValueError(f"unknown export format {fmt!r} (formats: {', '.join(FORMATS)})")
    content_type, extension = FORMATS[name]
    return _RENDERERS[name](transcript_of(source)), content_type, extension
