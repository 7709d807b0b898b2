"""Browser protections on every answer of both services (the gateway adds the same to its own answers)."""
from __future__ import annotations

import base64
import hashlib
import re

from flask import Response, request

# The CSP is for JSON and files; an HTML page's inline scripts and styles are allowed by their hashes.
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                           "form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
HSTS = "max-age=31536000; includeSubDomains"
_INLINE = {"script": re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE),
           "style": re.compile(rb"<style[^>]*>(.*?)</style>", re.DOTALL | re.IGNORECASE)}


def inline_hashes(html: bytes, tag: str) -> list[str]:
    """CSP hash sources ('sha256-...') of the inline ``<script>`` or ``<style>`` blocks of a page."""
    return [f"'sha256-{base64.b64encode(hashlib.sha256(body).digest()).decode()}'"
            for body in _INLINE[tag].findall(html)]


def add_security_headers(response: Response) -> Response:
    """nosniff, no framing, no referrer, a CSP (exact hashes for an HTML page's inline code), HSTS on TLS."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    policy = CONTENT_SECURITY_POLICY
    if response.mimetype == "text/html" and not (response.direct_passthrough or response.is_streamed):
        html = response.get_data()
        for tag in ("script", "style"):
            hashes = inline_hashes(html, tag)
            if hashes:
                policy += f"; {tag}-src 'self' {' '.join(hashes)}"
    response.headers.setdefault("Content-Security-Policy", policy)
    # request.is_secure follows X-Forwarded-Proto from the gateway (ProxyFix).
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response
