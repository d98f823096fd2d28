"""Refutations for reviewers and integrations (blueprint "refutations"): list and search, read, the stored original
media for the side-by-side view, and add (bearer token; never open by default)."""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, send_file

from .claims import ClaimsError, parse_item, review_items
from .ingest import IngestError, MediaSource

from .. import jsonio
from ..errors import Problem
from ..security import request_key
from ..storage import Refutation, RefutedMedia
from ..verify.refutation_index import RefutationMatcher

bp = Blueprint("refutations", __name__, url_prefix="/v1/refutations")

MAX_PER_PAGE = 100
_MAX_QUERY = 200
_MAX_TEXT = 20_000
_FIELDS = ("claim", "rating", "fact_checker", "review_url", "date", "language", "explanation", "original_context")
_MIME = {"jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp", "tiff": "image/tiff",
         "bmp": "image/bmp", "heic": "image/heic", "heif": "image/heif", "avif": "image/avif", "mp4": "video/mp4",
         "webm": "video/webm", "mov": "video/quicktime", "mkv": "video/x-matroska", "avi": "video/x-msvideo",
         "wav": "audio/wav", "mp3": "audio/mpeg", "flac": "audio/flac", "ogg": "audio/ogg", "m4a": "audio/mp4"}


def _state() -> Any:
    return current_app.extensions["verify"]


def _matcher() -> RefutationMatcher:
    matcher: RefutationMatcher = _state().ctx.resources["refutations"]
    return matcher


def _media_json(item: RefutedMedia) -> dict[str, Any]:
    return {**item.to_json(), "url": f"/v1/refutations/{item.refutation_id}/media/{item.id}"}


def _full_json(refutation: Refutation) -> dict[str, Any]:
    storage = _state().storage
    media = storage.refuted_media(refutation_id=refutation.id, include_withdrawn=True)
    body = refutation.to_json()
    body["media"] = [_media_json(m) for m in media]
    withdrawal = storage.withdrawal(refutation.id)
    if withdrawal is not None:  # an admin withdrew it: shown, but it matches nothing any more
        body["withdrawn"] = {"reason": withdrawal.reason, "time": withdrawal.time}
    jsonld = refutation.extra.get("jsonld")
    if isinstance(jsonld, dict):
        body["media_authenticity_category"] = jsonld.get("mediaAuthenticityCategory")
    return body


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Problem(400, "invalid-field", "Invalid field", f"{name} must be an integer.") from None
    if not low <= value <= high:
        raise Problem(400, "invalid-field", "Invalid field", f"{name} must be between {low} and {high}.")
    return value


@bp.get("")
def list_refutations() -> Response:
    """A page of refutations, newest first; `q` searches claim, explanation, rating, fact-checker and context."""
    query = request.args.get("q") or None
    if query is not None and len(query) > _MAX_QUERY:
        raise Problem(400, "invalid-field", "Invalid field", f"q is longer than {_MAX_QUERY} characters.")
    page = _int_arg("page", 1, 1, 1_000_000)
    per_page = _int_arg("per_page", 20, 1, MAX_PER_PAGE)
    items, total = _state().storage.list_refutations(query, per_page, (page - 1) * per_page)
    return jsonify({"items": [_full_json(r) for r in items], "total": total, "page": page, "per_page": per_page})


@bp.get("/export")
def export_refutations() -> Response:
    """The standing refutations as a paged schema.org DataFeed with each media item's hashes (server/refutations/
    exchange.py): another Verity subscribes to it as a feed and matches without downloading media. Oldest first;
    `Link: rel="next"` names the next page; the ETag changes whenever a refutation is added or withdrawn."""
    from .exchange import bank_version, etag_for, export_page

    page = _int_arg("page", 1, 1, 1_000_000)
    per_page = _int_arg("per_page", MAX_PER_PAGE, 1, MAX_PER_PAGE)
    storage = _state().storage
    etag = etag_for(bank_version(storage), page, per_page)
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        response = Response(status=304)
        response.headers["ETag"] = etag
        return response
    body, total = export_page(storage, page, per_page)
    response = jsonify(body)
    response.mimetype = "application/ld+json"
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = "no-cache"
    if page * per_page < total:
        response.headers["Link"] = f'</v1/refutations/export?page={page + 1}&per_page={per_page}>; rel="next"'
    return response


@bp.get("/<int:refutation_id>")
def get_refutation(refutation_id: int) -> Response:
    refutation = _state().storage.get_refutation(refutation_id)
    if refutation is None:
        raise Problem(404, "refutation-not-found", "No such refutation", f"No refutation has id {refutation_id}.")
    return jsonify(_full_json(refutation))


