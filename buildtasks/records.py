"""`build.py records prune [--days N]`: delete verification records older than the retention period.

N defaults to VERIFY_RECORDS_RETENTION_DAYS (180). Records carry the media's source URL and the page it was on, so
they are not kept forever (server/retention.py says why they are deleted outright, unlike audit entries).
"""

from __future__ import annotations

import argparse

from server import build_state, load_config
from server.retention import prune_records


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="build.py records", description="Verification records")
    sub = parser.add_subparsers(dest="cmd", required=True)
    prune = sub.add_parser("prune", help="apply the retention period")
    prune.add_argument("--days", type=float, default=None)
    args = parser.parse_args(argv)
    config = load_config()
    storage = build_state(config).storage
    try:
        days = args.days if args.days is not None else float(config["RECORDS_RETENTION_DAYS"])
        print(f"pruned {prune_records(storage, days)} records older than {days:g} days")
    finally:
        storage.close()
    return 0
