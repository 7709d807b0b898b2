"""The pipeline DAG's checks (shared.pipelineflow.check_dag) and the presets' expansion, without a database."""
from __future__ import annotations

import pytest

from services.api.pipeline_presets import expand
from shared.pipelineflow import PipelineRefused, check_dag

KINDS = ("asr", "vision", "translate", "convert")


def step(name, kind, source=None, **options):
    return {"name": name, "kind": kind, "input": source, "options": options}


def names(steps):
    return [s.name for s in steps]


def test_a_chain_comes_back_parents_first_even_when_given_children_first():
    steps = [step("es-ca", "translate", "en-es"), step("en-es", "translate", "hear"), step("hear", "asr", "upload")]
    assert names(check_dag(steps, KINDS)) == ["hear", "en-es", "es-ca"]


def test_a_fan_out_keeps_every_branch():
    steps = [step("hear", "asr", "upload"), step("es", "translate", "hear"), step("ca", "translate", "hear")]
    assert names(check_dag(steps, KINDS)) == ["hear", "es", "ca"]


def test_a_translate_step_with_its_own_text_needs_no_input():
    assert names(check_dag([step("t", "translate", text="Hello.")], KINDS)) == ["t"]


@pytest.mark.parametrize("steps, words", [
    ([step("a", "translate", "b"), step("b", "translate", "a")], "cycle"),
    ([step("a", "translate", "c"), step("b", "translate", "a"), step("c", "translate", "b")], "cycle"),
    ([step("a", "translate", "a")], "own output"),
    ([step("a", "asr", "upload"), step("a", "translate", "a")], "unique"),
    ([step("a", "telepathy", "upload")], "unknown kind"),
    ([step("a", "asr", "nowhere")], "not a step"),
    ([step("a", "asr")], "reads a file"),
    ([step("a", "translate", "upload")], "reads text"),
    ([step("a", "asr", "upload"), step("b", "asr", "a")], "makes text"),
    ([step("a", "convert", "upload"), step("b", "translate", "a")], "makes file"),
    ([step("1a", "asr", "upload")], "name must"),
    ([], "non-empty"),
    ("steps", "non-empty"),
    ([{"name": "a", "kind": "asr", "input": "upload", "shell": "rm -rf /"}], "unknown fields"),
    ([{"name": "a", "kind": "asr", "input": "upload", "options": ["x"]}], "options must be an object"),
    ([step("a", "asr", "upload")] + [step(f"t{n}", "translate", "a") for n in range(16)], "at most 16"),
])
def test_steps_that_are_no_dag_are_refused_with_the_reason(steps, words):
    with pytest.raises(PipelineRefused, match=words):
        check_dag(steps, KINDS)


def test_the_subtitles_preset_extracts_audio_then_transcribes_then_fans_out_per_language():
    steps = check_dag(expand("subtitles", {"target_langs": ["es", "ca"]}), KINDS)
    assert [(s.name, s.kind, s.input) for s in steps] == [
        ("extract-audio", "convert", "upload"), ("transcribe", "asr", "extract-audio"),
        ("translate-es", "translate", "transcribe"), ("translate-ca", "translate", "transcribe")]
    assert steps[2].options == {"source_lang": "en", "target_lang": "es"}


def test_read_translate_reads_with_the_ocr_model():
    steps = check_dag(expand("read-translate", {"target_lang": "es"}), KINDS)
    assert [(s.kind, s.input) for s in steps] == [("vision", "upload"), ("translate", "read")]
    assert steps[0].options["detection_model_id"] == 5  # PP-OCRv4 in the vision catalog


@pytest.mark.parametrize("preset, options, words", [
    ("karaoke", {}, "Unknown preset"),
    ("transcribe-translate", {}, "target_lang"),
    ("transcribe-translate", {"target_langs": ["es", "es"]}, "twice"),
    ("transcribe-translate", {"target_lang": "es", "colour": "red"}, "no option"),
    ("subtitles", {"target_lang": "es", "burn_in": True}, "cannot put subtitles"),
])
def test_presets_refuse_what_they_cannot_do(preset, options, words):
    with pytest.raises(PipelineRefused, match=words):
        expand(preset, options)
