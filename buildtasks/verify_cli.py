"""`build.py verify PATH_OR_URL... [--json]`: the API's pipeline in-process on files, folders and http(s) URLs.

Exit status: 0 when every input loaded, 1 when any failed to load (unreadable, unsupported, too large, download error).
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from server import build_state, load_config
from server.verify.media import load_media
from server.verify.pipeline import verify
from server.verify.types import MediaError, MediaKind

_USER_AGENT = "Verity-CLI/1.0"


class DownloadError(Exception):
    """A URL input could not be fetched within the bounds."""


def download(url: str, max_bytes: int, timeout_s: float) -> bytes:
    """Fetch a URL, refusing more than `max_bytes` and giving up after `timeout_s` per socket operation.

    Raises:
        DownloadError: HTTP error, network error, timeout, or too large.
    """
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 (http/https checked by caller)
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise DownloadError(f"{url}: {declared} bytes; the limit is {max_bytes}")
            data = response.read(max_bytes + 1)
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        raise DownloadError(f"{url}: {exc}") from exc
    if len(data) > max_bytes:
        raise DownloadError(f"{url}: more than {max_bytes} bytes")
    return data


def expand(inputs: list[str]) -> Iterator[str]:
    """Files as given, folders as their files (sorted, recursively; hidden files and expected.json/README skipped)."""
    for item in inputs:
        path = Path(item)
        if item.startswith(("http://", "https://")) or not path.is_dir():
            yield item
            continue
        for child in sorted(path.rglob("*")):
            if child.is_file() and not child.name.startswith(".") and child.suffix.lower() not in (".json", ".md", ".py", ".txt", ".cfg", ".pem"):
                yield str(child)


def verify_input(item: str, state: Any, url_max_bytes: int, url_timeout_s: float) -> dict[str, Any]:
    """Verify one input; returns the API's response body plus "input", or {"input", "error"}."""
    try:
        if item.startswith(("http://", "https://")):
            data = download(item, url_max_bytes, url_timeout_s)
        else:
            data = Path(item).read_bytes()
        media = load_media(data, state.settings.limits)
        if media.kind is MediaKind.IMAGE:
            media.image()
    except (OSError, DownloadError, MediaError) as exc:
        return {"input": item, "error": {"type": type(exc).__name__, "detail": str(exc)}}
    report = verify(media, state.ctx, raise_errors=state.settings.raise_check_errors)
    body = report.to_json()
    state.storage.put_verdict(media.sha256, state.pipeline, body)
    state.storage.add_record(media.sha256, body["media_type"], body["verdict"]["label"],
                             item if item.startswith(("http://", "https://")) else None)
    return {"input": item, **body}


def render(result: dict[str, Any]) -> str:
    """A readable report for one input."""
    if "error" in result:
        return f"{result['input']}\n  ERROR  {result['error']['type']}: {result['error']['detail']}\n"
    verdict = result["verdict"]
    lines = [result["input"], f"  {verdict['label'].upper():<18} {verdict['summary']}",
             f"  {result['media_type']}  sha256 {result['sha256']}"]
    for reason in verdict["reasons"]:
        lines.append(f"  - {reason['check']}: {reason['text']}")
    for check in result["checks"]:
        if check["outcome"] in ("error",):
            lines.append(f"  ! {check['check']}: {check['summary']}")
    if result.get("refutation"):
        r = result["refutation"]
        lines.append(f"  REFUTED by {r.get('fact_checker')}: {r.get('claim')} ({r.get('rating')}) {r.get('review_url') or ''}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="build.py verify", description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="+", metavar="PATH_OR_URL")
    parser.add_argument("--json", action="store_true", help="one JSON line per input (the API's schema plus 'input')")
    args = parser.parse_args(argv)
    config = load_config()
    state = build_state(config)
    max_bytes = int(float(config["URL_MAX_MB"]) * 1024 * 1024)
    failed = 0
    for item in expand(args.inputs):
        result = verify_input(item, state, max_bytes, float(config["URL_TIMEOUT_S"]))
        failed += "error" in result
        out = json.dumps(result, ensure_ascii=False) + "\n" if args.json else render(result)
        sys.stdout.write(out)
        sys.stdout.flush()
    return 1 if failed else 0
