"""`build.py test`: install what the tests need, then run pytest (and node --test for the extension's pure modules)."""

from __future__ import annotations

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
]


def main(argv: list[str]) -> int:
    ensure_debs(TEST_DEBS)
    status = 0
    js_tests = sorted((ROOT / "tests" / "extension").glob("*.test.js")) if (ROOT / "tests" / "extension").exists() else []
    if js_tests and shutil.which("node"):
        status |= subprocess.run(["node", "--test", *map(str, js_tests)], cwd=ROOT).returncode
    status |= subprocess.run([sys.executable, "-m", "pytest", "tests", *argv], cwd=ROOT).returncode
    return status
