"""Translated documents: a file in, the same file out with only its text runs changed.

What ``apertium -f docx|odt|pptx|xlsx|rtf|html|txt`` does, with Apertium's own deformatters and
reformatters, but with the translation itself on the worker's engines (pivots included, across
engines too: each hop reformats, and the next one deformats again):

1. the container is read in memory (never unpacked to disk: no path from the archive is ever used)
   and the parts that hold text are given to the format's deformatter, one ``<file name="N"/>`` line
   per part, as the ``apertium`` script does;
2. the deformatted stream (text, with all markup as superblanks) is cut after its paragraph ends
   (``.[]``) into chunks, each translated by a warm Apertium pipeline call, or, on an Argos hop, as
   a batch of its text runs (runs.py: the text between superblanks, markup left in place):
   progress counts paragraphs;
3. the reformatter gives the parts back, and a new container is written with every other entry
   (styles, images, relationships) copied byte for byte, in the same order and compression.

The API has already refused spoofed types, zip bombs, macros and DTDs (shared/kinds/translate/documents).
"""
from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.translate_worker.apertium import (
    DEFAULT_TIMEOUT,
    ApertiumError,
    deformat,
    deformat_html,
    reformat,
    reformat_html,
)
from services.translate_worker.argos_engine import ArgosError
from services.translate_worker.engines import Translators
from services.translate_worker.runs import plain_text, rtf_text, xml_text
from shared.handler import JobIO, PermanentError, TransientError
from shared.kinds.translate.documents import (
    CONTENT_TYPES,
    DOCX,
    HTML_FILE,
    ODF_FORMATS,
    ODP,
    ODT,
    RTF,
    TXT,
    XLSX,
    ZIP_FORMATS,
    DocumentRefused,
    format_of,
    read_text_file,
    translatable_parts,
)
from shared.kinds.translate.engines import APERTIUM, Hop, check_engine
from shared.kinds.translate.pairs import validate_pair

LOGGER = logging.getLogger(__name__)

# A chunk of deformatted stream per pipeline call: big enough that the calls' round trips cost
# little beside the translation, small enough that progress moves every few paragraphs.
CHUNK_CHARS = 16000
# Apertium's odt deformatter serves .odp too (`apertium -f odp` runs it): both are ODF content.xml.
_FORMATTERS = {DOCX: ("apertium-deswxml", "apertium-rewxml"), ODT: ("apertium-desodt", "apertium-reodt"),
               ODP: ("apertium-desodt", "apertium-reodt"),
               "pptx": ("apertium-despptx", "apertium-repptx"), "xlsx": ("apertium-desxlsx", "apertium-rexlsx"),
               RTF: ("apertium-desrtf", "apertium-rertf")}
# Escapes and superblanks of the stream; a paragraph ends at a "[]" right after an unescaped ".".
_STREAM_TOKEN = re.compile(r"\\.|\[(?:\\.|[^\]\\])*\]", re.DOTALL)
_PART_MARK = re.compile(r'<file name="([^"]*)"/>')
_UTF8_LOCALE = {"LC_ALL": "C.UTF-8"}
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_WORKSHEET = re.compile(r"^xl/worksheets/[^/]+\.xml$")
_INLINE_STRING = re.compile(r"(<is>)(.*?)(</is>)", re.DOTALL)
_SHARED_STRING = re.compile(r"<si>(.*?)</si>", re.DOTALL)
_SPREADSHEET_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_INLINE = "#inline-strings"
# How an engine's plain text is written into a format's text runs (the XML formats' reformatters
# write the stream's text as it is, so &, < and > must come as entities).
_RUN_ESCAPES = {TXT: plain_text, RTF: rtf_text}


@dataclass
class _Progress:
    """Paragraphs translated over all hops of the route, reported as the job's progress."""

    io: JobIO
    total: int
    done: int = 0

    def advance(self, paragraphs: int) -> None:
        self.done = min(self.total, self.done + paragraphs)
        self.io.progress(self.done, self.total, "paragraphs")


