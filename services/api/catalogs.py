"""``GET /api/v1/models``: the models each kind's live workers offer, from their capabilities."""
from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from services.api.kinds.base import live_models
from shared.kinds import KINDS

bp = Blueprint("catalogs", __name__, url_prefix="/api/v1", description="Model catalogs")

_ENTRY_DOC = {
    "vision": "Detection and classification models: {id, name, kind (detection|classification), "
              "type (detection_model|classification_model), engine, labels_count, title}; the ids "
              "are what detection_model_id and classification_model_id take.",
    "asr": "Speech-to-text models: {id, engine (whisper|vosk), languages, detects_language, size_bytes, "
           "default, source, installed_at (Unix time of the model files)}; the ids are what the model "
           "option takes.",
}

ModelsSchema = Schema.from_dict(
    {kind: fields.List(fields.Dict(), metadata={"description": _ENTRY_DOC.get(
        kind, f"The models the {kind} workers offer, as they report them.")})
     for kind in KINDS}, name="ModelsSchema")


@bp.route("/models", methods=["GET"])
@bp.doc(security=[])
@bp.response(200, ModelsSchema)
def models():
    """Models per kind, for the kinds whose running workers report a model catalog."""
    return {kind: found for kind in KINDS if (found := live_models(kind))}
