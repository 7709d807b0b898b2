"""How the worker cuts a document's deformatted stream into pipeline calls (paragraph ends only)."""
from __future__ import annotations

from services.translate_worker.documents import artifact_name, chunk_stream

STREAM = ".[][<file name=\"0\"\\/> <w:p>]The dog.[][<\\/w:p><w:p>]A \\.[] b[ ]c.[][<\\/w:p>]\n"


def test_the_chunks_give_the_stream_back_and_count_paragraphs():
    chunks = chunk_stream(STREAM, limit=1)
    assert "".join(chunk for chunk, _ in chunks) == STREAM
    # Cuts after the leading ".[]", after "The dog.[]" and after "c.[]"; the escaped "\.[]" is text.
    assert [count for _, count in chunks] == [1, 1, 1, 0]
    assert chunks[1][0].endswith("The dog.[]") and chunks[2][0].endswith("c.[]")


def test_no_cut_falls_inside_a_superblank():
    stream = "]x[ a.[] b ].[]"
    assert chunk_stream("[" + stream, limit=1) == [("[" + stream, 1)]


def test_a_big_limit_keeps_one_chunk():
    assert chunk_stream(STREAM) == [(STREAM, 3)]


def test_artifact_names_are_safe_and_keep_the_format():
    assert artifact_name("../My report (v2).DOCX", "docx") == "My_report_v2.docx"
    assert artifact_name(None, "odt") == "document.odt"
