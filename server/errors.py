"""RFC 9457 problem details: one exception type inside, one JSON shape at the edge."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException

from .jsonio import JSONInputError
from .reports.store import InvalidReceipt, ItemAlreadyDecided, ItemNotFound, ReportNotFound
from .storage import RefutationAlreadyWithdrawn, RefutationNotFound, StorageUnavailable, TextContainsNul
from .verify.av_decode import DecodeBudgetExceeded
from .verify.types import MediaTooLarge, UndecodableMedia, UnsupportedMedia

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://verity.invalid/problems/"
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
}

_HTTP_SLUGS = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
               405: "method-not-allowed", 413: "media-too-large", 415: "unsupported-media-type",
               429: "too-many-requests"}


def problem_response(problem: Problem) -> Response:
    return Response(json.dumps(problem.to_json()), status=problem.status, mimetype=PROBLEM_MIME)


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
