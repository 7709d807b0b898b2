"""The RSA key pair that signs access tokens: created for development, required in production."""
from __future__ import annotations

import base64
import hashlib
import logging
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.config import Config

LOGGER = logging.getLogger(__name__)


def ensure_signing_keys(config: Config) -> None:
    """Create a key pair at the configured paths when none exists (never in production)."""
    if config.JWT_PRIVATE_KEY_FILE.exists() and config.JWT_PUBLIC_KEY_FILE.exists():
        return
    if config.ENV == "production":
        raise RuntimeError(
            f"refusing to start in production without signing keys: set CONVEYOR_JWT_PRIVATE_KEY_FILE "
            f"and CONVEYOR_JWT_PUBLIC_KEY_FILE (missing {config.JWT_PRIVATE_KEY_FILE})")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    config.JWT_PRIVATE_KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    fd = os.open(config.JWT_PRIVATE_KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_pem)
    config.JWT_PUBLIC_KEY_FILE.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    LOGGER.warning("generated a development signing key pair in %s", config.JWT_PRIVATE_KEY_FILE.parent)


def read_key(path: Path) -> str:
    return Path(path).read_text()


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def key_id(public_pem: str) -> str:
    return hashlib.sha256(public_pem.encode()).hexdigest()[:16]


def jwks(public_pem: str) -> dict:
    """The public key as a JSON Web Key Set (RFC 7517)."""
    numbers = serialization.load_pem_public_key(public_pem.encode()).public_numbers()
    return {"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": key_id(public_pem),
                      "n": _b64url_uint(numbers.n), "e": _b64url_uint(numbers.e)}]}
