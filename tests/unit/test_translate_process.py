"""The "translate" domain function with the real Apertium behind it and a fake JobIO in front."""
from __future__ import annotations

import re
import shutil

import pytest

from services.translate_worker.apertium import ApertiumTranslator, discover_modes
from services.translate_worker.translate import process, split_text
from shared.handler import JobCancelled, PermanentError, TransientError
from shared.kinds.translate.formats import markup_spans
from shared.kinds.translate.pairs import validate_pair
from tests.fakes import FakeJobIO

needs_apertium = pytest.mark.skipif(
    shutil.which("apertium-wblank-mode") is None or not discover_modes().get(("en", "es")),
    reason="needs the Debian packages apertium and apertium-eng-spa")

SENTENCES = ["The cat is black.", "I have a big house.", "The dog is white!", "Where is the car?"]


def make_job(text, source="en", target="es", **params):
    return {"id": "job-7", "kind": "translate", "number": 7, "input": None, "attempt": 1,
            "params": {"text": text, "source_lang": source, "target_lang": target, **params}}


def long_text(paragraphs=3, sentences_per_paragraph=120):
    return "\n\n".join(" ".join(SENTENCES[(p + i) % len(SENTENCES)] for i in range(sentences_per_paragraph))
                       for p in range(paragraphs))


@pytest.fixture(scope="module")
def translator():
    with ApertiumTranslator() as shared_translator:
        yield shared_translator


def test_split_text_joins_back_into_the_text():
    text = long_text(paragraphs=4, sentences_per_paragraph=150) + "\n\n  tail  "

    pieces = split_text(text)

    assert "".join(pieces) == text
    assert len(pieces) > 4
    assert all(len(piece) <= 2000 for piece in pieces), "a piece is over the 2000-character limit"


def test_split_text_prefers_paragraph_then_sentence_ends():
    paragraph = " ".join(SENTENCES * 3)
    text = f"{paragraph}\n\n{paragraph}\n\n{paragraph}"

    pieces = split_text(text, limit=len(paragraph) + 5)

    assert [piece.strip() for piece in pieces] == [paragraph] * 3
    pieces = split_text(paragraph, limit=40)
    assert all(re.search(r"[.!?]\s*$", piece) for piece in pieces)


def test_split_text_never_cuts_a_word():
    words = ["alpha", "beta", "x" * 50, "gamma", "delta"] * 5
    text = " ".join(words)

    pieces = split_text(text, limit=20)

    assert sorted(word for piece in pieces for word in piece.split()) == sorted(words)
    assert "x" * 50 in [piece.strip() for piece in pieces]


def test_validate_pair_normalizes_and_accepts_pivoted_pairs():
    direct = [("en", "es"), ("es", "fr")]

    assert validate_pair("ENG", "spa", direct) == ("en", "es")
    assert validate_pair("en", "fr", direct) == ("en", "fr")
    catalog = [{"source": "en", "target": "es", "via": []}, {"source": "es", "target": "fr", "via": []}]
    assert validate_pair("en", "es", catalog) == ("en", "es")
    with pytest.raises(ValueError, match="cannot translate en to fr; supported pairs: en-es, es-fr$"):
        validate_pair("en", "fr", catalog)  # a catalog lists every route it serves: no chaining


@pytest.mark.parametrize("source, target, message", [
    ("en", "de", r"cannot translate en to de; supported pairs: en-es, en-fr, es-fr"),
    ("fr", "en", r"cannot translate fr to en"),
    ("auto", "es", r"'auto' is not supported yet"),
    ("xx", "es", r"unknown language code 'xx'.*supported pairs: en-es"),
    ("en", "en", r"both 'en'"),
    (None, "es", r"required"),
])
def test_validate_pair_explains_what_is_supported(source, target, message):
    with pytest.raises(ValueError, match=message):
        validate_pair(source, target, [("en", "es"), ("es", "fr")])


@needs_apertium
def test_process_translates_and_describes_the_result(translator):
    text = "The cat is black.\n\nThe dog is white."
    io = FakeJobIO()

    result = process(make_job(text, "eng", "spa"), io, translator)

    assert "gato" in result["translated_text"] and "perro" in result["translated_text"]
    assert result["translated_text"].count("\n\n") == 1
    assert result["source_lang"] == "en" and result["target_lang"] == "es"
    assert result["route"] == ["en", "es"]
    assert result["word_count"] == len(text.split())
    assert result["characters"] == len(text)
    assert io.progress_events[-1] == (len(text), len(text), "characters")


