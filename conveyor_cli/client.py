"""HTTP access to one Conveyor server: credentials on every request, one token refresh on a 401."""

from __future__ import annotations

import logging
from typing import Any, Optional

import requests

from conveyor_cli.credentials import CredentialStore
from conveyor_cli.errors import EXIT_API_ERROR, EXIT_UNREACHABLE, ApiError, CliError

LOGGER = logging.getLogger(__name__)

# (connect, read) seconds; the read timeout is the longest silence tolerated between two bytes.
TIMEOUT = (10, 120)


class NotLoggedIn(CliError):
    """No usable login for the server: the user has to run ``conveyor login``."""

    exit_code = EXIT_API_ERROR


def error_from_response(response: requests.Response) -> ApiError:
    """The API's error envelope as an ApiError (the bare HTTP status when the body is not one)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("message"):
        return ApiError(response.status_code, str(body["message"]), body.get("errors"))
    if isinstance(body, dict) and body.get("detail"):
        return ApiError(response.status_code, str(body["detail"]))
    return ApiError(
        response.status_code,
        f"{response.status_code} {response.reason or 'error'} from {response.url}",
    )


class ApiClient:
    """Requests to ``base_url`` with the stored login for it; raises ApiError for error replies."""

    def __init__(
        self, base_url: str, store: CredentialStore, session: Optional[requests.Session] = None
    ):
        self.base_url = base_url.rstrip("/")
        self.store = store
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = "conveyor-cli"

    def url(self, path: str) -> str:
        return self.base_url + path

    def _auth_headers(self) -> dict[str, str]:
        login = self.store.get(self.base_url)
        if login.get("api_key"):
            return {"X-API-Key": login["api_key"]}
        if login.get("access_token"):
            return {"Authorization": f"Bearer {login['access_token']}"}
        raise NotLoggedIn(f"Not logged in to {self.base_url}; run `conveyor login` first.")

    def _send(
        self, method: str, path: str, headers: dict[str, str], **kwargs: Any
    ) -> requests.Response:
        kwargs.setdefault("timeout", TIMEOUT)
        try:
            return self.session.request(method, self.url(path), headers=headers, **kwargs)
        except requests.ConnectionError as exc:
            raise CliError(
                f"Cannot reach {self.base_url} ({_reason(exc)}). Is the stack running (`make up`)? "
                "Point --url or CONVEYOR_URL at it.",
                EXIT_UNREACHABLE,
            ) from exc
        except requests.Timeout as exc:
            raise CliError(f"{self.base_url} did not answer in time.", EXIT_UNREACHABLE) from exc

    def request(
        self, method: str, path: str, *, auth: bool = True, **kwargs: Any
    ) -> requests.Response:
        """Send a request; on a 401 with a stored refresh token, refresh once and send it again."""
        extra = kwargs.pop("headers", {})
        headers = {**(self._auth_headers() if auth else {}), **extra}
        response = self._send(method, path, headers, **kwargs)
        if (
            response.status_code == 401
            and auth
            and self.store.get(self.base_url).get("refresh_token")
        ):
            response.close()
            self.refresh()
            _rewind_files(kwargs.get("files"))
            response = self._send(method, path, {**self._auth_headers(), **extra}, **kwargs)
        if response.status_code >= 400:
            error = error_from_response(response)
            response.close()
            if response.status_code == 401 and auth:
                raise NotLoggedIn(f"{error.args[0]} Run `conveyor login` again.")
            raise error
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """The decoded JSON body of a successful request (None for 204)."""
        response = self.request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise CliError(
                f"{self.url(path)} did not answer with JSON; is --url the gateway's address?",
                EXIT_UNREACHABLE,
            ) from exc

    def refresh(self) -> None:
        """Swap the stored refresh token for a new token pair (the old one becomes void)."""
        login = self.store.get(self.base_url)
        LOGGER.debug("access token refused; refreshing it")
        response = self._send(
            "POST", "/auth/v1/refresh", {"Authorization": f"Bearer {login['refresh_token']}"}
        )
        if response.status_code != 200:
            message = error_from_response(response).args[0]
            raise NotLoggedIn(
                f"Your login to {self.base_url} has expired ({message}); "
                "run `conveyor login` again."
            )
        tokens = response.json()
        self.store.put(
            self.base_url,
            {
                **login,
                "access_token": tokens["access_token"],
                "refresh_token": tokens["refresh_token"],
            },
            make_current=False,
        )


def _rewind_files(files: Any) -> None:
    """Put upload streams back at their start, so a request can be sent a second time."""
    for value in (files or {}).values():
        stream = value[1] if isinstance(value, tuple) else value
        if hasattr(stream, "seek"):
            stream.seek(0)


def _reason(exc: requests.ConnectionError) -> str:
    text = str(exc)
    for known in (
        "Connection refused",
        "Name or service not known",
        "No route to host",
        "Temporary failure in name resolution",
    ):
        if known in text:
            return known.lower()
    return "connection failed"
