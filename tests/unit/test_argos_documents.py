"""Documents and HTML through the Argos engine: Apertium's deformatters take the markup out, the
test-built Argos package (real argostranslate, meaningless output) translates the text runs, the
reformatters put the markup back. Each translated text must be exactly what the Argos engine gives
for that text on its own, and the bold runs, tables and images must come back untouched."""
from __future__ import annotations

import io
import shutil
import zipfile

import pytest

from services.translate_worker.apertium import ApertiumTranslator, discover_modes
from services.translate_worker.argos_engine import ArgosTranslator
from services.translate_worker.engines import Translators
from services.translate_worker.runs import rtf_text, split_runs, translate_runs, xml_text
from services.translate_worker.translate import process
from shared.kinds.translate.engines import Hop
from tests.argos_package import build_package
from tests.document_samples import BOLD_WORD, SENTENCES, TABLE, docx_bytes, odt_bytes
from tests.fakes import FakeJobIO
from tests.unit.test_argos_engine import make_job, unpack

needs_apertium = pytest.mark.skipif(
    shutil.which("apertium-deswxml") is None or not discover_modes().get(("en", "es")),
    reason="needs the Debian packages apertium and apertium-eng-spa")


@pytest.fixture(scope="module")
def translators(tmp_path_factory):
    directory = tmp_path_factory.mktemp("argos-packages")
    unpack(build_package(tmp_path_factory.mktemp("argos-build"), "la", "en"), directory)
    unpack(build_package(tmp_path_factory.mktemp("argos-build"), "en", "la"), directory, "argos-en-la")
    with ApertiumTranslator() as apertium:
        yield Translators(apertium=apertium, argos=ArgosTranslator(directory))


def argos(translators: Translators, text: str) -> str:
    """What the Argos engine gives for ``text`` alone (argostranslate's apply_packaged_translation)."""
    return translators.argos.translate(text, "la", "en")[0]


def document_job(tmp_path, name: str, data: bytes, document_format: str, **params):
    path = tmp_path / f"input-{name}"
    path.write_bytes(data)
    job = {"id": "job-7", "kind": "translate", "number": 7, "attempt": 1,
           "input": {"filename": name, "size": len(data)},
           "params": {"source_lang": "la", "target_lang": "en", "document_format": document_format, **params}}
    return job, FakeJobIO(input_file=path, workdir=tmp_path)


def media(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist() if "media/" in name}


# --- the text runs of a stream --------------------------------------------------------------------

def test_runs_are_the_text_between_superblanks_unescaped_and_the_stream_is_rebuilt_exactly():
    stream = ".[][<p>]The cat[ <b>]is \\[black\\][<\\/b> ]42[ ]..[][<\\/p>]"
    markup, runs = split_runs(stream)
    assert [run.text for run in runs] == ["The cat", "is [black]", "42", "."]
    assert "".join(piece + run.raw for piece, run in zip(markup, runs)) + markup[-1] == stream
    seen = []

    def engine(texts):
        seen.extend(texts)
        return [f"<{text.upper()}> & [x]" for text in texts]

    translated = translate_runs(stream, engine, xml_text)
    assert seen == ["The cat", "is [black]"]  # runs without a letter are not sent
    assert translated == (".[][<p>]&lt;THE CAT&gt; &amp; \\[x\\][ <b>]&lt;IS \\[BLACK\\]&gt; &amp; \\[x\\]"
                          "[<\\/b> ]42[ ]..[][<\\/p>]")


def test_character_references_between_words_belong_to_the_run_in_xml_and_html():
    stream = ".[][<p>]Don[&#39;]t[ &amp; ]go[ <b>]now[<\\/b>][&nbsp;]..[][<\\/p>]"
    assert [run.text for run in split_runs(stream)[1]] == ["Don", "t", "go", "now", "."]
    assert [run.text for run in split_runs(stream, references=True)[1]] == ["Don't & go", "now", "\xa0."]
    translated = translate_runs(stream, lambda texts: [f"<{text}>" for text in texts], xml_text)
    assert translated == ".[][<p>]&lt;Don't &amp; go&gt;[ <b>]&lt;now&gt;[<\\/b>][&nbsp;]..[][<\\/p>]"


def test_blanks_around_a_run_stay_and_rtf_gets_its_own_escapes():
    assert translate_runs("[\\\\par ]  two words [\\}]", lambda texts: ["{a}\\b"] * len(texts), rtf_text) \
        == "[\\\\par ]  \\\\{a\\\\}\\\\\\\\b [\\}]"


# --- documents through engine=argos ---------------------------------------------------------------

