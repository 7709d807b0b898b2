"""Installing a checked package on disk: into place by rename, replacing the pair's older one, and
nothing left behind when the data turns out damaged or bigger than declared."""
from __future__ import annotations

import io
import json
import zipfile

import pytest

from services.api.translate_packages import install, installed_packages
from shared.kinds.translate.argos_packages import PackageRefused
from tests.argos_package import build_package


@pytest.fixture(scope="module")
def package_bytes(tmp_path_factory):
    return build_package(tmp_path_factory.mktemp("argos-build"), "la", "en")


def test_a_package_is_installed_under_its_pair_and_listed(tmp_path, package_bytes):
    done = install(io.BytesIO(package_bytes), tmp_path)
    assert (done["name"], done["source"], done["target"], done["replaced"]) == ("argos-la-en", "la", "en", False)
    assert (tmp_path / "argos-la-en" / "model" / "model.bin").is_file()
    assert json.loads((tmp_path / "argos-la-en" / "metadata.json").read_text())["from_code"] == "la"
    assert [entry["name"] for entry in installed_packages(tmp_path)] == ["argos-la-en"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["argos-la-en"]


def test_a_second_package_for_the_pair_replaces_the_first(tmp_path, package_bytes):
    install(io.BytesIO(package_bytes), tmp_path)
    (tmp_path / "argos-la-en" / "leftover.txt").write_text("from the old package")
    assert install(io.BytesIO(package_bytes), tmp_path)["replaced"] is True
    assert not (tmp_path / "argos-la-en" / "leftover.txt").exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["argos-la-en"]


def test_damaged_data_is_refused_and_leaves_nothing(tmp_path, package_bytes):
    archive = zipfile.ZipFile(io.BytesIO(package_bytes))
    model = archive.getinfo(next(name for name in archive.namelist() if name.endswith("model/model.bin")))
    damaged = bytearray(package_bytes)
    # Flip bytes inside model.bin's compressed data (past its 30-byte local header and name).
    start = model.header_offset + 30 + len(model.filename.encode()) + len(model.extra) + 10
    for offset in range(start, start + 20):
        damaged[offset] ^= 0xFF
    with pytest.raises(PackageRefused, match="damaged"):
        install(io.BytesIO(bytes(damaged)), tmp_path)
    assert list(tmp_path.iterdir()) == []
