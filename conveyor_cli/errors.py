"""Errors the CLI expects, each with the exit code it ends the command with (no tracebacks)."""

from __future__ import annotations

from typing import Any

EXIT_OK = 0
EXIT_API_ERROR = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
# A job that ended failed, cancelled or partial is a failure of the command like a refusal.
EXIT_JOB_UNSUCCESSFUL = EXIT_API_ERROR


class CliError(Exception):
    """A failure to report in one line on stderr, ending the command with ``exit_code``."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class ApiError(CliError):
    """The API answered with its error envelope ``{code, status, message, errors?}``."""

    exit_code = EXIT_API_ERROR

    def __init__(self, status: int, message: str, errors: Any = None):
        super().__init__(message)
        self.status = status
        self.errors = errors

    def __str__(self) -> str:
        # One line, so that `2>err.txt` or a log keeps the whole reason together.
        details = "; ".join(f"{field}: {problem}" for field, problem in _field_problems(self.errors))
        return f"{self.args[0]} (HTTP {self.status})" + (f": {details}" if details else "")


def _field_problems(errors: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Marshmallow's nested ``{"json": {"field": ["message"]}}`` as (field, message) pairs."""
    if isinstance(errors, dict):
        pairs = []
        for key, value in errors.items():
            # "json", "form" and "query" name where the field was, not the field itself.
            name = (
                prefix
                if key in ("json", "form", "query", "files")
                else f"{prefix}.{key}".lstrip(".")
            )
            pairs.extend(_field_problems(value, name))
        return pairs
    if isinstance(errors, list) and all(isinstance(item, str) for item in errors):
        return [(prefix or "request", " ".join(errors))]
    if isinstance(errors, str):
        return [(prefix or "request", errors)]
    return []
