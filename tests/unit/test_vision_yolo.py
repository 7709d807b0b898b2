"""A tiny ONNX graph with YOLO's output layout proves that any YOLO file loads and decodes.

No YOLO weights ship through a package registry, so the graph is built here with the ``onnx``
helper API: its output is a constant table of candidates (plus 0 x the input's mean, so the graph
really consumes the image) in the v8 ``[1, 4 + C, N]`` or v5 ``[1, N, 5 + C]`` layout.
"""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from services.vision_worker import yolo  # noqa: E402
from services.vision_worker.analyze import process  # noqa: E402
from services.vision_worker.catalog import MODELS_DIR_SETTING, get_model  # noqa: E402
from shared.kinds.vision import catalog  # noqa: E402
from tests.fakes import FakeJobIO  # noqa: E402

INPUT = 64
# Candidates in input pixels: cx, cy, w, h, then per-class scores for (widget, gadget).
CANDIDATES = np.array([
    [32, 32, 20, 10, 0.90, 0.10],  # widget
    [33, 32, 20, 10, 0.80, 0.05],  # the same widget again: NMS removes it
    [10, 40, 8, 8, 0.05, 0.70],    # gadget
    [50, 20, 6, 6, 0.10, 0.20],    # below any sensible threshold
], dtype=np.float32)
# For a 128x64 image the letterbox scales by 0.5 and pads 16 px above and below.
IMAGE_SIZE = (64, 128)
EXPECTED = {"widget": ((32 - 10) / 0.5, (32 - 5 - 16) / 0.5, (32 + 10) / 0.5, (32 + 5 - 16) / 0.5),
            "gadget": ((10 - 4) / 0.5, (40 - 4 - 16) / 0.5, (10 + 4) / 0.5, (40 + 4 - 16) / 0.5)}


def _yolo_onnx(path, table: np.ndarray, names: str | None = None) -> None:
    images = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, INPUT, INPUT])
    output = helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(table.shape))
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], axes=[0, 1, 2, 3], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
        helper.make_node("Add", ["table", "nothing"], ["output0"]),
    ]
    initializers = [numpy_helper.from_array(table, "table"),
                    numpy_helper.from_array(np.array(0.0, np.float32), "zero")]
    graph = helper.make_graph(nodes, "tiny_yolo", [images], [output], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if names is not None:
        helper.set_model_props(model, {"names": names})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _v8_table() -> np.ndarray:
    return CANDIDATES.T[np.newaxis].copy()  # [1, 4 + C, N]


def _v5_table(padding_rows: int = 0) -> np.ndarray:
    objectness = np.full((len(CANDIDATES), 1), 0.95, np.float32)
    rows = np.hstack([CANDIDATES[:, :4], objectness, CANDIDATES[:, 4:]])
    empty = np.zeros((padding_rows, rows.shape[1]), np.float32)  # candidates scoring nothing
    return np.vstack([rows, empty])[np.newaxis].copy()  # [1, N, 5 + C]


def _assert_decoded(found, score_scale=1.0):
    assert [d.label for d in found] == ["widget", "gadget"]
    for detection in found:
        assert detection.box == pytest.approx(EXPECTED[detection.label], abs=0.01)
    assert [d.score for d in found] == pytest.approx([0.9 * score_scale, 0.7 * score_scale])


def test_v8_layout_with_ultralytics_metadata_decodes_to_the_encoded_boxes(tmp_path):
    path = tmp_path / "tiny.onnx"
    _yolo_onnx(path, _v8_table(), names="{0: 'widget', 1: 'gadget'}")
    detector = yolo.load(str(path))
    assert (detector.width, detector.height) == (INPUT, INPUT)
    _assert_decoded(detector.detect(np.zeros((*IMAGE_SIZE, 3), np.uint8), 0.3, 10))


def test_v5_layout_with_sidecar_labels_multiplies_objectness(tmp_path):
    path = tmp_path / "tiny5.onnx"
    _yolo_onnx(path, _v5_table())
    path.with_suffix(".names").write_text("widget\ngadget\n")
    found = yolo.load(str(path)).detect(np.zeros((*IMAGE_SIZE, 3), np.uint8), 0.3, 10)
    _assert_decoded(found, score_scale=0.95)


def test_max_detections_and_threshold_apply(tmp_path):
    path = tmp_path / "tiny.onnx"
    _yolo_onnx(path, _v8_table(), names="['widget', 'gadget']")
    detector = yolo.load(str(path))
    image = np.zeros((*IMAGE_SIZE, 3), np.uint8)
    assert [d.label for d in detector.detect(image, 0.3, 1)] == ["widget"]
    assert [d.label for d in detector.detect(image, 0.15, 10)] == ["widget", "gadget", "gadget"]


def test_unlabelled_file_falls_back_to_layout_heuristic_and_class_numbers(tmp_path):
    rows, has_objectness = yolo.output_rows(np.zeros((1, 84, 8400)), None)
    assert rows.shape == (8400, 84) and not has_objectness
    rows, has_objectness = yolo.output_rows(np.zeros((1, 25200, 85)), None)
    assert rows.shape == (25200, 85) and has_objectness
    path = tmp_path / "anon.onnx"
    # Real exports have thousands of candidates, far more than columns: that is what the
    # heuristic reads, so the unlabelled file carries more candidate rows than columns.
    _yolo_onnx(path, _v5_table(padding_rows=20))
    found = yolo.load(str(path)).detect(np.zeros((*IMAGE_SIZE, 3), np.uint8), 0.3, 10)
    assert {d.label for d in found} == {"class_0", "class_1"}


def test_output_that_fits_no_layout_is_refused():
    with pytest.raises(yolo.YoloLayoutError):
        yolo.output_rows(np.zeros((1, 7, 9)), num_labels=80)


def test_yolo_from_models_directory_runs_through_process(tmp_path, monkeypatch):
    models = tmp_path / "models"
    models.mkdir()
    _yolo_onnx(models / "tiny.onnx", _v8_table(), names="{0: 'widget', 1: 'gadget'}")
    monkeypatch.setenv(MODELS_DIR_SETTING, str(models))
    assert get_model(catalog.YOLO_ID, catalog.DETECTION).labels_count == 2
    image = tmp_path / "input.png"
    PIL = pytest.importorskip("PIL.Image")
    PIL.new("RGB", (IMAGE_SIZE[1], IMAGE_SIZE[0]), (0, 0, 0)).save(image)
    io = FakeJobIO(input_file=image, workdir=tmp_path)
    result = process({"id": "j", "params": {"detection_model_id": catalog.YOLO_ID}}, io)
    widget = result["detections"][0]
    assert result["detection_model_id"] == 1 and widget["label"] == "widget"
    x1, y1, x2, y2 = EXPECTED["widget"]
    assert widget["x"] == pytest.approx((x1 + x2) / 2 / IMAGE_SIZE[1], abs=1e-4)
    assert widget["height"] == pytest.approx((y2 - y1) / IMAGE_SIZE[0], abs=1e-4)