@needs_apertium
def test_a_docx_through_argos_has_every_paragraph_translated_by_the_model_and_its_formatting_intact(
        tmp_path, translators):
    import docx

    original = docx_bytes()
    job, fake = document_job(tmp_path, "notes.docx", original, "docx", engine="argos")
    result = process(job, fake, translators)
    assert result["engines"] == ["argos"] and result["route"] == ["la", "en"]
    data = fake.artifacts["notes.docx"][0].read_bytes()
    before, after = docx.Document(io.BytesIO(original)), docx.Document(io.BytesIO(data))

    texts = [paragraph.text for paragraph in after.paragraphs]
    for (sentence, _), text in zip(SENTENCES, texts):
        assert text == argos(translators, sentence) and text != sentence
    [mixed] = [paragraph for paragraph in after.paragraphs if any(run.bold for run in paragraph.runs)]
    [mixed_before] = [paragraph for paragraph in before.paragraphs if any(run.bold for run in paragraph.runs)]
    assert [run.bold for run in mixed.runs] == [run.bold for run in mixed_before.runs]
    bold = next(run for run in mixed.runs if run.bold)
    assert bold.text == argos(translators, BOLD_WORD)
    assert mixed.runs[0].text == argos(translators, "I have a") + " "  # the blank before the bold run kept

    cells = [[cell.text for cell in row.cells] for row in after.tables[0].rows]
    assert cells == [[argos(translators, text) for text in row] for row in TABLE]
    assert len(after.inline_shapes) == len(before.inline_shapes) == 1
    assert media(data) == media(original) and media(data)
    with zipfile.ZipFile(io.BytesIO(original)) as old, zipfile.ZipFile(io.BytesIO(data)) as new:
        assert new.namelist() == old.namelist()
        assert new.read("word/styles.xml") == old.read("word/styles.xml")
    assert [event[2] for event in fake.progress_events] == ["paragraphs"] * len(fake.progress_events)
    assert fake.progress_events[-1][0] == fake.progress_events[-1][1] == result["paragraphs"] > 0


@needs_apertium
def test_an_odt_through_argos_has_every_paragraph_translated_by_the_model_and_its_bold_span_and_table(
        tmp_path, translators):
    from odf import teletype
    from odf.opendocument import load
    from odf.table import Table, TableCell
    from odf.text import P, Span

    job, fake = document_job(tmp_path, "notes.odt", odt_bytes(), "odt", engine="argos")
    result = process(job, fake, translators)
    assert result["engines"] == ["argos"]
    document = load(io.BytesIO(fake.artifacts["notes.odt"][0].read_bytes()))
    paragraphs = [teletype.extractText(p) for p in document.text.getElementsByType(P)]
    for (sentence, _), text in zip(SENTENCES, paragraphs):
        assert text == argos(translators, sentence) and text != sentence
    [span] = document.text.getElementsByType(Span)
    assert span.getAttribute("stylename") == "Bold" and teletype.extractText(span) == argos(translators, BOLD_WORD)
    [table] = document.text.getElementsByType(Table)
    cells = [teletype.extractText(cell) for cell in table.getElementsByType(TableCell)]
    assert cells == [argos(translators, text) for row in TABLE for text in row]


@needs_apertium
def test_a_docx_pivot_crosses_from_argos_to_apertium(tmp_path, translators):
    import docx

    assert translators.route("la", "es") == [Hop("la", "en", "argos"), Hop("en", "es", "apertium")]
    job, fake = document_job(tmp_path, "notes.docx", docx_bytes(), "docx", target_lang="es")
    result = process(job, fake, translators)
    assert result["engines"] == ["argos", "apertium"] and result["route"] == ["la", "en", "es"]
    after = docx.Document(io.BytesIO(fake.artifacts["notes.docx"][0].read_bytes()))
    english = [argos(translators, sentence) for sentence, _ in SENTENCES]
    spanish = [translators.apertium.translate(text, "en", "es") for text in english]
    assert [paragraph.text for paragraph in after.paragraphs[:len(SENTENCES)]] == spanish
    assert any(run.bold for paragraph in after.paragraphs for run in paragraph.runs)
    assert len(after.tables) == 1 and len(after.inline_shapes) == 1


@needs_apertium
def test_a_docx_pivot_crosses_from_apertium_to_argos(tmp_path, translators):
    import docx

    assert translators.route("es", "la") == [Hop("es", "en", "apertium"), Hop("en", "la", "argos")]
    spanish = ["El perro está en la casa.", "El gato es negro."]
    document = docx.Document()
    for sentence in spanish:
        document.add_paragraph(sentence)
    document.add_paragraph("Tengo un ").add_run("libro").bold = True
    data = io.BytesIO()
    document.save(data)
    job, fake = document_job(tmp_path, "carta.docx", data.getvalue(), "docx", source_lang="es", target_lang="la")
    result = process(job, fake, translators)
    assert result["engines"] == ["apertium", "argos"] and result["route"] == ["es", "en", "la"]
    after = docx.Document(io.BytesIO(fake.artifacts["carta.docx"][0].read_bytes()))
    english = [translators.apertium.translate(sentence, "es", "en") for sentence in spanish]
    assert "dog" in english[0] and "cat" in english[1]
    expected = [translators.argos.translate(text, "en", "la")[0] for text in english]
    assert [paragraph.text for paragraph in after.paragraphs[:2]] == expected
    assert [run.bold for run in after.paragraphs[2].runs] == [None, True]


