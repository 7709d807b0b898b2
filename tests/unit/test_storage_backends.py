"""Both storage backends keep one contract: the local directory, and S3 against a real SeaweedFS.

Each test runs on both (``store`` is parametrized), so a behaviour a caller relies on (atomic saves,
the byte limit, ranges, prefix deletes) cannot hold on one backend and silently differ on the other.
"""
from __future__ import annotations

import io
import os
import tracemalloc
import uuid

import pytest
from botocore.exceptions import ClientError

from shared.storage import (
    LocalStorage,
    S3Storage,
    StorageLimitExceeded,
    checked_key,
    s3_client,
    storage_from_config,
)

MIB = 1024 * 1024


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    """A backend with its own empty folder (a fresh key prefix in the shared test bucket for S3)."""
    if request.param == "local":
        return LocalStorage(tmp_path / "files")
    settings = request.getfixturevalue("seaweedfs")
    return storage_from_config({**settings, "STORAGE_DIR": tmp_path})


@pytest.fixture
def folder() -> str:
    return f"jobs/{uuid.uuid4()}"


def read_all(store, key, start=0, stop=None) -> bytes:
    return b"".join(store.iter_bytes(key, start, stop))


def pending_uploads(store) -> list:
    """Multipart uploads begun but neither completed nor aborted (S3 only; none for a directory)."""
    if not isinstance(store, S3Storage):
        return []
    return store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", [])


class BreaksAfter(io.RawIOBase):
    """A client that hangs up: ``limit`` bytes of pattern, then a connection error."""

    def __init__(self, limit: int):
        self.left = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.left <= 0:
            raise ConnectionResetError("client went away")
        count = min(len(buffer), self.left)
        buffer[:count] = b"z" * count
        self.left -= count
        return count


class Pattern(io.RawIOBase):
    """``size`` bytes made on demand (so the test itself holds no big buffer)."""

    def __init__(self, size: int):
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = min(len(buffer), self.left)
        buffer[:count] = b"q" * count
        self.left -= count
        return count


def test_a_small_file_comes_back_whole_with_its_size(store, folder):
    data = os.urandom(3000)

    assert store.save(f"{folder}/input/a.bin", io.BytesIO(data)) == 3000

    assert store.size(f"{folder}/input/a.bin") == 3000
    assert read_all(store, f"{folder}/input/a.bin") == data


def test_an_empty_file_is_stored_and_read_back(store, folder):
    assert store.save(f"{folder}/empty", io.BytesIO(b"")) == 0

    assert store.size(f"{folder}/empty") == 0
    assert read_all(store, f"{folder}/empty") == b""


def test_a_file_of_several_parts_comes_back_byte_for_byte(store, folder):
    data = os.urandom(17 * MIB + 123)  # three 8 MiB parts on S3, the last one short

    assert store.save(f"{folder}/big.bin", io.BytesIO(data)) == len(data)

    assert store.size(f"{folder}/big.bin") == len(data)
    assert read_all(store, f"{folder}/big.bin") == data
    assert pending_uploads(store) == []


@pytest.mark.parametrize("start, stop", [(0, 1), (5, 5), (1000, 2 * MIB + 7), (9 * MIB - 3, None),
                                         (9 * MIB - 1, 9 * MIB)])
def test_a_byte_range_is_exactly_those_bytes(store, folder, start, stop):
    data = os.urandom(9 * MIB)
    store.save(f"{folder}/range.bin", io.BytesIO(data))

    assert read_all(store, f"{folder}/range.bin", start, stop) == data[start:stop]


def test_saving_again_replaces_the_file(store, folder):
    store.save(f"{folder}/out.txt", io.BytesIO(b"first version"))
    store.save(f"{folder}/out.txt", io.BytesIO(b"second"))

    assert read_all(store, f"{folder}/out.txt") == b"second"


@pytest.mark.parametrize("size, limit", [(2000, 1999), (10 * MIB, 9 * MIB)])
def test_a_stream_over_the_limit_is_refused_and_leaves_nothing(store, folder, size, limit):
    with pytest.raises(StorageLimitExceeded):
        store.save(f"{folder}/too-big", Pattern(size), max_bytes=limit)

    with pytest.raises(FileNotFoundError):
        store.size(f"{folder}/too-big")
    assert pending_uploads(store) == []


def test_a_stream_exactly_at_the_limit_is_stored(store, folder):
    assert store.save(f"{folder}/just-fits", Pattern(2000), max_bytes=2000) == 2000


@pytest.mark.parametrize("broken_after", [100, 12 * MIB])
def test_an_aborted_upload_keeps_the_previous_version_and_leaves_no_trace(store, folder, broken_after):
    store.save(f"{folder}/artifact", io.BytesIO(b"complete version"))

    with pytest.raises(ConnectionResetError):
        store.save(f"{folder}/artifact", BreaksAfter(broken_after))

    assert read_all(store, f"{folder}/artifact") == b"complete version"
    assert pending_uploads(store) == []
    if isinstance(store, LocalStorage):
        assert sorted(p.name for p in (store.root / folder).iterdir()) == ["artifact"]


