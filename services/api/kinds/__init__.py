"""The job kinds this installation accepts; a kind is listed once its worker exists.

Submitting a kind that is not listed answers 503 ("no worker for this kind yet").
"""
from services.api.kinds import asr, convert, translate, vision
from services.api.kinds.base import KindSpec, SubmitRefused

KINDS: dict[str, KindSpec] = {spec.name: spec for spec in (translate.SPEC, convert.SPEC, vision.SPEC, asr.SPEC)}

__all__ = ["KINDS", "KindSpec", "SubmitRefused"]
