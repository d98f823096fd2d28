"""`build.py keys`: client API keys for a team server (server/keys.py).

    python3 build.py keys add NAME [--rate "600 per minute"]   a new key for NAME, printed once (only its hash is kept)
    python3 build.py keys list                                 names, key prefixes, state, last use
    python3 build.py keys revoke NAME                          the key stops working at once

Keys are required whenever the server listens beyond loopback (VERIFY_HOST not 127.0.0.1) unless
VERIFY_REQUIRE_KEYS=false. People put theirs in the extension's options.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from server import build_state, load_config
from server.keys import ApiKeyError, ApiKeys, keys_required

from . import when


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="build.py keys", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    add = sub.add_parser("add", help="a new key")
    add.add_argument("name")
    add.add_argument("--rate", default=None, help="this key's rate limit (default VERIFY_KEY_RATE_LIMIT)")
    sub.add_parser("list")
    sub.add_parser("revoke").add_argument("name")
    args = parser.parse_args(argv)

    config = load_config()
    storage = build_state(config).storage
    try:
        keys = ApiKeys(storage)
        actor = f"cli:{getpass.getuser()}"
        try:
            if args.cmd == "add":
                record, key = keys.add(args.name, actor=actor, rate_limit=args.rate)
                print(f"key for {record.name} (shown once; give it to them for the extension's options):\n{key}")
            elif args.cmd == "revoke":
                keys.revoke(args.name, actor=actor)
                print(f"revoked the key of {args.name}")
            else:
                print(f"keys are {'required' if keys_required(config) else 'not required'} on this server "
                      f"(VERIFY_HOST={config['HOST']}, VERIFY_REQUIRE_KEYS={str(config['REQUIRE_KEYS']).lower()})")
                for k in keys.all():
                    print(f"{k.name}\t{k.prefix}...\t{'revoked ' + when(k.revoked) if k.revoked else 'active'}\t"
                          f"last used {when(k.last_used)}\t{k.rate_limit or config['KEY_RATE_LIMIT']}")
        except ApiKeyError as exc:
            print(f"build.py keys: {exc}", file=sys.stderr)
            return 1
        return 0
    finally:
        storage.close()  # in-process runs (tests) too: nothing left to the collector
