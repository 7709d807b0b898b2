"""requirements.lock pins what the requirements files ask for (HARDENING: exact versions, hash-checked)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from scripts.lock_requirements import blocks, normalise

ROOT = Path(__file__).resolve().parents[2]
LOCKED = blocks((ROOT / "requirements.lock").read_text())


def requirements(path: Path) -> list[Requirement]:
    """The requirements of ``path`` and of the files it includes with ``-r``."""
    found = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            found += requirements(path.parent / line[3:].strip())
        elif line and not line.startswith("-"):
            found.append(Requirement(line))
    return found


ASKED = requirements(ROOT / "requirements-dev.txt") + requirements(ROOT / "requirements-nodeps.txt")


@pytest.mark.parametrize("requirement", ASKED, ids=str)
def test_each_requirement_is_locked_at_a_version_it_allows(requirement):
    entry = LOCKED.get(normalise(requirement.name))
    assert entry, f"{requirement.name} is not in requirements.lock: run `make lock`"
    version = re.match(r"\S+==(\S+)", entry).group(1)
    assert requirement.specifier.contains(version, prereleases=True), \
        f"requirements.lock has {requirement.name}=={version}, outside {requirement.specifier}: run `make lock`"


def test_every_locked_package_carries_a_sha256_hash():
    unhashed = [name for name, entry in LOCKED.items() if "--hash=sha256:" not in entry]
    assert LOCKED and unhashed == []
