"""The three floors hold (README, "Layout"): processes in services/, kind contracts in shared/kinds/,
and a library in shared/ that runs nothing.

Each rule is a function over a source tree, so it is tested twice: on a small tree made here
with one violation each (the rule must see it), and on the project itself (it must see none).
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]

# What a kind contract may not pull in: engines, subprocesses, the broker, the web framework.
ENGINE_MODULES = {"faster_whisper", "ctranslate2", "vosk", "cv2", "onnxruntime", "ai_edge_litert",
                  "argostranslate", "moviepy", "imageio_ffmpeg", "rapidocr_onnxruntime",
                  "subprocess", "pika", "flask", "sqlalchemy", "requests"}


def _modules(root: Path, package: str) -> Iterator[tuple[str, Path, ast.Module]]:
    """(dotted name, path, syntax tree) of every module under ``root/package``."""
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts), path, ast.parse(path.read_text(), str(path))


def _imports(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in ``tree``, however deep in a function."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:  # `from services import api` names a service too
                yield node.lineno, f"{node.module}.{alias.name}"


def _service_of(module: str) -> str | None:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "services" and len(parts) > 1 else None


def cross_service_imports(root: Path) -> list[str]:
    """Imports from one service of another (services/<a> importing services/<b>)."""
    found = []
    for name, path, tree in _modules(root, "services"):
        own = _service_of(name)
        for line, target in _imports(tree):
            other = _service_of(target)
            if own and other and other != own:
                found.append(f"{path.relative_to(root)}:{line} imports {target}")
    return sorted(set(found))


def library_imports_of_services(root: Path) -> list[str]:
    """Imports of a service by the shared library."""
    return sorted({f"{path.relative_to(root)}:{line} imports {target}"
                   for _, path, tree in _modules(root, "shared")
                   for line, target in _imports(tree) if target.split(".")[0] == "services"})


def engine_imports_in_contracts(root: Path) -> list[str]:
    """Imports of an engine, a subprocess, the broker or Flask by a kind contract (shared/kinds)."""
    return sorted({f"{path.relative_to(root)}:{line} imports {target}"
                   for _, path, tree in _modules(root, "shared/kinds")
                   for line, target in _imports(tree) if target.split(".")[0] in ENGINE_MODULES})


def runnable_library_modules(root: Path) -> list[str]:
    """Library modules that run as a process (a ``__main__`` module or guard)."""
    found = []
    for _, path, tree in _modules(root, "shared"):
        if path.name == "__main__.py":
            found.append(str(path.relative_to(root)))
        for node in tree.body:
            if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test):
                found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def commits_outside_units_of_work(root: Path) -> list[str]:
    """``.commit()`` calls anywhere but shared/db.py, where units of work commit (see its docstring)."""
    found = []
    for package in ("services", "shared"):
        for _, path, tree in _modules(root, package):
            if path.relative_to(root) == Path("shared/db.py"):
                continue
            found += [f"{path.relative_to(root)}:{node.lineno}" for node in ast.walk(tree)
                      if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                      and node.func.attr == "commit"]
    return found


def clocks(root: Path) -> list[str]:
    """Where ``utcnow`` is defined or imported from anywhere but shared/clock.py."""
    found = []
    for package in ("services", "shared"):
        for _, path, tree in _modules(root, package):
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef) and node.name == "utcnow" \
                        and path.relative_to(root) != Path("shared/clock.py"):
                    found.append(f"{path.relative_to(root)}:{node.lineno} defines utcnow")
                elif isinstance(node, ast.ImportFrom) and node.module != "shared.clock" \
                        and any(alias.name == "utcnow" for alias in node.names):
                    found.append(f"{path.relative_to(root)}:{node.lineno} imports utcnow from {node.module}")
                elif isinstance(node, ast.Attribute) and node.attr == "utcnow" \
                        and isinstance(node.value, ast.Name) and node.value.id == "jobflow":
                    found.append(f"{path.relative_to(root)}:{node.lineno} uses jobflow.utcnow")
    return found


RULES = [cross_service_imports, library_imports_of_services, engine_imports_in_contracts,
         runnable_library_modules, commits_outside_units_of_work, clocks]


@pytest.fixture
def broken_tree(tmp_path: Path) -> Path:
    """A tiny project that breaks every rule once."""
    files = {
        "services/__init__.py": "",
        "services/api/__init__.py": "def late():\n    from services.asr_worker import engines\n",
        "services/api/views.py": "from shared.db import db\n\ndef view():\n    db.session.commit()\n",
        "services/asr_worker/__init__.py": "",
        "services/asr_worker/engines.py": "import vosk\n",
        "shared/__init__.py": "",
        "shared/db.py": "def transaction(session):\n    session.commit()\n",
        "shared/cli.py": "from services.auth import services\n\nif __name__ == '__main__':\n    pass\n",
        "shared/clock.py": "def utcnow():\n    pass\n",
        "shared/flow.py": "from shared import jobflow\n\ndef utcnow():\n    return jobflow.utcnow()\n",
        "shared/kinds/__init__.py": "",
        "shared/kinds/asr.py": "import subprocess\nfrom faster_whisper import WhisperModel\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_each_rule_sees_its_violation(broken_tree):
    assert cross_service_imports(broken_tree) == [
        "services/api/__init__.py:2 imports services.asr_worker",
        "services/api/__init__.py:2 imports services.asr_worker.engines"]
    assert library_imports_of_services(broken_tree) == [
        "shared/cli.py:1 imports services.auth", "shared/cli.py:1 imports services.auth.services"]
    assert engine_imports_in_contracts(broken_tree) == [
        "shared/kinds/asr.py:1 imports subprocess", "shared/kinds/asr.py:2 imports faster_whisper",
        "shared/kinds/asr.py:2 imports faster_whisper.WhisperModel"]
    assert runnable_library_modules(broken_tree) == ["shared/cli.py:3"]
    assert commits_outside_units_of_work(broken_tree) == ["services/api/views.py:4"]
    assert clocks(broken_tree) == ["shared/flow.py:3 defines utcnow", "shared/flow.py:4 uses jobflow.utcnow"]


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.__name__)
def test_the_project_keeps_the_rule(rule):
    assert rule(ROOT) == []
