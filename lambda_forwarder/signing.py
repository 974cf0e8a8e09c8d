"""The signed envelope shared by the forwarder (signer) and the bot (verifier).

A request carries three headers. The signature is HMAC-SHA256, keyed by the
forwarder key's secret, over ``b"<timestamp>." + body``, so a captured body
cannot be replayed with a fresh timestamp.
"""

from __future__ import annotations

import hashlib
import hmac

KEY_ID_HEADER = "X-Self-Heal-Key-Id"
TIMESTAMP_HEADER = "X-Self-Heal-Timestamp"
SIGNATURE_HEADER = "X-Self-Heal-Signature"
SIGNATURE_PREFIX = "sha256="
# How far a request's timestamp may stray from the verifier's clock.
MAX_SKEW_SECONDS = 300


def sign(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """Return the value of the signature header for this body and time."""
    key = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256)
    return SIGNATURE_PREFIX + digest.hexdigest()


def signed_headers(
    key_id: str, secret: str | bytes, timestamp: int, body: bytes
) -> dict[str, str]:
    return {
        KEY_ID_HEADER: key_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        "Content-Type": "application/json",
    }


def signature_matches(
    secret: str | bytes, timestamp: int, body: bytes, signature: str
) -> bool:
    """Compare in constant time."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)