def is_document_job(job: dict[str, Any]) -> bool:
    """Whether the job brought a file (a document) rather than ``params.text``."""
    return bool(job.get("input")) and "document_format" in (job.get("params") or {})


def process_document(job: dict[str, Any], io: JobIO, translators: Translators) -> dict[str, Any]:
    """Translate the job's file and upload the result, in the same format, as the job's artifact.

    ``params.engine`` keeps every hop on one engine; without it the best route may cross engines.
    """
    params = job.get("params") or {}
    filename = (job.get("input") or {}).get("filename")
    translators.refresh()
    try:
        document_format = format_of(filename, params.get("document_format"))
        engine = check_engine(params.get("engine"))
        source, target = validate_pair(params.get("source_lang"), params.get("target_lang"), translators.pairs())
        hops = translators.route(source, target, engine)
    except ValueError as exc:  # DocumentRefused included
        raise PermanentError(str(exc)) from exc
    data = io.input_path().read_bytes()
    route = [hops[0].source] + [hop.target for hop in hops]
    LOGGER.info("job %s: translating a %s of %d bytes along %s", job.get("id"), document_format, len(data),
                " ".join(f"{hop.source}-{hop.engine}->{hop.target}" for hop in hops))
    translate_hop = _hop_translator(translators, hops, io, _RUN_ESCAPES.get(document_format, xml_text))
    try:
        translated, paragraphs, words = translate_bytes(data, document_format, translate_hop, len(hops))
    except (ApertiumError, ArgosError) as exc:
        raise TransientError(str(exc)) from exc
    except (DocumentRefused, UnicodeDecodeError, zipfile.BadZipFile) as exc:
        raise PermanentError(f"cannot translate this {document_format}: {exc}") from exc
    name = artifact_name(filename, document_format)
    with tempfile.TemporaryDirectory(prefix="conveyor-translate-") as workdir:
        output = Path(workdir) / name
        output.write_bytes(translated)
        io.add_artifact(name, output, CONTENT_TYPES[document_format])
    return {"document_format": document_format, "artifact": name, "content_type": CONTENT_TYPES[document_format],
            "source_lang": source, "target_lang": target, "route": route,
            "engines": [hop.engine for hop in hops], "paragraphs": paragraphs,
            "word_count": words, "size": len(translated)}


# One hop's translation of a deformatted stream: (stream, hop index) -> translated stream.
HopTranslator = Callable[[str, int], str]


def _hop_translator(translators: Translators, hops: list[Hop], io: JobIO,
                    escape: Callable[[str], str]) -> HopTranslator:
    """Each hop on its engine: Apertium translates the stream whole, Argos its text runs (runs.py)."""
    progress: _Progress | None = None

    def translate_stream(stream: str, hop: int) -> str:
        nonlocal progress
        chunks = chunk_stream(stream, CHUNK_CHARS)
        if progress is None:
            progress = _Progress(io, max(1, sum(count for _, count in chunks) * len(hops)))
            io.progress(0, progress.total, "paragraphs")
        if hops[hop].engine == APERTIUM:
            translate_chunk = translators.apertium.pipeline(hops[hop].source, hops[hop].target).translate_stream
        else:
            def translate_chunk(chunk: str) -> str:
                return translators.translate_runs(chunk, hops[hop], escape)
        out = []
        for chunk, paragraphs in chunks:
            io.check_cancelled()
            out.append(translate_chunk(chunk))
            progress.advance(paragraphs)
        return "".join(out)
    return translate_stream


def translate_bytes(data: bytes, document_format: str, translate_hop: HopTranslator,
                    hops: int = 1) -> tuple[bytes, int, int]:
    """The document translated through each hop in turn; also its paragraphs and source words."""
    paragraphs = words = 0
    for hop in range(hops):
        data, counted, counted_words = _translate_once(data, document_format, lambda s, h=hop: translate_hop(s, h))
        if hop == 0:
            paragraphs, words = counted, counted_words
    return data, paragraphs, words


