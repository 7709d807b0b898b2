"""Documents a translate job takes as a file, and the checks that refuse a dangerous one at submit.

Pure Python (zipfile and byte sniffing, no engine, no subprocess): the API runs these checks before a
job is queued, so a worker only ever opens a file that is what its name says, holds no macros, no
entity declarations and no more than a bounded amount of data. Which parts of a container hold the
text is said here too (``translatable_parts``), so that the API and the worker agree on it.
"""
from __future__ import annotations

import html
import re
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from shared.kinds.translate.formats import visible_text

TXT, HTML_FILE, DOCX, ODT, ODP, PPTX, XLSX, RTF = "txt", "html", "docx", "odt", "odp", "pptx", "xlsx", "rtf"
DOCUMENT_FORMATS = (TXT, HTML_FILE, DOCX, ODT, ODP, PPTX, XLSX, RTF)
ZIP_FORMATS = (DOCX, ODT, ODP, PPTX, XLSX)
ODF_FORMATS = (ODT, ODP)
TEXT_FILE_FORMATS = (TXT, HTML_FILE)

EXTENSIONS = {".txt": TXT, ".html": HTML_FILE, ".htm": HTML_FILE, ".docx": DOCX, ".odt": ODT, ".odp": ODP,
              ".pptx": PPTX, ".xlsx": XLSX, ".rtf": RTF}
# The macro-enabled twins of the OOXML formats: refused by name before their bytes are read.
MACRO_EXTENSIONS = (".docm", ".dotm", ".pptm", ".potm", ".ppsm", ".xlsm", ".xltm", ".xlsb")
CONTENT_TYPES = {
    TXT: "text/plain; charset=utf-8",
    HTML_FILE: "text/html; charset=utf-8",
    DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ODT: "application/vnd.oasis.opendocument.text",
    ODP: "application/vnd.oasis.opendocument.presentation",
    PPTX: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    RTF: "application/rtf",
}
NAMES = {TXT: "plain text", HTML_FILE: "HTML", DOCX: "Word document (.docx)", ODT: "OpenDocument text (.odt)",
         ODP: "OpenDocument presentation (.odp)",
         PPTX: "PowerPoint presentation (.pptx)", XLSX: "Excel workbook (.xlsx)", RTF: "RTF document"}

# A container's bounds. Office files of a few hundred pages hold a few hundred entries and tens of
# megabytes once inflated; XML compresses about 10:1, a run of zeros 1000:1. The ratio is only
# judged for entries big enough to matter (a tiny part may well compress 200:1).
MAX_ENTRIES = 5000
MAX_UNCOMPRESSED_BYTES = 256 * 1024 * 1024
MAX_RATIO = 100
RATIO_FLOOR_BYTES = 1024 * 1024

_OOXML_MAIN_PART = {DOCX: "word/document.xml", PPTX: "ppt/presentation.xml", XLSX: "xl/workbook.xml"}
_MACRO_PARTS = re.compile(r"(^|/)(vbaProject\.bin|vbaData\.xml|activeX[^/]*\.bin)$|^(Basic|Scripts)/",
                          re.IGNORECASE)
