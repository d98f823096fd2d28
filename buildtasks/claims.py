"""`build.py claims import FILE.jsonld [--media DIR]` and `build.py claims export [--out FILE] [--base-url URL]`:
schema.org ClaimReview / MediaReview in and out of the refutation database (VERIFY_DATA_DIR).

Export names each media by its URL on this server (--base-url, the server's public URL), so importing the export
into a fresh instance reproduces the same refutations. Import reads remote media through server/fetching.py; reviews
that name no media are listed as skipped."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from server.fetching import FetchError, policy_from_config
from server.fetching import fetch as fetch_url
from server.page_media import decode_html, extract_media, looks_like_html
from server import build_state, jsonio, load_config
from server.refutations.claims import ClaimsError, dumps, export_document, import_document, media_fetcher


# A fact-checker's full export can be large; the depth bound is the same as the API's (server/jsonio.py).
CLAIMS_MAX_BYTES = 512 * 1024 * 1024


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="build.py claims")
    sub = parser.add_subparsers(dest="action", required=True)
    imp = sub.add_parser("import", help="import ClaimReview/MediaReview JSON-LD (all items or none)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--media", type=Path, default=None, help="folder that relative contentUrls are read from")
    imp.add_argument("--fetch-pages", action="store_true",
                     help="for a review that names no media, read the media of its appearance pages (og:image, ...)")
    exp = sub.add_parser("export", help="print every refutation as JSON-LD (an array)")
    exp.add_argument("--out", type=Path, default=None)
    exp.add_argument("--base-url", default=None,
                     help="this server's public URL: each media is exported as <URL>/v1/refutations/<id>/media/<id>")
    args = parser.parse_args(argv)

    config = load_config()
    state = build_state(config)
    try:
        matcher = state.ctx.resources["refutations"]
        if args.action == "export":
            try:
                text = dumps(export_document(matcher, args.base_url))
            except ClaimsError as exc:
                print(f"claims export: {exc}", file=sys.stderr)
                return 1
            if args.out:
                args.out.write_text(text + "\n", encoding="utf-8")
            else:
                print(text)
            return 0
        try:
            doc = jsonio.loads(args.file.read_bytes(), max_bytes=CLAIMS_MAX_BYTES)
        except OSError as exc:
            print(f"claims import: cannot read {args.file}: {exc}", file=sys.stderr)
            return 2
        except jsonio.JSONInputError as exc:
            print(f"claims import: {args.file} is not JSON: {exc}", file=sys.stderr)
            return 2
        policy = policy_from_config(config)
        fetch = media_fetcher(args.media, policy)

        def page_media(url: str) -> list[str]:
            try:
                got = fetch_url(url, policy)
            except FetchError as exc:
                raise ClaimsError(str(exc)) from exc
            if not looks_like_html(got.content_type, got.data):
                return [got.url]
            return [m.url for m in extract_media(decode_html(got.data, got.content_type), got.url)]

        try:
            result = import_document(doc, fetch, state.ingest, page_media if args.fetch_pages else None,
                                     actor="cli:claims-import")
        except ClaimsError as exc:
            print(f"claims import: {args.file}: {exc} (nothing was imported)", file=sys.stderr)
            return 1
        ids = result.ids
        print(f"imported {len(ids)} refutations" + (f" (ids {ids[0]}..{ids[-1]})" if ids else ""))
        for why in result.skipped:
            print(f"skipped {why}")
        return 0
    finally:
        state.storage.close()  # in-process runs (tests) too: nothing left to the collector
