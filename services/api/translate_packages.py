"""Argos Translate packages, managed by administrators: list, install (upload), remove.

``POST /api/v1/admin/translate/packages`` takes an ``.argosmodel`` as the multipart part ``file``,
checks it (shared.kinds.translate.argos_packages: a zip, safe, its metadata and required files)
before writing anything, unpacks it into a dot folder of CONVEYOR_ARGOS_PACKAGES_DIR and renames it
into place (``argos-<from>-<to>``; a package for the same pair is replaced). Translate workers read
that directory before each job and every two seconds for their catalog, so the pair appears in
``GET /api/v1/languages`` once a worker announced it, without a restart. ``DELETE`` renames the
folder away first, then deletes it: a worker never sees half a package.
"""
from __future__ import annotations

import json
import re
import shutil
import tempfile
import uuid
import zipfile
import zlib
from pathlib import Path
from typing import IO, Any

from flask import current_app, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from shared.errors import fail
from shared.kinds.translate.argos_packages import PackageInfo, PackageRefused, inspect_package
from shared.kinds.translate.languages import normalize
from shared.principal import admin_required

bp = Blueprint("translate_packages", __name__, url_prefix="/api/v1/admin/translate",
               description="Argos Translate packages (administrators)")

_COPY_CHUNK = 1024 * 1024
_NAME = re.compile(r"argos-[a-z]{2,3}-[a-z]{2,3}")


class PackageSchema(Schema):
    name = fields.String(metadata={"description": "The installed folder: argos-<from>-<to>."})
    source = fields.String()
    target = fields.String()
    version = fields.String()
    size_bytes = fields.Integer()
    replaced = fields.Boolean(metadata={"description": "Install only: an older package of the pair was replaced."})


class PackageListSchema(Schema):
    packages = fields.List(fields.Nested(PackageSchema))


def packages_dir() -> Path:
    """Where packages are installed (created on first use)."""
    directory = Path(current_app.config["ARGOS_PACKAGES_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def installed_packages(directory: Path) -> list[dict[str, Any]]:
    """The installed packages, as the listing shows them (dot folders are being installed or removed)."""
    found = []
    for path in sorted(directory.iterdir()):
        if path.name.startswith(".") or not path.is_dir():
            continue
        try:
            metadata = json.loads((path / "metadata.json").read_text(encoding="utf-8"))
            source, target = normalize(metadata["from_code"]), normalize(metadata["to_code"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        size = sum(file.stat().st_size for file in path.rglob("*") if file.is_file())
        found.append({"name": path.name, "source": source, "target": target,
                      "version": str(metadata.get("package_version", "")), "size_bytes": size})
    return found


def install(upload: IO[bytes], directory: Path) -> dict[str, Any]:
    """Check and install an uploaded package; raises PackageRefused saying why not."""
    with tempfile.TemporaryFile(dir=directory) as spooled:
        shutil.copyfileobj(upload, spooled, _COPY_CHUNK)
        spooled.seek(0)
        info = inspect_package(spooled)
        staging = directory / f".incoming-{uuid.uuid4().hex}"
        try:
            _unpack(spooled, info, staging)
            replaced = _move_into_place(staging / info.top, directory / info.name)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            # The directory only lists entries; their data is first read here (a CRC, a stream).
            raise PackageRefused(f"The zip archive is damaged: {exc}") from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    size = sum(file.stat().st_size for file in (directory / info.name).rglob("*") if file.is_file())
    return {**info.description, "size_bytes": size, "replaced": replaced}


def _unpack(archive_file: IO[bytes], info: PackageInfo, staging: Path) -> None:
    """Write the checked entries under ``staging``, each no larger than the zip says it is."""
    root = staging.resolve()
    with zipfile.ZipFile(archive_file) as archive:
        for entry in archive.infolist():
            destination = (staging / entry.filename).resolve()
            if root not in destination.parents:
                raise PackageRefused(f"The package has an entry outside its folder: {entry.filename!r}.")
            if entry.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            _copy_bounded(archive, entry, destination)


def _copy_bounded(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, destination: Path) -> None:
    """Copy one entry, refusing one that inflates past the size its header declares."""
    written = 0
    with archive.open(entry) as source, open(destination, "wb") as target:
        while chunk := source.read(_COPY_CHUNK):
            written += len(chunk)
            if written > entry.file_size:
                raise PackageRefused(f"{entry.filename!r} unpacks to more than it declares.")
            target.write(chunk)


def _move_into_place(unpacked: Path, final: Path) -> bool:
    """Rename the unpacked folder to its final name, replacing (and deleting) an older one."""
    replaced = final.exists()
    if replaced:
        _remove_folder(final)
    unpacked.rename(final)
    return replaced


def _remove_folder(folder: Path) -> None:
    """Rename away first (workers skip dot folders), then delete."""
    doomed = folder.with_name(f".removing-{uuid.uuid4().hex}")
    folder.rename(doomed)
    shutil.rmtree(doomed, ignore_errors=True)


@bp.route("/packages", methods=["GET"])
@admin_required
@bp.response(200, PackageListSchema)
def list_packages():
    """The installed Argos packages."""
    return {"packages": installed_packages(packages_dir())}


@bp.route("/packages", methods=["POST"])
@admin_required
@bp.doc(requestBody={"description": "The .argosmodel file as the multipart part 'file'.",
                     "content": {"multipart/form-data": {"schema": {"type": "object", "properties": {
                         "file": {"type": "string", "format": "binary"}}}}}},
        responses={"400": {"description": "Not an acceptable Argos package (the message says why)"},
                   "413": {"description": "Larger than CONVEYOR_MAX_UPLOAD_MB"}})
@bp.response(201, PackageSchema)
def add_package():
    """Install an Argos package; translate workers announce its pair within seconds."""
    upload = request.files.get("file")
    if upload is None:
        fail(400, "Send the .argosmodel as multipart/form-data with a 'file' part.")
    try:
        return install(upload.stream, packages_dir())
    except PackageRefused as exc:
        fail(400, str(exc))


@bp.route("/packages/<string:name>", methods=["DELETE"])
@admin_required
@bp.response(204)
def remove_package(name):
    """Remove an installed package; workers drop its pair from their catalog within seconds."""
    folder = packages_dir() / name
    if not _NAME.fullmatch(name) or not folder.is_dir():
        fail(404, f"No Argos package {name!r} is installed.")
    _remove_folder(folder)
