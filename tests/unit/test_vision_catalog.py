"""The models catalog: fixed built-in ids, YOLO files from the models dir, the unknown-id error."""
from __future__ import annotations

import pytest

from services.vision_worker.catalog import MODELS_DIR_SETTING, get_model, list_models
from shared.kinds.vision import catalog


def test_builtins_have_unique_ids_and_the_documented_defaults(monkeypatch):
    monkeypatch.delenv(MODELS_DIR_SETTING, raising=False)
    models = list_models()
    ids = [m.id for m in models]
    assert len(ids) == len(set(ids))
    assert get_model(catalog.DEFAULT_DETECTION_MODEL_ID, catalog.DETECTION).name == "SSD"
    default_classifier = get_model(catalog.DEFAULT_CLASSIFICATION_MODEL_ID,
                                           catalog.CLASSIFICATION)
    assert default_classifier.labels_count == 1000
    assert {m.kind for m in models} == {catalog.DETECTION, catalog.CLASSIFICATION}


def test_wrong_id_or_wrong_kind_gives_seed_001_message(monkeypatch):
    monkeypatch.delenv(MODELS_DIR_SETTING, raising=False)
    with pytest.raises(catalog.UnknownModel) as caught:
        get_model(999, catalog.DETECTION)
    message = str(caught.value)
    assert message.startswith("Model id was not correct. Choose from (id, name, type) [")
    assert "(2, 'SSD', 'detection_model')" in message
    assert "(3, 'EfficientNet-Lite3', 'classification_model')" in message
    with pytest.raises(catalog.UnknownModel):
        get_model(catalog.EFFICIENTNET_ID, catalog.DETECTION)


def test_yolo_files_in_the_models_directory_get_ids_1_then_100(tmp_path, monkeypatch):
    (tmp_path / "b_second.onnx").write_bytes(b"not read: labels come from the sidecar")
    (tmp_path / "b_second.names").write_text("apple\npear\n\n")
    (tmp_path / "a_first.onnx").write_bytes(b"x")
    (tmp_path / "a_first.names").write_text("one\ntwo\nthree\n")
    (tmp_path / "readme.txt").write_text("ignored")
    monkeypatch.setenv(MODELS_DIR_SETTING, str(tmp_path))
    yolos = {m.id: m for m in list_models() if m.engine == "onnxruntime" and m.path}
    assert sorted(yolos) == [catalog.YOLO_ID, catalog.EXTRA_YOLO_FIRST_ID]
    assert yolos[1].name == "YOLO" and yolos[1].path.endswith("a_first.onnx")
    assert yolos[1].labels_count == 3
    assert yolos[100].name == "YOLO:b_second" and yolos[100].labels_count == 2
    assert "(1, 'YOLO', 'detection_model')" in catalog.invalid_id_message(list_models())


def test_without_yolo_files_id_1_is_not_offered(tmp_path, monkeypatch):
    monkeypatch.setenv(MODELS_DIR_SETTING, str(tmp_path))
    with pytest.raises(catalog.UnknownModel):
        get_model(catalog.YOLO_ID, catalog.DETECTION)


def test_catalog_entry_serialises_with_seed_type():
    entry = get_model(catalog.FACES_ID, catalog.DETECTION, directory=None).as_dict()
    assert entry["type"] == "detection_model"
    assert set(entry) == {"id", "name", "kind", "type", "engine", "labels_count", "title"}