@needs_apertium
def test_an_html_text_job_through_argos_keeps_tags_and_attributes(translators):
    html = '<p class="lead">The cat is black.</p><p>Where is the <b title="A title">station</b>?</p>'
    result = process(make_job(html, "la", "en", engine="argos", format="html"), FakeJobIO(), translators)
    expected = (f'<p class="lead">{xml_text(argos(translators, "The cat is black."))}</p>'
                f'<p>{xml_text(argos(translators, "Where is the"))} <b title="A title">'
                f'{xml_text(argos(translators, "station"))}</b>?</p>')
    assert result["translated_text"] == expected and result["engines"] == ["argos"]
    # A sentence with character references in it goes to the model whole, and comes back escaped.
    result = process(make_job("<p>Don&#39;t go &amp; see.</p>", "la", "en", engine="argos", format="html"),
                     FakeJobIO(), translators)
    whole = argos(translators, "Don't go & see.")
    assert result["translated_text"] == f"<p>{xml_text(whole)}</p>"


def _pptx_titles(data: bytes) -> list[str]:
    from pptx import Presentation
    return [slide.shapes.title.text for slide in Presentation(io.BytesIO(data)).slides]


def _xlsx_column(data: bytes) -> list[str]:
    import openpyxl
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet["A1"].font.b is True and sheet["B1"].value == 42.5 and sheet["B2"].value == "=B1*2"
    return [sheet.cell(row=row, column=1).value for row in range(1, len(SENTENCES) + 1)]


def _odp_paragraphs(data: bytes) -> list[str]:
    from odf import teletype, text
    from odf.opendocument import load
    return [teletype.extractText(p) for p in load(io.BytesIO(data)).getElementsByType(text.P)]


def _lines(data: bytes) -> list[str]:
    return [line for line in data.decode().split("\n") if line]


@needs_apertium
@pytest.mark.parametrize(("name", "make", "read"), [
    ("deck.pptx", "pptx_bytes", _pptx_titles),
    ("book.xlsx", "xlsx_bytes", _xlsx_column),
    ("slides.odp", "odp_bytes", _odp_paragraphs),
    ("notes.txt", None, _lines),
], ids=["pptx", "xlsx", "odp", "txt"])
def test_the_other_formats_through_argos_come_back_with_each_sentence_translated_by_the_model(
        tmp_path, translators, name, make, read):
    from tests import document_samples
    data = (getattr(document_samples, make)() if make
            else "\n\n".join(sentence for sentence, _ in SENTENCES).encode() + b"\n")
    document_format = name.rsplit(".", 1)[1]
    job, fake = document_job(tmp_path, name, data, document_format, engine="argos")
    process(job, fake, translators)
    translated = read(fake.artifacts[name][0].read_bytes())
    assert translated == [argos(translators, sentence) for sentence, _ in SENTENCES]


@needs_apertium
def test_an_rtf_through_argos_keeps_its_bold_group_and_escapes_what_rtf_reserves(tmp_path, translators):
    rtf = r"{\rtf1\ansi{\fonttbl\f0\fswiss Helvetica;}\f0\pard The dog is {\b big}.\par The cat is black.\par}"
    job, fake = document_job(tmp_path, "memo.rtf", rtf.encode(), "rtf", engine="argos")
    process(job, fake, translators)
    data = fake.artifacts["memo.rtf"][0].read_bytes().decode()
    expected = {text: rtf_text(argos(translators, text)) for text in ("The dog is", "big", "The cat is black.")}
    assert data.startswith(r"{\rtf1\ansi{\fonttbl\f0\fswiss Helvetica;}\f0\pard ")
    assert f"{expected['The dog is']} {{\\b {expected['big']}}}.\\par {expected['The cat is black.']}\\par}}" in data


@needs_apertium
def test_an_argos_document_reports_progress_chunk_by_chunk_and_stops_when_cancelled(tmp_path, translators,
                                                                                    monkeypatch):
    from services.translate_worker import documents
    from shared.handler import JobCancelled

    monkeypatch.setattr(documents, "CHUNK_CHARS", 500)
    job, fake = document_job(tmp_path, "long.docx", docx_bytes(paragraphs=12), "docx", engine="argos")
    result = process(job, fake, translators)
    currents = [current for current, _, _ in fake.progress_events]
    assert len(currents) > 4 and currents == sorted(currents) and currents[-1] == result["paragraphs"]

    (tmp_path / "again").mkdir()
    job, fake = document_job(tmp_path / "again", "long.docx", docx_bytes(paragraphs=12), "docx", engine="argos")
    fake._cancel_after = 3
    with pytest.raises(JobCancelled):
        process(job, fake, translators)
    assert fake.artifacts == {}
