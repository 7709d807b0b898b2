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
from shared.models import Job, Pipeline, User, WebhookDelivery
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


_NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")
_SIIT_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")


def embedded_ipv4(address: ipaddress._BaseAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 transition address carries (6to4, NAT64, Teredo, mapped, compatible).

    A router or relay on the way would deliver to those, so each must pass the same check as the IPv6
    address itself.
    """
    if address.version != 6:
        return []
    value = int(address)
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:                 # ::ffff:a.b.c.d
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:                   # 2002:aabb:ccdd::/48
        found.append(address.sixtofour)
    if address.teredo is not None:                      # 2001::/32: the server, the (de-obfuscated) client
        found.extend(address.teredo)
    if address in _NAT64_WELL_KNOWN or address in _SIIT_TRANSLATED:
        found.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))
    if address in _NAT64_LOCAL_USE:
        found.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))          # the /96 layout
        high, low = (value >> 64) & 0xFFFF, (value >> 40) & 0xFFFF        # the /48 layout (RFC 6052)
        if high or low:
            found.append(ipaddress.IPv4Address((high << 16) | low))
    if value >> 32 == 0 and value > 1:                  # IPv4-compatible ::a.b.c.d (not :: or ::1)
        found.append(ipaddress.IPv4Address(value))
    return found


def _is_public(address: ipaddress._BaseAddress) -> bool:
    return address.is_global and all(inner.is_global for inner in embedded_ipv4(address))


def _describe(address: ipaddress._BaseAddress) -> str:
    inner = embedded_ipv4(address)
    return f"{address} (embeds {', '.join(map(str, inner))})" if inner else str(address)


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
    private = sorted(_describe(a) for a in addresses if not _is_public(a))
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


def pipeline_event(pipeline: Pipeline, anchor: Job, event: str) -> None:
    """Queue a delivery of a pipeline's ``event`` if it has a callback URL (same transaction as the change).

    The delivery row hangs on ``anchor``, the step job whose end ended the pipeline (or one of its
    jobs when its owner cancelled it): its webhook log lists it, and the dispatcher signs it with
    the owner's secret as it does a job's.
    """
    if not pipeline.callback_url:
        return
    delivery_id = uuid.uuid4()
    payload = {
        "id": str(delivery_id), "event": event, "created_at": utcnow().isoformat(),
        "pipeline": {"id": str(pipeline.id), "status": pipeline.status, "error": pipeline.error,
                     "url": f"/api/v1/pipelines/{pipeline.id}", "run": pipeline.run,
                     "finished_at": pipeline.finished_at.isoformat() if pipeline.finished_at else None},
    }
    db.session.add(WebhookDelivery(id=delivery_id, job_id=anchor.id, url=pipeline.callback_url, event=event,
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
