"""Where Conveyor reads environment names: a scan of the source tree, used by the settings and deploy tests.

See tests/unit/test_settings_documented.py for what is scanned, what is not, and why.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

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
