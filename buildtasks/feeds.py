"""`build.py feeds`: fact-check feeds whose reviews become refutations by themselves (server/refutations/feeds.py).

    python3 build.py feeds add URL [--name NAME] [--every 6h] [--key KEY]   subscribe (KEY: another Verity's client key)
    python3 build.py feeds list                       each feed's state: last sync, items, errors
    python3 build.py feeds remove NAME [--withdraw]   unsubscribe (with --withdraw, its refutations are withdrawn too)
    python3 build.py feeds sync [NAME]                sync now (all feeds, or one), whatever their schedule

The server syncs due feeds on its own (VERIFY_FEED_SYNC); `sync` is for a first load and for cron-less checks.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from urllib.parse import urlsplit

from server import build_state, load_config
from server.refutations.feeds import FeedError, FeedStore, FeedSync, format_every, parse_every
from server.storage import RefutationAlreadyWithdrawn

from . import when


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="build.py feeds", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    add = sub.add_parser("add", help="subscribe to a feed")
    add.add_argument("url")
    add.add_argument("--name", default=None, help="a short name (default: the URL's host)")
    add.add_argument("--every", default="6h", help="how often to sync: 30m, 6h, 1d (default 6h)")
    add.add_argument("--key", default=None, help="X-Verity-Key to send (another Verity's export)")
    sub.add_parser("list", help="each feed's state")
    rm = sub.add_parser("remove", help="unsubscribe")
    rm.add_argument("name")
    rm.add_argument("--withdraw", action="store_true", help="also withdraw the refutations the feed brought")
    sync = sub.add_parser("sync", help="sync now")
    sync.add_argument("name", nargs="?")
    args = parser.parse_args(argv)

    config = load_config()
    state = build_state(config)
    try:
        store = FeedStore(state.storage)
        actor = f"cli:{getpass.getuser()}"
        try:
            if args.cmd == "add":
                name = args.name or (urlsplit(args.url).hostname or "feed").replace(":", "-")
                feed = store.add(name, args.url, parse_every(args.every), args.key)
                print(f"added feed {feed.name}: {feed.url}, every {format_every(feed.every_s)}"
                      f" (run `build.py feeds sync {feed.name}` to sync now)")
            elif args.cmd == "list":
                feeds = store.all()
                if not feeds:
                    print("no feeds (add one with `build.py feeds add URL`)")
                for f in feeds:
                    state_text = f"error: {f.last_error}" if f.last_error else "ok" if f.last_ok else "not synced yet"
                    print(f"{f.name}\t{f.url}\tevery {format_every(f.every_s)}\tlast sync {when(f.last_sync)}\t"
                          f"{f.items} items\t{state_text}")
            elif args.cmd == "remove":
                ids = store.remove(args.name)
                withdrawn = 0
                if args.withdraw:
                    for rid in ids:
                        try:
                            state.ingest.withdraw(rid, f"feed {args.name} removed", actor=actor, source="cli")
                            withdrawn += 1
                        except RefutationAlreadyWithdrawn:
                            pass
                    state.ingest.committed()
                kept = f"; its {len(ids)} refutations stay (use --withdraw to drop them)"
                print(f"removed feed {args.name}" + (f"; withdrew {withdrawn} refutations" if args.withdraw else kept))
            else:
                syncer = FeedSync.from_state(state, config)
                feeds = [store.get(args.name)] if args.name else store.all()
                failed = 0
                for feed in feeds:
                    result = syncer.sync(feed)
                    print(result.summary())
                    failed += bool(result.errors)
                return 1 if failed else 0
        except (FeedError, ValueError) as exc:
            print(f"build.py feeds: {exc}", file=sys.stderr)
            return 1
        return 0
    finally:
        state.storage.close()  # in-process runs (tests) too: nothing left to the collector
