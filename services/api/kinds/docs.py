"""What the OpenAPI document says about each kind's submit: its body and the refusals it may answer."""
from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import Schema

from services.api.kinds.base import KindSpec

SUBMIT_REFUSALS = {
    "400": {"description": "The file or the parameters cannot work (the message says why)"},
    "404": {"description": "Not a job kind"},
    "413": {"description": "Too large a file or text (a file larger than the upload limit, or than "
                           "the user's whole storage quota)"},
    "422": {"description": "A parameter of the wrong type or out of range"},
    "429": {"description": "Too many active jobs, or the file does not fit in the user's storage quota "
                           "beside the files already stored (GET /api/v1/usage shows both)"},
    "503": {"description": "No worker of this kind is running"},
}
_UPLOAD_SCHEMAS: dict[str, type[Schema]] = {}


def upload_schema(spec: KindSpec) -> type[Schema]:
    """The kind's parameters plus the ``file`` part: the fields of its multipart/form-data body.

    Made once per kind: the document names it ``<Kind>Upload`` and refers to it from the route.
    """
    if spec.name not in _UPLOAD_SCHEMAS:
        file = Upload(required=spec.needs_file, metadata={
            "description": "The file to process" if spec.needs_file else "A document instead of text"})
        _UPLOAD_SCHEMAS[spec.name] = type(f"{spec.name.capitalize()}UploadSchema", (spec.params_schema,),
                                          {"file": file, "__doc__": spec.params_schema.__doc__})
    return _UPLOAD_SCHEMAS[spec.name]


def submit_body(spec: KindSpec) -> dict:
    """A file kind takes multipart/form-data (``file`` and its fields), a text kind a JSON object, and
    a text kind that may bring a file instead (translate's documents) either of the two."""
    form = {"multipart/form-data": {"schema": upload_schema(spec)}}
    if spec.needs_file:
        return {"required": True, "content": form}
    content = {"application/json": {"schema": spec.params_schema}}
    if spec.takes_file:
        content.update(form)
    return {"required": True, "content": content}
