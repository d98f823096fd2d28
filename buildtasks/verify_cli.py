"""`build.py verify PATH_OR_URL... [--json | --csv FILE] [--report DIR] [--record] [--fetch-remote-manifests]`:
the API's pipeline in-process on files, folders, media URLs and web pages (a social post or an article: its
og:image/og:video, twitter:image, JSON-LD media and main images are each verified).

Output: a readable report per input (fact-check first, the label, what it does not mean, every finding with its
score, threshold and caveat) and a closing summary table; `--json` gives one JSON line per input (the API's schema
plus "input"); `--csv FILE` writes one row per input ("-" = stdout); `--report DIR` writes one self-contained HTML
evidence report per input (printable to PDF).

Downloads go through server/fetching.py: http(s) only, no private addresses, a TOTAL deadline (VERIFY_URL_TIMEOUT_S)
and a byte bound (VERIFY_URL_MAX_MB), with a progress line on stderr. Errors are plain sentences. Files in a folder
that are not media are listed as skipped.

Data: the refutation database is read from VERIFY_DATA_DIR when set, else from the per-user data folder
($XDG_DATA_HOME/verity, ~/.local/share/verity) - never ./data of the current folder. An identification record is
written only with --record.

Exit status: 0 when every input loaded, 1 when any failed to load (unreadable, unsupported, too large, download error).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from server import build_state, load_config
from server.fetching import FetchError, FetchPolicy, fetch, policy_from_config
from server.page_media import decode_html, extract_media, looks_like_html
from server.verify import av_decode
from server.verify.media import load_media
from server.verify.pipeline import verify
from server.verify.types import MediaError, MediaKind, MediaTooLarge, UndecodableMedia, UnsupportedMedia

from . import evidence_report as report

PROGRESS_MIN_S = 5.0    # shorter clips finish before a bar would help
DECODE_SHARE = 0.9      # of the bar: decoding is most of the work; the checks fill the rest
SKIP_SUFFIXES = (".json", ".md", ".py", ".txt", ".cfg", ".pem", ".csv", ".html", ".jsonld")


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


def download_progress(label: str, stream: TextIO | None) -> Callable[[int, int | None], None] | None:
    """A fetch progress callback: a bar when the size is known, a byte count every MB otherwise."""
    if stream is None:
        return None
    bar = ProgressBar(label, stream)
    last = [-1]

    def update(received: int, total: int | None) -> None:
        if total:
            bar.update(received / total, "downloading")
        elif received // (1 << 20) != last[0]:
            last[0] = received // (1 << 20)
            stream.write(f"{label}: {received / (1 << 20):.1f} MB downloaded\n")
            stream.flush()

    return update


def user_data_dir() -> Path:
    """The per-user data folder of the CLI (XDG base directory spec)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "verity"


def cli_config(fetch_remote_manifests: bool) -> dict[str, Any]:
    """The resolved configuration, with DATA_DIR the per-user folder unless VERIFY_DATA_DIR is set."""
    overrides: dict[str, Any] = {"FETCH_REMOTE_MANIFESTS": True} if fetch_remote_manifests else {}
    if not os.environ.get("VERIFY_DATA_DIR"):
        overrides["DATA_DIR"] = str(user_data_dir())
    return load_config(overrides)


@dataclass(frozen=True, slots=True)
class Source:
    """One thing to verify: a file path or a URL; `page` is the web page a media URL was found on."""

    item: str
    page: str | None = None
    found_as: str | None = None
    from_folder: bool = False


def expand(inputs: list[str], skipped: list[tuple[str, str]]) -> Iterator[Source]:
    """Files as given, folders as their files (sorted, recursively); what is plainly not media is listed in `skipped`."""
    for item in inputs:
        path = Path(item)
        if item.startswith(("http://", "https://")) or not path.is_dir():
            yield Source(item)
            continue
        for child in sorted(path.rglob("*")):
            if not child.is_file() or any(part.startswith(".") for part in child.relative_to(path).parts):
                continue
            if child.suffix.lower() in SKIP_SUFFIXES:
                skipped.append((str(child), "not a media file (by its extension)"))
                continue
            yield Source(str(child), from_folder=True)


