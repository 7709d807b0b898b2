"""The check of an uploaded Argos package: a real test-built package passes, unsafe or incomplete ones don't."""
from __future__ import annotations

import io
import json
import stat
import zipfile

import pytest

from shared.kinds.translate.argos_packages import PackageRefused, inspect_package
from tests.argos_package import build_package

TOP = "translate-la_en-1_0"
METADATA = {"package_version": "1.0", "from_code": "la", "to_code": "en", "type": "translate"}


@pytest.fixture(scope="module")
def real_package(tmp_path_factory):
    return build_package(tmp_path_factory.mktemp("argos-build"), "la", "en")


def make_zip(entries: dict[str, bytes | str], links: tuple[str, ...] = ()) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    buffer.seek(0)
    return buffer


def complete(**replace) -> dict[str, bytes | str]:
    entries = {f"{TOP}/metadata.json": json.dumps(METADATA), f"{TOP}/model/model.bin": b"\1" * 64,
               f"{TOP}/model/config.json": "{}", f"{TOP}/sentencepiece.model": b"\2" * 64}
    entries.update(replace)
    return {name: data for name, data in entries.items() if data is not None}


def test_a_package_built_with_the_real_tools_is_accepted(real_package):
    info = inspect_package(io.BytesIO(real_package))
    assert (info.top, info.name, info.source, info.target, info.version) == \
        ("translate-la_en-1_0", "argos-la-en", "la", "en", "1.0")


def test_three_letter_codes_are_stored_as_the_two_letter_ones():
    entries = complete(**{f"{TOP}/metadata.json": json.dumps({**METADATA, "from_code": "lat", "to_code": "eng"})})
    info = inspect_package(make_zip(entries))
    assert (info.source, info.target, info.name) == ("la", "en", "argos-la-en")


@pytest.mark.parametrize("entries, message", [
    (complete(**{f"{TOP}/metadata.json": None}), "lacks metadata.json"),
    (complete(**{f"{TOP}/model/model.bin": None}), "lacks model/model.bin"),
    (complete(**{f"{TOP}/sentencepiece.model": None}), "sentencepiece.model or bpe.model"),
    (complete(**{f"{TOP}/../evil.sh": "echo owned"}), "outside its folder"),
    (complete(**{"/etc/cron.d/evil": "* * * * * root sh"}), "outside its folder"),
    (complete(**{"other/metadata.json": "{}"}), "exactly one folder"),
    ({"metadata.json": json.dumps(METADATA), "model/model.bin": b"1", "sentencepiece.model": b"2"},
     "exactly one folder"),
    (complete(**{f"{TOP}/metadata.json": "{not json"}), "not valid JSON"),
    (complete(**{f"{TOP}/metadata.json": json.dumps({**METADATA, "to_code": "xx"})}), "unknown language code"),
    (complete(**{f"{TOP}/metadata.json": json.dumps({**METADATA, "to_code": "la"})}), "same language"),
    (complete(**{f"{TOP}/metadata.json": json.dumps({**METADATA, "type": "sbd"})}), "Only translation"),
])
def test_incomplete_or_unsafe_packages_are_refused_saying_why(entries, message):
    with pytest.raises(PackageRefused, match=message):
        inspect_package(make_zip(entries))


def test_a_link_inside_the_package_is_refused():
    with pytest.raises(PackageRefused, match="link or special file"):
        inspect_package(make_zip(complete(), links=(f"{TOP}/model/shared_vocabulary.json",)))


def test_something_that_is_not_a_zip_is_refused():
    with pytest.raises(PackageRefused, match="not a zip"):
        inspect_package(io.BytesIO(b"PK\3\4 this is not really a zip archive" * 10))


def test_a_zip_bomb_is_refused_before_anything_is_unpacked():
    with pytest.raises(PackageRefused, match="zip bomb"):
        inspect_package(make_zip(complete(**{f"{TOP}/model/model.bin": b"\0" * 20_000_000})))


def test_a_package_larger_than_the_limit_unpacked_is_refused():
    with pytest.raises(PackageRefused, match="would unpack to"):
        inspect_package(make_zip(complete()), max_unpacked_bytes=100)
