"""What a person reads from `conveyor`: each kind's result, the submit line, the options catalog."""

from __future__ import annotations

from conveyor_cli.render import (
    model_lines,
    pair_lines,
    parameter_lines,
    result_lines,
    submitted_line,
    target_lines,
)
from services.vision_worker.detection import Detection
from shared.kinds.asr.exports import transcript_of

# The shapes below are what the workers return (and GET /result hands back as its "result"):
# services/translate_worker/translate.py, services/asr_worker/transcribe.py,
# services/vision_worker/analyze.py (+ Detection.to_result), services/convert_worker/convert.py.
TRANSLATION = {
    "translated_text": "El gato es negro. Quisiera una taza de café.",
    "source_lang": "en",
    "target_lang": "es",
    "route": ["en", "es"],
    "word_count": 11,
    "characters": 47,
}
TRANSCRIPT = {
    "text": "hello world",
    "language": "en",
    "duration": 1.52,
    "words": [{"word": "hello", "start": 0.1, "end": 0.5}, {"word": "world", "start": 0.6, "end": 1.1}],
    "segments": [{"start": 0.0, "end": 1.52, "text": "hello world"}],
    "engine": "whisper",
    "model": "whisper-base",
}
CONVERSION = {
    "target": "mp3",
    "artifact": "tone.mp3",
    "content_type": "audio/mpeg",
    "remuxed": False,
    "copied_streams": [],
    "elapsed_seconds": 0.081,
    "format": "mp3",
    "duration": 0.528,
    "size": 4641,
    "video": None,
    "audio": {"codec": "mp3", "sample_rate": 16000, "channels": 1},
}


def vision_result(detections: list[Detection]) -> dict:
    return {
        "image_class": "tabby",
        "class_scores": [{"label": "tabby", "score": 0.8125}, {"label": "tiger cat", "score": 0.1}],
        "detections": [d.to_result(640, 480) for d in detections],
        "width": 640,
        "height": 480,
        "detection_model_id": 2,
        "classification_model_id": 3,
    }


def test_a_translation_prints_only_the_translated_text():
    assert result_lines("translate", TRANSLATION) == [TRANSLATION["translated_text"]]


def test_a_transcript_prints_its_text_and_a_partial_one_what_was_heard():
    assert result_lines("asr", TRANSCRIPT) == ["hello world"]
    partial = transcript_of([
        {"seq": 0, "start": 0.0, "end": 30.0, "text": "first part", "words": [], "language": "en"},
        {"seq": 1, "start": 30.0, "end": 45.0, "text": "second", "words": [], "language": "en"},
    ])
    assert result_lines("asr", partial) == ["first part second"]


def test_vision_prints_the_top_class_and_a_table_of_detections_in_pixels():
    lines = result_lines("vision", vision_result([
        Detection("cat", (100.0, 40.0, 300.0, 240.0), 0.934),
        Detection("dog", (0.0, 0.0, 64.0, 48.0), 0.41),
    ]))
    assert lines[0] == "class: tabby (81%)"
    assert lines[1].split()[:2] == ["LABEL", "PROB"]
    assert lines[2].split() == ["cat", "93%", "100,40", "200x200"]
    assert lines[3].split() == ["dog", "41%", "0,0", "64x48"]


def test_vision_shows_what_ocr_read_and_says_when_nothing_was_found():
    lines = result_lines("vision", vision_result([Detection("text", (10.0, 10.0, 110.0, 30.0), 0.9, text="EXIT")]))
    assert lines[1].endswith("TEXT") and lines[2].endswith("EXIT")
    assert result_lines("vision", vision_result([]))[1:] == ["no detections"]


def test_a_conversion_is_summed_up_by_its_artifact():
    assert result_lines("convert", CONVERSION) == ["tone.mp3 (mp3, 0.528 s, 4641 bytes)"]
    video = {**CONVERSION, "target": "mp4", "artifact": "clip.mp4", "remuxed": True,
             "video": {"codec": "h264", "width": 320, "height": 240, "fps": 25.0}}
    assert result_lines("convert", video) == ["clip.mp4 (mp4, 0.528 s, 320x240, 4641 bytes, remuxed, not re-encoded)"]


