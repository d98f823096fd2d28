"""`build.py audit`: check the hash chain, write a filing package, apply the retention period.

    python3 build.py audit verify [--anchor FILE ...]
                                                  check every entry; compare the chain with DATA_DIR/audit-anchor.json
                                                  and with each FILE (an export's manifest.json, or a copy of the
                                                  anchor file): a cut tail, a deleted prefix or a forged checkpoint
                                                  fails; names the first broken entry (exit 1)
    python3 build.py audit anchor                 print the chain's anchor (head, start, checkpoints) as JSON, to keep
                                                  somewhere else
    python3 build.py audit export --since DATE [--out DIR]
                                                  refutations and decisions since DATE (YYYY-MM-DD, UTC) as JSON lines
                                                  and CSV, with their evidence hashes, plus manifest.json (file hashes,
                                                  the chain's state, head hash and anchor)
    python3 build.py audit prune [--days N]       drop entries older than N days (default VERIFY_AUDIT_RETENTION_DAYS)
                                                  behind a checkpoint entry; the chain still verifies
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from server import build_state, load_config
from server.audit import Anchor, AnchorError, AuditLog
from server.reports.store import ReportStore
from server.storage import SQLStorage

DECISION_FIELDS = ["decision_id", "decided_at", "action", "reviewer", "note", "item_id", "sha256", "media_type", "pdq",
                   "report_count", "report_ids", "verdict_label", "verdict_sha256", "refutation_id", "claim", "rating",
                   "explanation", "original_context", "refutation_hashes", "audit_seq", "audit_hash"]
REFUTATION_FIELDS = ["refutation_id", "created_at", "claim", "rating", "fact_checker", "review_url", "date", "language",
                     "explanation", "original_context", "media_sha256", "media_hashes", "source"]


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _since(value: str) -> float:
    try:
        day = dt.datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=dt.UTC)
    except ValueError as exc:
        raise SystemExit(f"build.py audit: --since wants a date like 2026-01-31, not {value!r}") from exc
    return day.timestamp()


def filing_rows(storage: SQLStorage, audit: AuditLog, since: float) -> tuple[list[dict[str, Any]],
                                                                               list[dict[str, Any]]]:
    """(decisions, refutations) since a time, flattened for the filing package."""
    store = ReportStore(storage, audit, Path("."))
    entries = {e.subject: e for e in audit.entries(kind="decision")}
    decisions = []
    for d in store.decisions(since=since):
        ref = storage.get_refutation(d["refutation_id"]) if d["refutation_id"] else None
        ev, entry = d["evidence"], entries.get(f"decision:{d['id']}")
        decisions.append({
            "decision_id": d["id"], "decided_at": _iso(d["time"]), "action": d["action"], "reviewer": d["reviewer"],
            "note": d["note"], "item_id": d["item_id"], "sha256": d["sha256"], "media_type": d["media_type"],
            "pdq": d["pdq"], "report_count": d["report_count"], "report_ids": ev.get("report_ids", []),
            "verdict_label": ev.get("verdict_label"), "verdict_sha256": ev.get("verdict_sha256"),
            "refutation_id": d["refutation_id"], "claim": ref.claim if ref else None,
            "rating": ref.rating if ref else None, "explanation": ref.explanation if ref else None,
            "original_context": ref.original_context if ref else None,
            "refutation_hashes": ev.get("refutation_hashes", {}),
            "audit_seq": entry.seq if entry else None, "audit_hash": entry.hash if entry else None})
    refutations = []
    for r in storage.connect().execute("SELECT * FROM refutations WHERE created >= ? ORDER BY id", (since,)):
        media = storage.refuted_media(refutation_id=r["id"])
        refutations.append({
            "refutation_id": r["id"], "created_at": _iso(r["created"]), "claim": r["claim"], "rating": r["rating"],
            "fact_checker": r["fact_checker"], "review_url": r["review_url"], "date": r["date"],
            "language": r["language"], "explanation": r["explanation"], "original_context": r["original_context"],
            "media_sha256": [m.sha256 for m in media], "media_hashes": [m.hashes for m in media],
            "source": json.loads(r["extra"] or "{}").get("source")})
    return decisions, refutations


def export(storage: SQLStorage, audit: AuditLog, since: float, out: Path) -> dict[str, Any]:
    """Write decisions.{jsonl,csv}, refutations.{jsonl,csv} and manifest.json into `out`; returns the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    decisions, refutations = filing_rows(storage, audit, since)
    files: dict[str, str] = {}
    for name, rows, fields in (("decisions", decisions, DECISION_FIELDS),
                               ("refutations", refutations, REFUTATION_FIELDS)):
        jsonl = out / f"{name}.jsonl"
        jsonl.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows),
                         encoding="utf-8")
        with open(out / f"{name}.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            for r in rows:
                writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v
                                 for k, v in r.items()})
        for path in (jsonl, out / f"{name}.csv"):
            files[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    chain = audit.verify()
    anchor = audit.anchor_for_export() if chain.ok else None
    manifest = {"generated_at": _iso(time.time()), "since": _iso(since), "decisions": len(decisions),
                "refutations": len(refutations), "files_sha256": files,
                "audit_chain": {"ok": chain.ok, "entries": chain.entries, "first_broken": chain.first_broken,
                                "reason": chain.reason, "head_seq": chain.head_seq, "head_hash": chain.head_hash,
                                # what `audit verify --anchor manifest.json` compares a later chain with
                                "anchor": anchor.to_json() if anchor is not None else None}}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="build.py audit", description="The hash-chained audit log")
    sub = parser.add_subparsers(dest="cmd", required=True)
    ver = sub.add_parser("verify", help="check the chain")
    ver.add_argument("--anchor", type=Path, action="append", default=[],
                     help="an export's manifest.json or a copy of audit-anchor.json to compare with (repeatable)")
    sub.add_parser("anchor", help="print the chain's anchor as JSON")
    exp = sub.add_parser("export", help="write a filing package")
    exp.add_argument("--since", required=True, help="YYYY-MM-DD (UTC)")
    exp.add_argument("--out", type=Path, default=None, help="folder (default: DATA_DIR/filings/<date>-<time>)")
    prune = sub.add_parser("prune", help="apply the retention period")
    prune.add_argument("--days", type=float, default=None)
    args = parser.parse_args(argv)

    config = load_config()
    storage = build_state(config).storage
    try:
        return _run(args, config, storage)
    finally:
        storage.close()  # run in-process too (tests): a connection left to the collector fails whatever runs next


