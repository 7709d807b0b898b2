"""Documents through the native API and a real translate worker: same format back, only the text changed.

The documents are made here with python-docx, odfpy, python-pptx and openpyxl, translated English to
Spanish by Apertium, and re-opened with the same libraries.
"""
from __future__ import annotations

import io

import pytest

from tests.conftest import wait_for
from tests.document_samples import (
    BOLD_TRANSLATION,
    BOLD_WORD,
    SENTENCES,
    TABLE_WORDS,
    docx_bytes,
    macro_docx,
    odp_bytes,
    odt_bytes,
    png_bytes,
    pptx_bytes,
    xlsx_bytes,
    xxe_docx,
    zip_bomb_docx,
)


def submit_file(client, user, name: str, content: bytes, **fields):
    data = {"source_lang": "en", "target_lang": "es", **fields, "file": (io.BytesIO(content), name)}
    return client.post("/api/v1/jobs/translate", headers=user.headers, data=data,
                       content_type="multipart/form-data")


def translated(client, user, name: str, content: bytes) -> tuple[dict, bytes]:
    """Submit, wait for the job, and return it with its artifact's bytes."""
    reply = submit_file(client, user, name, content)
    assert reply.status_code == 202, reply.json
    url = f"/api/v1/jobs/{reply.json['id']}"
    job = wait_for(lambda: (body := client.get(url, headers=user.headers).json)["status"]
                   in ("succeeded", "failed") and body, timeout=60, message=f"the {name} job to finish")
    assert job["status"] == "succeeded", job
    [artifact] = job["artifacts"]
    download = client.get(artifact["url"], headers=user.headers)
    assert download.status_code == 200
    return job, download.data


def assert_sentences_translated(texts: list[str]) -> None:
    joined = " ".join(texts)
    for sentence, spanish in SENTENCES:
        assert sentence not in joined
        assert spanish in joined, (spanish, texts)


def test_a_docx_comes_back_translated_with_its_bold_run_table_and_image(client, make_user, relay, translate_worker):
    import docx

    original = docx.Document(io.BytesIO(docx_bytes()))
    job, data = translated(client, make_user(), "Report (final).docx", docx_bytes())
    assert job["artifacts"][0]["name"] == "Report_final.docx"
    assert job["artifacts"][0]["content_type"].endswith("wordprocessingml.document")
    document = docx.Document(io.BytesIO(data))
    paragraphs = [paragraph.text for paragraph in document.paragraphs if paragraph.text.strip()]
    assert len(paragraphs) == len([p for p in original.paragraphs if p.text.strip()])
    assert_sentences_translated(paragraphs)
    bold = [run.text for paragraph in document.paragraphs for run in paragraph.runs if run.bold]
    assert bold == [BOLD_TRANSLATION], bold
    assert BOLD_WORD not in " ".join(paragraphs)
    [table] = document.tables
    for row, words in zip(table.rows, TABLE_WORDS):
        for cell, word in zip(row.cells, words):
            assert word in cell.text.lower(), (cell.text, word)
    [image] = [part for part in document.part.package.parts if part.partname.startswith("/word/media/")]
    assert image.blob == png_bytes()
    assert document.sections[0].page_width == original.sections[0].page_width
    progress = job["progress"]
    assert progress["unit"] == "paragraphs" and progress["current"] == progress["total"] > 1


def test_a_docx_job_result_names_its_artifact(client, make_user, relay, translate_worker):
    user = make_user()
    job, _ = translated(client, user, "notes.docx", docx_bytes())
    result = client.get(f"/api/v1/jobs/{job['id']}/result", headers=user.headers).json["result"]
    assert result["artifact"] == "notes.docx" and result["document_format"] == "docx"
    assert result["route"] == ["en", "es"] and result["word_count"] > 20


def test_an_odt_comes_back_translated_with_its_bold_span_and_table(client, make_user, relay, translate_worker):
    from odf import teletype, text
    from odf.opendocument import load
    from odf.table import TableCell

    _, data = translated(client, make_user(), "letter.odt", odt_bytes())
    document = load(io.BytesIO(data))
    paragraphs = [teletype.extractText(p) for p in document.getElementsByType(text.P)]
    assert_sentences_translated(paragraphs)
    spans = [teletype.extractText(span) for span in document.getElementsByType(text.Span)]
    assert spans == [BOLD_TRANSLATION]
    cells = [teletype.extractText(cell).lower() for cell in document.getElementsByType(TableCell)]
    words = [word for row in TABLE_WORDS for word in row]
    assert len(cells) == len(words)
    for cell, word in zip(cells, words):
        assert word in cell, (cell, word)


def test_an_odp_comes_back_translated(client, make_user, relay, translate_worker):
    from odf import teletype, text
    from odf.opendocument import load

    job, data = translated(client, make_user(), "slides.odp", odp_bytes())
    assert job["artifacts"][0]["content_type"] == "application/vnd.oasis.opendocument.presentation"
    assert_sentences_translated([teletype.extractText(p) for p in load(io.BytesIO(data)).getElementsByType(text.P)])


def test_an_html_file_comes_back_as_html_with_its_markup(client, make_user, relay, translate_worker):
    page = ('<html><head><title>The cat</title></head>\n<body><p class="x">The <b>cat</b> is black.</p>\n'
            '<!-- The dog --><img src="dog.png" alt="The dog"></body></html>\n')
    job, data = translated(client, make_user(), "page.html", page.encode())
    assert job["artifacts"][0]["content_type"].startswith("text/html")
    assert data.decode() == ('<html><head><title>El gato</title></head>\n<body><p class="x">El <b>gato</b> es negro.'
                             '</p>\n<!-- The dog --><img src="dog.png" alt="The dog"></body></html>\n')


