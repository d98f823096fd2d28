"""`build.py test`: install what the tests need, then run pytest (and node --test for the extension's pure modules)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from .system import ensure_debs

ROOT = Path(__file__).resolve().parents[1]
# Debian packages the suite needs.
TEST_DEBS: list[str] = [
    "chromium",  # the reviewer UI and extension tests drive Debian's Chromium through Playwright
    "firefox-esr",  # the extension's Firefox build, driven through WebDriver BiDi
    "fonts-wqy-zenhei", "fonts-dejavu-core",  # visible_label: labels rendered onto photos at test time
    "libchromaprint1",  # Chromaprint for clip_match (ctypes, via pyacoustid)
    "postgresql", "redis-server",  # the storage, reports and jobs tests run against real PostgreSQL and Redis too
]


def main(argv: list[str]) -> int:
    ensure_debs(TEST_DEBS)
    # npm packages (the C2PA WebAssembly the extension bundles and the parity test runs, web-ext) from the committed
    # package-lock.json: `npm ci`, integrity-checked, nothing resolved anew.
    from .extension import npm_ci

    npm_ci()
    status = 0
    js_tests = sorted((ROOT / "tests" / "extension").glob("*.test.js")) if (ROOT / "tests" / "extension").exists() else []
    if js_tests and shutil.which("node"):
        status |= subprocess.run(["node", "--test", *map(str, js_tests)], cwd=ROOT).returncode
    # The PostgreSQL and Redis tests must run here, not skip (tests/services.py).
    env = dict(os.environ, VERIFY_TEST_SERVICES="required")
    status |= subprocess.run([sys.executable, "-m", "pytest", "tests", *argv], cwd=ROOT, env=env).returncode
    return status