def _run(args: argparse.Namespace, config: dict[str, Any], storage: SQLStorage) -> int:
    audit = AuditLog(storage)
    if args.cmd == "verify":
        given: list[tuple[str, Anchor]] = []
        for path in args.anchor:
            try:
                given.append((str(path), Anchor.from_json(json.loads(path.read_text(encoding="utf-8")))))
            except (OSError, ValueError, AnchorError) as exc:
                print(f"build.py audit: cannot read the anchor {path}: {exc}", file=sys.stderr)
                return 2
        report = audit.verify(given)
        if report.ok:
            print(f"audit log OK: {report.entries} entries, head #{report.head_seq} {report.head_hash}")
            print("anchored in: " + ("; ".join(report.anchors) if report.anchors else
                                     "nothing yet (no anchor file; it is written at the next audited change)"))
            return 0
        print(f"audit log BROKEN at entry #{report.first_broken}: {report.reason} "
              f"({report.entries} entries)", file=sys.stderr)
        return 1
    if args.cmd == "anchor":
        anchor = audit.anchor_for_export()
        if anchor is None:
            print("build.py audit: the chain does not verify; run `build.py audit verify`", file=sys.stderr)
            return 1
        print(json.dumps(anchor.to_json(), indent=1))
        return 0
    if args.cmd == "export":
        out = args.out or Path(config["DATA_DIR"]) / "filings" / time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        manifest = export(storage, audit, _since(args.since), out)
        print(f"wrote {out}: {manifest['decisions']} decisions, {manifest['refutations']} refutations; "
              f"audit chain {'OK' if manifest['audit_chain']['ok'] else 'BROKEN'}")
        return 0 if manifest["audit_chain"]["ok"] else 1
    days = args.days if args.days is not None else float(config["AUDIT_RETENTION_DAYS"])
    print(f"pruned {audit.prune(days)} entries older than {days:g} days")
    return 0
