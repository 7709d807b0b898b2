"""The worker's HTTP client for the internal worker API, with bounded retries."""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Optional

import requests

LOGGER = logging.getLogger(__name__)

RETRYABLE_STATUS = {502, 503, 504}
# Sent with the input request: "allowed" lets the API answer 307 to a presigned URL of the object
# store (S3), which this client then fetches without the worker secret.
DIRECT_DOWNLOAD_HEADER = "X-Direct-Download"


class ApiError(Exception):
    """The API answered with an error that retrying will not fix."""

    def __init__(self, status: int, message: str):
        super().__init__(f"{status}: {message}")
        self.status = status


class ApiUnavailable(Exception):
    """The API could not be reached (or kept answering 5xx) within the retry budget."""


class InternalApi:
    """Calls ``/internal/v1`` with the worker token; retries connection errors and 502-504."""

    def __init__(self, base_url: str, token: str, timeout: float = 30.0,
                 retry_seconds: float = 60.0):
        self.base_url = base_url.rstrip("/") + "/internal/v1"
        self.timeout = timeout
        self.retry_seconds = retry_seconds
        self.session = requests.Session()
        self.session.headers["X-Worker-Token"] = token

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        deadline = time.monotonic() + self.retry_seconds
        delay = 0.2
        while True:
            try:
                response = self.session.request(method, self.base_url + path, timeout=self.timeout, **kwargs)
                if response.status_code not in RETRYABLE_STATUS:
                    break
                problem = f"HTTP {response.status_code}"
            except requests.ConnectionError as exc:
                problem = f"connection error: {exc.__class__.__name__}"
            except requests.Timeout:
                problem = "timeout"
            if time.monotonic() + delay > deadline:
                raise ApiUnavailable(f"{method} {path}: {problem}")
            LOGGER.warning("%s %s: %s; retrying in %.1fs", method, path, problem, delay)
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
            body = kwargs.get("data")
            if hasattr(body, "seek"):
                body.seek(0)
        if response.status_code >= 400:
            try:
                message = response.json().get("message", response.text)
            except ValueError:
                message = response.text
            raise ApiError(response.status_code, message)
        return response

    def heartbeat(self, worker_id: str, kind: str, capabilities: dict[str, Any]) -> None:
        self._request("POST", f"/workers/{worker_id}/heartbeat", json={"kind": kind, "capabilities": capabilities})

    def worker_gone(self, worker_id: str, reason: str) -> None:
        """Tell the API that ``worker_id`` died (only its supervisor knows for sure)."""
        self._request("POST", f"/workers/{worker_id}/gone", json={"reason": reason})

    def claim(self, job_id: str, worker_id: str) -> dict[str, Any]:
        return self._request("POST", f"/jobs/{job_id}/claim", json={"worker_id": worker_id}).json()

    def download_input(self, job_id: str, claim_id: str, dest: Path) -> Path:
        response = self._request("GET", f"/jobs/{job_id}/input", stream=True, allow_redirects=False,
                                 headers={"X-Claim-Id": claim_id, DIRECT_DOWNLOAD_HEADER: "allowed"})
        if response.is_redirect:
            response.close()
            response = self._from_store(response.headers["Location"])
        with open(dest, "wb") as handle:
            for block in response.iter_content(1024 * 1024):
                handle.write(block)
        return dest

    def post_events(self, job_id: str, claim_id: str, events: list[dict[str, Any]]) -> bool:
        """Send events; return True when the job was cancelled."""
        reply = self._request("POST", f"/jobs/{job_id}/events", json={"claim_id": claim_id, "events": events})
        return bool(reply.json().get("cancelled"))

    def _from_store(self, url: str) -> requests.Response:
        """GET a presigned URL of the object store: a plain request, so the worker secret stays here."""
        try:
            response = requests.get(url, stream=True, timeout=self.timeout)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise ApiUnavailable(f"object store: {exc.__class__.__name__}") from None
        if response.status_code >= 400:
            raise ApiUnavailable(f"object store answered HTTP {response.status_code}")
        return response

    def upload_artifact(self, job_id: str, claim_id: str, name: str, path: Path, content_type: str) -> None:
        """Straight to the object store when the API hands out a presigned URL, else through the API."""
        route = f"/jobs/{job_id}/artifacts/{name}"
        try:
            url = self._request("POST", f"{route}/direct",
                                json={"claim_id": claim_id, "size": path.stat().st_size}).json()["url"]
        except ApiError as exc:
            if exc.status not in (404, 405):  # 404/405: an API without direct uploads
                raise
            url = None
        if url:
            self._to_store(url, path)
            self._request("POST", f"{route}/direct/done", json={"claim_id": claim_id, "content_type": content_type})
            return
        with open(path, "rb") as handle:
            self._request("PUT", route, data=handle, headers={"X-Claim-Id": claim_id, "Content-Type": content_type})

    def _to_store(self, url: str, path: Path) -> None:
        """PUT a file to a presigned URL of the object store (without the worker secret)."""
        try:
            with open(path, "rb") as handle:
                response = requests.put(url, data=handle, timeout=self.timeout)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise ApiUnavailable(f"object store: {exc.__class__.__name__}") from None
        if response.status_code >= 400:
            raise ApiUnavailable(f"object store answered HTTP {response.status_code}")

    def succeed(self, job_id: str, claim_id: str, result: dict[str, Any],
                progress: Optional[dict[str, Any]] = None) -> None:
        """Finish the job; ``progress`` is a last progress event to record first (sent with the result)."""
        body = {"claim_id": claim_id, "result": result}
        if progress is not None:
            body["progress"] = progress
        self._request("POST", f"/jobs/{job_id}/succeed", json=body)

    def fail(self, job_id: str, claim_id: str, error: str, transient: bool) -> Optional[str]:
        reply = self._request("POST", f"/jobs/{job_id}/fail",
                              json={"claim_id": claim_id, "error": error[:4000], "transient": transient})
        return reply.json().get("status")
