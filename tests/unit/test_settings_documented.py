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

Names set for a third-party library rather than read for Conveyor are in ``NOT_SETTINGS``.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Python and ${...} files whose environment names are settings; directories, not file lists.
PYTHON_DIRS = ("services", "shared", "scripts", "deploy")
SHELL_GLOBS = ("scripts/**/*.sh", "deploy/**/*.yml")

NOT_SETTINGS = {
    # services/asr_worker/engines.py sets it (setdefault) so huggingface_hub never goes online;
    # it is huggingface's switch, not something an operator of Conveyor configures.
    "HF_HUB_OFFLINE",
}

# Modules other than shared/config.py allowed to touch os.environ, and for which names.
ENV_READERS_ALLOWED = {
    "shared/config.py": None,  # any name: this is the one home of settings
    "services/asr_worker/engines.py": {"HF_HUB_OFFLINE"},  # sets a library switch, reads nothing
}

_SHELL_VAR = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)")
_DOCUMENTED = re.compile(r"^[ \t]*(?:#[ \t]*)?([A-Z_][A-Z0-9_]*)=", re.M)
_ENVIRON_METHODS = {"get", "setdefault"}


def _is_environ(node: ast.AST) -> bool:
    """``os.environ`` or a bare ``environ`` (from os import environ)."""
    if isinstance(node, ast.Attribute):
        return node.attr == "environ" and isinstance(node.value, ast.Name) and node.value.id == "os"
    return isinstance(node, ast.Name) and node.id == "environ"


def _string_constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "literal"`` assignments, so ``os.environ.get(MODELS_DIR_ENV)`` resolves."""
    found = {}
    for node in tree.body:
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node.value.value
    return found


def python_env_reads(source: str) -> list[tuple[str, str]]:
    """(name, how) for each environment name the source reads; ``how`` is "environ" or "helper"."""
    tree = ast.parse(source)
    constants = _string_constants(tree)

    def name_of(arg: ast.AST) -> str | None:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            return arg.value
        if isinstance(arg, ast.Name):
            return constants.get(arg.id)
        return None

    reads = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            func, how = node.func, None
            if isinstance(func, ast.Attribute) and func.attr in _ENVIRON_METHODS and _is_environ(func.value):
                how = "environ"
            elif (isinstance(func, ast.Attribute) and func.attr == "getenv"
                  and isinstance(func.value, ast.Name) and func.value.id == "os"):
                how = "environ"
            elif isinstance(func, ast.Name) and func.id.startswith("_env"):
                how = "helper"
            if how and name_of(node.args[0]):
                reads.append((name_of(node.args[0]), how))
        elif (isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load)
              and _is_environ(node.value) and name_of(node.slice)):
            reads.append((name_of(node.slice), "environ"))
    return reads


def shell_env_reads(text: str) -> set[str]:
    """Upper-case names referenced as ``${NAME}``, ``${NAME:-default}`` or ``${NAME:?message}``."""
    # Whole-line comments are prose (compose's header explains `${NAME:?...}` in general).
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return set(_SHELL_VAR.findall(code))


def names_read(root: Path) -> dict[str, set[str]]:
    """Every environment name read under ``root``, with the files (relative paths) that read it."""
    readers: dict[str, set[str]] = {}
    files = [(path, "py") for folder in PYTHON_DIRS for path in (root / folder).rglob("*.py")]
    files += [(path, "sh") for pattern in SHELL_GLOBS for path in root.glob(pattern)]
    for path, language in files:
        text = path.read_text(encoding="utf-8")
        names = ({name for name, _how in python_env_reads(text)} if language == "py"
                 else shell_env_reads(text))
        for name in names - NOT_SETTINGS:
            readers.setdefault(name, set()).add(path.relative_to(root).as_posix())
    return readers


def environ_readers(root: Path) -> dict[str, set[str]]:
    """Python files under services/ and shared/ that use os.environ directly, with the names."""
    found: dict[str, set[str]] = {}
    for folder in ("services", "shared"):
        for path in (root / folder).rglob("*.py"):
            names = {name for name, how in python_env_reads(path.read_text(encoding="utf-8"))
                     if how == "environ"}
            if names:
                found[path.relative_to(root).as_posix()] = names
    return found


def documented_names(env_example: str) -> set[str]:
    """Names that .env.example sets, including commented-out ``# NAME=default`` lines."""
    return set(_DOCUMENTED.findall(env_example))


def compare(read: set[str], documented: set[str]) -> tuple[set[str], set[str]]:
    """(read but not documented, documented but not read)."""
    return read - documented, documented - read


def unexpected_environ_readers(readers: dict[str, set[str]]) -> dict[str, set[str]]:
    """The files (and names) that read os.environ although ENV_READERS_ALLOWED does not let them."""
    unexpected = {}
    for path, names in readers.items():
        allowed = ENV_READERS_ALLOWED.get(path, set())
        extra = set() if allowed is None else names - allowed
        if extra:
            unexpected[path] = extra
    return unexpected


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
