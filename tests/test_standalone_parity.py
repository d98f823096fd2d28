"""Parity: the extension's standalone answer (extension/standalone/check.js checkBytes, the function the C2PA worker
runs: c2pa-rs WebAssembly + c2pa-read.js, metadata-labels.js, verdict.js; run under node on the engine the packages
bundle) says what the server says with the same declared checks.

- Whole answer, every image fixture the issue names (c2pa, metadata, photos, watermark) and the audio and video
  folders' C2PA files (those folders hold no image files; their other files carry no label either declared check
  reads): the verdict label, signer and declared source types equal those of the server's verdict rule
  (server.verify.verdict.decide) over c2pa_manifest + metadata_labels, the two checks standalone mode runs.
- C2PA in detail, every C2PA fixture: same outcome, signal, summary, validation state, failure class, signer and
  declared source types.

Why under node and not in the browser: the same WebAssembly and the same JS, without a browser start per file (the
e2e tests load the built extension in Chromium and Firefox). The one node-specific part is the stealth-metadata pixel
decoder (node has none): Pillow's alpha plane stands in for the worker's createImageBitmap. Needs `npm ci`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from media_fixtures import FIXTURES, ROOT, alpha_plane

from server.verify.checks import c2pa_manifest, metadata_labels
from server.verify.media import load_media
from server.verify.types import Limits, MediaError
from server.verify.verdict import decide

SCRIPT = ROOT / "tests" / "extension" / "standalone-read.mjs"
ENGINE = ROOT / "node_modules" / "@contentauth" / "c2pa-wasm" / "pkg" / "c2pa_bg.wasm"
MEDIA_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".avif", ".heic", ".tif", ".tiff", ".gif", ".wav", ".mp3",
                  ".m4a", ".mp4", ".mov"}


def media_files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (FIXTURES / folder).rglob("*")
                  if p.is_file() and p.suffix.lower() in MEDIA_SUFFIXES)


C2PA_FILES: list[Path] = media_files("c2pa", "audio/c2pa", "video/c2pa")
FILES: list[Path] = sorted(set(media_files("c2pa", "metadata", "photos", "watermark", "audio/c2pa", "video/c2pa")))
# Evidence both sides must agree on (remote_fetched differs by design: standalone never fetches anything).
SAME_EVIDENCE = ("validation_state", "failure_codes", "failure_class", "trusted", "test_certificate",
                 "certificate_only_failures", "signer", "claim_generator", "manifests", "digital_source_types",
                 "ai_basis", "ingredients", "remote_url")


def rel(path: Path) -> str:
    return path.relative_to(FIXTURES).as_posix()


def declared(label: str, checks: list[dict[str, Any]]) -> dict[str, Any]:
    """What the badge says from the declared checks: label, C2PA signer, declared source types (C2PA and IPTC)."""
    by = {c["check"]: c for c in checks}
    c2pa_ev = by.get("c2pa_manifest", {}).get("evidence") or {}
    types = {json.dumps(t, sort_keys=True) for t in c2pa_ev.get("digital_source_types") or []}
    for finding in (by.get("metadata_labels", {}).get("evidence") or {}).get("findings") or []:
        if finding.get("source_type"):
            types.add(json.dumps({"iptc": finding["source_type"]}))
    return {"label": label, "signer": c2pa_ev.get("signer"), "source_types": sorted(types)}


@pytest.fixture(scope="module")
def standalone(tmp_path_factory) -> dict[str, dict]:
    """fixture path -> the extension's {response, ms}, all files in one node run."""
    if shutil.which("node") is None or not ENGINE.exists():
        pytest.skip("node and `npm ci` (node_modules/@contentauth/c2pa-wasm) are needed")
    tmp = tmp_path_factory.mktemp("alpha")
    items = [{"path": str(p), **({"alpha": a} if (a := alpha_plane(p, tmp)) else {})} for p in FILES]
    out = subprocess.run(["node", str(SCRIPT)], input=json.dumps(items), cwd=ROOT, capture_output=True, text=True,
                         timeout=300, check=True)
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    return {rel(Path(r["file"])): r for r in rows}


def test_standalone_parity_covers_every_fixture(standalone) -> None:
    assert len(C2PA_FILES) >= 30 and len(FILES) >= 180
    assert set(standalone) == {rel(p) for p in FILES}


@pytest.mark.parametrize("path", FILES, ids=rel)
def test_standalone_answer_matches_server_declared_checks(path: Path, standalone, ctx) -> None:
    """Label, signer and declared source types of the whole standalone answer = the server's verdict over the same
    two declared checks."""
    response = standalone[rel(path)]["response"]
    assert response["mode"] == "standalone"
    assert [c["check"] for c in response["checks"]] == ["c2pa_manifest", "metadata_labels"]
    try:
        media = load_media(path.read_bytes(), Limits())
    except MediaError as exc:  # the server refuses the file (problem+json): standalone may say no more than unknown
        assert response["verdict"]["label"] == "unknown", exc
        return
    results = [c2pa_manifest.check(media, ctx), metadata_labels.check(media, ctx)]
    server = decide(results)
    assert declared(response["verdict"]["label"], response["checks"]) == declared(
        server.label, [r.to_json() for r in results])
    assert [r["signal"] for r in response["verdict"]["reasons"]] == [r["signal"] for r in server.reasons]
    assert response["verdict"]["summary"] == server.summary


@pytest.mark.parametrize("path", C2PA_FILES, ids=rel)
def test_standalone_c2pa_matches_server(path: Path, standalone, ctx) -> None:
    server = c2pa_manifest.check(load_media(path.read_bytes(), Limits()), ctx).to_json()
    local = standalone[rel(path)]["response"]["checks"][0]
    assert local["check"] == "c2pa_manifest"
    assert (local["outcome"], local["signal"]) == (server["outcome"], server["signal"])
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
