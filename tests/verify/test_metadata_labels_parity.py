"""Parity: the browser's metadata_labels reader (extension/standalone/metadata-labels.js, run under node) gives the
same result as the server's check (in-process) on every shared fixture the issue names; its vocabulary is generated
from the server's tables and up to date; corrupt variants of labelled files agree on the label too."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from buildtasks import labels_vocabulary
from server.verify import verdict
from server.verify.checks import metadata_labels
from server.verify.media import load_media
from server.verify.types import CheckContext, Limits, MediaError

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT.parent / "shared" / "fixtures"
RUNNER = ROOT / "tests" / "extension" / "metadata-labels-run.mjs"
IMAGE_FOLDERS = ("metadata", "c2pa", "photos", "watermark")
AV_FOLDERS = ("audio", "video")  # their image files where there are any; every audio/video file must be unsupported
SKIP_SUFFIXES = {".md", ".json", ".py", ".cfg", ".pem", ".txt"}

if not FIXTURES.is_dir():
    pytest.skip(f"shared fixtures not found at {FIXTURES}", allow_module_level=True)
if shutil.which("node") is None:
    pytest.skip("node is needed to run the extension's reader", allow_module_level=True)


def fixture_files() -> list[Path]:
    files: list[Path] = []
    for folder in IMAGE_FOLDERS + AV_FOLDERS:
        files += sorted(p for p in (FIXTURES / folder).rglob("*") if p.is_file() and p.suffix.lower() not in SKIP_SUFFIXES)
    return files


def server_result(data: bytes) -> dict[str, Any] | None:
    """The server's check as JSON plus the verdict label it alone gives; None when the server refuses the bytes."""
    try:
        media = load_media(data, Limits())
    except MediaError:
        return None
    result = metadata_labels.check(media, CheckContext())
    out = result.to_json()
    out["label"] = verdict.decide([result]).label
    return out


def alpha_plane(path: Path, tmp: Path) -> dict[str, Any] | None:
    """The alpha channel as row-major bytes (Pillow decodes it), for the JS stealth reader, which has no decoder."""
    try:
        with Image.open(path) as img:
            if img.format not in ("PNG", "WEBP") or img.mode not in ("RGBA", "LA"):
                return None
            alpha = np.asarray(img.getchannel("A"))
    except Exception:  # Pillow raises many types for bad data; the JS reader then gets no plane, as the server reads none
        return None
    out = tmp / (path.name + ".alpha")
    out.write_bytes(alpha.tobytes())
    return {"path": str(out), "height": int(alpha.shape[0]), "width": int(alpha.shape[1])}


def js_results(paths: list[Path], tmp: Path, alpha: bool = True) -> list[dict[str, Any]]:
    items = [{"path": str(p), **({"alpha": a} if alpha and (a := alpha_plane(p, tmp)) else {})} for p in paths]
    proc = subprocess.run(["node", str(RUNNER)], input=json.dumps(items), capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def comparable(result: dict[str, Any]) -> dict[str, Any]:
    """What must agree: outcome, signal, label, summary, every finding, the PNG text keys. Not `notes` (each reader
    words its own) and not `xmp_source` (the server names its reader, exiv2; the browser reads the raw packet)."""
    evidence = result.get("evidence") or {}
    return {"outcome": result["outcome"], "signal": result["signal"], "label": result["label"],
            "summary": result["summary"], "findings": evidence.get("findings"),
            "png_text_keys": evidence.get("png_text_keys")}


def differences(paths: list[Path], tmp: Path) -> tuple[int, list[str]]:
    compared = 0
    diffs: list[str] = []
    for path, js in zip(paths, js_results(paths, tmp)):
        server = server_result(path.read_bytes())
        if server is None:  # the server refuses the bytes before any check (415): the browser must not label them
            assert js["label"] == "unknown" and js["outcome"] == "unsupported", path
            continue
        compared += 1
        if comparable(server) != comparable(js):
            diffs.append(f"{path.relative_to(FIXTURES)}:\n  server {comparable(server)}\n  js     {comparable(js)}")
    return compared, diffs


def test_metadata_labels_parity_every_fixture_same_result(tmp_path: Path) -> None:
    paths = fixture_files()
    compared, diffs = differences(paths, tmp_path)
    assert compared >= 400, compared  # metadata + c2pa + photos + watermark images, and the audio/video files
    assert not diffs, f"{len(diffs)} of {compared} differ:\n" + "\n".join(diffs)


def test_metadata_labels_parity_fixture_labels_cover_each_reader(tmp_path: Path) -> None:
    """The parity run above means something only if the fixtures exercise each kind of finding in the browser."""
    paths = sorted(p for p in (FIXTURES / "metadata").iterdir() if p.suffix in (".png", ".jpg"))
    kinds = {f["kind"] for r in js_results(paths, tmp_path) for f in (r["evidence"].get("findings") or [])}
    assert {"iptc_digital_source_type", "gb45438_aigc_xmp", "sd_webui_parameters_png",
            "sd_webui_parameters_exif_usercomment", "comfyui_prompt_workflow_png", "novelai_png_text",
            "novelai_stealth_pnginfo_alpha", "midjourney_png_description"} <= kinds


def _mutations(data: bytes, rng: random.Random, n: int) -> list[bytes]:
    """Truncations, byte flips and spliced garbage of `data`: what a damaged or hostile file looks like."""
    out: list[bytes] = []
    for _ in range(n):
        choice = rng.randrange(3)
        if choice == 0:
            out.append(data[: rng.randrange(1, len(data))])
        elif choice == 1:
            buf = bytearray(data)
            for _ in range(rng.randrange(1, 16)):
                buf[rng.randrange(len(buf))] = rng.randrange(256)
            out.append(bytes(buf))
        else:
            at = rng.randrange(len(data))
            out.append(data[:at] + rng.randbytes(rng.randrange(1, 256)) + data[at:])
    return out


def test_metadata_labels_parity_damaged_files_same_label(tmp_path: Path) -> None:
    """Seeded mutations of every labelled metadata fixture: the browser never fails and gives the server's label.

    Labels only (the summary and findings of a half-readable file legitimately depend on where each reader stops)."""
    rng = random.Random(16)
    sources = sorted(p for p in (FIXTURES / "metadata").iterdir() if p.suffix in (".png", ".jpg"))
    paths: list[Path] = []
    for source in sources:
        for i, data in enumerate(_mutations(source.read_bytes(), rng, 12)):
            path = tmp_path / f"{source.stem}__{i}{source.suffix}"
            path.write_bytes(data)
            paths.append(path)
    mismatched: list[str] = []
    agreed = 0
    for path, js in zip(paths, js_results(paths, tmp_path)):
        assert js["outcome"] != "error", (path.name, js["summary"])
        server = server_result(path.read_bytes())
        server_label = server["label"] if server is not None and server["outcome"] != "error" else "unknown"
        if js["label"] == server_label:
            agreed += 1
        else:
            mismatched.append(f"{path.name}: server {server_label}, js {js['label']}")
    print(f"damaged variants: {agreed}/{len(paths)} same label")
    assert not mismatched, "\n".join(mismatched)


def test_labels_vocabulary_generated_copy_is_up_to_date() -> None:
    assert labels_vocabulary.TARGET.read_text(encoding="utf-8") == labels_vocabulary.render(), (
        "run `python3 build.py extension` (or buildtasks.labels_vocabulary.write()) and commit the result")
