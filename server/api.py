"""The verification API (blueprint "api"): verify media, look verdicts up by hash, list checks, the OpenAPI document."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from . import jobs
from .errors import Problem, problem_page
from .security import request_key
from .verify import CHECKS, DESCRIPTIONS
from .verify.media import load_media
from .verify.types import MediaKind

bp = Blueprint("api", __name__, url_prefix="/v1")

OPENAPI_PATH = Path(__file__).parent / "openapi.json"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MAX_URL = 2048


def _state() -> Any:
    return current_app.extensions["verify"]


def _optional_url(name: str) -> str | None:
    value = request.form.get(name) or request.args.get(name)
    if value is None or value == "":
        return None
    if len(value) > _MAX_URL:
        raise Problem(400, "invalid-field", "Invalid field", f"{name} is longer than {_MAX_URL} characters.")
    return value


def _upload() -> bytes:
    """The media bytes: multipart field `file`, or the raw body with the media's Content-Type."""
    if request.mimetype == "multipart/form-data":
        file = request.files.get("file")
        if file is None:
            raise Problem(400, "no-file", "No file", "Send the media as the multipart field 'file'.")
        try:
            data = file.read()
        finally:
            file.close()  # werkzeug spools large uploads to a temporary file: release it now
    elif request.mimetype in ("application/x-www-form-urlencoded",):
        raise Problem(400, "no-file", "No file", "Send the media as the multipart field 'file' or as the raw body.")
    else:
        data = request.get_data(cache=False)
    if not data:
        raise Problem(400, "empty-body", "Empty media", "The media is empty (0 bytes).")
    return data


@bp.post("/verify")
def verify_media() -> Response:
    """Verify uploaded media; a repeat of the same bytes is answered from the cache (server/service.py)."""
    state = _state()
    service = state.service
    data = _upload()
    source_url, page_url = _optional_url("source_url"), _optional_url("page_url")
    media = load_media(data, state.settings.limits)
    found = service.lookup(media.sha256)
    body = found.body
    if body is None:
        with service.slot():
            if media.kind is not MediaKind.IMAGE:
                # a bounded probe first (over a limit: 413); long media becomes a job (202)
                probe = service.probe(media)
                if probe is not None and jobs.should_queue(media, probe, current_app.config):
                    return jobs.submit_response(media, source_url, page_url)
            body = service.compute(media, found.generation)
    key = request_key()
    service.record(media, body, cached=found.body is not None, source_url=source_url, page_url=page_url,
                   actor=f"key:{key}" if key else "api", client=key)
    response = jsonify(body)
    response.headers["X-Verity-Cache"] = "hit" if found.body is not None else "miss"
    return response


@bp.get("/verdicts/<sha256>")
def get_verdict(sha256: str) -> Response:
    """The cached verdict for bytes already verified: lets clients ask by hash before uploading."""
    sha256 = sha256.lower()
    if not _SHA256.match(sha256):
        raise Problem(400, "invalid-sha256", "Invalid SHA-256", "Expected 64 hexadecimal characters.")
    state = _state()
    body = state.verdicts.get(sha256)
    if body is None:
        raise Problem(404, "verdict-not-found", "No verdict for this hash",
                      "These bytes have not been verified yet: POST them to /v1/verify.")
    return jsonify(body)


@bp.get("/checks")
def list_checks() -> Response:
    """The registered checks, strongest first."""
    return jsonify({"checks": [{"name": name, "description": DESCRIPTIONS[name]} for name in CHECKS]})


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document of this API (the response shapes are a contract)."""
    return Response(OPENAPI_PATH.read_text(encoding="utf-8"), mimetype="application/json")


@bp.get("/problems/<slug>")
def problem_type(slug: str) -> Response:
    """The page a problem's `type` URI points to: what the problem means and what to do."""
    text, status = problem_page(slug)
    return Response(text, status=status, mimetype="text/html")


@bp.get("/keys/me")
def key_status() -> Response:
    """Whether the X-Verity-Key sent works (the extension's options page asks): its name, and whether this server
    requires keys. A wrong or revoked key is 401 before this view runs (server/security.py)."""
    return jsonify({"key": request_key(), "required": bool(current_app.config.get("VERITY_KEYS_REQUIRED"))})


@bp.get("/health")
def health() -> Response:
    return jsonify({"status": "ok", "pipeline": _state().pipeline})


def openapi_document() -> dict[str, Any]:
    return json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
