"""Cross-origin access, security headers and rate limits for every endpoint (docs/security.md is the threat model).

CORS: no cross-origin access at all unless VERIFY_CORS_ORIGINS lists origins (comma-separated, exact match; flask-cors).
The extension needs none: its service worker calls the API under the manifest's host_permissions, which Chromium and
Firefox exempt from CORS, and its content scripts never call the API. List an origin only for a web front end of your
own that calls the API from a page.

Headers on every response: X-Content-Type-Options nosniff, Referrer-Policy no-referrer, and a Content-Security-Policy
of `default-src 'none'; frame-ancestors 'none'` unless the view set a stricter or page-specific one (the reviewer
pages set theirs in server/reports/review.py; stored media gets `sandbox`).

Rate limits (flask-limiter, the limiter server/reports/__init__.py creates; per client address): API_RATE_LIMIT on every
/v1 and /review route, VERIFY_RATE_LIMIT in addition on POST /v1/verify (the expensive one), REPORT_RATE_LIMIT and
LOGIN_RATE_LIMIT as before. The defaults are generous: the extension asks by hash first, one GET per image on a page.
A local install (HOST a loopback address, as `build.py run` binds by default) gives its own loopback clients
LOCAL_API_RATE_LIMIT and LOCAL_VERIFY_RATE_LIMIT instead, sized for a busy feed page: there the only loopback client is
the user's own browser. A server bound elsewhere keeps the ordinary limits for loopback too (a reverse proxy on the
same host would otherwise make every client look local).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from flask import Flask, Response, request
from flask_cors import CORS

DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'"


def cors_origins(value: object) -> list[str]:
    """VERIFY_CORS_ORIGINS (a comma-separated string or a list) -> exact origins; '*' is refused."""
    items = value.split(",") if isinstance(value, str) else list(value or [])  # type: ignore[call-overload]
    origins = [str(o).strip().rstrip("/") for o in items if str(o).strip()]
    if "*" in origins:
        raise ValueError("VERIFY_CORS_ORIGINS must list origins; '*' would let any site use the API from its pages")
    return origins


def _headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    csp = response.headers.get("Content-Security-Policy")
    if csp is None:
        response.headers["Content-Security-Policy"] = DEFAULT_CSP
    elif "frame-ancestors" not in csp and "sandbox" not in csp:
        response.headers["Content-Security-Policy"] = csp + "; frame-ancestors 'none'"
    return response


def is_loopback(address: str | None) -> bool:
    """127.0.0.0/8, ::1 and IPv4-mapped loopback; anything unparsable is not."""
    try:
        ip = ipaddress.ip_address((address or "").split("%")[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return bool(ip.is_loopback or (mapped is not None and mapped.is_loopback))


def _limit(app: Flask, key: str) -> str | Callable[[], str]:
    """The limit string for `key`, or a callable choosing LOCAL_<key> for loopback clients of a local install."""
    default = str(app.config[key])
    local = str(app.config.get(f"LOCAL_{key}") or "")
    if not local or not is_loopback(str(app.config.get("HOST", ""))):
        return default
    return lambda: local if is_loopback(request.remote_addr) else default


def init_app(app: Flask) -> None:
    """Call after every blueprint is registered (create_app does)."""
    origins = cors_origins(app.config.get("CORS_ORIGINS"))
    if origins:
        CORS(app, resources={r"/v1/*": {"origins": origins}}, supports_credentials=False,
             expose_headers=["X-Verity-Cache", "Location", "Retry-After"], max_age=600)
    app.after_request(_headers)

    limiter = app.extensions["verity_reports"].limiter
    api_limit = _limit(app, "API_RATE_LIMIT")
    for name in ("api", "refutations", "jobs", "reports", "review"):
        if name in app.blueprints:
            limiter.limit(api_limit)(app.blueprints[name])
    verify_view = app.view_functions.get("api.verify_media")
    if verify_view is not None:
        # in addition to the blueprint's limit, not instead of it; flask-limiter checks it in the wrapper it returns
        app.view_functions["api.verify_media"] = limiter.limit(_limit(app, "VERIFY_RATE_LIMIT"),
                                                               override_defaults=False)(verify_view)
