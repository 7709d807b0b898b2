"""Subtitles a conversion puts into a video: soft streams tagged with their language, or burned in.

A conversion to a video target may carry ``subtitles``: a list of ``{"language", "text", "title"?}``
where ``text`` is a SubRip (srt) or WebVTT file's content. Each becomes a subtitle stream of the
output (mp4 and mov: mov_text; mkv: SubRip; webm: WebVTT) tagged with the language's ISO 639-2 code
and a title (the language's English name unless given). ``burn_in`` names one of those languages to
draw into the picture instead (the video is re-encoded; the other languages stay soft streams), in
text ``subtitle_size`` percent of the picture's height.

Nothing of the submitted text reaches ffmpeg as it was sent: it is parsed here into cues (a file
that does not parse is refused, with the line that broke it), and the worker writes the cues out
again as a SubRip file of its own, under a name of its own. The one place a path meets ffmpeg's
filter syntax, the burn-in filter, escapes it on both levels of that syntax (``filter_value``).
"""
from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import Any

from shared.kinds.timecode import clock
from shared.kinds.translate.languages import language_name, normalize

# Bounds on what one conversion carries: a lecture's subtitles are tens of kilobytes.
MAX_SUBTITLE_BYTES = 1024 * 1024
MAX_SUBTITLE_TRACKS = 8
MAX_CUES = 20_000
MAX_TITLE_CHARS = 64
# libass sizes SubRip text in a frame 288 units high (its PlayResY for srt).
LIBASS_PLAY_RES_Y = 288
SUBTITLE_SIZE_RANGE = (2.0, 25.0)
# The subtitle codec each target's container stores.
SOFT_CODECS = {"mp4": "mov_text", "mov": "mov_text", "mkv": "srt", "webm": "webvtt"}
OPTIONS = ("subtitles", "burn_in", "subtitle_size")

_VTT_TIME = re.compile(r"^(?:(\d{1,3}):)?([0-5]\d):([0-5]\d)[.,](\d{3})$")
_ARROW = re.compile(r"^(\S+)[ \t]+-->[ \t]+(\S+)(?:[ \t].*)?$")
_TAG = re.compile(r"<[^>\n]*>")
_ASS_OVERRIDE = re.compile(r"\{[^}\n]*\}")


@dataclass(frozen=True)
class Cue:
    """One subtitle on screen from ``start`` to ``end`` seconds."""

    start: float
    end: float
    text: str


def parse_cues(text: str) -> list[Cue]:
    """The cues of a SubRip or WebVTT file's text; ValueError naming the line that does not parse.

    Markup (``<i>``, ``<v Speaker>``, ASS override blocks such as ``{\\an8}``) is dropped: the
    cues come out as plain text.
    """
    if not isinstance(text, str):
        raise ValueError("a subtitle file's text must be a string (srt or vtt)")
    if len(text.encode("utf-8")) > MAX_SUBTITLE_BYTES:
        raise ValueError(f"a subtitle file may hold at most {MAX_SUBTITLE_BYTES} bytes")
    if "\x00" in text:
        raise ValueError("a subtitle file is text; this one holds NUL characters")
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    vtt = bool(lines) and re.match(r"^WEBVTT(?:[ \t].*)?$", lines[0]) is not None
    cues: list[Cue] = []
    for first_line, block in _blocks(lines):
        if vtt and (first_line == 1 or re.match(r"^(NOTE|STYLE|REGION)(?:[ \t]|$)", block[0])):
            continue  # the header, comments, styles, regions
        cues.append(_cue(block, first_line, vtt))
        if len(cues) > MAX_CUES:
            raise ValueError(f"a subtitle file may hold at most {MAX_CUES} cues")
    if not cues:
        raise ValueError("the subtitle file holds no cue (expected srt or vtt: "
                         "'00:00:01,000 --> 00:00:02,500' and the text below it)")
    return cues