def test_an_unknown_kind_has_no_renderer():
    assert result_lines("ocr", {"text": "x"}) is None


def test_submit_prints_one_line_with_what_to_run_next():
    job = {"id": "0b6f0bd2-4a52-4f55-a3a4-2f0c1f5d2a11", "kind": "translate", "number": 7, "status": "queued"}
    line = submitted_line(job)
    assert "\n" not in line
    assert line.startswith(f"{job['id']}  translate #7  queued")
    assert f"conveyor watch {job['id']}" in line


# The AsrParams and ConvertParams components of /openapi.json as the API generates them (trimmed).
ASR_PARAMS = {
    "type": "object",
    "properties": {
        "priority": {"type": "string", "default": "normal", "enum": ["low", "normal", "high"]},
        "callback_url": {"type": "string", "maxLength": 2048, "description": "POSTed a signed event"},
        "model": {"type": ["string", "null"], "description": "A model id from GET /api/v1/models"},
        "chunk_seconds": {"type": ["number", "null"], "description": "Audio per chunk event, 5 to 1800 s"},
    },
}
def test_parameters_name_the_flag_or_option_that_sets_them_and_leave_out_webhooks():
    lines = parameter_lines(ASR_PARAMS)
    assert len(lines) == 3 and not any("callback" in line for line in lines)
    assert lines[0].split()[:2] == ["--priority", "low|normal|high,"]
    assert lines[1].split()[:3] == ["-o", "model=", "string"] and lines[1].endswith("GET /api/v1/models")
    translate = parameter_lines({"properties": {"text": {"type": "string"}}, "required": ["text"]})
    assert translate[0].split() == ["--text", "string", "(required)"]


def test_convert_targets_show_what_they_make_from_which_inputs_with_which_options():
    from shared.kinds.convert.targets import catalog  # the entries convert workers report
    targets = [{"id": name, **entry} for name, entry in catalog().items()]
    lines = target_lines(targets)
    assert lines[0] == "Targets (-o target=NAME):"
    webp = next(line for line in lines if line.split()[0] == "webp")
    assert webp.split()[1:5] == ["image", "from", "image", "or"] and webp.endswith("at, width, height, quality")
    mp3 = next(line for line in lines if line.split()[0] == "mp3")
    assert "mp3   audio  from audio or video; options: start, end" in mp3


def test_pairs_are_grouped_by_source_with_their_pivots_marked():
    lines = pair_lines([
        {"source": "en", "target": "es", "via": []},
        {"source": "es", "target": "en", "via": []},
        {"source": "en", "target": "ca", "via": ["es"]},
    ])
    assert lines[1:] == ["  en   -> es, ca (via es)", "  es   -> en"]


def test_models_show_their_ids_and_the_option_that_picks_them():
    asr = model_lines("asr", [{"id": "whisper-base", "engine": "whisper", "languages": ["en", "de"],
                               "detects_language": True, "size_bytes": 1, "default": True, "source": "x"}])
    assert asr[0] == "Models (-o model=ID):"
    assert asr[1].split()[:2] == ["whisper-base", "whisper,"] and "default" in asr[1]
    vision = model_lines("vision", [
        {"id": 2, "name": "ssd", "kind": "detection", "type": "detection_model", "engine": "cv",
         "labels_count": 80, "title": "SSD MobileNet"},
        {"id": 3, "name": "mobilenet", "kind": "classification", "type": "classification_model",
         "engine": "cv", "labels_count": 1000, "title": "MobileNet"},
    ])
    assert vision[0] == "Detection models (-o detection_model_id=ID):"
    assert vision[1].split()[:4] == ["2", "ssd", "80", "labels"]
    assert vision[2] == "Classification models (-o classification_model_id=ID):"


def test_a_description_is_cut_at_its_first_sentence_not_at_an_abbreviation():
    [line] = parameter_lines({"properties": {"video_bitrate": {"description": "Video bitrate, e.g. 800k or 2M"}}})
    assert line.endswith("Video bitrate, e.g. 800k or 2M")
    [line] = parameter_lines({"properties": {"source_lang": {"type": "string", "description": "Language. The rest."}}})
    assert line.endswith("Language")