def test_delete_prefix_removes_the_folder_and_only_it(store, folder):
    for key in ("input/a.wav", "artifacts/out.webm", "artifacts/deep/x.txt"):
        store.save(f"{folder}/{key}", io.BytesIO(b"x"))
    store.save(f"{folder}x/neighbour", io.BytesIO(b"kept"))  # shares the prefix's text, not its folder

    store.delete_prefix(folder)

    for key in ("input/a.wav", "artifacts/out.webm", "artifacts/deep/x.txt"):
        with pytest.raises(FileNotFoundError):
            store.size(f"{folder}/{key}")
    assert read_all(store, f"{folder}x/neighbour") == b"kept"
    store.delete_prefix(folder)  # again: nothing left, no error


def test_delete_removes_one_file_and_a_missing_one_is_no_error(store, folder):
    store.save(f"{folder}/a", io.BytesIO(b"a"))
    store.save(f"{folder}/b", io.BytesIO(b"b"))

    store.delete(f"{folder}/a")
    store.delete(f"{folder}/a")

    with pytest.raises(FileNotFoundError):
        store.size(f"{folder}/a")
    assert read_all(store, f"{folder}/b") == b"b"


def test_a_missing_key_is_file_not_found(store, folder):
    with pytest.raises(FileNotFoundError):
        store.size(f"{folder}/nothing")
    with pytest.raises(FileNotFoundError):
        read_all(store, f"{folder}/nothing")


def test_a_local_copy_holds_the_bytes_and_s3_removes_it_afterwards(store, folder):
    data = os.urandom(50_000)
    store.save(f"{folder}/probe.mp4", io.BytesIO(data))

    with store.local_copy(f"{folder}/probe.mp4") as path:
        assert path.read_bytes() == data

    assert path.exists() == isinstance(store, LocalStorage)  # the directory lends its own file


@pytest.mark.parametrize("key", ["", "/etc/passwd", "jobs/../../etc", "jobs//x", "jobs/./x", "a\\b"])
def test_keys_that_could_leave_their_folder_are_refused(store, key):
    with pytest.raises(ValueError):
        store.save(key, io.BytesIO(b"x"))


def test_saving_to_s3_keeps_memory_flat(seaweedfs, tmp_path, folder):
    store = storage_from_config({**seaweedfs, "STORAGE_DIR": tmp_path})
    tracemalloc.start()
    try:
        store.save(f"{folder}/flat.bin", Pattern(64 * MIB))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert store.size(f"{folder}/flat.bin") == 64 * MIB
    assert peak < 16 * MIB, f"peak {peak / MIB:.1f} MiB for a 64 MiB upload"


def test_the_factory_picks_the_configured_backend(tmp_path, seaweedfs):
    assert isinstance(storage_from_config({"STORAGE": "local", "STORAGE_DIR": tmp_path}), LocalStorage)
    s3 = storage_from_config({**seaweedfs, "STORAGE_DIR": tmp_path})
    assert isinstance(s3, S3Storage) and s3.bucket == seaweedfs["S3_BUCKET"]
    # One client per store and identity: building one per request would cost more than the request.
    assert s3.client is storage_from_config({**seaweedfs, "STORAGE_DIR": tmp_path}).client
    with pytest.raises(ValueError, match="CONVEYOR_STORAGE"):
        storage_from_config({"STORAGE": "ftp", "STORAGE_DIR": tmp_path})


def test_wrong_s3_credentials_are_refused_by_the_store(seaweedfs, folder):
    client = s3_client(seaweedfs["S3_ENDPOINT"], "us-east-1", seaweedfs["S3_ACCESS_KEY"], "not-the-secret")
    with pytest.raises(Exception, match="SignatureDoesNotMatch|AccessDenied|InvalidAccessKeyId"):
        S3Storage(client, seaweedfs["S3_BUCKET"]).save(f"{folder}/x", io.BytesIO(b"x"))


def test_checked_key_accepts_the_keys_the_api_makes():
    key = f"jobs/{uuid.uuid4()}/artifacts/out.webm"
    assert checked_key(key) == key


def test_ready_once_files_can_be_stored_and_not_before(seaweedfs, tmp_path):
    # make up's SeaweedFS creates its bucket seconds after it starts: /readyz must wait for it.
    client = s3_client(seaweedfs["S3_ENDPOINT"], seaweedfs["S3_REGION"], seaweedfs["S3_ACCESS_KEY"],
                       seaweedfs["S3_SECRET_KEY"])
    missing_bucket = S3Storage(client, f"not-yet-{uuid.uuid4().hex[:8]}")
    with pytest.raises(ClientError):
        missing_bucket.check_ready()
    missing_bucket.client.create_bucket(Bucket=missing_bucket.bucket)
    missing_bucket.check_ready()
    LocalStorage(tmp_path / "files").check_ready()
    assert (tmp_path / "files").is_dir()
