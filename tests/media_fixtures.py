"""Paths and expectations of the shared test media (../shared/fixtures). A plain module, not conftest, so that test
modules import it unambiguously (tests/e2e has a conftest of its own)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures"


def fixture_path(name: str) -> Path:
    """A file under ../shared/fixtures (e.g. "c2pa/no_manifest.jpg")."""
    return FIXTURES / name


def expected(folder: str) -> list[dict[str, Any]]:
    """The folder's expected.json entries."""
    return json.loads((FIXTURES / folder / "expected.json").read_text(encoding="utf-8"))


def expected_label(entry: dict[str, Any]) -> str:
    """The verdict label an expected.json entry implies, by the rule of the spine issue.

    A declared AI label or C2PA AI declaration -> synthetic; a C2PA manifest whose content or claim fails validation ->
    provenance_invalid; one that fails only on its certificate -> synthetic when it declares AI, else
    untrusted_provenance; GB 45438 Label 2 -> likely_synthetic; valid C2PA without AI -> has_provenance when a trust
    list vouches for the signer (state Trusted), else untrusted_provenance; otherwise unknown.
    """
    exp, ev = entry["expected"], entry.get("evidence", {}).get("c2pa", {})
    if exp["c2pa"] == "valid_ai" or exp["label"] == "ai":
        return "synthetic"
    if exp["c2pa"] == "invalid":
        codes = set(ev.get("with_trust_bundle", {}).get("status_codes", []))
        cert_only = all(c.startswith(("signingCredential.", "timeStamp.")) for c in codes)
        if cert_only:
            return "synthetic" if ev.get("ai_basis") else "untrusted_provenance"
        return "provenance_invalid"
    if exp["label"] == "ai_possible":
        return "likely_synthetic"
    if exp["c2pa"] == "valid_not_ai":
        trusted = ev.get("with_trust_bundle", {}).get("validation_state") == "Trusted"
        return "has_provenance" if trusted else "untrusted_provenance"
    return "unknown"


def alpha_plane(path: Path, tmp: Path) -> dict[str, Any] | None:
    """The alpha channel as row-major bytes (Pillow decodes it) in a file under `tmp`, for the extension's stealth
    reader run under node, which has no image decoder (in the browser, check.js decodeAlphaWith gives it the plane);
    None when the server would read no alpha either."""
    import numpy as np
    from PIL import Image

    try:
        with Image.open(path) as img:
            if img.format not in ("PNG", "WEBP") or img.mode not in ("RGBA", "LA"):
                return None
            alpha = np.asarray(img.getchannel("A"))
    except Exception:  # noqa: BLE001 - Pillow raises many types for bad data; no plane then, as the server reads none
        return None
    out = tmp / f"{hashlib.sha256(str(path).encode()).hexdigest()[:16]}.alpha"  # names repeat across folders
    out.write_bytes(alpha.tobytes())
    return {"path": str(out), "height": int(alpha.shape[0]), "width": int(alpha.shape[1])}
