"""``.env.example`` documents every environment name Conveyor reads, and lists nothing that nothing reads.

Readers are found by scanning directories (so moved or new modules are covered without editing
this file):

* Python under ``services/``, ``shared/``, ``scripts/`` and ``deploy/`` (gunicorn.conf.py), parsed
  with ``ast``: the name given to ``os.environ.get``, ``os.environ[...]`` (read, not assignment),
  ``os.environ.setdefault``, ``os.getenv`` and shared.config's ``_env*`` helpers, as a string
  literal or a module-level string constant.
* ``${NAME...}`` in ``scripts/*.sh`` and ``deploy/*.yml``: docker compose and scripts/up.sh take
  POSTGRES_PASSWORD, CONVEYOR_PORT, ... from the operator's environment or ``.env``.

Not scanned, on purpose:

* ``conveyor_cli/`` is a separate client program on users' machines. Its ``CONVEYOR_URL`` (which
  server to talk to) and ``XDG_CONFIG_HOME`` (the XDG base-directory standard, where it keeps
  credentials) belong to the user's shell, not to a server's ``.env``.
* ``tests/`` and ``bench/`` build their own environments (CONVEYOR_TEST_DATABASE_URL, ...).

Names set for a third-party library rather than read for Conveyor are in ``NOT_SETTINGS``
(tests/env_names.py, which holds the scan).
"""
from __future__ import annotations

from pathlib import Path

from tests.env_names import (
    REPO,
    compare,
    documented_names,
    environ_readers,
    names_read,
    unexpected_environ_readers,
)

# --- the repository itself

def test_every_name_read_by_code_is_documented_in_env_example():
    readers = names_read(REPO)
    missing, _unread = compare(set(readers), documented_names((REPO / ".env.example").read_text()))
    assert not missing, "read by code but missing from .env.example: " + ", ".join(
        f"{name} ({', '.join(sorted(readers[name]))})" for name in sorted(missing))


def test_env_example_lists_nothing_that_nothing_reads():
    _missing, unread = compare(set(names_read(REPO)), documented_names((REPO / ".env.example").read_text()))
    assert not unread, f".env.example lists names that no code reads: {sorted(unread)}"


def test_settings_are_read_through_config_only():
    unexpected = unexpected_environ_readers(environ_readers(REPO))
    assert not unexpected, f"read os.environ instead of shared.config.Config: {unexpected}"


def test_the_scan_sees_config_and_compose_names():
    # Guards the scanner against silently finding nothing (e.g. after a directory is renamed).
    readers = names_read(REPO)
    assert "shared/config.py" in readers["CONVEYOR_SSE_MAX_SECONDS"]
    assert "deploy/docker-compose.yml" in readers["POSTGRES_PASSWORD"]
    assert "deploy/gunicorn.conf.py" in readers["GUNICORN_WORKERS"]


# --- the helpers, on a tiny fake tree

FAKE_MODULE = '''
import os
from os import environ
DIR_ENV = "FAKE_CONSTANT"
a = os.environ.get("FAKE_GET", "x")
b = os.getenv("FAKE_GETENV")
c = os.environ["FAKE_SUBSCRIPT"]
os.environ.setdefault("FAKE_SETDEFAULT", "1")
d = _env_int("FAKE_HELPER", 3)
e = os.environ.get(DIR_ENV)
f = environ.get("FAKE_BARE_ENVIRON")
os.environ["FAKE_ASSIGNED"] = "not a read"
g = {"FAKE_DICT": 1}.get("FAKE_DICT")
'''


def make_tree(root: Path) -> None:
    """A repository-shaped tree with one reader of each kind, nested a level deep."""
    (root / "services" / "moved").mkdir(parents=True)
    (root / "services" / "moved" / "cli.py").write_text(FAKE_MODULE)
    (root / "shared").mkdir()
    (root / "shared" / "config.py").write_text('X = _env("FAKE_CONFIG", "")\n')
    (root / "scripts").mkdir()
    (root / "scripts" / "up.sh").write_text('export P=${FAKE_SHELL:-1}\necho ${#lower[@]} ${lower}\n')
    (root / "deploy").mkdir()
    (root / "deploy" / "docker-compose.yml").write_text(
        '# a `${FAKE_IN_COMMENT:?...}` in prose is no read\nx: "${FAKE_COMPOSE:?set it}"\n')
    (root / "conveyor_cli").mkdir()
    (root / "conveyor_cli" / "main.py").write_text('import os\nos.environ.get("FAKE_CLIENT")\n')


def test_the_scan_finds_each_kind_of_read_and_nothing_else(tmp_path):
    make_tree(tmp_path)
    assert set(names_read(tmp_path)) == {
        "FAKE_CONSTANT", "FAKE_GET", "FAKE_GETENV", "FAKE_SUBSCRIPT", "FAKE_SETDEFAULT",
        "FAKE_HELPER", "FAKE_BARE_ENVIRON", "FAKE_CONFIG", "FAKE_SHELL", "FAKE_COMPOSE"}


def test_compare_reports_both_directions(tmp_path):
    make_tree(tmp_path)
    env_example = "\n".join([
        "# comment mentioning FAKE_GET=1 in prose does not document it",
        "FAKE_CONSTANT=1", "# FAKE_GETENV=optional", "FAKE_SUBSCRIPT=", "FAKE_SETDEFAULT=1",
        "FAKE_HELPER=3", "FAKE_BARE_ENVIRON=1", "FAKE_CONFIG=", "FAKE_SHELL=1",
        "FAKE_COMPOSE=", "FAKE_STALE=1"])
    missing, unread = compare(set(names_read(tmp_path)), documented_names(env_example))
    assert missing == {"FAKE_GET"}
    assert unread == {"FAKE_STALE"}


def test_direct_environ_reads_outside_config_are_reported(tmp_path):
    make_tree(tmp_path)
    unexpected = unexpected_environ_readers(environ_readers(tmp_path))
    # config.py's helper reads are fine; the moved module's direct reads are not.
    assert set(unexpected) == {"services/moved/cli.py"}
    assert "FAKE_HELPER" not in unexpected["services/moved/cli.py"]
    assert "FAKE_GET" in unexpected["services/moved/cli.py"]
