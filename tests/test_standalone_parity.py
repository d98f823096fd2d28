"""Parity: the extension's standalone C2PA reading (c2pa-rs WebAssembly + extension/standalone/c2pa-read.js and
verdict.js, run under node on the engine the packages bundle) says what the server's c2pa_manifest check and verdict
rule say, on every C2PA fixture (the c2pa folder, and the audio and video folders' c2pa files): same outcome, signal,
label, summary, signer, validation state, failure class and declared source types.

Why under node and not in the browser: the same WebAssembly and the same JS, without a browser start per file (the
e2e tests load the built extension in Chromium and Firefox on a C2PA AI fixture). Needs `npm ci` (build.py test runs it).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from media_fixtures import FIXTURES, ROOT

from server.verify.checks import c2pa_manifest
from server.verify.media import load_media
from server.verify.types import Limits
from server.verify.verdict import decide

SCRIPT = ROOT / "tests" / "extension" / "standalone-read.mjs"
ENGINE = ROOT / "node_modules" / "@contentauth" / "c2pa-wasm" / "pkg" / "c2pa_bg.wasm"
MEDIA_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".avif", ".heic", ".tif", ".tiff", ".wav", ".mp3", ".m4a", ".mp4",
                  ".mov"}
FILES: list[Path] = sorted(
    p for folder in ("c2pa", "audio/c2pa", "video/c2pa") for p in (FIXTURES / folder).glob("*")
    if p.is_file() and p.suffix.lower() in MEDIA_SUFFIXES)
# Evidence both sides must agree on (remote_fetched differs by design: standalone never fetches anything).
SAME_EVIDENCE = ("validation_state", "failure_codes", "failure_class", "trusted", "test_certificate",
                 "certificate_only_failures", "signer", "claim_generator", "manifests", "digital_source_types",
                 "ai_basis", "ingredients", "remote_url")


@pytest.fixture(scope="module")
def standalone() -> dict[str, dict]:
    """file name -> the extension's {result, verdict, ms}, all files in one node run."""
    if shutil.which("node") is None or not ENGINE.exists():
        pytest.skip("node and `npm ci` (node_modules/@contentauth/c2pa-wasm) are needed")
    out = subprocess.run(["node", str(SCRIPT), *map(str, FILES)], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, check=True)
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    return {Path(r["file"]).relative_to(FIXTURES).as_posix(): r for r in rows}


def test_standalone_parity_covers_every_c2pa_fixture(standalone) -> None:
    assert len(FILES) >= 30
    assert set(standalone) == {p.relative_to(FIXTURES).as_posix() for p in FILES}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(FIXTURES).as_posix())
def test_standalone_c2pa_matches_server(path: Path, standalone, ctx) -> None:
    server = c2pa_manifest.check(load_media(path.read_bytes(), Limits()), ctx).to_json()
    mine = standalone[path.relative_to(FIXTURES).as_posix()]
    local = mine["result"]
    assert (local["outcome"], local["signal"]) == (server["outcome"], server["signal"])
    assert mine["verdict"]["label"] == decide([c2pa_manifest.check(load_media(path.read_bytes(), Limits()), ctx)]).label
    if server["outcome"] != "detected":
        return  # no manifest, or a container neither reads: nothing more to compare
    assert local["summary"] == server["summary"]
    for key in SAME_EVIDENCE:
        mine_value, theirs = local["evidence"].get(key), server["evidence"].get(key)
        if key == "digital_source_types":  # the store's manifest order is not meaningful: compare as sets
            mine_value, theirs = (sorted(map(json.dumps, v or [])) for v in (mine_value, theirs))
        assert mine_value == theirs, key


def test_standalone_verdict_texts_match_server() -> None:
    """verdict.js carries verdict.py's summaries and not-meaning texts word for word."""
    from server.verify import verdict

    script = ("import * as v from './extension/standalone/verdict.js';"
              "console.log(JSON.stringify({labels: v.LABELS, prov: v.PROVENANCE_SUMMARIES, not: v.NOT_MEANING}));")
    if shutil.which("node") is None:
        pytest.skip("node is needed")
    got = json.loads(subprocess.run(["node", "--input-type=module", "-e", script], cwd=ROOT, capture_output=True,
                                    text=True, check=True).stdout)
    assert got["labels"] == list(verdict.LABELS)
    assert got["prov"] == verdict.PROVENANCE_SUMMARIES
    assert got["not"] == verdict.NOT_MEANING
