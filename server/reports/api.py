"""The complaint entry (blueprint "reports", Art. 15): anyone may report media as a suspected fake.

    POST /v1/reports              a report: JSON or multipart with `sha256` (of media Verity has seen) or `file`,
                                  `category`, optional `text`, `source_url`, `page_url` -> 201 {id, receipt, ...}
    GET  /v1/reports/<id>         the reporter's own report status, the receipt in the header X-Verity-Receipt
                                  (`?receipt=` still works for older clients); nothing about other reporters
    GET  /v1/reports              the review queue as JSON, for signed-in reviewers only (401 otherwise)

`server.reports.init_app(app)` wires this blueprint and the reviewer UI (review.py) into an app.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask_limiter import Limiter

from .accounts import Accounts, Session
from ..audit import AuditLog
from ..errors import Problem
from ..verify.image_hashing import pdq_hex
from .store import CATEGORIES, STATUSES, ReportStore
from ..security import client_key

from ..verify.media import load_media
from ..verify.types import MediaKind

bp = Blueprint("reports", __name__, url_prefix="/v1/reports")

_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_MAX_URL = 2048
_REPORT_ID = re.compile(r"^[0-9a-f]{20}$")
SESSION_COOKIE = "verity_review"


@dataclass(frozen=True, slots=True)
class ReviewState:
    """What the report and review blueprints share (app.extensions["verity_reports"])."""

    store: ReportStore
    accounts: Accounts
    audit: AuditLog
    limiter: Limiter
    secret: bytes


def _rs() -> ReviewState:
    return current_app.extensions["verity_reports"]  # type: ignore[no-any-return]


def client_id() -> str:
    """A pseudonym for the reporting client (keyed hash of its address): lets reviewers count distinct reporters
    without storing addresses. Never returned by any endpoint."""
    addr = client_key().encode()  # the rate-limit key: the address (behind trusted proxies), an IPv6 client's /64
    return hmac.new(_rs().secret, b"client:" + addr, hashlib.sha256).hexdigest()[:16]


def _field(fields: dict[str, Any], name: str) -> Any:
    value = fields.get(name)
    return None if value is None or value == "" else value


def _url(fields: dict[str, Any], name: str) -> str | None:
    value = _field(fields, name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > _MAX_URL or not value.startswith(("http://", "https://")):
        raise Problem(400, "invalid-url", "Invalid URL", f"{name} must be an http(s) URL of at most {_MAX_URL} "
                      "characters.")
    return value


@bp.post("")
def create_report() -> tuple[Response, int, dict[str, str]]:
    """Store a report; 201 only once it is committed to disk."""
    rs = _rs()
    with rs.limiter.limit(str(current_app.config["REPORT_RATE_LIMIT"]), scope="reports"):
        pass
    file_bytes: bytes | None = None
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        fields: dict[str, Any] = request.form.to_dict()
        upload = request.files.get("file")
        if upload is not None:
            file_bytes = upload.read()
    elif request.mimetype == "application/json":
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise Problem(400, "invalid-json", "Invalid JSON", "The body must be a JSON object.")
        fields = body
    else:
        raise Problem(415, "unsupported-content-type", "Unsupported content type",
                      "Send application/json, or multipart/form-data when the media bytes are attached.")

    category = _field(fields, "category")
    if category not in CATEGORIES:
        raise Problem(400, "invalid-category", "Invalid category", f"category must be one of {', '.join(CATEGORIES)}.",
                      allowed=list(CATEGORIES))
    text = _field(fields, "text") or ""
    limit = int(current_app.config["REPORT_TEXT_MAX"])
    if not isinstance(text, str):
        raise Problem(400, "invalid-text", "Invalid text", "text must be a string.")
    text = text.strip()
    if len(text) > limit:
        raise Problem(400, "text-too-long", "Text too long", f"text is {len(text)} characters; the limit is {limit}.",
                      max_length=limit)
    if "\x00" in text:
        raise Problem(400, "invalid-text", "Invalid text", "text must not contain NUL characters.")
    source_url, page_url = _url(fields, "source_url"), _url(fields, "page_url")
    sha256 = _field(fields, "sha256")
    if sha256 is not None and (not isinstance(sha256, str) or not _SHA256.match(sha256)):
        raise Problem(400, "invalid-sha256", "Invalid SHA-256", "sha256 must be 64 hexadecimal characters.")
    sha256 = sha256.lower() if sha256 else None

    state = current_app.extensions["verify"]
    client = client_id()
    pdq: str | None = None
    if file_bytes is not None:
        if not file_bytes:
            raise Problem(400, "empty-body", "Empty media", "The attached file is empty (0 bytes).")
        media = load_media(file_bytes, state.settings.limits)  # size bound and sniffing: 413 / 415
        if sha256 is not None and sha256 != media.sha256:
            raise Problem(400, "sha256-mismatch", "SHA-256 does not match the file",
                          "The sha256 field is not the SHA-256 of the attached file.")
        if media.kind is MediaKind.IMAGE:
            with state.service.slot():  # decoding untrusted pixels shares the verifications' concurrency bound
                pdq = pdq_hex(media.image())[0]  # bounded decode: 413 pixel bomb, 422 undecodable
        sha256, media_type = media.sha256, media.mime
        quota = float(current_app.config["REPORT_CLIENT_QUOTA_MB"]) * 1024 * 1024
        if rs.store.client_bytes(client, time.time() - 86400) + len(file_bytes) > quota:
            raise Problem(429, "report-quota-exceeded", "Too much media reported",
                          "This client has reported as much media as one client may in 24 hours; report by sha256, "
                          "or retry later.", retry_after_s=3600)
    elif sha256 is not None:
        known = rs.store.known_media(sha256)
        if known is None:
            raise Problem(422, "unknown-media", "Unknown media",
                          "Verity has not seen media with this SHA-256; attach the file as the multipart field 'file'.")
        media_type = known or None
    else:
        raise Problem(400, "missing-media", "Missing media",
                      "Identify the media: the sha256 of media Verity has verified, or the file itself.")

    # Every field is valid by now; the bytes are written (durably) before the row that says they are held, and
    # removed again if that row cannot be written, so a failed report leaves no file behind.
    wrote = file_bytes is not None and rs.store.save_media(sha256, file_bytes)
    try:
        new = rs.store.add_report(sha256=sha256, media_type=media_type, pdq=pdq, has_bytes=file_bytes is not None,
                                  category=category, text=text, source_url=source_url, page_url=page_url,
                                  client=client, stored_bytes=len(file_bytes) if wrote else 0)
    except BaseException:
        if wrote:
            rs.store.media_path(sha256).unlink(missing_ok=True)
        raise
    status_url = f"{bp.url_prefix}/{new.id}"
    body = {"id": new.id, "receipt": new.receipt, "status": "open", "status_url": status_url, "sha256": sha256,
            "category": category}
    return jsonify(body), 201, {"Location": status_url, "Cache-Control": "no-store"}


@bp.get("/<report_id>")
def report_status(report_id: str) -> Response:
    """A reporter's view of their own report, by receipt."""
    receipt = request.headers.get("X-Verity-Receipt") or request.args.get("receipt") or ""
    if not receipt:
        raise Problem(401, "receipt-required", "Receipt required",
                      "Pass the receipt returned when the report was made in the X-Verity-Receipt header.")
    if not _REPORT_ID.match(report_id) or len(receipt) > 200:
        raise Problem(404, "report-not-found", "No such report")
    response = jsonify(_rs().store.report_status(report_id, receipt))
    response.headers["Cache-Control"] = "no-store"
    return response


def current_session() -> Session | None:
    """The signed-in reviewer's session from the cookie, or None."""
    return _rs().accounts.session(request.cookies.get(SESSION_COOKIE))


@bp.get("")
def review_queue() -> Response:
    """The queue as JSON, for reviewers (the same data as /review)."""
    if current_session() is None:
        raise Problem(401, "unauthorized", "Sign in required", "Reviewer endpoints need a reviewer session.")
    status = request.args.get("status", "open")
    if status not in (*STATUSES, "all"):
        raise Problem(400, "invalid-status", "Invalid status", f"status must be one of {', '.join(STATUSES)}, all.")
    items = _rs().store.queue(status=None if status == "all" else status,
                              category=request.args.get("category") or None,
                              sort=request.args.get("sort", "count"))
    response = jsonify({"items": items})
    response.headers["Cache-Control"] = "no-store"
    return response
