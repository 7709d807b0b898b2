"""Turn option values as clients send them (JSON or multipart strings) into typed values."""
from __future__ import annotations

import math
import re

_TIMESTAMP_RE = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)$")
_BITRATE_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kKmM]?)(?:b/?s|bps)?$")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def parse_seconds(name: str, value: object) -> float:
    """Seconds from a number or an 'HH:MM:SS(.fff)' / 'MM:SS' string."""
    if isinstance(value, str):
        text = value.strip()
        if m := _TIMESTAMP_RE.match(text):
            hours, minutes, seconds = int(m.group(1) or 0), int(m.group(2)), float(m.group(3))
            return hours * 3600 + minutes * 60 + seconds
        value = text
    number = _number(name, value, "a number of seconds or HH:MM:SS")
    if number < 0:
        raise ValueError(f"{name} must not be negative")
    return number


def parse_int(name: str, value: object, low: int, high: int) -> int:
    """An integer within [low, high]."""
    number = _number(name, value, "an integer")
    if number != int(number) or not low <= number <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}")
    return int(number)


def parse_float(name: str, value: object, low: float, high: float) -> float:
    """A number within [low, high]."""
    number = _number(name, value, "a number")
    if not low <= number <= high:
        raise ValueError(f"{name} must be a number from {low:g} to {high:g}")
    return number


def parse_bitrate(name: str, value: object, low: int, high: int) -> int:
    """Bits per second from a number or a string such as '128k' or '2.5M'."""
    if isinstance(value, str):
        m = _BITRATE_RE.match(value.strip())
        if not m:
            raise ValueError(f"{name} must be bits per second, e.g. 128000 or '128k' or '2M'")
        scale = {"": 1, "k": 1000, "m": 1_000_000}[m.group(2).lower()]
        bits = float(m.group(1)) * scale
    else:
        bits = _number(name, value, "bits per second, e.g. 128000 or '128k'")
    if not low <= bits <= high:
        raise ValueError(f"{name} must be from {_human_bits(low)} to {_human_bits(high)}")
    return int(bits)


def parse_bool(name: str, value: object) -> bool:
    """A boolean from JSON or from a form field ('true', '1', 'no', ...)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{name} must be true or false")


def _number(name: str, value: object, what: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be {what}")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {what}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be {what}")
    return number


def _human_bits(bits: int) -> str:
    if bits >= 1_000_000:
        return f"{bits / 1_000_000:g}M"
    return f"{bits / 1000:g}k"