def test_split_html_never_cuts_inside_markup():
    html = ('<p class="lead big" title="The cat. The dog.">The cat is black. The house is big.</p>\n\n'
            '<!-- a comment. with sentences -->\n<a href="/a b c">The dog</a> runs.'
            '<script>if (a < b) { go(); } else { stop(); }</script> The end.')
    for limit in (5, 12, 40, 80):
        pieces = split_text(html, limit, "html")
        assert "".join(pieces) == html
        cuts = {sum(map(len, pieces[:n])) for n in range(1, len(pieces))}
        assert cuts and not any(start < cut < end for start, end in markup_spans(html) for cut in cuts), limit
    # The same text as plain text is cut inside the attribute: the html format is what protects it.
    assert any(piece.endswith('class="lead ') for piece in split_text(html, 12))


@needs_apertium
def test_process_translates_html_keeping_the_markup(translator):
    html = '<p class="x">The <b>cat</b> is black.</p>\n\n<p title="The dog">The dog &amp; the house.</p>'
    io = FakeJobIO()

    result = process(make_job(html, format="html"), io, translator)

    translated = result["translated_text"]
    assert re.fullmatch(r'<p class="x">El <b>gato</b> es negro\.</p>\n\n<p title="The dog">.+</p>', translated)
    assert "perro" in translated and "&amp;" in translated and "casa" in translated
    assert result["format"] == "html" and result["word_count"] == 9
    assert io.progress_events[-1] == (len(html), len(html), "characters")


@needs_apertium
def test_process_pivots_for_pairs_without_a_direct_mode(translator):
    result = process(make_job("The cat is black.", "en", "fr"), FakeJobIO(), translator)

    assert result["route"] == ["en", "es", "fr"]
    assert "chat" in result["translated_text"]


@needs_apertium
def test_long_text_reports_monotonic_progress_and_keeps_paragraphs(translator):
    text = long_text()
    io = FakeJobIO()

    result = process(make_job(text), io, translator)

    done = [event[0] for event in io.progress_events]
    assert len(done) >= 3
    assert done == sorted(done) and len(set(done)) == len(done)
    assert done[-1] == len(text)
    assert result["translated_text"].count("\n\n") == text.count("\n\n")
    assert result["translated_text"].count("gato") == text.count("cat")


@needs_apertium
def test_cancel_after_first_piece_stops_the_job(translator):
    text = long_text()
    io = FakeJobIO(cancel_after_events=1)

    with pytest.raises(JobCancelled):
        process(make_job(text), io, translator)

    assert len(io.progress_events) == 1
    assert io.progress_events[0][0] < len(text)


@needs_apertium
@pytest.mark.parametrize("params, message", [
    ({"text": "Hello", "source_lang": "en", "target_lang": "de"}, "supported pairs: .*en-es"),
    ({"text": "Hello", "source_lang": "auto", "target_lang": "es"}, "'auto' is not supported"),
    ({"text": "   ", "source_lang": "en", "target_lang": "es"}, "non-empty string"),
    ({"source_lang": "en", "target_lang": "es"}, "non-empty string"),
    ({"text": "Hello", "source_lang": "en", "target_lang": "es", "format": "pdf"}, "format 'pdf' is not supported"),
])
def test_bad_requests_fail_permanently(translator, params, message):
    job = make_job("x")
    job["params"] = params

    with pytest.raises(PermanentError, match=message):
        process(job, FakeJobIO(), translator)


def test_broken_pipeline_fails_transiently(tmp_path):
    # A mode whose only program exits at once: the pipeline breaks on every try.
    (tmp_path / "eng-spa.mode").write_text("false\n")
    with ApertiumTranslator(modes_dir=tmp_path, timeout=5) as broken, \
            pytest.raises(TransientError, match="broke"):
        process(make_job("The cat is black."), FakeJobIO(), broken)


@needs_apertium
def test_validate_pair_accepts_the_worker_catalog_routes(translator):
    catalog = translator.supported_pairs()

    assert validate_pair("en", "fr", catalog) == ("en", "fr")
    with pytest.raises(ValueError, match="cannot translate en to de"):
        validate_pair("en", "de", catalog)
