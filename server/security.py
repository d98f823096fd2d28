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

Client API keys (server/keys.py): with VERIFY_REQUIRE_KEYS in force (by default whenever VERIFY_HOST is not loopback)
every /v1 route but /v1/health needs a live `X-Verity-Key` (401 `api-key-required`); a key that is sent is always
checked (401 `api-key-invalid` when unknown or revoked). The check runs before the rate limiter, which then also
counts each key on its own (VERIFY_KEY_RATE_LIMIT, or the key's own rate).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, g, request
from flask_cors import CORS

from .errors import Problem

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


def request_key() -> str | None:
    """The name of the API key this request came with, or None."""
    key = g.get("verity_key")
    return key.name if key is not None else None


def _authenticate() -> None:
    if request.method == "OPTIONS" or not request.path.startswith("/v1/") or request.path == "/v1/health":
        return
    given = request.headers.get("X-Verity-Key", "").strip()
    if given:
        found = current_app.extensions["verity_keys"].check(given)
        if found is None:
            raise Problem(401, "api-key-invalid", "Invalid API key",
                          "The X-Verity-Key sent is unknown or has been revoked; ask the server's admin for a key.")
        g.verity_key = found
    elif current_app.config["VERITY_KEYS_REQUIRED"]:
        raise Problem(401, "api-key-required", "API key required",
                      "This server requires a client key: send it as the X-Verity-Key header (the extension's "
                      "options take it).")


def init_app(app: Flask) -> None:
    """Call after every blueprint is registered (create_app does)."""
    from .keys import ApiKeys, keys_required

    app.extensions["verity_keys"] = ApiKeys(app.extensions["verify"].storage, app.extensions.get("verity_audit"))
    app.config["VERITY_KEYS_REQUIRED"] = keys_required(app.config)
    # First of all before_request functions: the rate limiter (registered earlier) must already know the key.
    app.before_request_funcs.setdefault(None, []).insert(0, _authenticate)
    origins = cors_origins(app.config.get("CORS_ORIGINS"))
    if origins:
        CORS(app, resources={r"/v1/*": {"origins": origins}}, supports_credentials=False,
             expose_headers=["X-Verity-Cache", "Location", "Retry-After"], max_age=600)
    app.after_request(_headers)

    limiter = app.extensions["verity_reports"].limiter
    api_limit = str(app.config["API_RATE_LIMIT"])
    for name in ("api", "refutations", "jobs", "reports", "review"):
        if name in app.blueprints:
            limiter.limit(api_limit)(app.blueprints[name])
            limiter.limit(_key_limit(str(app.config["KEY_RATE_LIMIT"])), key_func=_key_bucket,
                          exempt_when=lambda: g.get("verity_key") is None)(app.blueprints[name])
    verify_view = app.view_functions.get("api.verify_media")
    if verify_view is not None:
        # in addition to the blueprint's limit, not instead of it; flask-limiter checks it in the wrapper it returns
        app.view_functions["api.verify_media"] = limiter.limit(str(app.config["VERIFY_RATE_LIMIT"]),
                                                               override_defaults=False)(verify_view)


def _key_limit(default: str) -> Any:
    """The limit of the request's key: its own rate, else VERIFY_KEY_RATE_LIMIT."""
    return lambda: (g.verity_key.rate_limit if g.get("verity_key") is not None and g.verity_key.rate_limit
                    else default)


def _key_bucket() -> str:
    key = g.get("verity_key")
    return f"verity-key:{key.id}" if key is not None else "verity-key:none"
