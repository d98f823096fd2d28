"""`build.py claims import FILE.jsonld [--media DIR]` and `build.py claims export [--out FILE]`: schema.org
ClaimReview / MediaReview in and out of the refutation database (VERIFY_DATA_DIR)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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
    exp = sub.add_parser("export", help="print every refutation as JSON-LD (an array)")
    exp.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    config = load_config()
    state = build_state(config)
    matcher = state.ctx.resources["refutations"]
    if args.action == "export":
        text = dumps(export_document(matcher))
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
    fetch = media_fetcher(args.media, int(float(config["URL_MAX_MB"]) * 1024 * 1024), float(config["URL_TIMEOUT_S"]))
    try:
        ids = import_document(doc, fetch, state.settings.limits, matcher)
    except ClaimsError as exc:
        print(f"claims import: {args.file}: {exc} (nothing was imported)", file=sys.stderr)
        return 1
    print(f"imported {len(ids)} refutations (ids {ids[0]}..{ids[-1]})")
    return 0
