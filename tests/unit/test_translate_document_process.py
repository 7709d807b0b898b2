"""The worker's document path with the real Apertium behind it and a fake JobIO in front."""
from __future__ import annotations

import io
import shutil

import pytest

from services.translate_worker import documents
from services.translate_worker.apertium import ApertiumTranslator, discover_modes
from services.translate_worker.translate import process
from shared.handler import JobCancelled, PermanentError
from tests.document_samples import docx_bytes
from tests.fakes import FakeJobIO

pytestmark = pytest.mark.skipif(
    shutil.which("apertium-deswxml") is None or not discover_modes().get(("en", "es")),
    reason="needs the Debian packages apertium and apertium-eng-spa")


@pytest.fixture(scope="module")
def translator():
    with ApertiumTranslator() as shared_translator:
        yield shared_translator


def document_job(tmp_path, name="notes.docx", data=None, **params):
    path = tmp_path / "input"
    path.write_bytes(docx_bytes(paragraphs=12) if data is None else data)
    job = {"id": "job-9", "kind": "translate", "number": 9, "attempt": 1,
           "input": {"filename": name, "size": path.stat().st_size},
           "params": {"source_lang": "en", "target_lang": "es", "document_format": "docx", **params}}
    return job, FakeJobIO(input_file=path, workdir=tmp_path)


def test_progress_counts_paragraphs_from_zero_to_the_total_in_several_steps(tmp_path, translator, monkeypatch):
    monkeypatch.setattr(documents, "CHUNK_CHARS", 500)
    job, fake = document_job(tmp_path)
    result = process(job, fake, translator)
    currents = [current for current, _, _ in fake.progress_events]
    totals = {total for _, total, _ in fake.progress_events}
    assert {unit for _, _, unit in fake.progress_events} == {"paragraphs"}
    assert len(totals) == 1 and currents[0] == 0 and currents[-1] == totals.pop()
    assert len(currents) > 4 and currents == sorted(currents)
    assert result["paragraphs"] == currents[-1]


def test_chunked_translation_reads_as_one_call(tmp_path, translator, monkeypatch):
    import docx

    job, fake = document_job(tmp_path)
    process(job, fake, translator)
    whole = [p.text for p in docx.Document(io.BytesIO(fake.artifacts["notes.docx"][0].read_bytes())).paragraphs]
    monkeypatch.setattr(documents, "CHUNK_CHARS", 500)
    (tmp_path / "notes.docx").unlink()
    job, fake = document_job(tmp_path)
    process(job, fake, translator)
    chunked = [p.text for p in docx.Document(io.BytesIO(fake.artifacts["notes.docx"][0].read_bytes())).paragraphs]
    assert chunked == whole and any("perro" in text for text in whole)


def test_a_cancelled_job_stops_between_chunks(tmp_path, translator, monkeypatch):
    monkeypatch.setattr(documents, "CHUNK_CHARS", 2000)
    job, fake = document_job(tmp_path)
    fake._cancel_after = 3
    with pytest.raises(JobCancelled):
        process(job, fake, translator)
    assert fake.artifacts == {}


def test_a_damaged_document_fails_for_good(tmp_path, translator):
    job, fake = document_job(tmp_path, data=b"PK\x03\x04 not really a zip")
    with pytest.raises(PermanentError, match="cannot translate this docx"):
        process(job, fake, translator)
