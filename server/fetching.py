"""The one safe fetcher: every URL Verity downloads (CLI inputs, pages' media, claims import, feeds, remote C2PA
manifests) goes through `fetch`, so every caller gets the same bounds.

Why each rule:
- http(s) only: `file://`, `ftp://` and friends would read local files or reach other services.
- The host is resolved once, EVERY address is checked, and the connection goes to the checked address (TLS still
  verifies the host name): checking a name and then letting the library resolve it again is open to DNS rebinding.
- Loopback, private, link-local (cloud metadata at 169.254.169.254), multicast, reserved and unspecified addresses are
  refused unless `allow_private` (VERIFY_FETCH_ALLOW_PRIVATE) or the address is in `allow_networks`
  (VERIFY_FETCH_ALLOW_NETWORKS): a URL from a page or a feed must not reach the server's own network.
- Redirects are followed by hand, at most `max_redirects`, and each target passes the same checks.
- One TOTAL deadline for the whole fetch (DNS, connect, headers, body, every redirect): a server sending one byte a
  second cannot hold a download open; a watchdog shuts the socket at the deadline.
- A byte bound, checked against Content-Length and again while reading.
- No cookies are sent or kept; no credentials, no proxy environment variables.
- Extra request headers (a feed's conditional GET validators, a Verity key) go only to the origin first asked: a
  redirect to another host does not carry them. A 304 answer to a conditional request is returned, not raised.

Errors are a FetchError hierarchy whose messages are plain sentences; errors.py maps them to problem+json and the
CLI prints them as they are.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

__all__ = ["FetchError", "FetchHTTPError", "FetchNetworkError", "FetchPolicy", "FetchRefused", "FetchTimeout",
           "Fetched", "PrivateAddress", "ResponseTooLarge", "SchemeNotAllowed", "TooManyRedirects", "fetch",
           "policy_from_config"]

Progress = Callable[[int, int | None], None]
Resolver = Callable[[str, int], list[str]]

_CHUNK = 64 * 1024
_REDIRECTS = (301, 302, 303, 307, 308)
_MAX_URL = 4096
# DNS lookups run in these threads so that the deadline covers them too (getaddrinfo has no timeout of its own).
_DNS_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="fetch-dns")


class FetchError(Exception):
    """A URL could not be fetched; str() is a plain sentence naming the URL."""

    def __init__(self, url: str, sentence: str) -> None:
        super().__init__(sentence)
        self.url = url


class FetchRefused(FetchError):
    """The URL is not one Verity may fetch (scheme or address)."""


class SchemeNotAllowed(FetchRefused):
    """Not an http(s) URL."""


class PrivateAddress(FetchRefused):
    """The host resolves to a loopback, private, link-local, multicast or reserved address."""


class TooManyRedirects(FetchError):
    """More redirects than allowed, or a redirect loop."""


class FetchTimeout(FetchError):
    """The whole fetch did not finish within its deadline."""


class ResponseTooLarge(FetchError):
    """The body is larger than the byte bound."""


class FetchHTTPError(FetchError):
    """The server answered with an error status."""

    def __init__(self, url: str, sentence: str, status: int) -> None:
        super().__init__(url, sentence)
        self.status = status


class FetchNetworkError(FetchError):
    """DNS, connection or TLS failure."""


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """The bounds of one fetch. Build it with `policy_from_config` outside tests."""

    max_bytes: int = 50 * 1024 * 1024
    deadline_s: float = 30.0
    max_redirects: int = 5
    allow_private: bool = False
    allow_networks: tuple[str, ...] = ()
    user_agent: str = "Verity/1.0 (+media verification)"
    accept: str = "*/*"


@dataclass(frozen=True, slots=True)
class Fetched:
    """A fetched body: `url` is the final URL after redirects."""

    url: str
    status: int
    content_type: str
    data: bytes
    redirects: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # the response's, names lower-case


def policy_from_config(config: dict[str, Any], deadline_s: float | None = None,
                       max_bytes: int | None = None) -> FetchPolicy:
    """The policy of VERIFY_URL_MAX_MB, VERIFY_URL_TIMEOUT_S, VERIFY_FETCH_ALLOW_PRIVATE, VERIFY_FETCH_ALLOW_NETWORKS."""
    nets = config.get("FETCH_ALLOW_NETWORKS") or ""
    networks = tuple(n.strip() for n in (nets.split(",") if isinstance(nets, str) else nets) if n.strip())
    allow = config.get("FETCH_ALLOW_PRIVATE", False)
    allow_private = allow if isinstance(allow, bool) else str(allow).strip().lower() in ("1", "true", "yes", "on")
    return FetchPolicy(
        max_bytes=max_bytes if max_bytes is not None else int(float(config["URL_MAX_MB"]) * 1024 * 1024),
        deadline_s=deadline_s if deadline_s is not None else float(config["URL_TIMEOUT_S"]),
        allow_private=allow_private, allow_networks=networks)


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def address_allowed(address: str, policy: FetchPolicy) -> bool:
    """Whether a connection to this IP address is allowed: public unicast, or allowed by the policy."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if policy.allow_private:
        return True
    if any(ip in ipaddress.ip_network(net, strict=False) for net in policy.allow_networks):
        return True
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left(self, url: str) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise FetchTimeout(url, f"Downloading {url} took longer than the limit of {self.seconds:g} seconds.")
        return left


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address that was checked, not to whatever the host name resolves to next."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address
        self.raw: socket.socket | None = None

    def connect(self) -> None:
        self.sock = self.raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address
        self.raw: socket.socket | None = None

    def connect(self) -> None:
        sock = self.raw = socket.create_connection((self._address, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # wrap_socket detaches `sock`: the TLS socket is the one to time out and shut down from now on
        self.sock = self.raw = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _check_url(url: str, policy: FetchPolicy, deadline: _Deadline,
               resolver: Resolver) -> tuple[str, str, int, str, str]:
    """(scheme, host, port, path+query, the checked address) or a FetchRefused/FetchNetworkError/FetchTimeout."""
    if len(url) > _MAX_URL:
        raise SchemeNotAllowed(url[:80] + "...", f"The URL is longer than {_MAX_URL} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise SchemeNotAllowed(url, f"{url} is not a valid URL.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise SchemeNotAllowed(url, f"{url} is not an http or https URL; only those are fetched.")
    host = parts.hostname
    if not host:
        raise SchemeNotAllowed(url, f"{url} has no host name.")
    if parts.username or parts.password:
        raise SchemeNotAllowed(url, f"{url} carries credentials; URLs with a user name or password are not fetched.")
    port = port or (443 if scheme == "https" else 80)
    future = _DNS_POOL.submit(resolver, host, port)
    try:
        addresses = future.result(timeout=deadline.left(url))
    except FutureTimeout:
        raise FetchTimeout(url, f"Looking up {host} took longer than the limit of {deadline.seconds:g} seconds.") from None
    except (OSError, UnicodeError):
        raise FetchNetworkError(url, f"The host name {host} could not be found.") from None
    if not addresses:
        raise FetchNetworkError(url, f"The host name {host} could not be found.")
    refused = [a for a in addresses if not address_allowed(a, policy)]
    if refused:
        raise PrivateAddress(url, f"{url} points to a local or private network address ({refused[0]}); such "
                                  "addresses are not fetched.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, host, port, path, addresses[0]


def fetch(url: str, policy: FetchPolicy, progress: Progress | None = None,
          resolver: Resolver = _system_resolver, headers: dict[str, str] | None = None) -> Fetched:
    """Download `url` within `policy`.

    Args:
        progress: called as progress(bytes_received, total_or_None) while the body is read.
        resolver: host, port -> IP addresses (the system resolver; a parameter so a caller can pin DNS).
        headers: extra request headers, sent to the first URL's origin only (If-None-Match, If-Modified-Since, ...).

    Raises:
        FetchRefused: not http(s), or a (redirect) target on a local/private address.
        TooManyRedirects: more than policy.max_redirects redirects, or a loop.
        FetchTimeout: the whole fetch took longer than policy.deadline_s.
        ResponseTooLarge: more than policy.max_bytes.
        FetchHTTPError: an error status.
        FetchNetworkError: DNS, connection or TLS failure.
    """
    deadline = _Deadline(policy.deadline_s)
    seen: list[str] = []
    current = url
    origin = _origin(url)
    conditional = bool(headers) and any(k.lower() in ("if-none-match", "if-modified-since") for k in headers or {})
    while True:
        scheme, host, port, path, address = _check_url(current, policy, deadline, resolver)
        extra = headers if headers and _origin(current) == origin else None
        status, answer, data = _one_request(current, scheme, host, port, path, address, policy, deadline, progress,
                                            extra)
        if status == 304 and conditional and extra:
            return Fetched(current, status, answer.get("content-type", ""), b"", seen, answer)
        if status in _REDIRECTS and answer.get("location"):
            target = urljoin(current, answer["location"].strip())
            seen.append(current)
            if target in seen:
                raise TooManyRedirects(url, f"{url} redirects in a loop.")
            if len(seen) > policy.max_redirects:
                raise TooManyRedirects(url, f"{url} redirects more than {policy.max_redirects} times.")
            current = target
            continue
        if status >= 400:
            raise FetchHTTPError(current, f"The server answered {status} for {current}.", status)
        if status != 200 and status not in (203,):
            raise FetchHTTPError(current, f"The server answered {status} for {current}, not the file.", status)
        return Fetched(current, status, answer.get("content-type", ""), data, seen, answer)


def _origin(url: str) -> tuple[str, str, int | None]:
    try:
        parts = urlsplit(url)
        return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port
    except ValueError:
        return "", "", None


def _one_request(url: str, scheme: str, host: str, port: int, path: str, address: str, policy: FetchPolicy,
                 deadline: _Deadline, progress: Progress | None,
                 extra: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    cls = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    conn: _PinnedHTTPConnection | _PinnedHTTPSConnection = cls(host, port, address, timeout=deadline.left(url))
    # The watchdog closes the socket at the deadline, so a read blocked on a trickling server returns at once.
    expired = threading.Event()

    def _expire() -> None:
        expired.set()
        sock = conn.raw  # the TCP socket itself: http.client drops conn.sock once a response will close
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    watchdog = threading.Timer(deadline.left(url), _expire)
    watchdog.daemon = True
    watchdog.start()
    response: http.client.HTTPResponse | None = None
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        conn.putheader("User-Agent", policy.user_agent)
        conn.putheader("Accept", policy.accept)
        conn.putheader("Accept-Encoding", "identity")
        for name, value in (extra or {}).items():
            if name.lower() not in ("host", "cookie", "accept-encoding") and "\n" not in value and "\r" not in value:
                conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        headers = {k.lower(): v for k, v in response.getheaders()}
        status = response.status
        if status in _REDIRECTS or status >= 300:
            return status, headers, b""
        declared = headers.get("content-length", "")
        total = int(declared) if declared.isdigit() else None
        if total is not None and total > policy.max_bytes:
            raise ResponseTooLarge(url, f"{url} is {total:,} bytes; the limit is {policy.max_bytes:,} bytes.")
        chunks: list[bytes] = []
        received = 0
        while True:
            if conn.raw is not None:
                conn.raw.settimeout(deadline.left(url))
            chunk = response.read1(_CHUNK) if hasattr(response, "read1") else response.read(_CHUNK)
            if expired.is_set():
                deadline.left(url)
            if not chunk:
                break
            received += len(chunk)
            if received > policy.max_bytes:
                raise ResponseTooLarge(url, f"{url} is larger than the limit of {policy.max_bytes:,} bytes.")
            chunks.append(chunk)
            if progress is not None:
                progress(received, total)
            deadline.left(url)
        if total is not None and received < total:
            raise FetchNetworkError(url, f"The download of {url} stopped early ({received:,} of {total:,} bytes).")
        return status, headers, b"".join(chunks)
    except FetchError:
        raise
    except (TimeoutError, socket.timeout):
        raise FetchTimeout(url, f"Downloading {url} took longer than the limit of {deadline.seconds:g} seconds.") from None
    except ssl.SSLError:
        raise FetchNetworkError(url, f"A secure connection to {host} could not be made.") from None
    except (OSError, http.client.HTTPException, ValueError):
        if expired.is_set() or time.monotonic() >= deadline.end:
            raise FetchTimeout(url, f"Downloading {url} took longer than the limit of {deadline.seconds:g} seconds.") from None
        raise FetchNetworkError(url, f"The connection to {host} failed.") from None
    finally:
        watchdog.cancel()
        if response is not None:
            response.close()
        conn.close()