def _translate_once(data: bytes, document_format: str, translate: Callable[[str], str]) -> tuple[bytes, int, int]:
    if document_format == TXT:
        stream = deformat(read_text_file(data))
        return reformat(translate(stream)).encode("utf-8"), _paragraphs(stream), _words(stream)
    if document_format == HTML_FILE:
        stream = deformat_html(read_text_file(data))
        return reformat_html(translate(stream)).encode("utf-8"), _paragraphs(stream), _words(stream)
    if document_format == RTF:
        deformatter, reformatter = _FORMATTERS[RTF]
        stream = _run(deformatter, data).decode("utf-8", errors="replace")
        return _run(reformatter, translate(stream).encode("utf-8")), _paragraphs(stream), _words(stream)
    if document_format in ZIP_FORMATS:
        return _translate_container(data, document_format, translate)
    raise DocumentRefused(f"{document_format} is not a document format")


def _translate_container(data: bytes, document_format: str,
                         translate: Callable[[str], str]) -> tuple[bytes, int, int]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entries = archive.infolist()
        names = translatable_parts([entry.filename for entry in entries], document_format)
        parts = {name: archive.read(name).decode("utf-8") for name in names}
        sheets = _inline_strings(archive, entries) if document_format == XLSX else {}
        parts.update({f"{name}{_INLINE}": _as_shared_strings(xml) for name, xml in sheets.items()})
        names = list(parts)
        stream = _deformat_parts(parts, names, document_format)
        translated = _reformat_parts(translate(stream), names, document_format)
        for name, xml in sheets.items():
            translated[name] = _put_back_inline(xml, translated.pop(f"{name}{_INLINE}").decode("utf-8")).encode()
        return (_rewrite(archive, entries, translated, document_format),
                _paragraphs(stream), _words(stream))


def _inline_strings(archive: zipfile.ZipFile, entries: list[zipfile.ZipInfo]) -> dict[str, str]:
    """The worksheets that keep their strings in the cells (openpyxl does), by name, as text.

    Apertium's xlsx format translates sharedStrings.xml only, and its deformatter would translate a
    worksheet's numbers too (``<v>``): so only the cells' ``<is>`` strings are given to it, dressed
    as shared strings, and put back in their cells afterwards.
    """
    sheets = {}
    for entry in entries:
        if _WORKSHEET.search(entry.filename):
            xml = archive.read(entry).decode("utf-8")
            if _INLINE_STRING.search(xml):
                sheets[entry.filename] = xml
    return sheets


def _as_shared_strings(sheet: str) -> str:
    strings = "".join(f"<si>{match.group(2)}</si>" for match in _INLINE_STRING.finditer(sheet))
    return f'<sst xmlns="{_SPREADSHEET_NS}">{strings}</sst>'


def _put_back_inline(sheet: str, translated: str) -> str:
    strings = iter(match.group(1) for match in _SHARED_STRING.finditer(translated))
    return _INLINE_STRING.sub(lambda match: f"{match.group(1)}{next(strings, match.group(2))}{match.group(3)}", sheet)


def _deformat_parts(parts: dict[str, str], names: list[str], document_format: str) -> str:
    """The parts as the format's deformatter's stream; each part is named by its index in ``names``."""
    deformatter = _FORMATTERS[document_format][0]
    if document_format != DOCX:
        lines = "".join(f'<file name="{index}"/>' + "".join(f" {line}" for line in parts[name].split("\n")) + "\n"
                        for index, name in enumerate(names))
        return _run(deformatter, lines.encode("utf-8")).decode("utf-8")
    # apertium-adapt-docx moves Word's run boundaries out of words; it reads the parts from files.
    with tempfile.TemporaryDirectory(prefix="conveyor-docx-") as workdir:
        paths = []
        for index, name in enumerate(names):
            path = Path(workdir) / str(index)
            path.write_text(parts[name], encoding="utf-8")
            paths.append(str(path))
        adapted = _run("apertium-adapt-docx", ("\n".join(paths) + "\n").encode("utf-8"), "-n")
    adapted = _PART_MARK.sub(lambda match: f'<file name="{Path(match.group(1)).name}"/>', adapted.decode("utf-8"))
    return _run(deformatter, adapted.encode("utf-8")).decode("utf-8")


