"""Integrators' Open311 keys: issued once in full, stored only as a hash, revoked by admins."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit_log import record
from portal.models import ApiKey, User

KEY_PREFIX = "ks_"
# "ks_" and nine random characters name the row; the rest of the key is only ever hashed.
PREFIX_LENGTH = 12


class ApiKeyError(ValueError):
    """A key cannot be issued or revoked; the message says why."""


def _digest(key: str) -> str:
    """Return the stored hash; keys carry 256 random bits, so a plain SHA-256 is enough."""
    return hashlib.sha256(key.encode()).hexdigest()


def issue_key(session: Session, name: str, *, actor: User | None, now: datetime) -> tuple[ApiKey, str]:
    """Create a key for an integrator; return the row and the key, which is never shown again."""
    cleaned = " ".join(name.split())[:80]
    if len(cleaned) < 2:
        raise ApiKeyError("a key needs a name of at least 2 characters")
    while True:
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        prefix = key[:PREFIX_LENGTH]
        if session.scalar(select(ApiKey.id).where(ApiKey.prefix == prefix)) is None:
            break
    row = ApiKey(
        name=cleaned,
        prefix=prefix,
        key_hash=_digest(key),
        created_by_id=actor.id if actor else None,
        created_at=now,
    )
    session.add(row)
    session.flush()
    record(session, "apikey_issued", actor=actor, now=now, data={"key_id": row.id, "name": cleaned})
    return row, key


def revoke_key(session: Session, key_id: int, *, actor: User | None, now: datetime) -> ApiKey:
    """Revoke a key at once; the row stays, so the audit trail keeps its name."""
    row = session.get(ApiKey, key_id)
    if row is None:
        raise ApiKeyError(f"no key {key_id}")
    if row.revoked_at is not None:
        raise ApiKeyError(f"key {key_id} was already revoked")
    row.revoked_at = now
    session.flush()
    record(session, "apikey_revoked", actor=actor, now=now, data={"key_id": row.id, "name": row.name})
    return row


def find_key(session: Session, presented: str) -> ApiKey | None:
    """Return the live key matching what the integrator sent, or None."""
    if not presented.startswith(KEY_PREFIX) or len(presented) > 100:
        return None
    row = session.scalars(select(ApiKey).where(ApiKey.prefix == presented[:PREFIX_LENGTH])).first()
    if row is None or row.revoked_at is not None:
        return None
    return row if hmac.compare_digest(row.key_hash, _digest(presented)) else None


def list_keys(session: Session) -> list[ApiKey]:
    """Return every key, newest first, revoked ones included."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id.desc())))
