"""What an acceptable Argos package (``.argosmodel``) is, checked before a byte of it is written out.

An Argos package is a zip of one folder holding metadata.json, a CTranslate2 model in model/ (its
model.bin among it), and a sentencepiece.model or a bpe.model; a stanza/, minisbd/ or spacy/ folder
may come with it. The API refuses an upload that is no zip, that would write outside its folder
(absolute names, ``..``, links), that would unpack to far more than it weighs (a zip bomb: bounded
entry count, total size and ratio), or whose metadata does not name a translation between two
known languages. Pure Python: the API checks, the API installs; the workers only read.
"""
from __future__ import annotations

import json
import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO

from shared.kinds.translate.languages import normalize

MAX_ENTRIES = 2000
MAX_UNPACKED_BYTES = 4 * 1024 ** 3
# Deflated weights and SentencePiece models squeeze a few times at most; a bomb squeezes thousands.
MAX_RATIO = 200
MAX_METADATA_BYTES = 64 * 1024
REQUIRED_MODEL_FILE = "model/model.bin"
TOKENIZER_FILES = ("sentencepiece.model", "bpe.model")
# A package's installed folder name: from what it translates, to what, and its version.
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class PackageRefused(ValueError):
    """The upload is not a package this installation accepts; the message says why."""


@dataclass(frozen=True)
class PackageInfo:
    """What the API needs to install a checked package."""
    top: str           # the folder every entry of the zip lies in
    name: str          # the installed folder's name: argos-<from>-<to>
    source: str        # ISO 639-1 codes, as the rest of the API speaks them
    target: str
    version: str
    metadata: dict

    @property
    def description(self) -> dict:
        return {"name": self.name, "source": self.source, "target": self.target, "version": self.version}


def package_name(source: str, target: str) -> str:
    """The folder a package for this pair is installed in: one package per pair, a new one replaces it."""
    return _SAFE_NAME.sub("_", f"argos-{source}-{target}")


def inspect_package(stream: IO[bytes], max_unpacked_bytes: int = MAX_UNPACKED_BYTES) -> PackageInfo:
    """Check an uploaded package (a seekable binary stream); raises PackageRefused saying why."""
    if not zipfile.is_zipfile(stream):
        raise PackageRefused("The upload is not a zip archive (an .argosmodel is one).")
    stream.seek(0)
    try:
        with zipfile.ZipFile(stream) as archive:
            entries = archive.infolist()
            top = _check_entries(entries, max_unpacked_bytes)
            names = {entry.filename.rstrip("/") for entry in entries}
            _check_required_files(names, top)
            metadata = _read_metadata(archive, f"{top}/metadata.json")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise PackageRefused(f"The zip archive is damaged: {exc}") from exc
    return _package_info(top, metadata)


def _check_entries(entries: list[zipfile.ZipInfo], max_unpacked_bytes: int) -> str:
    """Refuse bombs and entries that would land outside the package's one top folder; return it."""
    if not entries:
        raise PackageRefused("The zip archive is empty.")
    if len(entries) > MAX_ENTRIES:
        raise PackageRefused(f"The package holds {len(entries)} files; at most {MAX_ENTRIES} are accepted.")
    unpacked = sum(entry.file_size for entry in entries)
    packed = sum(entry.compress_size for entry in entries)
    if unpacked > max_unpacked_bytes:
        raise PackageRefused(f"The package would unpack to {unpacked} bytes; at most {max_unpacked_bytes}.")
    if packed and unpacked / packed > MAX_RATIO:
        raise PackageRefused(f"The package unpacks to {unpacked / packed:.0f} times its size "
                             f"(at most {MAX_RATIO}): it looks like a zip bomb.")
    tops = set()
    for entry in entries:
        _check_entry_name(entry)
        tops.add(PurePosixPath(entry.filename).parts[0])
    if len(tops) != 1 or not any("/" in entry.filename.rstrip("/") for entry in entries):
        raise PackageRefused("An Argos package holds exactly one folder with the package's files in it.")
    return tops.pop()


def _check_entry_name(entry: zipfile.ZipInfo) -> None:
    name = entry.filename
    path = PurePosixPath(name)
    if not name or "\\" in name or "\0" in name or path.is_absolute() or ".." in path.parts \
            or re.match(r"^[A-Za-z]:", name):
        raise PackageRefused(f"The package has an entry outside its folder: {name!r}.")
    # Unix mode bits ride in the high half of external_attr; without a file type there (as zip tools
    # outside Unix write) the entry is a plain file or, named with a trailing '/', a folder.
    file_type = stat.S_IFMT(entry.external_attr >> 16)
    if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise PackageRefused(f"The package has a link or special file: {name!r}; only files and folders.")


def _check_required_files(names: set[str], top: str) -> None:
    missing = [name for name in ("metadata.json", REQUIRED_MODEL_FILE) if f"{top}/{name}" not in names]
    if not any(f"{top}/{name}" in names for name in TOKENIZER_FILES):
        missing.append(" or ".join(TOKENIZER_FILES))
    if missing:
        raise PackageRefused(f"The package lacks {', '.join(missing)} in its folder {top!r}.")


def _read_metadata(archive: zipfile.ZipFile, name: str) -> dict:
    if archive.getinfo(name).file_size > MAX_METADATA_BYTES:
        raise PackageRefused("metadata.json is too large.")
    try:
        metadata = json.loads(archive.read(name).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PackageRefused(f"metadata.json is not valid JSON: {exc}") from exc
    if not isinstance(metadata, dict):
        raise PackageRefused("metadata.json must hold an object.")
    return metadata


def _package_info(top: str, metadata: dict) -> PackageInfo:
    kind = metadata.get("type", "translate")
    if kind != "translate":
        raise PackageRefused(f"Only translation packages are accepted, not {kind!r} packages.")
    try:
        source = normalize(str(metadata.get("from_code") or ""))
        target = normalize(str(metadata.get("to_code") or ""))
    except ValueError as exc:
        raise PackageRefused(f"metadata.json's from_code/to_code: {exc}") from exc
    if source == target:
        raise PackageRefused("metadata.json's from_code and to_code are the same language.")
    version = str(metadata.get("package_version") or "")
    return PackageInfo(top=top, name=package_name(source, target), source=source, target=target,
                       version=version, metadata=metadata)
