"""Warm Apertium pipelines against the real Apertium programs and language data (Debian packages)."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading

import pytest

from services.translate_worker.apertium import (
    ApertiumError,
    ApertiumTranslator,
    UnsupportedPairError,
    WarmPipeline,
    decode_letter_references,
    deformat,
    discover_modes,
    pipeline_commands,
    reformat,
)
from shared.kinds.translate.languages import language_name, normalize

needs_apertium = pytest.mark.skipif(
    shutil.which("apertium-wblank-mode") is None or not discover_modes().get(("en", "es")),
    reason="needs the Debian packages apertium and apertium-eng-spa")

TRICKY_TEXTS = [
    "The cat is black",
    "Stream marks: ^ $ / < > [ ] { } @ \\ * # ~ | + & % \" '",
    "^word$ <tag> [blank] {wblank} \\escaped\\",
    "First paragraph\n\nSecond paragraph.\n\n\nThird\r\n\r\nfourth",
    "  leading and trailing blanks  \n",
    "tabs\tand\t\tmore\n \nlines",
    "",
    "ñ é 日本語 emoji 🐈",
]


@pytest.fixture(scope="module")
def translator():
    with ApertiumTranslator() as shared_translator:
        yield shared_translator


@pytest.mark.parametrize("code, expected", [
    ("en", "en"), ("EN", "en"), ("eng", "en"), (" spa ", "es"), ("fra", "fr"), ("fre", "fr"),
    ("por", "pt"), ("cat", "ca"), ("ita", "it"), ("ast", "ast"),
])
def test_normalize_gives_iso_639_1_for_two_and_three_letter_codes(code, expected):
    assert normalize(code) == expected


@pytest.mark.parametrize("code", ["xx", "zzz", "auto", "", "english", "en-US", None])
def test_normalize_rejects_unknown_codes(code):
    with pytest.raises(ValueError):
        normalize(code)


def test_language_name_is_english_name():
    assert language_name("spa") == "Spanish"


def test_discover_modes_keeps_plain_pairs_and_skips_variants(tmp_path):
    for name in ["eng-spa", "fr-es", "es-pt_BR", "eng-cat_valencia", "eco-fr-es", "xx-yy"]:
        (tmp_path / f"{name}.mode").write_text("cat\n")

    modes = discover_modes(tmp_path)

    assert modes == {("en", "es"): tmp_path / "eng-spa.mode", ("fr", "es"): tmp_path / "fr-es.mode"}


@pytest.mark.parametrize("text", TRICKY_TEXTS)
def test_deformat_matches_apertium_destxt(text):
    expected = subprocess.run(["apertium-destxt"], input=text.encode(), capture_output=True,
                              check=True).stdout.decode()
    assert deformat(text) == expected


@pytest.mark.parametrize("text", TRICKY_TEXTS)
def test_reformat_inverts_deformat(text):
    assert reformat(deformat(text)) == text


@needs_apertium
def test_pipeline_commands_flush_on_nul_and_drop_unknown_word_marks():
    commands = pipeline_commands(discover_modes()[("en", "es")])

    flat = [arg for argv in commands for arg in argv]
    assert "$1" not in flat and "$2" not in flat
    generators = [argv for argv in commands if argv[0] == "lt-proc" and "-n" in argv]
    assert len(generators) == 1
    assert all("-z" in argv for argv in commands if argv[0] in {"lt-proc", "apertium-tagger"})


@needs_apertium
def test_english_to_spanish_gives_spanish(translator):
    result = translator.translate("The cat is black", "en", "es")

    assert "gato" in result and "negro" in result


@needs_apertium
def test_html_keeps_tags_attributes_and_entities_and_translates_the_text(translator):
    html = '<p>The <b>cat</b> is black.</p>'
    assert translator.translate(html, "en", "es", "html") == "<p>El <b>gato</b> es negro.</p>"

    page = ('<div class="note" title="The cat">The dog &amp; the cat &lt;3&nbsp;&copy;</div>'
            '<script>var cat = "the black cat";</script><!-- the house -->')
    result = translator.translate(page, "en", "es", "html")

    assert result.startswith('<div class="note" title="The cat">') and "perro" in result and "gato" in result
    for kept in ("&amp;", "&lt;3", "&nbsp;", "&copy;", '<script>var cat = "the black cat";</script>',
                 "<!-- the house -->", "</div>"):
        assert kept in result, kept
    assert "dog" not in result


@needs_apertium
def test_html_letter_references_come_back_as_letters_not_garbage(translator):
    result = translator.translate("<p>caf&eacute; caf&#233; the cat</p>", "en", "es", "html")

    assert "gato" in result and "\uffc3" not in result and "&eacute;" not in result


def test_decode_letter_references_leaves_markup_and_symbols_alone():
    html = '<a title="caf&eacute;">caf&eacute; &#233;t&#xE9; &amp; &lt; &nbsp; &copy; &bogus;</a>'
    assert decode_letter_references(html) == '<a title="caf&eacute;">café été &amp; &lt; &nbsp; &copy; &bogus;</a>'


@needs_apertium
def test_english_to_french_pivots_through_spanish(translator):
    assert translator.route("en", "fr") == ["en", "es", "fr"]

    result = translator.translate("The cat is black.", "eng", "fra")

    assert "chat" in result and "noir" in result


@needs_apertium
def test_special_characters_survive_translation(translator):
    text = "The cat ^ $ / < > [ ] { } @ \\ * # ~ | is black"

    result = translator.translate(text, "en", "es")

    assert "gato" in result
    for char in "^$/<>[]{}@\\*#~|":
        assert result.count(char) == text.count(char), char


@needs_apertium
def test_paragraph_breaks_survive_translation(translator):
    text = "The cat is black.\n\nThe dog is white.\n\n\nI have a house\nand a car."

    result = translator.translate(text, "en", "es")

    assert re.findall(r"\n+", result) == re.findall(r"\n+", text)
    assert result.split("\n\n")[1].startswith("El perro")


@needs_apertium
def test_unknown_words_carry_no_marks(translator):
    result = translator.translate("The zzqx is black", "en", "es")

    assert "zzqx" in result
    assert not re.search(r"[*#@]", result)


@needs_apertium
def test_many_calls_on_one_pipeline_answer_in_order(translator):
    for number in range(40):
        result = translator.translate(f"I have {number} cats.", "en", "es")
        assert re.findall(r"\d+", result) == [str(number)]
        assert "gatos" in result


@needs_apertium
def test_two_threads_sharing_a_pipeline_get_their_own_answers(translator):
    failures = []

    def work(first_number):
        for number in range(first_number, first_number + 20):
            result = translator.translate(f"I have {number} dogs.", "en", "es")
            if re.findall(r"\d+", result) != [str(number)]:
                failures.append((number, result))

    threads = [threading.Thread(target=work, args=(start,)) for start in (100, 200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []


@needs_apertium
@pytest.mark.parametrize("victim", [0, 5, -1])
def test_killed_program_is_restarted(victim):
    pipeline = WarmPipeline.from_mode(discover_modes()[("en", "es")], timeout=20)
    try:
        assert "gato" in pipeline.translate("The cat")
        old_pids = pipeline.pids()

        os.kill(old_pids[victim], signal.SIGKILL)
        result = pipeline.translate("The cat is black")

        assert "gato" in result and "negro" in result
        assert set(pipeline.pids()).isdisjoint(old_pids)
    finally:
        pipeline.close()


def test_warm_pipeline_round_trips_large_text_without_deadlock():
    # `cat` echoes the stream, NUL included: a pipeline that exercises the plumbing on its own.
    pipeline = WarmPipeline([["cat"], ["cat"]], "cat-cat", timeout=20)
    text = "Line ^one$ [two] {three}\n\n" * 10000  # ~260 KB: far more than the pipes buffer
    try:
        assert pipeline.translate(text) == text
        assert pipeline.translate("again") == "again"
    finally:
        pipeline.close()


def test_silent_pipeline_times_out_and_is_stopped():
    pipeline = WarmPipeline([["sleep", "30"]], "sleeper", timeout=0.3)
    pipeline.start()
    sleeper = pipeline.pids()[0]

    with pytest.raises(ApertiumError, match="timed out"):
        pipeline.translate("hello")

    assert pipeline.pids() == []
    with pytest.raises(ProcessLookupError):
        os.kill(sleeper, 0)


def test_pipeline_that_keeps_dying_raises_apertium_error():
    pipeline = WarmPipeline([["false"]], "dead", timeout=5)

    with pytest.raises(ApertiumError, match="broke"):
        pipeline.translate("hello")


def test_missing_program_raises_apertium_error():
    pipeline = WarmPipeline([["no-such-apertium-program"]], "missing", timeout=5)

    with pytest.raises(ApertiumError, match="cannot start"):
        pipeline.translate("hello")


@needs_apertium
def test_unknown_pair_lists_supported_pairs(translator):
    with pytest.raises(UnsupportedPairError, match=r"supported pairs: .*en-es"):
        translator.route("en", "de")
    with pytest.raises(UnsupportedPairError):
        translator.route("en", "en")


@needs_apertium
def test_supported_pairs_lists_direct_and_pivoted_pairs(translator):
    catalog = translator.supported_pairs()

    assert {"source": "en", "target": "es", "via": []} in catalog
    assert {"source": "en", "target": "fr", "via": ["es"]} in catalog
    assert {(entry["source"], entry["target"]) for entry in catalog} >= translator.pairs()


@needs_apertium
def test_close_stops_every_program():
    translator = ApertiumTranslator()
    translator.translate("The cat", "en", "es")
    pids = translator.pipeline("en", "es").pids()

    translator.close()

    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