def plain_error(exc: BaseException) -> tuple[str, str]:
    """(stable slug, plain sentence) for an error; never an exception class name."""
    if isinstance(exc, FetchError):
        return "fetch-failed", str(exc)
    if isinstance(exc, UnsupportedMedia):
        return "unsupported-media-type", "This is not an image, audio or video format Verity reads."
    if isinstance(exc, MediaTooLarge):
        return "media-too-large", f"The media is too large: {exc}."
    if isinstance(exc, UndecodableMedia):
        return "undecodable-media", "The media could not be decoded; the file may be truncated or damaged."
    if isinstance(exc, MediaError):
        return "undecodable-media", f"The media could not be read: {exc}."
    if isinstance(exc, FileNotFoundError):
        return "not-found", "There is no such file."
    if isinstance(exc, PermissionError):
        return "permission-denied", "The file cannot be read (permission denied)."
    if isinstance(exc, IsADirectoryError):
        return "not-a-file", "This is a folder, not a file."
    if isinstance(exc, OSError):
        return "unreadable", f"The file cannot be read ({exc.strerror or 'input/output error'})."
    return "failed", "It could not be verified."


class Verifier:
    """Runs inputs through the one pipeline with the CLI's policies (fetching, records, progress, reports)."""

    def __init__(self, state: Any, policy: FetchPolicy, record: bool, progress: TextIO | None,
                 report_dir: Path | None) -> None:
        self.state, self.policy, self.record, self.progress, self.report_dir = state, policy, record, progress, report_dir
        self.reports = 0

    def run(self, source: Source) -> Iterator[dict[str, Any]]:
        """One result per media: a page URL yields one per media found on it."""
        item = source.item
        is_url = item.startswith(("http://", "https://"))
        try:
            if is_url:
                got = fetch(item, self.policy, download_progress(item, self.progress))
                if looks_like_html(got.content_type, got.data):
                    if source.page:  # a page named by a page: one level only, so a page cannot fan out without end
                        yield {"input": item, "page": source.page,
                               "error": {"type": "not-media", "detail": "This link is a web page, not media."}}
                        return
                    found = extract_media(decode_html(got.data, got.content_type), got.url)
                    if not found:
                        yield {"input": item, "error": {"type": "no-media-on-page",
                                                        "detail": "The page names no image, video or audio."}}
                        return
                    for media in found:
                        yield from self.run(Source(media.url, page=got.url, found_as=media.source))
                    return
                data = got.data
            else:
                data = Path(item).read_bytes()
            yield self._verify(source, data)
        except (OSError, FetchError, MediaError) as exc:
            slug, sentence = plain_error(exc)
            result: dict[str, Any] = {"input": item, "error": {"type": slug, "detail": sentence}}
            if source.page:
                result["page"] = source.page
            if source.from_folder and isinstance(exc, UnsupportedMedia):
                result["skipped"] = True
            yield result

    def _verify(self, source: Source, data: bytes) -> dict[str, Any]:
        item, state = source.item, self.state
        media = load_media(data, state.settings.limits)
        bar = None
        if media.kind is MediaKind.IMAGE:
            media.image()
        else:
            # as the API does: a bounded probe, then the one decoding pass the checks share (here with a progress bar)
            probe = av_decode.probe(media.data, media.limits)
            if self.progress is not None and probe.duration_s >= PROGRESS_MIN_S:
                bar = ProgressBar(Path(item).name if not item.startswith(("http://", "https://")) else item,
                                  self.progress)
            av_decode.analysis(media, progress=(lambda p: bar.update(DECODE_SHARE * p, "decoding")) if bar else None)
        if bar is not None:
            bar.update(DECODE_SHARE, "checks")
        generation = state.verdicts.generation()
        body = verify(media, state.ctx, raise_errors=state.settings.raise_check_errors).to_json()
        if bar is not None:
            bar.done()
        state.verdicts.put(media, body, generation)
        if state.declared is not None:
            state.declared.remember(media, body)  # as the verification service does (provenance memory)
        is_url = item.startswith(("http://", "https://"))
        if self.record:
            state.storage.add_record(media.sha256, body["media_type"], body["verdict"]["label"],
                                     item if is_url else None, source.page)
        result: dict[str, Any] = {"input": item, **body}
        if source.page:
            result["page"], result["found_as"] = source.page, source.found_as
        if self.report_dir is not None:
            self.reports += 1
            image = media.image() if media.kind is MediaKind.IMAGE else None
            keyframes = media.av_cache.keyframes if media.av_cache is not None else []
            html = report.render_html(result, report.iter_thumbnails(image, keyframes), item if is_url else None,
                                      self._original(result.get("refutation")))
            path = self.report_dir / report.report_filename(self.reports, item)
            path.write_text(html, encoding="utf-8")
            result["report_file"] = str(path)
        return result


    def _original(self, refutation: dict[str, Any] | None) -> str | None:
        """The matched original a refutation stored (a thumbnail), to show beside this media as the report page does."""
        match = (refutation or {}).get("match") or {}
        if not match.get("original_sha256"):
            return None
        matcher = self.state.ctx.resources["refutations"]
        for item in self.state.storage.refuted_media(refutation_id=refutation["id"]):  # type: ignore[index]
            path = matcher.media_path(item) if item.sha256 == match["original_sha256"] else None
            if path is not None and item.media_type.startswith("image"):
                try:
                    from PIL import Image

                    with Image.open(path) as original:
                        return report.thumbnail_data_uri(original)
                except (OSError, ValueError):
                    return None
        return None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="build.py verify", description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="+", metavar="PATH_OR_URL")
    parser.add_argument("--json", action="store_true", help="one JSON line per input (the API's schema plus 'input')")
    parser.add_argument("--csv", metavar="FILE", help="write one CSV row per input to FILE ('-' = stdout)")
    parser.add_argument("--report", metavar="DIR", type=Path,
                        help="write one self-contained HTML evidence report per input into DIR")
    parser.add_argument("--record", action="store_true",
                        help="keep an identification record of each verification in the data folder")
    parser.add_argument("--fetch-remote-manifests", action="store_true",
                        help="fetch C2PA manifests that a file references by URL (privacy: the manifest's host "
                             "learns your IP address and that you looked at that file)")
    parser.add_argument("--no-progress", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    # Library warnings (Pillow's DecompressionBombWarning, ...) are not for the reader: Verity's own bounds decide and
    # every problem is reported as a sentence.
    warnings.simplefilter("ignore")
    config = cli_config(args.fetch_remote_manifests)
    Path(config["DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    state = build_state(config)
    policy = policy_from_config(config)
    if args.report is not None:
        args.report.mkdir(parents=True, exist_ok=True)
    verifier = Verifier(state, policy, args.record, None if args.no_progress else sys.stderr, args.report)
    csv_out: TextIO | None = None
    writer = None
    if args.csv:
        csv_out = sys.stdout if args.csv == "-" else open(args.csv, "w", newline="", encoding="utf-8")  # noqa: SIM115
        writer = csv.DictWriter(csv_out, fieldnames=report.CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
    readable = not args.json and args.csv != "-"
    skipped: list[tuple[str, str]] = []
    results: list[dict[str, Any]] = []
    failed = 0
    try:
        for source in expand(args.inputs, skipped):
            for result in verifier.run(source):
                if result.get("skipped"):
                    skipped.append((result["input"], result["error"]["detail"]))
                    continue
                failed += "error" in result
                results.append(result)
                if writer is not None:
                    writer.writerow(report.csv_row(result))
                if args.json:
                    sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
                elif readable:
                    sys.stdout.write(report.render_text(result))
                sys.stdout.flush()
    finally:
        if csv_out is not None and csv_out is not sys.stdout:
            csv_out.close()
    if readable and (len(results) > 1 or skipped):
        sys.stdout.write(report.summary_table(results, skipped))
    elif skipped:
        for path, why in skipped:
            sys.stderr.write(f"skipped {path}: {why}\n")
    if args.report is not None and readable:
        sys.stdout.write(f"HTML reports: {args.report}\n")
    return 1 if failed else 0
