"""Reviewer accounts: scrypt password hashes, server-side sessions with a per-session CSRF token, sign-in throttling.

Sessions live in the database (only the SHA-256 of the cookie value is stored), so signing out really ends a session:
a copied cookie or a replayed CSRF token from before the sign-out no longer matches anything.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from ..audit import AuditLog
from ..storage import SQLStorage

ROLES = ("reviewer", "admin")
# scrypt cost: N=2^15, r=8, p=1 uses 32 MiB and about 0.1 s here (OWASP's minimum is N=2^17 with r=8 at p=1 or
# equivalent work; this is tuned for a 2-core box and recorded in each hash so it can be raised later).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
_MAXMEM = 64 * 1024 * 1024
MIN_PASSWORD = 10


class AccountError(ValueError):
    """A refused account change (unknown user, bad role, weak password, duplicate name)."""


def hash_password(password: str) -> str:
    """`scrypt$N$r$p$salt$hash` with a random 16-byte salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=_MAXMEM,
                            dklen=32)
    return "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)])


def check_password(password: str, stored: str) -> bool:
    """Constant-time comparison against a stored `scrypt$...` hash."""
    try:
        algo, n, r, p, salt, digest = stored.split("$")
        if algo != "scrypt":
            return False
        got = hashlib.scrypt(password.encode("utf-8"), salt=_unb64(salt), n=int(n), r=int(r), p=int(p),
                             maxmem=_MAXMEM, dklen=len(_unb64(digest)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, _unb64(digest))


_dummy: list[str] = []


def _dummy_hash() -> str:
    """Checked against when the name is unknown, so a wrong name costs as much time as a wrong password."""
    if not _dummy:
        _dummy.append(hash_password(secrets.token_urlsafe(12)))
    return _dummy[0]


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode("ascii").rstrip("=")


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def _sha256(s: str) -> str:
    return hashlib.sha256(s.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    role: str
    disabled: bool


@dataclass(frozen=True, slots=True)
class Session:
    user: User
    csrf: str
    expires: float


class Accounts:
    """Users, sessions and sign-in failures over the shared database; account changes go to the audit log."""

    def __init__(self, storage: SQLStorage, audit: AuditLog) -> None:
        self.storage, self.audit = storage, audit

    # -- users
    def add_user(self, name: str, role: str, password: str, actor: str = "cli") -> User:
        _check_name(name)
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}")
        _check_password(password)
        with self.storage.transaction() as conn:
            if conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise AccountError(f"user {name!r} already exists")
            user_id = int(conn.execute("INSERT INTO users (name, role, password_hash, created) VALUES (?,?,?,?)"
                                       " RETURNING id", (name, role, hash_password(password), time.time())).fetchone()[0])
            self.audit.append("account.add", actor, f"user:{name}", {"role": role}, conn=conn)
        return User(user_id, name, role, False)

    def set_password(self, name: str, password: str, actor: str = "cli") -> None:
        _check_password(password)
        self._change(name, "UPDATE users SET password_hash = ? WHERE name = ?", (hash_password(password), name),
                     "account.password", actor, {}, end_sessions=True)

    def set_disabled(self, name: str, disabled: bool, actor: str = "cli") -> None:
        self._change(name, "UPDATE users SET disabled = ? WHERE name = ?", (int(disabled), name),
                     "account.disable" if disabled else "account.enable", actor, {}, end_sessions=disabled)

    def set_role(self, name: str, role: str, actor: str = "cli") -> None:
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}")
        self._change(name, "UPDATE users SET role = ? WHERE name = ?", (role, name), "account.role", actor,
                     {"role": role}, end_sessions=False)

    def _change(self, name: str, sql: str, args: tuple[object, ...], kind: str, actor: str, data: dict[str, object],
                end_sessions: bool) -> None:
        with self.storage.transaction() as conn:
            row = conn.execute("SELECT id FROM users WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise AccountError(f"no user {name!r}")
            conn.execute(sql, args)
            if end_sessions:
                conn.execute("DELETE FROM review_sessions WHERE user_id = ?", (row["id"],))
            self.audit.append(kind, actor, f"user:{name}", data, conn=conn)

    def users(self) -> list[User]:
        return [User(r["id"], r["name"], r["role"], bool(r["disabled"]))
                for r in self.storage.connect().execute("SELECT * FROM users ORDER BY name")]

    # -- sign-in
    def authenticate(self, name: str, password: str, max_failures: int, window_s: float,
                     client: str = "") -> User | None:
        """The user when name and password match an enabled account, else None (the failure is counted).

        Failures are counted per (account, client): wrong passwords sent from one client throttle that client for
        that account only, so nobody can lock the real reviewer out by guessing from elsewhere. `client` is a
        pseudonym of the client's rate-limit key (server/reports/api.py `client_id`), never an address. Failures
        older than the window are pruned here, so the table holds at most one window of failures.

        Raises:
            LoginThrottled: too many recent failures for this name from this client; the password is not checked.
        """
        conn = self.storage.connect()
        now = time.time()
        since = now - window_s
        failures = conn.execute("SELECT COUNT(*) FROM login_failures WHERE name = ? AND client = ? AND time >= ?",
                                (name, client, since)).fetchone()[0]
        if failures >= max_failures:
            raise LoginThrottled(name)
        row = conn.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
        ok = check_password(password, row["password_hash"] if row else _dummy_hash())
        if row is None or not ok or row["disabled"]:
            conn.execute("DELETE FROM login_failures WHERE time < ?", (since,))
            conn.execute("INSERT INTO login_failures (name, client, time) VALUES (?, ?, ?)", (name, client, now))
            return None
        conn.execute("DELETE FROM login_failures WHERE name = ? AND client = ?", (name, client))
        return User(row["id"], row["name"], row["role"], False)

    def start_session(self, user: User, hours: float) -> tuple[str, Session]:
        """A new session; returns (cookie value, session). Only the cookie's SHA-256 is stored."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = time.time()
        conn = self.storage.connect()
        conn.execute("DELETE FROM review_sessions WHERE expires < ?", (now,))
        conn.execute("INSERT INTO review_sessions (id_sha256, user_id, csrf, created, expires) VALUES (?,?,?,?,?)",
                     (_sha256(token), user.id, csrf, now, now + hours * 3600))
        return token, Session(user, csrf, now + hours * 3600)

    def session(self, token: str | None) -> Session | None:
        """The live session for a cookie value, or None (unknown, expired, or the user is disabled)."""
        if not token or len(token) > 128:
            return None
        row = self.storage.connect().execute(
            "SELECT s.csrf, s.expires, u.id, u.name, u.role, u.disabled FROM review_sessions s"
            " JOIN users u ON u.id = s.user_id WHERE s.id_sha256 = ?", (_sha256(token),)).fetchone()
        if row is None or row["expires"] < time.time() or row["disabled"]:
            return None
        return Session(User(row["id"], row["name"], row["role"], False), row["csrf"], row["expires"])

    def end_session(self, token: str) -> None:
        self.storage.connect().execute("DELETE FROM review_sessions WHERE id_sha256 = ?", (_sha256(token),))


class LoginThrottled(Exception):
    """Too many failed sign-ins for one name from one client within the window."""


def _check_name(name: str) -> None:
    if not (1 <= len(name) <= 64) or not all(c.isalnum() or c in "._-@" for c in name):
        raise AccountError("a user name is 1-64 letters, digits or . _ - @")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise AccountError("a password is at most 1024 characters")
