"""Webhooks: signed POSTs of a job's events to its callback URL, retried with backoff.

Deliveries are rows written in the same transaction as the state change they announce, and a
dispatcher thread of the relay process (services.relay.webhooks) sends them. Each POST carries
``X-Conveyor-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the user's secret>``.
Callback URLs must resolve to public addresses (checked at submit and again before each POST, so a
DNS change cannot aim them inside) unless CONVEYOR_WEBHOOK_ALLOWED_HOSTS lists the host or network.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
import socket
import time
import uuid
from typing import Iterable
from urllib.parse import urlsplit

from shared.clock import utcnow
from shared.db import db
from shared.jobflow import subscribe, subscribe_progress
from shared.models import Job, User, WebhookDelivery
from shared.states import JobStatus, is_terminal

LOGGER = logging.getLogger(__name__)


class CallbackRefused(ValueError):
    """A callback URL Conveyor will not call (bad scheme, private address, unresolvable host)."""


def _allowed(host: str, addresses: Iterable[ipaddress._BaseAddress], allow_list: Iterable[str]) -> bool:
    for entry in allow_list:
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == host.lower():
            return True
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue
        if all(address in network for address in addresses):
            return True
    return False


def check_callback_url(url: str, allow_list: Iterable[str]) -> str:
    """Return ``url`` if Conveyor may POST to it, else raise CallbackRefused saying why."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CallbackRefused("callback_url must be an http or https URL with a host")
    host = parts.hostname
    try:
        infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80),
                                   proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise CallbackRefused(f"callback_url host {host!r} does not resolve") from None
    addresses = {ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos}
    if _allowed(host, addresses, allow_list):
        return url
    private = sorted(str(a) for a in addresses if not a.is_global)
    if private:
        raise CallbackRefused(f"callback_url resolves to a non-public address ({', '.join(private)}); "
                              "an administrator can allow it with CONVEYOR_WEBHOOK_ALLOWED_HOSTS")
    return url


def secret_for(user: User) -> str:
    """The user's signing secret, made on first use."""
    if not user.webhook_secret:
        user.webhook_secret = "whsec_" + secrets.token_urlsafe(32)
    return user.webhook_secret


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, tolerance_seconds: int = 300) -> bool:
    """Check a signature header as a receiver should (constant-time, with a freshness window)."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), f"t={timestamp},v1={fields.get('v1', '')}")


def job_event(job: Job, event: str) -> None:
    """Queue a delivery of ``event`` for ``job`` if it has a callback URL (same transaction as the change)."""
    if not job.callback_url:
        return
    delivery_id = uuid.uuid4()
    payload = {
        "id": str(delivery_id), "event": event, "created_at": utcnow().isoformat(),
        "job": {"id": str(job.id), "number": job.number, "kind": job.kind, "status": job.status,
                "progress": {"current": job.progress_current, "total": job.progress_total,
                             "percent": job.progress_percent, "unit": job.progress_unit},
                "error": job.error, "result_url": f"/api/v1/jobs/{job.id}/result",
                "created_at": job.created_at.isoformat() if job.created_at else None,
                "finished_at": job.finished_at.isoformat() if job.finished_at else None},
    }
    db.session.add(WebhookDelivery(id=delivery_id, job_id=job.id, url=job.callback_url, event=event,
                                   payload=payload, status="pending", attempts=0, next_attempt_at=utcnow()))


# Subscribed at import, so any process that loads this module queues deliveries (see shared.jobflow).
@subscribe
def announce_transition(job: Job, old: JobStatus, new: JobStatus) -> None:
    """Queue ``job.<status>`` when a job reaches a terminal state."""
    if is_terminal(new):
        job_event(job, f"job.{job.status}")


@subscribe_progress
def announce_progress(job: Job, percent_before: float) -> None:
    """Queue ``job.progress`` if the job asked for it and its progress crossed a tenth of the way."""
    # Progress webhooks at every tenth of the way, not at every report.
    if job.callback_progress and int((job.progress_percent or 0.0) // 10) > int(percent_before // 10):
        job_event(job, "job.progress")


def redeliver(delivery: WebhookDelivery) -> None:
    """Send a delivery again now (after a receiver fixed its side), whatever its state."""
    delivery.status = "pending"
    delivery.next_attempt_at = utcnow()
