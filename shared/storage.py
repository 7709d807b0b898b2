"""File storage behind one small interface: a local directory (the default) or an S3-compatible store.

Keys are relative paths chosen by the API (never by users); neither the storage root nor the
bucket is shown to clients. Callers get a backend from :func:`storage_from_config` and never learn
which one it is: every backend saves a stream atomically within a byte limit, reports a size,
streams a byte range, lends a local copy (for probes that need a path) and deletes a prefix.
"""
from __future__ import annotations

import functools
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Iterator, Mapping, Optional

from shared.config import settings_of

CHUNK = 1024 * 1024
# S3 parts are buffered in memory one at a time: 8 MiB keeps a 2 GB upload at ~16 MiB of buffers
# and under S3's 10,000-part cap up to 80 GB (every part but the last must be at least 5 MiB).
PART_SIZE = 8 * 1024 * 1024
BACKENDS = ("local", "s3")
# A presigned URL only has to be valid when its GET starts (S3 checks the signature then), so short.
PRESIGN_SECONDS = 300


class StorageLimitExceeded(Exception):
    """A stream was longer than the caller allowed."""


def checked_key(key: str) -> str:
    """``key`` if it is a plain relative path; a key that could climb out of its folder is a bug."""
    parts = key.split("/")
    if not key or key.startswith("/") or "\\" in key or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"not a storage key: {key!r}")
    return key


class Storage:
    """What every backend offers; keys are ``checked_key`` paths such as ``jobs/<id>/input/a.wav``."""

    def save(self, key: str, stream: BinaryIO, max_bytes: Optional[int] = None) -> int:
        """Store ``stream`` under ``key``, all or nothing; return its size."""
        raise NotImplementedError

    def check_ready(self) -> None:
        """Raise unless files can be stored now (the API's /readyz asks)."""
        raise NotImplementedError

    def size(self, key: str) -> int:
        """The stored size of ``key`` in bytes; FileNotFoundError when there is none."""
        raise NotImplementedError

    def iter_bytes(self, key: str, start: int = 0, stop: Optional[int] = None) -> Iterator[bytes]:
        """The bytes ``start`` to ``stop`` (exclusive; None: the end) of ``key``, in blocks."""
        raise NotImplementedError

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        """A path on this machine holding ``key``'s bytes, valid inside the ``with`` block."""
        raise NotImplementedError
        yield  # pragma: no cover

    def delete(self, key: str) -> None:
        """Remove the one object ``key``; a missing one is no error."""
        raise NotImplementedError

    def delete_prefix(self, prefix: str) -> None:
        """Remove every object under ``prefix`` (a job's folder); missing ones are no error."""
        raise NotImplementedError

    def presigned_get(self, key: str, seconds: int = PRESIGN_SECONDS) -> Optional[str]:
        """A URL that fetches ``key`` straight from the store for ``seconds``; None if the backend has none."""
        return None

    def presigned_put(self, key: str, seconds: int = PRESIGN_SECONDS) -> Optional[str]:
        """A URL that stores a PUT body as ``key`` for ``seconds``; None if the backend has none."""
        return None


def read_limited(stream: BinaryIO, size: int, already: int, max_bytes: Optional[int]) -> bytearray:
    """Up to ``size`` bytes of ``stream``; StorageLimitExceeded once ``already`` + read passes the limit.

    One growing buffer rather than a list joined at the end, so a part is held in memory once.
    """
    buffer = bytearray()
    while len(buffer) < size and (block := stream.read(min(CHUNK, size - len(buffer)))):
        if max_bytes is not None and already + len(buffer) + len(block) > max_bytes:
            raise StorageLimitExceeded(f"more than {max_bytes} bytes")
        buffer += block
    return buffer


class LocalStorage(Storage):
    """Files under one directory of the API host (``make up``'s default)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def check_ready(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not os.access(self.root, os.W_OK):
            raise PermissionError(f"cannot write to {self.root}")

    def _path(self, key: str) -> Path:
        path = (self.root / checked_key(key)).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"storage key escapes the root: {key!r}")
        return path

    def save(self, key: str, stream: BinaryIO, max_bytes: Optional[int] = None) -> int:
        """Write ``stream`` under ``key`` atomically (a temporary file renamed); return its size."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                while block := read_limited(stream, CHUNK, size, max_bytes):
                    size += len(block)
                    out.write(block)
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return size

    def local_path(self, key: str) -> Path:
        """The file of ``key`` on this machine."""
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(key)
        return path

    def size(self, key: str) -> int:
        return self.local_path(key).stat().st_size

    def iter_bytes(self, key: str, start: int = 0, stop: Optional[int] = None) -> Iterator[bytes]:
        with open(self.local_path(key), "rb") as handle:
            handle.seek(start)
            left = None if stop is None else max(stop - start, 0)
            while left is None or left > 0:
                block = handle.read(CHUNK if left is None else min(CHUNK, left))
                if not block:
                    return
                if left is not None:
                    left -= len(block)
                yield block

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        """The stored file itself: nothing to copy on this backend."""
        yield self.local_path(key)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self._path(prefix), ignore_errors=True)