def _reformat_parts(stream: str, names: list[str], document_format: str) -> dict[str, bytes]:
    """The reformatter's output split back into parts, as the ``apertium`` script's awk does."""
    reformatted = _run(_FORMATTERS[document_format][1], stream.encode("utf-8")).decode("utf-8")
    pieces = _PART_MARK.split(reformatted)
    parts: dict[str, bytes] = {}
    for label, body in zip(pieces[1::2], pieces[2::2]):
        if not label.isdigit() or int(label) >= len(names):
            raise ApertiumError(f"the {document_format} reformatter named an unknown part {label!r}")
        # The deformatter's input had the part's lines joined by spaces after one leading space.
        body = body[1:] if body.startswith(" ") else body
        parts[names[int(label)]] = body.replace("?> ", "?>\n", 1).encode("utf-8")
    missing = [name for name in names if name not in parts]
    if missing:
        raise ApertiumError(f"the {document_format} reformatter lost parts: {', '.join(missing)}")
    return parts


def _rewrite(archive: zipfile.ZipFile, entries: list[zipfile.ZipInfo], translated: dict[str, bytes],
             document_format: str) -> bytes:
    """The container again, translated parts replaced and every other entry copied as it was."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as rewritten:
        for entry in entries:
            if document_format in ODF_FORMATS and entry.filename.startswith("ObjectReplacements/"):
                continue  # previews of embedded objects, drawn with the old text (the apertium script drops them)
            rewritten.writestr(entry, translated.get(entry.filename) or archive.read(entry))
    return out.getvalue()


def chunk_stream(stream: str, limit: int = CHUNK_CHARS) -> list[tuple[str, int]]:
    """Cut a deformatted stream after paragraph ends into chunks of about ``limit`` characters.

    Returns (chunk, paragraphs in it); joining the chunks gives the stream back. A cut falls only
    right after a top-level ``.[]`` (never in a superblank or an escape), where Apertium ends a
    sentence anyway, so the chunks translate as the whole would.
    """
    chunks: list[tuple[str, int]] = []
    start = paragraphs = 0
    previous_end = -1
    for match in _STREAM_TOKEN.finditer(stream):
        is_paragraph_end = (match.group() == "[]" and match.start() > 0 and stream[match.start() - 1] == "."
                            and previous_end != match.start())
        previous_end = match.end()
        if not is_paragraph_end:
            continue
        paragraphs += 1
        if match.end() - start >= limit:
            chunks.append((stream[start:match.end()], paragraphs))
            start, paragraphs = match.end(), 0
    if start < len(stream) or not chunks:
        chunks.append((stream[start:], paragraphs))
    return chunks


def artifact_name(filename: str | None, document_format: str) -> str:
    """The translated file's name: the upload's stem, made safe, with the format's extension."""
    stem = _UNSAFE_NAME.sub("_", Path(filename or "").stem).strip("._-")[:80]
    return f"{stem or 'document'}.{document_format}"


def _paragraphs(stream: str) -> int:
    return sum(count for _, count in chunk_stream(stream))


def _words(stream: str) -> int:
    """Words of a deformatted stream's text (its superblanks are markup)."""
    return len(_STREAM_TOKEN.sub(" ", stream).replace(".[]", " ").split())


def _run(program: str, data: bytes, *args: str) -> bytes:
    """Run one of Apertium's formatters over ``data``; ApertiumError when it fails."""
    try:
        done = subprocess.run([program, *args], input=data, capture_output=True, timeout=DEFAULT_TIMEOUT * 4,
                              env={**os.environ, **_UTF8_LOCALE}, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ApertiumError(f"{program} failed: {exc}") from exc
    if done.returncode != 0:
        raise ApertiumError(f"{program} exited with {done.returncode}: "
                            f"{done.stderr.decode('utf-8', errors='replace')[-500:]}")
    return done.stdout
