"""`build.py hashes`: the refutation hash bank in HMA / ThreatExchange formats (server/refutations/exchange.py).

    python3 build.py hashes export --format te|hma [--bank NAME] [--out FILE]   te: "pdq <hex>" lines; hma: JSON
    python3 build.py hashes import FILE --format te|hma [--bank NAME]           one refutation per content item
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from server import build_state, load_config
from server.refutations.exchange import FORMATS, ExchangeError, export_bank, import_bank


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="build.py hashes", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    exp = sub.add_parser("export")
    exp.add_argument("--format", choices=FORMATS, required=True)
    exp.add_argument("--bank", default="VERITY_REFUTATIONS")
    exp.add_argument("--out", type=Path, default=None)
    imp = sub.add_parser("import")
    imp.add_argument("file", type=Path)
    imp.add_argument("--format", choices=FORMATS, required=True)
    imp.add_argument("--bank", default=None, help="the bank's name (default: the file's name)")
    args = parser.parse_args(argv)

    state = build_state(load_config())
    try:
        if args.cmd == "export":
            text = export_bank(state.storage, args.format, args.bank)
            if args.out:
                args.out.write_text(text, encoding="utf-8")
            else:
                sys.stdout.write(text)
            return 0
        try:
            ids = import_bank(args.file.read_text(encoding="utf-8"), args.format, state.ingest,
                              bank=args.bank or args.file.stem, actor=f"cli:{getpass.getuser()}")
        except (OSError, UnicodeDecodeError, ExchangeError) as exc:
            print(f"build.py hashes import: {args.file}: {exc} (nothing was imported)", file=sys.stderr)
            return 1
        print(f"imported {len(ids)} hash-bank entries as refutations")
        return 0
    finally:
        state.storage.close()  # in-process runs (tests) too: nothing left to the collector
