"""The Argos engine on a package built at test time: argostranslate loads and runs it; the worker's
engines route through it, alone or with Apertium, and see packages come and go without a restart."""
from __future__ import annotations

import io
import shutil
import zipfile

import pytest

from services.translate_worker.apertium import ApertiumTranslator, UnsupportedPairError, discover_modes
from services.translate_worker.argos_engine import ArgosTranslator, SentenceSplitter
from services.translate_worker.engines import Translators
from services.translate_worker.translate import process
from shared.handler import PermanentError
from shared.kinds.translate.engines import Hop
from tests.argos_package import build_package
from tests.fakes import FakeJobIO

needs_apertium = pytest.mark.skipif(
    shutil.which("apertium-wblank-mode") is None or not discover_modes().get(("en", "es")),
    reason="needs the Debian packages apertium and apertium-eng-spa")


@pytest.fixture(scope="module")
def package_bytes(tmp_path_factory):
    return build_package(tmp_path_factory.mktemp("argos-build"), "la", "en")


def unpack(package: bytes, directory, name="argos-la-en"):
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        top = archive.namelist()[0].split("/")[0]
        archive.extractall(directory / ".unpacking")
    (directory / ".unpacking" / top).rename(directory / name)
    shutil.rmtree(directory / ".unpacking")


@pytest.fixture
def packages_dir(tmp_path, package_bytes):
    unpack(package_bytes, tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def apertium():
    with ApertiumTranslator() as translator:
        yield translator


def make_job(text, source, target, **params):
    return {"id": "job-9", "kind": "translate", "number": 9, "input": None, "attempt": 1,
            "params": {"text": text, "source_lang": source, "target_lang": target, **params}}


def test_argostranslate_translates_with_the_test_built_package(packages_dir):
    argos = ArgosTranslator(packages_dir)
    assert argos.refresh() is True
    assert argos.pairs() == {("la", "en")}
    found = argos.translate("The cat is black. Where is the station?", "la", "en", alternatives=2)
    assert found and found[0].strip()
    assert 1 <= len(found) <= 3 and len(set(found)) == len(found)


def test_packages_installed_or_removed_are_seen_on_refresh(tmp_path, package_bytes):
    argos = ArgosTranslator(tmp_path)
    assert argos.refresh() is False and argos.pairs() == set()
    unpack(package_bytes, tmp_path)
    assert argos.refresh() is True and argos.pairs() == {("la", "en")}
    assert argos.refresh() is False
    shutil.rmtree(tmp_path / "argos-la-en")
    assert argos.refresh() is True and argos.pairs() == set()


def test_dot_folders_being_installed_are_not_packages(tmp_path, package_bytes):
    unpack(package_bytes, tmp_path, name=".incoming-1234")
    argos = ArgosTranslator(tmp_path)
    argos.refresh()
    assert argos.pairs() == set()


def test_the_sentence_splitter_cuts_after_final_punctuation():
    assert SentenceSplitter().split_sentences("One cat. Two dogs!  Three?\nFour") == \
        ["One cat.", "Two dogs!", "Three?", "Four"]


@needs_apertium
def test_a_job_naming_argos_runs_through_the_package(packages_dir, apertium):
    translators = Translators(apertium=apertium, argos=ArgosTranslator(packages_dir))
    io_ = FakeJobIO()
    result = process(make_job("The cat is black.", "la", "en", engine="argos", alternatives=2), io_, translators)
    assert result["translated_text"].strip()
    assert result["engines"] == ["argos"] and result["route"] == ["la", "en"]
    assert isinstance(result["alternatives"], list) and len(result["alternatives"]) <= 2
    assert result["translated_text"] not in result["alternatives"]
    assert io_.progress_events


@needs_apertium
def test_without_an_engine_a_pivot_crosses_from_argos_to_apertium(packages_dir, apertium):
    translators = Translators(apertium=apertium, argos=ArgosTranslator(packages_dir))
    assert translators.route("la", "es") == [Hop("la", "en", "argos"), Hop("en", "es", "apertium")]
    result = process(make_job("The cat is black.", "la", "es"), FakeJobIO(), translators)
    assert result["engines"] == ["argos", "apertium"] and result["route"] == ["la", "en", "es"]
    assert result["translated_text"].strip()
    assert "alternatives" not in result


@needs_apertium
def test_the_catalog_names_the_engines_of_each_pair(packages_dir, apertium):
    translators = Translators(apertium=apertium, argos=ArgosTranslator(packages_dir))
    entries = {(entry["source"], entry["target"]): entry for entry in translators.supported_pairs()}
    assert entries[("la", "en")]["engines"] == ["argos"]
    assert entries[("en", "es")]["engines"] == ["apertium"]
    assert entries[("la", "es")]["engines"] == [] and entries[("la", "es")]["via"] == ["en"]


@needs_apertium
def test_naming_an_engine_that_does_not_serve_the_pair_fails_permanently(packages_dir, apertium):
    translators = Translators(apertium=apertium, argos=ArgosTranslator(packages_dir))
    with pytest.raises(PermanentError, match="cannot translate la to es with argos"):
        process(make_job("The cat is black.", "la", "es", engine="argos"), FakeJobIO(), translators)
    with pytest.raises(UnsupportedPairError, match="cannot translate la to es with argos; direct pairs: la-en"):
        translators.route("la", "es", engine="argos")


def test_argostranslate_is_imported_without_a_home_and_without_the_users_settings(tmp_path):
    # The worker image's user has no home folder; a settings.json in ~/.config would change Argos's
    # device and beam size behind Conveyor's back. Neither may matter: a fresh process shows it.
    import subprocess
    import sys
    config = tmp_path / "home" / ".config" / "argos-translate"
    config.mkdir(parents=True)
    (config / "settings.json").write_text('{"ARGOS_BEAM_SIZE": "9"}')
    (tmp_path / "home").chmod(0o500)
    probe = ("from services.translate_worker.argos_engine import _import_argostranslate;"
             "import os; _, translate = _import_argostranslate();"
             "from argostranslate import settings;"
             "print(settings.beam_size, settings.data_dir.parent.parent.name.startswith('conveyor-argostranslate-'),"
             " 'XDG_DATA_HOME' in os.environ)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"),
                               "PYTHONPATH": str(__import__("pathlib").Path(__file__).resolve().parents[2])})
    (tmp_path / "home").chmod(0o700)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["4", "True", "False"]
    assert sorted(path.name for path in (tmp_path / "home").iterdir()) == [".config"]



def test_the_stanza_stand_in_looks_like_a_module_to_tools_walking_sys_modules():
    # hypothesis (schemathesis) asks every loaded module for __file__ with getattr(module, "__file__", None).
    from services.translate_worker.argos_engine import StanzaMissing, _StanzaStandIn
    stand_in = _StanzaStandIn("stanza")
    assert getattr(stand_in, "__file__", None) is None and not hasattr(stand_in, "__path__")
    with pytest.raises(StanzaMissing, match="splits sentences itself"):
        stand_in.Pipeline(lang="en")