@bp.get("/<int:refutation_id>/media/<int:media_id>")
def get_media(refutation_id: int, media_id: int) -> Response:
    """The stored original, to show beside the page's copy."""
    item = _state().storage.refuted_media_by_id(media_id, include_withdrawn=True)
    path = _matcher().media_path(item) if item is not None and item.refutation_id == refutation_id else None
    if item is None or path is None:
        raise Problem(404, "media-not-found", "No such media", "This refutation has no stored media with that id.")
    fmt = path.suffix.lstrip(".")
    response = send_file(path, mimetype=_MIME.get(fmt, "application/octet-stream"), max_age=86400, conditional=True)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _require_token() -> None:
    token = current_app.config.get("REFUTATION_TOKEN")
    if not token:
        raise Problem(403, "refutation-writes-disabled", "Adding refutations is disabled",
                      "Set VERIFY_REFUTATION_TOKEN on the server to allow writes with that bearer token.")
    header = request.headers.get("Authorization", "")
    given = header[7:].strip() if header[:7].lower() == "bearer " else ""
    if not given or not hmac.compare_digest(given.encode(), str(token).encode()):
        raise Problem(401, "unauthorized", "Credentials required",
                      "Send the configured API token as 'Authorization: Bearer <token>'.")


def _plain_refutation(doc: dict[str, Any]) -> Refutation:
    values: dict[str, Any] = {}
    for field in _FIELDS:
        value = doc.get(field)
        if value is not None and (not isinstance(value, str) or len(value) > _MAX_TEXT):
            raise Problem(400, "invalid-refutation", "Invalid refutation", f"field {field}: expected text.")
        values[field] = value.strip() if isinstance(value, str) else None
    for field in ("claim", "rating", "fact_checker"):
        if not values[field]:
            raise Problem(400, "invalid-refutation", "Invalid refutation", f"field {field}: required.")
    return Refutation(0, **values)


@bp.post("")
def add_refutation() -> Response:
    """Add a refutation: JSON (Verity fields, or one schema.org ClaimReview/MediaReview) plus media files.

    multipart/form-data: field `refutation` (the JSON) and one or more `file` parts; or an application/json body
    (then without media). Media URLs inside JSON-LD are not fetched by the server: upload the files.
    """
    _require_token()
    if request.mimetype == "multipart/form-data":
        raw = request.form.get("refutation")
        files = request.files.getlist("file")
    else:
        raw = request.get_data(as_text=True)
        files = []
    try:
        doc = jsonio.loads(raw or "")
    except jsonio.JSONInputError as exc:
        raise Problem(400, "invalid-refutation", "Invalid refutation", f"The refutation is not accepted: {exc}.") \
            from None
    if not isinstance(doc, dict):
        raise Problem(400, "invalid-refutation", "Invalid refutation", "Expected one JSON object.")
    try:
        if "@type" in doc or "@graph" in doc:
            nodes = review_items(doc)
            if len(nodes) != 1:
                raise ClaimsError("expected exactly one ClaimReview or MediaReview item")
            item = parse_item(nodes[0], 0)
            refutation = item.refutation
            if item.content_urls and not files:
                # SSRF: the server never fetches a URL it is given; the media must come as uploads.
                raise Problem(400, "media-urls-not-fetched", "Media URLs are not fetched",
                              "The item names its media only by contentUrl; the server does not fetch URLs. Upload "
                              "the files as multipart 'file' parts (or use `build.py claims import --media DIR`).",
                              content_urls=item.content_urls[:20])
        else:
            refutation = _plain_refutation(doc)
        state = _state()
        uploads = [f.read(state.settings.max_upload_bytes + 1) for f in files]
        for data in uploads:
            if not data:
                raise ClaimsError("field file: an uploaded file is empty")
            if len(data) > state.settings.max_upload_bytes:
                raise Problem(413, "media-too-large", "The media is too large", "An uploaded file is over the limit.")
        media = state.ingest.describe([MediaSource(data) for data in uploads])
    except (ClaimsError, IngestError) as exc:
        raise Problem(400, "invalid-refutation", "Invalid refutation", str(exc)) from None
    key = request_key()
    rid = state.ingest.add([(refutation, media)], source="api",
                           actor="api:refutation-token" + (f"+key:{key}" if key else ""))[0]
    stored = state.storage.get_refutation(rid)
    assert stored is not None
    response = jsonify(_full_json(stored))
    response.status_code = 201
    response.headers["Location"] = f"/v1/refutations/{rid}"
    return response