def _blocks(lines: list[str]) -> list[tuple[int, list[str]]]:
    """The runs of non-blank lines, each with the (1-based) number of its first line."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            if not current:
                blocks.append((number, current))
            current.append(line.rstrip())
        else:
            current = []
    return blocks


def _cue(block: list[str], first_line: int, vtt: bool) -> Cue:
    timing = 0 if "-->" in block[0] else 1  # an identifier (srt: the cue's number) may come first
    if timing >= len(block) or not _ARROW.match(block[timing].strip()):
        raise ValueError(f"line {first_line + min(timing, len(block) - 1)}: expected a cue timing such as "
                         f"'00:00:01{'.' if vtt else ','}000 --> 00:00:02{'.' if vtt else ','}500'")
    start_text, end_text = _ARROW.match(block[timing].strip()).groups()
    start, end = _seconds(start_text, first_line + timing), _seconds(end_text, first_line + timing)
    if end <= start:
        raise ValueError(f"line {first_line + timing}: the cue ends ({end_text}) before it starts ({start_text})")
    body = "\n".join(_plain(line) for line in block[timing + 1:])
    return Cue(start, end, "\n".join(line for line in body.split("\n") if line.strip()))


def _seconds(stamp: str, line: int) -> float:
    match = _VTT_TIME.match(stamp)
    if match is None:
        raise ValueError(f"line {line}: {stamp[:32]!r} is not a time (hh:mm:ss,mmm or mm:ss.mmm)")
    hours, minutes, seconds, millis = match.groups()
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + int(millis) / 1000


def _plain(line: str) -> str:
    return html.unescape(_ASS_OVERRIDE.sub("", _TAG.sub("", line))).strip()


def srt_of(cues: list[Cue]) -> str:
    """The cues as a SubRip file (what the worker hands ffmpeg)."""
    return "\n".join(f"{n}\n{clock(c.start, ',')} --> {clock(c.end, ',')}\n{c.text or ' '}\n"
                     for n, c in enumerate(cues, start=1))


def iso639_2(language: str) -> str:
    """The three-letter ISO 639-2 code containers tag a stream with: 'es' -> 'spa'."""
    import pycountry  # the same tables shared.kinds.translate.languages reads

    code = normalize(language)
    found = pycountry.languages.get(alpha_2=code) if len(code) == 2 else pycountry.languages.get(alpha_3=code)
    return found.alpha_3


def validate(options: dict[str, Any], target_name: str, trimmed: bool) -> dict[str, Any]:
    """The subtitle options of a conversion to ``target_name``, normalized; ValueError says what is wrong.

    The texts are kept as sent (the worker parses them again, trusting no stored params).
    """
    tracks, burn_in, size = options.get("subtitles"), options.get("burn_in"), options.get("subtitle_size")
    if tracks is None:
        if burn_in is not None or size is not None:
            raise ValueError("burn_in and subtitle_size need subtitles to draw")
        return {}
    if isinstance(tracks, str):  # a multipart form's field: the list as JSON text
        try:
            tracks = json.loads(tracks)
        except ValueError:
            raise ValueError("subtitles must be JSON: a list of {\"language\", \"text\", \"title\"}") from None
    if target_name not in SOFT_CODECS:
        raise ValueError(f"subtitles go into a video target ({', '.join(SOFT_CODECS)}), not {target_name}")
    if trimmed:
        raise ValueError("subtitles keep the input's timings: leave out start and end")
    if not isinstance(tracks, list) or not tracks or len(tracks) > MAX_SUBTITLE_TRACKS:
        raise ValueError(f"subtitles must be a list of 1 to {MAX_SUBTITLE_TRACKS} objects "
                         "{\"language\", \"text\", \"title\"}")
    out: dict[str, Any] = {"subtitles": [_track(n, track) for n, track in enumerate(tracks, start=1)]}
    languages = [track["language"] for track in out["subtitles"]]
    if len(set(languages)) != len(languages):
        raise ValueError("subtitles name a language twice")
    if burn_in is not None:
        try:
            burn_in = normalize(burn_in)
        except ValueError:
            raise ValueError(f"burn_in must be the language of one of the subtitles ({', '.join(languages)})") from None
        if burn_in not in languages:
            raise ValueError(f"burn_in ({burn_in}) is not the language of any of the subtitles "
                             f"({', '.join(languages)})")
        out["burn_in"] = burn_in
    if size is not None:
        if burn_in is None:
            raise ValueError("subtitle_size sizes burned-in text: give burn_in too")
        out["subtitle_size"] = _size(size)
    return out


def _track(number: int, track: Any) -> dict[str, Any]:
    if not isinstance(track, dict) or set(track) - {"language", "text", "title"}:
        raise ValueError(f"subtitle {number} must be an object with language, text and an optional title")
    try:
        language = normalize(track.get("language"))
    except ValueError as exc:
        raise ValueError(f"subtitle {number}: {exc}") from None
    try:
        parse_cues(track.get("text"))
    except ValueError as exc:
        raise ValueError(f"subtitle {number} ({language}): {exc}") from None
    title = track.get("title")
    if title is None:
        title = language_name(language)
    if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE_CHARS or not title.isprintable():
        raise ValueError(f"subtitle {number}: title must be 1 to {MAX_TITLE_CHARS} printable characters")
    return {"language": language, "title": title.strip(), "text": track["text"]}


def _size(value: Any) -> float:
    low, high = SUBTITLE_SIZE_RANGE
    try:
        size = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"subtitle_size must be a number from {low:g} to {high:g} (percent of the "
                         "picture's height)") from None
    if not low <= size <= high:
        raise ValueError(f"subtitle_size must be from {low:g} to {high:g} (percent of the picture's height)")
    return size


_OPTION_SPECIAL = re.compile(r"([\\':])")
_GRAPH_SPECIAL = re.compile(r"([\\'\[\],;])")


def filter_value(value: str) -> str:
    """``value`` escaped for one option of a filter in an ffmpeg filtergraph (-vf, -filter_complex).

    Two levels, as ffmpeg's filter documentation describes them: first the option value
    (backslash, quote and ':' escaped), then the result within the graph (backslash, quote, brackets,
    ',' and ';' escaped again). What comes out reads back as ``value`` and nothing more: no option,
    filter or link can be added through it.
    """
    return _GRAPH_SPECIAL.sub(r"\\\1", _OPTION_SPECIAL.sub(r"\\\1", value))


def burn_in_filter(path: str, size_percent: float | None) -> str:
    """The ``subtitles`` filter (libass) drawing the SubRip file at ``path``."""
    graph = f"subtitles=filename={filter_value(path)}:charenc=UTF-8"
    if size_percent is not None:
        font_size = round(size_percent * LIBASS_PLAY_RES_Y / 100)
        graph += ":force_style=" + filter_value(f"FontSize={font_size},Outline=2,MarginV=12")
    return graph
