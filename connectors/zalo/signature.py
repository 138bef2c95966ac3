"""Zalo's webhook signature: ``mac=`` + SHA-256 hex of app_id + raw body + timestamp + OA secret key."""

from __future__ import annotations

import hashlib
import hmac


def zalo_signature(app_id: str, raw_body: bytes, timestamp: str, oa_secret_key: str) -> str:
    digest = hashlib.sha256()
    digest.update(app_id.encode())
    digest.update(raw_body)
    digest.update(timestamp.encode())
    digest.update(oa_secret_key.encode())
    return "mac=" + digest.hexdigest()


def signature_matches(
    header: str | None, app_id: str, raw_body: bytes, timestamp: str, oa_secret_key: str
) -> bool:
    """Constant-time comparison of the ``X-ZEvent-Signature`` header with the expected value."""
    if not header:
        return False
    expected = zalo_signature(app_id, raw_body, timestamp, oa_secret_key)
    return hmac.compare_digest(header.strip().encode(), expected.encode())