class S3Storage(Storage):
    """Objects in one bucket of an S3-compatible store (SeaweedFS, MinIO, AWS S3) through boto3."""

    def __init__(self, client: Any, bucket: str):
        self.client = client
        self.bucket = bucket

    def check_ready(self) -> None:
        """The bucket exists (make up's SeaweedFS creates it a few seconds after it starts)."""
        self.client.head_bucket(Bucket=self.bucket)

    def save(self, key: str, stream: BinaryIO, max_bytes: Optional[int] = None) -> int:
        """Stream to the bucket part by part; the object appears only once the upload completes.

        Small files go in one PUT. Larger ones go as a multipart upload with one part in memory at
        a time, aborted on any error (the limit included), so a refused upload leaves no object.
        """
        key = checked_key(key)
        part = read_limited(stream, PART_SIZE, 0, max_bytes)
        if len(part) < PART_SIZE:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=bytes(part))
            return len(part)
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        try:
            size = self._upload_parts(key, upload_id, part, stream, max_bytes)
        except BaseException:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise
        return size

    def _upload_parts(self, key: str, upload_id: str, part: bytearray, stream: BinaryIO,
                      max_bytes: Optional[int]) -> int:
        """Send ``part`` and the rest of ``stream`` as numbered parts, then complete the upload."""
        done, size = [], 0
        while part:
            number = len(done) + 1
            reply = self.client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                            PartNumber=number, Body=part)
            done.append({"PartNumber": number, "ETag": reply["ETag"]})
            size += len(part)
            part.clear()  # free the sent part (the caller holds it too) before reading the next
            part = read_limited(stream, PART_SIZE, size, max_bytes)
        self.client.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                              MultipartUpload={"Parts": done})
        return size

    def _missing(self, error: Exception) -> bool:
        code = getattr(error, "response", {}).get("Error", {}).get("Code")
        return code in ("404", "NoSuchKey", "NotFound")

    def size(self, key: str) -> int:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=checked_key(key))["ContentLength"]
        except Exception as exc:
            if self._missing(exc):
                raise FileNotFoundError(key) from None
            raise

    def iter_bytes(self, key: str, start: int = 0, stop: Optional[int] = None) -> Iterator[bytes]:
        if stop is not None and stop <= start:
            return
        extra = {}
        if start or stop is not None:
            extra["Range"] = f"bytes={start}-{'' if stop is None else stop - 1}"
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=checked_key(key), **extra)["Body"]
        except Exception as exc:
            if self._missing(exc):
                raise FileNotFoundError(key) from None
            raise
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        """A temporary copy, downloaded block by block and removed after the ``with`` block.

        It keeps the key's file name, as the local backend's path does: a check that reads the
        format from the name (a document to translate) must see the same name on either backend.
        """
        folder = Path(tempfile.mkdtemp(prefix="conveyor-s3-"))
        path = folder / PurePosixPath(checked_key(key)).name
        try:
            with open(path, "wb") as out:
                for block in self.iter_bytes(key):
                    out.write(block)
            yield path
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def presigned_get(self, key: str, seconds: int = PRESIGN_SECONDS) -> Optional[str]:
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": checked_key(key)}, ExpiresIn=seconds)

    def presigned_put(self, key: str, seconds: int = PRESIGN_SECONDS) -> Optional[str]:
        return self.client.generate_presigned_url(
            "put_object", Params={"Bucket": self.bucket, "Key": checked_key(key)}, ExpiresIn=seconds)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=checked_key(key))

    def delete_prefix(self, prefix: str) -> None:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=checked_key(prefix) + "/")
        for page in pages:  # at most 1000 keys a page, DeleteObjects' own cap
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})


@functools.lru_cache(maxsize=8)
def s3_client(endpoint: str, region: str, access_key: str, secret_key: str) -> Any:
    """One boto3 client per store and identity (building one costs tens of ms; they are thread-safe)."""
    import boto3
    from botocore.config import Config as BotoConfig

    options = BotoConfig(
        # SeaweedFS and MinIO answer on one host name: buckets go in the path, not the host.
        s3={"addressing_style": "path" if endpoint else "auto"},
        # Checksums only where S3 requires them: not every S3-compatible store knows the newer ones.
        request_checksum_calculation="when_required", response_checksum_validation="when_required",
        retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60)
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint or None, region_name=region or None,
        aws_access_key_id=access_key or None, aws_secret_access_key=secret_key or None, config=options)


def storage_from_config(config: Any) -> Storage:
    """The backend ``CONVEYOR_STORAGE`` names, built from a Config or a Flask app's config."""
    settings: Mapping[str, Any] = settings_of(config)
    backend = settings["STORAGE"]
    if backend == "local":
        return LocalStorage(settings["STORAGE_DIR"])
    if backend == "s3":
        client = s3_client(settings["S3_ENDPOINT"], settings["S3_REGION"], settings["S3_ACCESS_KEY"],
                           settings["S3_SECRET_KEY"])
        return S3Storage(client, settings["S3_BUCKET"])
    raise ValueError(f"CONVEYOR_STORAGE is {backend!r}; expected one of {', '.join(BACKENDS)}")