_MACRO_CONTENT_TYPE = re.compile(rb"macroEnabled|vbaProject", re.IGNORECASE)
_XML_PART = re.compile(r"\.(xml|rels|vml)$", re.IGNORECASE)
# Any DTD at all: OOXML and ODF never need one, and with it come external and expanding entities.
_DECLARATION = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
# The parts whose text Apertium's deformatters translate, per format (what the `apertium` script picks).
_DOCX_SKIPPED = re.compile(r"settings|theme|styles|font|rels|docProps|Content_Types", re.IGNORECASE)
_PPTX_SLIDE = re.compile(r"(^|/)slides/slide[^/]*\.xml$")
_TAG = re.compile(r"<[^>]*>")
_NUMBER_CELL = re.compile(r"<(v|f)>.*?</\1>", re.DOTALL)
_RTF_CONTROL = re.compile(r"\\[a-z]+-?\d* ?|\\'[0-9a-f]{2}|[{}]|\\[^a-z]", re.IGNORECASE)
_SNIFFED_AS = ((b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
               (b"GIF8", "a GIF image"), (b"%PDF-", "a PDF document"), (b"PK\x03\x04", "a ZIP archive"),
               (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old binary Office document (.doc/.xls/.ppt)"),
               (b"{\\rtf", "an RTF document"), (b"\x7fELF", "a program"), (b"MZ", "a program"))


class DocumentRefused(ValueError):
    """The file is not a document this kind translates safely; the message says why, for the caller."""


@dataclass(frozen=True)
class DocumentInfo:
    """What the submit check learned of a document: its format and, for a container, its entries."""

    format: str
    entries: int = 0
    uncompressed_bytes: int = 0


def format_of(filename: str | None, declared: str | None = None) -> str:
    """The document format a file is submitted as: ``declared`` if it names one, else the extension."""
    if declared in DOCUMENT_FORMATS:
        return declared
    extension = PurePosixPath((filename or "").lower()).suffix
    if extension in MACRO_EXTENSIONS:
        raise DocumentRefused(f"{extension} files carry macros and are refused; save the document "
                              "without macros (.docx, .pptx, .xlsx) and send that")
    if extension not in EXTENSIONS:
        raise DocumentRefused(f"cannot tell the document's format from its name {filename!r}; "
                              f"send one of: {', '.join(sorted(EXTENSIONS))}")
    return EXTENSIONS[extension]


def inspect_document(path: Path, document_format: str) -> DocumentInfo:
    """Check that the file at ``path`` is a safe document of ``document_format``; DocumentRefused if not."""
    with path.open("rb") as stream:
        head = stream.read(16)
    if not head:
        raise DocumentRefused("the file is empty")
    if document_format in ZIP_FORMATS:
        return _inspect_container(path, document_format, head)
    if document_format == RTF:
        if not head.startswith(b"{\\rtf"):
            raise DocumentRefused(f"the file is not an RTF document{_what_it_is(head)}")
        return DocumentInfo(RTF)
    _check_text_file(path.read_bytes(), document_format, head)
    return DocumentInfo(document_format)


def document_text(path: Path, document_format: str, limit: int = 200_000) -> str:
    """Roughly the text a reader sees in a checked document (for word counts and language detection).

    Tags become blanks, so Word's runs may split a word now and then: an estimate, never translated.
    """
    if document_format in ZIP_FORMATS:
        with zipfile.ZipFile(path) as archive:
            names = translatable_parts(archive.namelist(), document_format)
            if document_format == XLSX:  # strings kept in the cells (openpyxl's way) as well
                names += [name for name in archive.namelist() if name.startswith("xl/worksheets/")
                          and name.endswith(".xml")]
            xml = " ".join(archive.read(name).decode("utf-8", errors="replace") for name in names)
            if document_format == XLSX:
                xml = _NUMBER_CELL.sub(" ", xml)
        return html.unescape(_TAG.sub(" ", xml))[:limit]
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    if document_format == RTF:
        return _RTF_CONTROL.sub(" ", text)[:limit]
    return (visible_text(text) if document_format == HTML_FILE else text)[:limit]


def read_text_file(data: bytes) -> str:
    """The text of a .txt or .html file: UTF-8, with or without a byte-order mark."""
    return data.decode("utf-8-sig")


def translatable_parts(names: list[str], document_format: str) -> list[str]:
    """The entries of a container whose text Apertium translates, in archive order."""
    if document_format == DOCX:
        return [name for name in names if name.lower().endswith(".xml") and not _DOCX_SKIPPED.search(name)]
    if document_format in ODF_FORMATS:
        return [name for name in names if PurePosixPath(name).name in ("content.xml", "styles.xml")]
    if document_format == PPTX:
        return [name for name in names if _PPTX_SLIDE.search(name)]
    if document_format == XLSX:
        return [name for name in names if PurePosixPath(name).name == "sharedStrings.xml"]
    raise ValueError(f"{document_format} is not a container format")


def _what_it_is(head: bytes) -> str:
    for magic, description in _SNIFFED_AS:
        if head.startswith(magic):
            return f": its bytes are {description}"
    return ""


def _check_text_file(data: bytes, document_format: str, head: bytes) -> None:
    if b"\0" in data:
        raise DocumentRefused(f"the file is not {NAMES[document_format]}{_what_it_is(head) or ': it is binary'}")
    try:
        text = read_text_file(data)
    except UnicodeDecodeError:
        raise DocumentRefused("the file is not UTF-8 text") from None
    if not text.strip():
        raise DocumentRefused("the file has no text")


def _inspect_container(path: Path, document_format: str, head: bytes) -> DocumentInfo:
    if not head.startswith(b"PK\x03\x04"):
        raise DocumentRefused(f"the file is not a {NAMES[document_format]}{_what_it_is(head)}")
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            total = _check_bounds(entries)
            names = [entry.filename for entry in entries]
            _check_kind(archive, names, document_format)
            _check_macros(archive, names)
            _check_declarations(archive, entries)
    except DocumentRefused:
        raise
    # Whatever else a malformed archive makes zipfile raise (bad headers, odd compression, a bad CRC).
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError, ValueError,
            RuntimeError, struct.error) as exc:
        raise DocumentRefused(f"the {NAMES[document_format]} is damaged: {exc}") from None
    return DocumentInfo(document_format, len(entries), total)


def _check_bounds(entries: list[zipfile.ZipInfo]) -> int:
    """Refuse a zip bomb by its directory: too many entries, too much inflated data, too high a ratio."""
    if len(entries) > MAX_ENTRIES:
        raise DocumentRefused(f"the document holds {len(entries)} entries, more than {MAX_ENTRIES}")
    total = 0
    for entry in entries:
        if entry.flag_bits & 0x1:
            raise DocumentRefused("the document is encrypted; send it without a password")
        total += entry.file_size
        if total > MAX_UNCOMPRESSED_BYTES:
            raise DocumentRefused(f"the document inflates to more than {MAX_UNCOMPRESSED_BYTES // 2 ** 20} MiB")
        if entry.file_size > RATIO_FLOOR_BYTES and entry.file_size > MAX_RATIO * max(entry.compress_size, 1):
            raise DocumentRefused(f"the document's entry {entry.filename!r} inflates "
                                  f"{entry.file_size // max(entry.compress_size, 1)} times, "
                                  f"more than {MAX_RATIO}: it looks like a zip bomb")
    return total


def _check_kind(archive: zipfile.ZipFile, names: list[str], document_format: str) -> None:
    """The container's own signature must be the declared format's (a .docx renamed .xlsx is refused)."""
    found = _container_kind(archive, set(names))
    if found != document_format:
        what = NAMES[found] if found else "a ZIP archive but no office document"
        raise DocumentRefused(f"the file is not a {NAMES[document_format]}: it is {what}")


def _container_kind(archive: zipfile.ZipFile, names: set[str]) -> str | None:
    if "mimetype" in names and archive.getinfo("mimetype").file_size < 200:
        mimetype = archive.read("mimetype").strip().decode("ascii", errors="replace")
        return next((odf for odf in ODF_FORMATS if CONTENT_TYPES[odf] == mimetype), None)
    if "[Content_Types].xml" in names:
        for document_format, main_part in _OOXML_MAIN_PART.items():
            if main_part in names:
                return document_format
    return None


def _check_macros(archive: zipfile.ZipFile, names: list[str]) -> None:
    for name in names:
        if _MACRO_PARTS.search(name):
            raise DocumentRefused(f"the document carries macros ({name}); save it without macros and send that")
    if "[Content_Types].xml" in names and _MACRO_CONTENT_TYPE.search(archive.read("[Content_Types].xml")):
        raise DocumentRefused("the document is macro-enabled; save it without macros and send that")


def _check_declarations(archive: zipfile.ZipFile, entries: list[zipfile.ZipInfo]) -> None:
    """Refuse any DTD in an XML part: that is where external entities (XXE) and entity bombs live."""
    for entry in entries:
        if _XML_PART.search(entry.filename):
            text = _xml_text(archive.read(entry))
            if _DECLARATION.search(text):
                raise DocumentRefused(f"the document's part {entry.filename!r} declares a DTD or entities "
                                      "(<!DOCTYPE/<!ENTITY), which office documents never need; refused")


def _xml_text(data: bytes) -> str:
    """An XML part's text in its own encoding (UTF-8, or UTF-16 with or without a byte-order mark)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    if data.startswith(b"<\0"):
        return data.decode("utf-16-le", errors="replace")
    if data.startswith(b"\0<"):
        return data.decode("utf-16-be", errors="replace")
    return data.decode("utf-8", errors="replace")
