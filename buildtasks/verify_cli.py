"""`build.py verify PATH_OR_URL... [--json]`: the API's pipeline in-process on files, folders and http(s) URLs.

Exit status: 0 when every input loaded, 1 when any failed to load (unreadable, unsupported, too large, download error).
Audio and video of PROGRESS_MIN_S or more show a progress bar on stderr (decoding, then the checks); stdout carries
only the reports, so `--json` output stays clean.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from server import build_state, load_config
from server.verify import av_decode
from server.verify.media import load_media
from server.verify.pipeline import verify
from server.verify.types import MediaError, MediaKind

_USER_AGENT = "Verity-CLI/1.0"
PROGRESS_MIN_S = 5.0    # shorter clips finish before a bar would help
DECODE_SHARE = 0.9      # of the bar: decoding is most of the work; the checks fill the rest


class ProgressBar:
    """A text bar on a stream (stderr): redrawn in place on a terminal, one line per 10 % step otherwise."""

    def __init__(self, label: str, stream: TextIO, width: int = 30) -> None:
        self.label, self.stream, self.width = label, stream, width
        self.tty = stream.isatty()
        self._shown, self._stage = -1, ""

    def update(self, fraction: float, stage: str) -> None:
        percent = int(max(0.0, min(1.0, fraction)) * 100)
        step = percent if self.tty else percent // 10 * 10
        if step <= self._shown and stage == self._stage:
            return
        self._shown, self._stage = max(step, self._shown), stage
        step = self._shown
        filled = self.width * step // 100
        line = f"{self.label} [{'#' * filled}{'-' * (self.width - filled)}] {step:3d}% {stage}"
        self.stream.write(("\r" + line + "\033[K") if self.tty else line + "\n")
        self.stream.flush()

    def done(self) -> None:
        self.update(1.0, "done")
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


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


def verify_input(item: str, state: Any, url_max_bytes: int, url_timeout_s: float,
                 progress: TextIO | None = None) -> dict[str, Any]:
    """Verify one input; returns the API's response body plus "input", or {"input", "error"}.

    Args:
        progress: where to draw a progress bar for long audio/video (stderr in the CLI), or None for none.
    """
    try:
        if item.startswith(("http://", "https://")):
            data = download(item, url_max_bytes, url_timeout_s)
        else:
            data = Path(item).read_bytes()
        media = load_media(data, state.settings.limits)
        bar = None
        if media.kind is MediaKind.IMAGE:
            media.image()
        else:
            # as the API does: a bounded probe, then the one decoding pass the checks share (here with a progress bar)
            probe = av_decode.probe(media.data, media.limits)
            if progress is not None and probe.duration_s >= PROGRESS_MIN_S:
                bar = ProgressBar(Path(item).name if not item.startswith(("http://", "https://")) else item, progress)
            av_decode.analysis(media, progress=(lambda p: bar.update(DECODE_SHARE * p, "decoding")) if bar else None)
    except (OSError, DownloadError, MediaError) as exc:
        return {"input": item, "error": {"type": type(exc).__name__, "detail": str(exc)}}
    if bar is not None:
        bar.update(DECODE_SHARE, "checks")
    generation = state.verdicts.generation()
    report = verify(media, state.ctx, raise_errors=state.settings.raise_check_errors)
    if bar is not None:
        bar.done()
    body = report.to_json()
    state.verdicts.put(media, body, generation)
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
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr for long audio/video")
    args = parser.parse_args(argv)
    config = load_config()
    state = build_state(config)
    max_bytes = int(float(config["URL_MAX_MB"]) * 1024 * 1024)
    failed = 0
    for item in expand(args.inputs):
        result = verify_input(item, state, max_bytes, float(config["URL_TIMEOUT_S"]),
                              None if args.no_progress else sys.stderr)
        failed += "error" in result
        out = json.dumps(result, ensure_ascii=False) + "\n" if args.json else render(result)
        sys.stdout.write(out)
        sys.stdout.flush()
    return 1 if failed else 0
