"""The API's declaration of each job kind of ``shared.kinds.KINDS``: one spec per kind, no more.

A kind without a running worker is refused at submit with 503 by its own check; a name that is not
a kind never reaches a spec (the job routes answer 404).
"""
from services.api.kinds import asr, convert, translate, vision
from services.api.kinds.base import KindSpec, SubmitRefused
from shared.kinds import KINDS

_DECLARED = {spec.name: spec for spec in (asr.SPEC, vision.SPEC, translate.SPEC, convert.SPEC)}
if set(_DECLARED) != set(KINDS):
    # Checked at import so that a kind added to shared.kinds cannot ship without its API half.
    raise RuntimeError(f"the API declares kinds {sorted(_DECLARED)}, "
                       f"shared.kinds names {sorted(KINDS)}")
SPECS: dict[str, KindSpec] = {kind: _DECLARED[kind] for kind in KINDS}

__all__ = ["SPECS", "KindSpec", "SubmitRefused"]
