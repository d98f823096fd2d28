"""The complaint entry and its review (Art. 13 and 15): reports, the reviewers' UI, their accounts.

    api.py       POST /v1/reports, the reporter's status, the queue as JSON (blueprint "reports")
    review.py    the reviewers' web UI at /review (blueprint "review"), i18n.py its English and Chinese texts
    store.py     reports, review items and decisions in the database
    accounts.py  reviewer and admin accounts, sessions, login throttling

`init_app(app)` wires the workflow into an app: the secret key, the rate limiter, the audit log, reviewer accounts,
and both blueprints.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask


def ensure_secret_key(config: dict[str, Any]) -> str:
    """SECRET_KEY from the configuration, else the one kept in DATA_DIR/secret_key, created (0600) on first start.

    Created with a hard link from a temporary file, so workers starting together all end up with the same key.
    """
    if config.get("SECRET_KEY"):
        return str(config["SECRET_KEY"])
    data_dir = Path(config["DATA_DIR"])
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "secret_key"
    if not path.exists():
        tmp = data_dir / f".secret_key.{secrets.token_hex(6)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text(encoding="ascii").strip()


def init_app(app: Flask) -> None:
    """Add reports, review, accounts and the audit log to an app made by create_app."""
    # Imported here, not above: the package is imported whenever one of its modules is (errors.py maps store.py's
    # exceptions), and the blueprints import errors.py.
    from flask_limiter import Limiter

    from ..audit import AuditLog
    from ..security import client_key
    from . import api, review
    from .accounts import Accounts
    from .api import ReviewState
    from .settings import AdminSettings
    from .store import ReportStore

    state = app.extensions["verify"]
    app.config["SECRET_KEY"] = ensure_secret_key(app.config)
    audit = AuditLog(state.storage)
    limiter = Limiter(client_key, app=app, storage_uri=str(app.config["RATELIMIT_STORAGE_URI"]),
                      default_limits=[])
    review_state = ReviewState(store=ReportStore(state.storage, audit, state.settings.data_dir / "media"),
                               accounts=Accounts(state.storage, audit), audit=audit, limiter=limiter,
                               secret=str(app.config["SECRET_KEY"]).encode())
    app.extensions["verity_audit"] = audit
    app.extensions["verity_reports"] = review_state
    settings = AdminSettings(state.storage, audit, float(app.config["AUDIT_RETENTION_DAYS"]))
    app.extensions["verity_settings"] = settings
    retention, _ = settings.retention_days()  # an admin's value (review UI) over the configured default
    if retention > 0:
        audit.prune(retention)


    app.register_blueprint(api.bp)
    app.register_blueprint(review.bp)
