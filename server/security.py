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

Client addresses: behind a reverse proxy every request comes from the proxy. VERIFY_TRUSTED_PROXIES lists the proxies
(addresses or CIDRs) whose X-Forwarded-For / X-Forwarded-Proto are believed (`TrustedProxyFix`, like werkzeug's ProxyFix
but only for listed peers, and walking the chain from the right past every trusted hop); from any other peer the
headers are ignored, so a client cannot pick its own address. Limits are keyed by `client_key`: an IPv4 address, or
the /64 an IPv6 address belongs to (one subscriber usually gets a whole /64, so per-address keys would be unlimited).
A local install (HOST a loopback address, as `build.py run` binds by default) gives its own loopback clients
LOCAL_API_RATE_LIMIT and LOCAL_VERIFY_RATE_LIMIT instead, sized for a busy feed page: there the only loopback client is
the user's own browser. A server bound elsewhere keeps the ordinary limits for loopback too (a reverse proxy on the
same host would otherwise make every client look local).

Client API keys (server/keys.py): with VERIFY_REQUIRE_KEYS in force (by default whenever VERIFY_HOST is not loopback)
every /v1 route but /v1/health needs a live `X-Verity-Key` (401 `api-key-required`); a key that is sent is always
checked (401 `api-key-invalid` when unknown or revoked). The check runs before the rate limiter, which then counts a
key holder per key, with limits that fit a busy feed instead of the per-address ones: KEY_RATE_LIMIT (or the key's own
`--rate`) instead of API_RATE_LIMIT and KEY_VERIFY_RATE_LIMIT instead of VERIFY_RATE_LIMIT. A client without a key
keeps the per-address limits, so a team server stays as closed to unknown clients as before.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
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


def is_loopback(address: str | None) -> bool:
    """127.0.0.0/8, ::1 and IPv4-mapped loopback; anything unparsable is not."""
    try:
        ip = ipaddress.ip_address((address or "").split("%")[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return bool(ip.is_loopback or (mapped is not None and mapped.is_loopback))


def _limit(app: Flask, key: str) -> Callable[[], str]:
    """The limit for `key` ("API_RATE_LIMIT" or "VERIFY_RATE_LIMIT") as a callable chosen per request: a key
    holder's KEY_ limit (for the API limit the key's own rate first), LOCAL_<key> for loopback clients of a local
    install, else the ordinary one. `_bucket` counts key holders per key, everyone else per address."""
    default = str(app.config[key])
    local = str(app.config.get(f"LOCAL_{key}") or "")
    if not is_loopback(str(app.config.get("HOST", ""))):
        local = ""
    keyed = str(app.config.get(KEY_LIMITS[key]) or "") or default

    def choose() -> str:
        held = g.get("verity_key")
        if held is not None:
            return held.rate_limit if key == "API_RATE_LIMIT" and held.rate_limit else keyed
        return local if local and is_loopback(request.remote_addr) else default

    return choose


# The limit that replaces each per-address limit for requests with a live X-Verity-Key (counted per key).
KEY_LIMITS = {"API_RATE_LIMIT": "KEY_RATE_LIMIT", "VERIFY_RATE_LIMIT": "KEY_VERIFY_RATE_LIMIT"}


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
    proxies = trusted_proxies(app.config.get("TRUSTED_PROXIES"))
    if proxies:
        app.wsgi_app = TrustedProxyFix(app.wsgi_app, proxies)  # type: ignore[method-assign]

    limiter = app.extensions["verity_reports"].limiter
    api_limit = _limit(app, "API_RATE_LIMIT")
    for name in ("api", "refutations", "jobs", "reports", "review"):
        if name in app.blueprints:
            limiter.limit(api_limit, key_func=_bucket)(app.blueprints[name])
    verify_view = app.view_functions.get("api.verify_media")
    if verify_view is not None:
        # in addition to the blueprint's limit, not instead of it; flask-limiter checks it in the wrapper it returns
        app.view_functions["api.verify_media"] = limiter.limit(_limit(app, "VERIFY_RATE_LIMIT"), key_func=_bucket,
                                                               override_defaults=False)(verify_view)


# --- client addresses behind trusted proxies, and rate-limit keys -----------------------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_proxies(value: object) -> list[Network]:
    """VERIFY_TRUSTED_PROXIES (comma-separated addresses/CIDRs, or a list) -> networks.

    Raises:
        ValueError: an entry is neither an address nor a network (a clear start-up error).
    """
    items = value.split(",") if isinstance(value, str) else list(value or [])  # type: ignore[call-overload]
    networks = []
    for item in (str(i).strip() for i in items):
        if item:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(f"VERIFY_TRUSTED_PROXIES: {item!r} is not an address or CIDR") from None
    return networks


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An X-Forwarded-For entry ("1.2.3.4", "1.2.3.4:5678", "[2001:db8::1]:443", "2001:db8::1") -> address, or None."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


class TrustedProxyFix:
    """WSGI middleware: REMOTE_ADDR (and the scheme) from X-Forwarded-* when, and only when, the peer is trusted.

    The chain is read from the right: each trusted proxy appends the peer it saw, so the first address that is not a
    trusted proxy is the client. Entries further left were written by the client and are never used.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], proxies: list[Network]) -> None:
        self.app, self.proxies = app, proxies

    def _trusted(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
        return address is not None and any(address.version == n.version and address in n for n in self.proxies)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        peer = _address(environ.get("REMOTE_ADDR") or "")
        if self._trusted(peer):
            client = peer
            for entry in reversed(environ.get("HTTP_X_FORWARDED_FOR", "").split(",")):
                hop = _address(entry)
                if hop is None:
                    break  # garbage where a trusted proxy should have written an address: keep the last good hop
                client = hop
                if not self._trusted(hop):
                    break
            environ["verity.proxy_peer"] = environ.get("REMOTE_ADDR")
            environ["REMOTE_ADDR"] = str(client)
            proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[-1].strip().lower()
            if proto in ("http", "https"):
                environ["wsgi.url_scheme"] = proto
        return self.app(environ, start_response)


def rate_limit_key(remote_addr: str | None) -> str:
    """The rate-limit bucket of a client address: IPv4 as is, IPv6 by its /64 (IPv4-mapped IPv6 as IPv4)."""
    address = _address(remote_addr or "")
    if address is None:
        return remote_addr or "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def client_key() -> str:
    """flask-limiter's key function: the request's client, as `rate_limit_key` buckets it."""
    return rate_limit_key(request.remote_addr)


def _bucket() -> str:
    """The rate-limit bucket of a request: its API key when it sent a live one (a team behind one NAT address does
    not share one allowance), else its client address (`client_key`)."""
    key = g.get("verity_key")
    return f"verity-key:{key.id}" if key is not None else client_key()
