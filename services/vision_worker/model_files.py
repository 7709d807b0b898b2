"""Where the model files shipped inside installed packages live on disk."""
from __future__ import annotations

import importlib.util
from pathlib import Path


class ModelNotInstalled(RuntimeError):
    """A model's package or file is missing on this machine."""


def package_file(package: str, *parts: str) -> Path:
    """Path of a data file inside an installed package, found without importing the package."""
    # find_spec on a top-level name does not run the package's __init__, which for some model
    # packages imports things that are broken or absent (pkg_resources, cv2 from old bindings).
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotInstalled(f"Python package {package!r} is not installed")
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
    if not path.is_file():
        raise ModelNotInstalled(f"{path} is missing from package {package!r}")
    return path
