#!/usr/bin/env python3
"""Verity's one entry point.

    python3 build.py run                 install what is needed, then serve the API (gunicorn) on 127.0.0.1:8787
    python3 build.py worker [--burst] [--max-jobs N]   run verification jobs from VERIFY_JOB_QUEUE (RQ + Redis)
    python3 build.py test                install what the tests need, then run the whole suite
    python3 build.py bench               benchmarks; prints a table and writes bench-results.json
    python3 build.py verify PATH_OR_URL... [--json]   the pipeline in-process on files, folders and URLs
    python3 build.py users add NAME --role reviewer|admin [--password-stdin]   reviewer accounts (also passwd, list, ...)
    python3 build.py audit verify | export --since DATE [--out DIR] | prune [--days N]   the hash-chained audit log
    python3 build.py records prune [--days N]   delete verification records older than VERIFY_RECORDS_RETENTION_DAYS
    python3 build.py models [--verify|--eval|--calibrate|--train-speech]  model files vs models/manifest.json; metrics; fit the speech head
    python3 build.py claims import FILE.jsonld [--media DIR] | claims export [--out FILE]   ClaimReview/MediaReview
    python3 build.py feeds add URL [--name NAME] [--every 6h] | list | remove NAME | sync [NAME]   fact-check feeds
    python3 build.py keys add NAME | list | revoke NAME   client API keys for a team server
    python3 build.py hashes export|import --format te|hma   the refutation hash bank for HMA / ThreatExchange
    python3 build.py declared export FILE | import FILE [--origin NAME] | prune   the declared index (provenance memory)
    python3 build.py extension [--no-lint]   build dist/chromium, dist/firefox and their zips; web-ext lint the Firefox build
    python3 build.py fuzz --minutes N [--target image|av|claims]   atheris fuzzing of decode -> checks and the JSON-LD import

On first use it creates .venv with the pinned requirements (requirements.txt, requirements-nodeps.txt) and re-runs
itself inside it. Only the standard library is used before that point.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENV_PY = VENV / "bin" / "python"
REQUIREMENTS = [ROOT / "requirements.txt", ROOT / "requirements-nodeps.txt"]
STAMP = VENV / ".requirements.sha256"

# command -> "module:function" in buildtasks/, imported only inside the venv
COMMANDS: dict[str, str] = {
    "run": "buildtasks.serve:main",
    "worker": "buildtasks.worker:main",
    "test": "buildtasks.testing:main",
    "bench": "buildtasks.bench:main",
    "verify": "buildtasks.verify_cli:main",
    "users": "buildtasks.users:main",
    "audit": "buildtasks.audit:main",
    "records": "buildtasks.records:main",
    "models": "buildtasks.models:main",
    "claims": "buildtasks.claims:main",
    "feeds": "buildtasks.feeds:main",
    "keys": "buildtasks.keys:main",
    "hashes": "buildtasks.hashes:main",
    "declared": "buildtasks.declared:main",
    "extension": "buildtasks.extension:main",
    "fuzz": "buildtasks.fuzz:main",
}


def _requirements_digest() -> str:
    h = hashlib.sha256()
    for path in REQUIREMENTS:
        if path.exists():
            h.update(path.read_bytes())
    return h.hexdigest()


def ensure_venv() -> None:
    """Create .venv and install the pinned requirements when they changed since the last install."""
    if not VENV_PY.exists():
        print("build.py: creating .venv", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = _requirements_digest()
    if STAMP.exists() and STAMP.read_text().strip() == digest:
        return
    pip = [str(VENV_PY), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    print("build.py: installing Python requirements into .venv", flush=True)
    subprocess.run(pip + ["-r", str(REQUIREMENTS[0])], check=True)
    if REQUIREMENTS[1].exists():
        # Packages whose declared dependencies are wrong or huge (e.g. torch); what they really need is pinned above.
        subprocess.run(pip + ["--no-deps", "-r", str(REQUIREMENTS[1])], check=True)
    STAMP.write_text(digest)


def in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help") or argv[0] not in COMMANDS:
        print(__doc__)
        print("commands:", ", ".join(COMMANDS))
        return 0 if argv and argv[0] in ("-h", "--help", "help") else 2
    if not in_venv():
        ensure_venv()
        os.execv(str(VENV_PY), [str(VENV_PY), str(Path(__file__).resolve()), *argv])
    sys.path.insert(0, str(ROOT))
    module_name, func_name = COMMANDS[argv[0]].split(":")
    import importlib

    func = getattr(importlib.import_module(module_name), func_name)
    return int(func(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
