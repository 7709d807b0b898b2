"""The pipeline DAG's checks (shared.pipelineflow.check_dag) and the presets' expansion, without a database."""
from __future__ import annotations

import pytest

from services.api.pipeline_presets import expand
from shared.pipelineflow import PipelineRefused, check_dag

KINDS = ("asr", "vision", "translate", "convert")


def step(name, kind, source=None, subtitles=None, **options):
    made = {"name": name, "kind": kind, "input": source, "options": options}
    return made if subtitles is None else {**made, "subtitles": subtitles}


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
    ([step("a", "asr", "upload"), step("b", "translate", "a", subtitles=["a"])], "only a convert step"),
    ([step("a", "asr", "upload"), step("v", "convert", "upload", subtitles=["nowhere"])], "not another step"),
    ([step("v", "convert", "upload", subtitles=["v"])], "not another step"),
    ([step("a", "asr", "upload"), step("v", "convert", "upload", subtitles=["a", "a"])], "twice"),
    ([step("a", "asr", "upload"), step("v", "convert", "upload", subtitles="a")], "list of at most 8"),
    ([step("a", "asr", "upload"), step("v", "convert", "upload", subtitles=[1])], "list of at most 8"),
    ([step("w", "convert", "upload"), step("v", "convert", "upload", subtitles=["w"])], "neither"),
    ([step("t", "translate", text="Hi"), step("v", "convert", "upload", subtitles=["t"])], "neither"),
    ([step("a", "asr", "v"), step("t", "translate", "a"), step("v", "convert", "upload", subtitles=["t"])],
     r"cycle \(a -> t -> v -> a\)"),
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


def test_a_convert_step_with_subtitles_comes_after_every_step_it_reads():
    steps = [step("v", "convert", "upload", subtitles=["es", "hear"]), step("es", "translate", "hear"),
             step("hear", "asr", "upload")]
    checked = check_dag(steps, KINDS)
    assert names(checked) == ["hear", "es", "v"]
    assert checked[2].subtitles == ("es", "hear") and checked[2].parents == ["es", "hear"]


@pytest.mark.parametrize("options, target, burn_in, tracks", [
    ({"target_langs": ["es", "ca"], "mux": "mp4"}, "mp4", None, ["translate-es", "translate-ca"]),
    ({"target_langs": ["es", "ca"], "mux": "mkv", "burn_in": "ca"}, "mkv", "ca", ["translate-es", "translate-ca"]),
    ({"target_langs": ["es", "ca"], "burn_in": "es", "subtitle_size": 9}, "mp4", "es", ["translate-es"]),
])
def test_the_subtitles_preset_ends_with_the_video_when_asked(options, target, burn_in, tracks):
    steps = check_dag(expand("subtitles", options), KINDS)
    last = steps[-1]
    assert (last.name, last.kind, last.input, last.subtitles) == ("add-subtitles", "convert", "upload", tuple(tracks))
    assert last.options.get("target") == target and last.options.get("burn_in") == burn_in
    assert names(steps)[:3] == ["extract-audio", "transcribe", "translate-es"]


def test_the_subtitles_preset_without_mux_or_burn_in_makes_no_video():
    assert [s.name for s in check_dag(expand("subtitles", {"target_lang": "es", "mux": None, "burn_in": None}),
                                      KINDS)] == ["extract-audio", "transcribe", "translate-es"]


def test_read_translate_reads_with_the_ocr_model():
    steps = check_dag(expand("read-translate", {"target_lang": "es"}), KINDS)
    assert [(s.kind, s.input) for s in steps] == [("vision", "upload"), ("translate", "read")]
    assert steps[0].options["detection_model_id"] == 5  # PP-OCRv4 in the vision catalog


@pytest.mark.parametrize("preset, options, words", [
    ("karaoke", {}, "Unknown preset"),
    ("transcribe-translate", {}, "target_lang"),
    ("transcribe-translate", {"target_langs": ["es", "es"]}, "twice"),
    ("transcribe-translate", {"target_lang": "es", "colour": "red"}, "no option"),
    ("subtitles", {"target_lang": "es", "burn_in": True}, "burn_in must be one of the target languages"),
    ("subtitles", {"target_lang": "es", "burn_in": "ca"}, "burn_in must be one of the target languages"),
    ("subtitles", {"target_lang": "es", "mux": "avi"}, "mux must be one of mp4, mkv"),
    ("subtitles", {"target_lang": "es", "mux": True}, "mux must be one of"),
    ("subtitles", {"target_lang": "es", "subtitle_size": 10}, "give burn_in too"),
])
def test_presets_refuse_what_they_cannot_do(preset, options, words):
    with pytest.raises(PipelineRefused, match=words):
        expand(preset, options)
