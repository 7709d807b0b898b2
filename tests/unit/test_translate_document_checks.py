"""The submit-time checks of translate documents (shared/kinds/translate/documents.py), without a worker."""
from __future__ import annotations

import io
import zipfile

import pytest

from shared.kinds.translate import documents
from shared.kinds.translate.documents import DocumentRefused, document_text, format_of, inspect_document
from tests.document_samples import (
    docx_bytes,
    macro_docx,
    odp_bytes,
    odt_bytes,
    png_bytes,
    pptx_bytes,
    with_entries,
    xlsx_bytes,
    xxe_docx,
    zip_bomb_docx,
)


def write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(("name", "data", "expected"), [
    ("a.docx", docx_bytes, "docx"), ("a.odt", odt_bytes, "odt"), ("a.odp", odp_bytes, "odp"),
    ("a.pptx", pptx_bytes, "pptx"),
    ("a.xlsx", xlsx_bytes, "xlsx"), ("a.txt", lambda: b"The cat.", "txt"),
    ("a.html", lambda: b"<p>The cat.</p>", "html"), ("a.rtf", lambda: rb"{\rtf1 The cat.\par}", "rtf"),
])
def test_real_documents_pass(tmp_path, name, data, expected):
    path = write(tmp_path, name, data())
    assert inspect_document(path, format_of(name)).format == expected


@pytest.mark.parametrize(("name", "data", "message"), [
    ("photo.docx", png_bytes(), "is not a Word document (.docx): its bytes are a PNG image"),
    ("photo.odt", b"%PDF-1.7 ...", "its bytes are a PDF document"),
    ("sheet.xlsx", docx_bytes(), "it is Word document (.docx)"),
    ("deck.pptx", odt_bytes(), "it is OpenDocument text"),
    ("deck.odt", odp_bytes(), "it is OpenDocument presentation"),
    ("archive.docx", b"", "empty"),
    ("notes.txt", png_bytes(), "its bytes are a PNG image"),
    ("notes.txt", "caf\u00e9".encode("latin-1"), "not UTF-8"),
    ("notes.txt", b"  \n\t", "no text"),
    ("memo.rtf", b"The cat.", "not an RTF document"),
    ("bomb.docx", zip_bomb_docx(), "zip bomb"),
    ("xxe.docx", xxe_docx(), "declares a DTD or entities"),
    ("macro.docx", macro_docx(), "carries macros (word/vbaProject.bin)"),
])
def test_spoofed_hostile_and_empty_files_are_refused(tmp_path, name, data, message):
    path = write(tmp_path, name, data)
    with pytest.raises(DocumentRefused, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        inspect_document(path, format_of(name))


def test_a_zip_of_nothing_office_like_is_refused(tmp_path):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(DocumentRefused, match="a ZIP archive but no office document"):
        inspect_document(write(tmp_path, "a.docx", out.getvalue()), "docx")


def test_a_damaged_container_is_refused(tmp_path):
    with pytest.raises(DocumentRefused, match="damaged"):
        inspect_document(write(tmp_path, "a.docx", docx_bytes()[:2000]), "docx")


def test_too_many_entries_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(documents, "MAX_ENTRIES", 40)
    many = with_entries(docx_bytes(), {f"word/media/{index}.bin": b"x" for index in range(40)})
    with pytest.raises(DocumentRefused, match="entries, more than 40"):
        inspect_document(write(tmp_path, "a.docx", many), "docx")


def test_too_much_inflated_data_is_refused_even_at_a_modest_ratio(tmp_path, monkeypatch):
    monkeypatch.setattr(documents, "MAX_UNCOMPRESSED_BYTES", 2 * 1024 * 1024)
    big = with_entries(docx_bytes(), {"word/media/noise.bin": bytes(range(256)) * 10000})
    with pytest.raises(DocumentRefused, match="inflates to more than 2 MiB"):
        inspect_document(write(tmp_path, "a.docx", big), "docx")


def test_a_small_part_may_compress_very_well(tmp_path):
    # 512 KiB of zeros compresses about 1000:1 but is below the ratio's floor: a normal document.
    fine = with_entries(docx_bytes(), {"word/media/blank.bin": bytes(512 * 1024)})
    assert inspect_document(write(tmp_path, "a.docx", fine), "docx").entries > 0


def test_a_dtd_in_utf16_is_found_too(tmp_path):
    hostile = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "b">]><x/>'.encode("utf-16")
    document = with_entries(docx_bytes(), {"customXml/item9.xml": hostile})
    with pytest.raises(DocumentRefused, match="customXml/item9.xml"):
        inspect_document(write(tmp_path, "a.docx", document), "docx")


def test_a_macro_enabled_content_type_is_refused(tmp_path):
    with zipfile.ZipFile(io.BytesIO(docx_bytes())) as archive:
        types = archive.read("[Content_Types].xml").decode()
    docm = with_entries(docx_bytes(), {}, {"[Content_Types].xml": types.replace(
        "wordprocessingml.document.main+xml", "ms-word.document.macroEnabled.main+xml").encode()})
    with pytest.raises(DocumentRefused, match="macro-enabled"):
        inspect_document(write(tmp_path, "a.docx", docm), "docx")


@pytest.mark.parametrize(("name", "declared", "expected"), [
    ("Report.DOCX", None, "docx"), ("page.htm", None, "html"), ("x", "odt", "odt"), ("a.txt", "text", "txt"),
])
def test_the_format_comes_from_the_name_unless_declared(name, declared, expected):
    assert format_of(name, declared) == expected


@pytest.mark.parametrize(("name", "message"), [("a.xlsm", "carry macros"), ("a.pdf", "cannot tell"),
                                               (None, "cannot tell")])
def test_unknown_and_macro_extensions_are_refused(name, message):
    with pytest.raises(DocumentRefused, match=message):
        format_of(name)


@pytest.mark.parametrize(("name", "data", "words"), [
    ("a.docx", docx_bytes, ["dog", "house", "book", "white"]), ("a.xlsx", xlsx_bytes, ["dog", "black"]),
    ("a.pptx", pptx_bytes, ["red", "car"]), ("a.odt", odt_bytes, ["cat", "book"]),
])
def test_the_readable_text_holds_the_words_and_no_markup(tmp_path, name, data, words):
    text = document_text(write(tmp_path, name, data()), format_of(name))
    assert all(word in text.split() or f"{word}." in text.split() for word in words), text
    assert "<" not in text and "42.5" not in text