def test_a_docx_pivots_through_spanish_to_french(client, make_user, relay, translate_worker):
    import docx

    user = make_user()
    reply = submit_file(client, user, "notes.docx", docx_bytes(), target_lang="fr")
    assert reply.status_code == 202, reply.json
    url = f"/api/v1/jobs/{reply.json['id']}"
    job = wait_for(lambda: (body := client.get(url, headers=user.headers).json)["status"]
                   in ("succeeded", "failed") and body, timeout=60, message="the pivot job to finish")
    assert job["status"] == "succeeded", job
    result = client.get(f"{url}/result", headers=user.headers).json["result"]
    assert result["route"] == ["en", "es", "fr"]
    document = docx.Document(io.BytesIO(client.get(job["artifacts"][0]["url"], headers=user.headers).data))
    text = " ".join(paragraph.text for paragraph in document.paragraphs).lower()
    assert "chien" in text and "chat" in text and "perro" not in text and "dog" not in text
    assert [run.text for p in document.paragraphs for run in p.runs if run.bold] == ["livre"]
    # Two hops, each counted: the progress ends at its total, twice the paragraphs.
    assert job["progress"]["current"] == job["progress"]["total"] > 1


def test_a_pptx_comes_back_translated_with_its_bold_run_and_picture(client, make_user, relay, translate_worker):
    from pptx import Presentation

    _, data = translated(client, make_user(), "deck.pptx", pptx_bytes())
    presentation = Presentation(io.BytesIO(data))
    titles = [slide.shapes.title.text for slide in presentation.slides]
    assert_sentences_translated(titles)
    bold = [run.text for slide in presentation.slides for run in slide.placeholders[1].text_frame.paragraphs[0].runs
            if run.font.bold]
    assert bold == [BOLD_TRANSLATION] * len(SENTENCES)
    [picture] = [shape for shape in presentation.slides[0].shapes if shape.shape_type == 13]
    assert picture.image.blob == png_bytes()


def test_an_xlsx_comes_back_translated_with_its_numbers_formula_and_bold_cell(client, make_user, relay,
                                                                             translate_worker):
    import openpyxl

    _, data = translated(client, make_user(), "book.xlsx", xlsx_bytes())
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert_sentences_translated([sheet.cell(row=row, column=1).value for row in range(1, len(SENTENCES) + 1)])
    assert sheet["A1"].font.b is True
    assert sheet["B1"].value == 42.5 and sheet["B2"].value == "=B1*2"


def test_an_rtf_and_a_txt_file_come_back_in_their_format(client, make_user, relay, translate_worker):
    user = make_user()
    rtf = r"{\rtf1\ansi{\fonttbl\f0\fswiss Helvetica;}\f0\pard The dog is {\b big}.\par The cat is black.\par}"
    _, data = translated(client, user, "memo.rtf", rtf.encode())
    assert data.startswith(rb"{\rtf1") and rb"{\b grande}" in data and b"gato" in data
    _, data = translated(client, user, "memo.txt", b"The dog is big.\n\nThe cat is black.\n")
    assert "perro" in data.decode() and "gato" in data.decode() and "\n\n" in data.decode()


@pytest.mark.parametrize(("name", "content", "message"), [
    ("photo.docx", png_bytes(), "its bytes are a PNG image"),
    ("bomb.docx", zip_bomb_docx(), "zip bomb"),
    ("xxe.docx", xxe_docx(), "DTD"),
    ("macro.docx", macro_docx(), "macros"),
    ("macro.docm", docx_bytes(), "macros"),
    ("sheet.xlsx", docx_bytes(), "it is Word document"),
    ("page.html", png_bytes(), "not HTML"),
    ("scan.pdf", b"%PDF-1.4", "cannot tell the document's format"),
])
def test_hostile_or_mistyped_files_are_refused_at_submit_and_nothing_is_queued(
        client, make_user, translate_pairs_registered, name, content, message):
    user = make_user()
    reply = submit_file(client, user, name, content)
    assert reply.status_code == 400, reply.json
    assert message in reply.json["message"], reply.json
    assert client.get("/api/v1/jobs?kind=translate", headers=user.headers).json["total"] == 0


def test_a_file_and_text_together_are_refused(client, make_user, translate_pairs_registered):
    reply = submit_file(client, make_user(), "notes.docx", docx_bytes(), text="The cat.")
    assert reply.status_code == 400 and "not both" in reply.json["message"]


def test_a_document_for_an_engine_that_does_not_serve_the_pair_is_refused_at_submit(
        client, make_user, translate_pairs_registered):
    # Documents go through either engine (tests/unit/test_argos_documents.py); here no Argos package serves en-es.
    reply = submit_file(client, make_user(), "notes.docx", docx_bytes(), engine="argos")
    assert reply.status_code == 400
    assert reply.json["message"].startswith("The argos engine does not translate en to es here; engines that do: "
                                            "apertium"), reply.json


def test_a_document_format_without_a_file_is_refused(client, make_user, translate_pairs_registered):
    reply = client.post("/api/v1/jobs/translate", headers=make_user().headers,
                        json={"text": "The cat.", "source_lang": "en", "target_lang": "es", "format": "docx"})
    assert reply.status_code == 400 and "'file' part" in reply.json["message"]


def test_a_document_in_english_is_detected_with_source_auto(client, make_user, translate_pairs_registered):
    reply = submit_file(client, make_user(), "notes.docx", docx_bytes(paragraphs=3), source_lang="auto")
    assert reply.status_code == 202, reply.json
    assert reply.json["params"]["source_lang"] == "en" and reply.json["params"]["document_format"] == "docx"
