"""`build.py declared export FILE | import FILE [--origin NAME] | prune`: the declared index (provenance memory).

Export writes every entry as JSON ({"items": [...]}: sha256, media type, size, perceptual hashes (with the keypoints
unless --no-keypoints),
the declaration and its kind, when it was seen); never media bytes. Import reads such a file from another Verity
through the declared index's one path (`DeclaredIndex.import_entries`: validated like hash-only refutation media; a
malformed entry rejects the whole file and names the entry and field). Prune applies VERIFY_DECLARED_MAX and
VERIFY_DECLARED_RETENTION_DAYS now.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from server import build_state, jsonio, load_config
from server.refutations.declared import DeclaredImportError

PAGE = 1000


def main(argv: list[str], config: dict[str, Any] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="build.py declared", description="The declared index (provenance memory)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    exp = sub.add_parser("export", help="write the index's hashes and declarations as JSON")
    exp.add_argument("file")
    exp.add_argument("--no-keypoints", action="store_true",
                     help="leave out the keypoints (~40 kB an image): the receiver then accepts close PDQ matches only")
    imp = sub.add_parser("import", help="add another Verity's exported entries")
    imp.add_argument("file")
    imp.add_argument("--origin", default=None, help="where the entries came from (default: the file name)")
    sub.add_parser("prune", help="apply VERIFY_DECLARED_MAX and VERIFY_DECLARED_RETENTION_DAYS")
    args = parser.parse_args(argv)
    state = build_state(load_config(config))
    try:
        if state.declared is None:
            print("the declared_match check is off (VERIFY_CHECKS): no declared index", file=sys.stderr)
            return 1
        if args.cmd == "export":
            items: list[dict[str, Any]] = []
            while page := state.declared.export(items[-1]["id"] if items else 0, PAGE, not args.no_keypoints):
                items.extend(page)
            Path(args.file).write_text(json.dumps({"items": [{k: v for k, v in i.items() if k != "id"}
                                                             for i in items]}), encoding="utf-8")
            print(f"exported {len(items)} declared entries to {args.file}")
        elif args.cmd == "import":
            try:
                doc = jsonio.loads(Path(args.file).read_bytes())
            except (OSError, ValueError) as exc:
                print(f"{args.file}: {exc}", file=sys.stderr)
                return 1
            items = doc.get("items") if isinstance(doc, dict) else None
            if not isinstance(items, list):
                print(f"{args.file}: expected {{\"items\": [...]}}", file=sys.stderr)
                return 1
            try:
                ids = state.declared.import_entries(items, origin=args.origin or Path(args.file).name,
                                                    actor="cli")
            except DeclaredImportError as exc:
                print(f"{args.file}: {exc} (nothing imported)", file=sys.stderr)
                return 1
            print(f"imported {len(ids)} new declared entries ({len(items) - len(ids)} already known)")
        else:
            print(f"pruned {state.declared.prune()} declared entries")
    finally:
        state.storage.close()
    return 0
