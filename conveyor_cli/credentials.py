"""Where the CLI keeps its logins: one JSON file only its owner can read, one entry per server."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Optional

from conveyor_cli.errors import CliError

DEFAULT_URL = "http://127.0.0.1:8000"


def credentials_path() -> Path:
    """``$XDG_CONFIG_HOME/conveyor/credentials.json`` (its default: ``~/.config``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "conveyor" / "credentials.json"


class CredentialStore:
    """Tokens or API keys per server URL, and which server the last login was to."""

    def __init__(self, path: Optional[Path] = None):
        self.path = path or credentials_path()
        self._data = self._read()

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {"current": None, "servers": {}}
        except (OSError, ValueError) as exc:
            raise CliError(f"Cannot read {self.path} ({exc}); delete it and log in again.") from exc
        data.setdefault("servers", {})
        data.setdefault("current", None)
        return data

    @property
    def current_url(self) -> Optional[str]:
        """The server of the last login, used when neither --url nor CONVEYOR_URL is given."""
        return self._data["current"]

    def get(self, url: str) -> dict[str, Any]:
        """The stored login for ``url`` (empty when there is none)."""
        return dict(self._data["servers"].get(url, {}))

    def put(self, url: str, entry: dict[str, Any], make_current: bool = True) -> None:
        """Store the login for ``url`` and save the file."""
        self._data["servers"][url] = entry
        if make_current:
            self._data["current"] = url
        self._save()

    def forget(self, url: str) -> bool:
        """Drop the login for ``url``; False when there was none."""
        if self._data["servers"].pop(url, None) is None:
            return False
        if self._data["current"] == url:
            self._data["current"] = None
        self._save()
        return True

    def _save(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkstemp creates the file 0600 before anything is written, so tokens are never
        # readable by others, not even for a moment; the rename keeps the old file whole on a crash.
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".credentials-")
        try:
            with os.fdopen(handle, "w") as stream:
                json.dump(self._data, stream, indent=2)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
