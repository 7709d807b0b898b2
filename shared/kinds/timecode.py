"""Subtitle timestamps, shared by the transcript exports (asr) and the subtitles put into a video
(convert), without either contract importing the other's format libraries."""
from __future__ import annotations


def clock(seconds: float, decimal_mark: str) -> str:
    """A subtitle timestamp, hh:mm:ss plus milliseconds after ``decimal_mark`` ("," in srt, "." in vtt)."""
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal_mark}{millis:03d}"
