"""Client API keys for a team server: one per person, revocable, each with its own rate limit.

`build.py keys add NAME` prints a new key once; only its SHA-256 is stored (a key is 32 random bytes, so a fast hash
is enough: there is nothing to guess). Clients send it as `X-Verity-Key`. Keys are required on every /v1 route when
VERIFY_REQUIRE_KEYS says so ("auto": whenever VERIFY_HOST is not loopback), checked before the rate limiter so the
per-key limits (VERIFY_KEY_RATE_LIMIT, or the key's own `--rate`, and VERIFY_KEY_VERIFY_RATE_LIMIT) apply instead of
the per-address ones. The key's name goes into audit entries
(actor "key:NAME") and identification records (records.client). The reviewer UI (/review) keeps its own sign-in.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from .audit import AuditLog
from .storage import SQLStorage

HEADER = "X-Verity-Key"
PREFIX = "vk_"
_LOOPBACK = ("127.0.0.1", "::1", "localhost")  # an empty host binds every interface: not loopback


class ApiKeyError(ValueError):
    """A key cannot be added or revoked (the message says why)."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    name: str
    prefix: str
    rate_limit: str | None
    created: float
    revoked: float | None
    last_used: float | None


def _key(row: Any) -> ApiKey:
    return ApiKey(int(row["id"]), row["name"], row["prefix"], row["rate_limit"], float(row["created"]),
                  row["revoked"], row["last_used"])


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()


def keys_required(config: dict[str, Any]) -> bool:
    """VERIFY_REQUIRE_KEYS: true/false, or "auto" = required unless the server binds loopback only."""
    value = str(config.get("REQUIRE_KEYS", "auto")).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    return str(config.get("HOST", "127.0.0.1")).strip().strip("[]").lower() not in _LOOPBACK


class ApiKeys:
    """Keys in the database, every change audited."""

    def __init__(self, storage: SQLStorage, audit: AuditLog | None = None) -> None:
        self.storage = storage
        self.audit = audit or AuditLog(storage)

    def add(self, name: str, *, actor: str, rate_limit: str | None = None) -> tuple[ApiKey, str]:
        """A new key for `name`; returns the record and the key itself (shown once, never stored).

        Raises:
            ApiKeyError: a bad name, or `name` already has a key that is not revoked.
        """
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}", name):
            raise ApiKeyError(f"key name {name!r}: use letters, digits, '.', '_', '@' or '-' (at most 64)")
        if rate_limit is not None:
            _check_limit(rate_limit)
        key = PREFIX + secrets.token_urlsafe(32)
        with self.storage.transaction() as conn:
            if conn.execute("SELECT 1 FROM api_keys WHERE name = ? AND revoked IS NULL", (name,)).fetchone():
                raise ApiKeyError(f"{name} already has a key; revoke it first (`build.py keys revoke {name}`)")
            row = conn.execute("INSERT INTO api_keys (name, key_sha256, prefix, rate_limit, created)"
                               " VALUES (?,?,?,?,?) RETURNING *", (name, digest(key), key[:8], rate_limit,
                                                                  time.time())).fetchone()
            self.audit.append("api_key_added", actor, f"key:{name}", {"prefix": key[:8], "rate_limit": rate_limit},
                              conn=conn)
        return _key(row), key

    def revoke(self, name: str, *, actor: str) -> int:
        """Revoke every live key of `name`; returns how many.

        Raises:
            ApiKeyError: `name` has no live key.
        """
        with self.storage.transaction() as conn:
            n = conn.execute("UPDATE api_keys SET revoked = ? WHERE name = ? AND revoked IS NULL",
                             (time.time(), name)).rowcount
            if not n:
                raise ApiKeyError(f"{name} has no key to revoke (see `build.py keys list`)")
            self.audit.append("api_key_revoked", actor, f"key:{name}", {}, conn=conn)
        return int(n)

    def all(self) -> list[ApiKey]:
        return [_key(r) for r in self.storage.connect().execute("SELECT * FROM api_keys ORDER BY name, id")]

    def check(self, key: str) -> ApiKey | None:
        """The live key this is, or None (unknown or revoked). Compared by digest in constant time."""
        if not key.startswith(PREFIX) or len(key) > 200:
            return None
        wanted = digest(key)
        row = self.storage.connect().execute("SELECT * FROM api_keys WHERE key_sha256 = ?", (wanted,)).fetchone()
        if row is None or not hmac.compare_digest(row["key_sha256"], wanted) or row["revoked"] is not None:
            return None
        found = _key(row)
        if found.last_used is None or time.time() - found.last_used > 60:  # a write a minute at most per key
            self.storage.connect().execute("UPDATE api_keys SET last_used = ? WHERE id = ?", (time.time(), found.id))
        return found


def _check_limit(text: str) -> None:
    from limits import parse_many

    try:
        parse_many(text)
    except ValueError as exc:
        raise ApiKeyError(f"rate limit {text!r}: {exc} (e.g. '600 per minute')") from None
