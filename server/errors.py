"""RFC 9457 problem details: one exception type inside, one JSON shape at the edge."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException

from .fetching import (FetchError, FetchHTTPError, FetchNetworkError, FetchRefused, FetchTimeout, ResponseTooLarge,
                       TooManyRedirects)
from .jsonio import JSONInputError
from .reports.store import InvalidReceipt, ItemAlreadyDecided, ItemNotFound, ReportNotFound
from .storage import RefutationAlreadyWithdrawn, RefutationNotFound, StorageUnavailable, TextContainsNul
from .verify.av_decode import DecodeBudgetExceeded
from .verify.types import MediaTooLarge, UndecodableMedia, UnsupportedMedia

log = logging.getLogger(__name__)

# Problem `type`s are relative references to pages this server serves (GET /v1/problems/<slug>, see PROBLEM_PAGES):
# stable across deployments (no host in them) and resolvable against the API's own URL, as RFC 9457 3.1.1 allows.
PROBLEM_BASE = "/v1/problems/"
PROBLEM_MIME = "application/problem+json"


class Problem(Exception):
    """An HTTP problem. `slug` becomes the stable `type` URI."""

    def __init__(self, status: int, slug: str, title: str, detail: str | None = None, **ext: Any) -> None:
        super().__init__(detail or title)
        self.status, self.slug, self.title, self.detail, self.ext = status, slug, title, detail, ext

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": PROBLEM_BASE + self.slug, "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        body["instance"] = request.path if request else None
        body.update(self.ext)
        return body


# Domain exceptions -> (status, slug, title). The one mapping table.
DOMAIN_PROBLEMS: dict[type[Exception], tuple[int, str, str]] = {
    UnsupportedMedia: (415, "unsupported-media-type", "Unsupported media type"),
    UndecodableMedia: (422, "undecodable-media", "The media could not be decoded"),
    MediaTooLarge: (413, "media-too-large", "The media is too large"),
    ReportNotFound: (404, "report-not-found", "No such report"),
    InvalidReceipt: (403, "invalid-receipt", "The receipt does not match this report"),
    ItemNotFound: (404, "item-not-found", "No such queue item"),
    ItemAlreadyDecided: (409, "already-decided", "This queue item already has a decision"),
    DecodeBudgetExceeded: (413, "decode-budget-exceeded", "Decoding the media took too long"),
    TextContainsNul: (400, "invalid-text", "Invalid text"),
    JSONInputError: (400, "invalid-json", "Invalid JSON"),
    RefutationNotFound: (404, "refutation-not-found", "No such refutation"),
    RefutationAlreadyWithdrawn: (409, "already-withdrawn", "This refutation was already withdrawn"),
    StorageUnavailable: (503, "storage-unavailable", "The database is unavailable; try again shortly"),
    # server/fetching.py: the most specific class wins (Flask looks handlers up along the exception's MRO)
    FetchRefused: (400, "fetch-refused", "The URL is not fetched"),
    TooManyRedirects: (502, "fetch-too-many-redirects", "The URL redirects too often"),
    FetchTimeout: (504, "fetch-timeout", "The download took too long"),
    ResponseTooLarge: (413, "fetch-too-large", "The remote file is too large"),
    FetchHTTPError: (502, "fetch-http-error", "The remote server answered with an error"),
    FetchNetworkError: (502, "fetch-network-error", "The remote server could not be reached"),
    FetchError: (502, "fetch-failed", "The URL could not be fetched"),
}

# What each problem type means and what to do about it: the page its `type` URI points to.
PROBLEM_PAGES: dict[str, str] = {
    "bad-request": "The request is malformed.",
    "unauthorized": "Credentials are missing or wrong: sign in, or send the configured bearer token.",
    "forbidden": "This action is not allowed for these credentials.",
    "not-found": "There is nothing at this URL.",
    "method-not-allowed": "This URL does not accept this HTTP method.",
    "too-many-requests": "This client sent too many requests; wait and retry (see Retry-After).",
    "internal-error": "Something went wrong on the server; it has been logged. Retrying may help.",
    "no-file": "Send the media as the multipart field 'file' or as the raw request body.",
    "empty-body": "The media is empty (0 bytes).",
    "unsupported-media-type": "The bytes are not an image, video or audio format Verity reads.",
    "unsupported-content-type": "The request's Content-Type is not one this endpoint accepts.",
    "undecodable-media": "The bytes claim a supported format but cannot be decoded (truncated or damaged).",
    "unknown-media": "The media could not be identified.",
    "media-too-large": "The media is over a configured bound (bytes, pixels, duration or frames).",
    "decode-budget-exceeded": "Decoding the media took longer than the configured budget.",
    "invalid-field": "A field has an invalid value; the detail names it.",
    "invalid-json": "The body is not valid JSON.",
    "invalid-sha256": "A SHA-256 must be 64 hexadecimal characters.",
    "sha256-mismatch": "The SHA-256 given does not match the uploaded file.",
    "invalid-url": "The URL is not a valid http(s) URL.",
    "invalid-text": "Text must not contain NUL characters.",
    "text-too-long": "A text field is longer than allowed.",
    "invalid-category": "The report category is not one of the listed categories.",
    "invalid-status": "The status is not one of the allowed values.",
    "missing-media": "The request names no media.",
    "verdict-not-found": "These bytes have not been verified yet: POST them to /v1/verify.",
    "report-not-found": "No report has this id.",
    "invalid-receipt": "The receipt does not match this report.",
    "receipt-required": "Send the report's receipt to read it.",
    "item-not-found": "No review queue item has this id.",
    "already-decided": "This review queue item already has a decision.",
    "refutation-not-found": "No refutation has this id.",
    "media-not-found": "This refutation has no stored media with that id.",
    "invalid-refutation": "The refutation is not valid; the detail names the item and the field.",
    "refutation-writes-disabled": "Adding refutations needs VERIFY_REFUTATION_TOKEN on the server.",
    "media-urls-not-fetched": "The server does not fetch media URLs given in a refutation: upload the files.",
    "job-not-found": "No job has this id.",
    "job-media-lost": "The job's media is no longer stored; submit it again.",
    "job-interrupted": "The job stopped (the server restarted); submit the media again.",
    "job-timeout": "The job took longer than allowed.",
    "job-queue-unavailable": "The job queue cannot be reached; try again shortly.",
    "server-busy": "Too many verifications are running; retry shortly.",
    "already-withdrawn": "This refutation was already withdrawn; the withdrawal and its reason are in the audit log.",
    "api-key-required": "This server requires a client key: send it as the X-Verity-Key header (the extension's "
                        "options take it); the server's admin gives out keys (`build.py keys add NAME`).",
    "api-key-invalid": "The X-Verity-Key sent is unknown or has been revoked; ask the server's admin for a key.",
    "job-queue-full": "Too many long verifications are queued, on the server or for this client; retry after the "
                      "time Retry-After gives, or when one of your jobs has finished.",
    "report-quota-exceeded": "This client has reported as much media as one client may in 24 hours; report by "
                             "sha256 (media Verity has already seen), or retry later.",
    "storage-unavailable": "The database is unavailable; try again shortly.",
    "fetch-refused": "Only http(s) URLs on public addresses are fetched; loopback, private, link-local and reserved "
                     "addresses are refused (VERIFY_FETCH_ALLOW_PRIVATE).",
    "fetch-too-many-redirects": "The URL redirects in a loop or more often than allowed.",
    "fetch-timeout": "The whole download did not finish within VERIFY_URL_TIMEOUT_S seconds.",
    "fetch-too-large": "The remote file is larger than VERIFY_URL_MAX_MB.",
    "fetch-http-error": "The remote server answered with an error status.",
    "fetch-network-error": "The remote host could not be found or reached.",
    "fetch-failed": "The URL could not be fetched.",
}

_HTTP_SLUGS = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
               405: "method-not-allowed", 413: "media-too-large", 415: "unsupported-media-type",
               429: "too-many-requests"}


def problem_page(slug: str) -> tuple[str, int]:
    """The plain HTML page a problem `type` URI points to (404 for an unknown slug)."""
    import html

    text = PROBLEM_PAGES.get(slug)
    if text is None:
        return "<!doctype html><title>Unknown problem type</title><p>Unknown problem type.</p>", 404
    name = html.escape(slug)
    return (f"<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Problem: {name}</title>"
            f"<h1>{name}</h1><p>{html.escape(text)}</p>"
            f"<p>Verity answers errors as RFC 9457 problem details whose <code>type</code> is this page.</p></html>"), 200


def problem_response(problem: Problem) -> Response:
    response = Response(json.dumps(problem.to_json()), status=problem.status, mimetype=PROBLEM_MIME)
    if "retry_after_s" in problem.ext:  # 503s and 429s say when to come back, in the header too (RFC 9110)
        response.headers["Retry-After"] = str(max(1, int(problem.ext["retry_after_s"])))
    return response


def register_error_handlers(app: Flask) -> None:
    """Every error leaves as application/problem+json."""

    @app.errorhandler(Problem)
    def _problem(exc: Problem) -> Response:
        return problem_response(exc)

    for exc_type, (status, slug, title) in DOMAIN_PROBLEMS.items():
        def _domain(exc: Exception, status: int = status, slug: str = slug, title: str = title) -> Response:
            return problem_response(Problem(status, slug, title, str(exc)))
        app.register_error_handler(exc_type, _domain)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        detail = exc.description
        if status == 413:
            detail = f"The upload exceeds the limit of {app.config['MAX_UPLOAD_MB']} MB."
        return problem_response(Problem(status, _HTTP_SLUGS.get(status, f"http-{status}"), exc.name, detail))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return problem_response(Problem(500, "internal-error", "Internal server error",
                                        "Something went wrong on the server; it has been logged."))
