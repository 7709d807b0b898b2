"""File storage behind a small interface (a local directory by default).

Keys are relative paths chosen by the API (never by users); the storage root is
never shown to clients.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator

CHUNK = 1024 * 1024


class StorageLimitExceeded(Exception):
    """A stream was longer than the caller allowed."""


class LocalStorage:
    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"storage key escapes the root: {key!r}")
        return path

    def save(self, key: str, stream: BinaryIO, max_bytes: int | None = None) -> int:
        """Write ``stream`` under ``key`` atomically; return its size."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                while block := stream.read(CHUNK):
                    size += len(block)
                    if max_bytes is not None and size > max_bytes:
                        raise StorageLimitExceeded(f"more than {max_bytes} bytes")
                    out.write(block)
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return size

    def local_path(self, key: str) -> Path:
        """The file of ``key`` on this machine (for send_file)."""
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(key)
        return path

    def iter_bytes(self, key: str) -> Iterator[bytes]:
        with open(self.local_path(key), "rb") as handle:
            while block := handle.read(CHUNK):
                yield block

    def delete_prefix(self, prefix: str) -> None:
        """Remove every file under ``prefix`` (a job's folder)."""
        shutil.rmtree(self._path(prefix), ignore_errors=True)
