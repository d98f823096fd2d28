"""`build.py extension`: per-browser manifests, store-ready zips, and web-ext lint on the Firefox build."""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from buildtasks import extension as ext


def test_extension_build_chromium_manifest_service_worker_module(extension_dist: dict[str, Path]) -> None:
    manifest = json.loads((extension_dist["chromium"] / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["manifest_version"] == 3
    assert manifest["background"] == {"service_worker": "background/service-worker.js", "type": "module"}
    assert "browser_specific_settings" not in manifest
    assert manifest["content_scripts"][0]["js"][0] == "shared/messages.js"


def test_extension_build_manifest_key_pins_documented_chromium_id(extension_dist: dict[str, Path]) -> None:
    manifest = json.loads((extension_dist["chromium"] / "manifest.json").read_text(encoding="utf-8"))
    assert ext.chromium_id(manifest) == ext.CHROMIUM_ID
    assert ext.CHROMIUM_ID in (ext.SOURCE / "README.md").read_text(encoding="utf-8")
    assert "PRIVATE KEY" not in json.dumps(manifest)


def test_extension_build_minimum_permissions_each_justified_in_readme(extension_dist: dict[str, Path]) -> None:
    manifest = json.loads((extension_dist["chromium"] / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["permissions"] == ["storage", "contextMenus", "offscreen"]
    firefox = json.loads((extension_dist["firefox"] / "manifest.json").read_text(encoding="utf-8"))
    assert firefox["permissions"] == ["storage", "contextMenus"]  # its background page starts the worker itself
    assert manifest["host_permissions"] == ["<all_urls>"]
    assert "optional_permissions" not in manifest
    readme = (ext.SOURCE / "README.md").read_text(encoding="utf-8")
    for permission in [*manifest["permissions"], *manifest["host_permissions"]]:
        assert f"`{permission}`" in readme, permission


def test_extension_build_firefox_manifest_background_scripts_gecko_id(extension_dist: dict[str, Path]) -> None:
    manifest = json.loads((extension_dist["firefox"] / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["background"] == {"scripts": ["background/service-worker.js"], "type": "module"}
    assert manifest["browser_specific_settings"]["gecko"]["id"] == ext.GECKO_ID
    assert "service_worker" not in manifest["background"] and "minimum_chrome_version" not in manifest
    assert "key" not in manifest  # Chromium-only


def test_extension_build_zips_hold_the_build_and_icons(extension_dist: dict[str, Path]) -> None:
    for browser in ("chromium", "firefox"):
        with zipfile.ZipFile(extension_dist[f"{browser}_zip"]) as zf:
            names = set(zf.namelist())
            assert "manifest.json" in names and "icons/icon-128.png" in names
            assert "_locales/zh_CN/messages.json" in names
            assert json.loads(zf.read("manifest.json")) == json.loads(
                (extension_dist[browser] / "manifest.json").read_text(encoding="utf-8"))


def test_extension_build_bundles_c2pa_engine_wasm_only_csp(extension_dist: dict[str, Path]) -> None:
    """Standalone mode: the C2PA engine and the server's trust settings are in both zips; the CSP allows only the
    extension's own scripts plus WebAssembly compilation (no remote code)."""
    trust = (ext.ROOT / "server" / "verify" / "trust" / "c2pa_settings.json").read_bytes()
    for browser in ("chromium", "firefox"):
        manifest = json.loads((extension_dist[browser] / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["content_security_policy"] == {
            "extension_pages": "script-src 'self' 'wasm-unsafe-eval'; object-src 'self'"}
        with zipfile.ZipFile(extension_dist[f"{browser}_zip"]) as zf:
            names = set(zf.namelist())
            for name in ("vendor/c2pa/c2pa.js", "vendor/c2pa/c2pa_bg.wasm", "vendor/c2pa/LICENSE",
                         "standalone/c2pa-worker.js", "standalone/offscreen.html", "standalone/metadata-labels.js"):
                assert name in names, (browser, name)
            assert zf.read("vendor/c2pa/c2pa_settings.json") == trust
            assert zf.read("vendor/c2pa/c2pa_bg.wasm")[:4] == b"\0asm"


def test_extension_locales_same_keys_en_zh_cn() -> None:
    en = json.loads((ext.SOURCE / "_locales" / "en" / "messages.json").read_text(encoding="utf-8"))
    zh = json.loads((ext.SOURCE / "_locales" / "zh_CN" / "messages.json").read_text(encoding="utf-8"))
    assert en.keys() == zh.keys()
    for key in en:
        assert en[key].get("placeholders", {}).keys() == zh[key].get("placeholders", {}).keys(), key


def test_extension_sources_no_inner_html_no_remote_code() -> None:
    for path in ext.SOURCE.rglob("*.js"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write", text), path
        assert not re.search(r"\beval\(|new Function\(", text), path
    for path in ext.SOURCE.rglob("*.html"):
        assert "<script src=\"http" not in path.read_text(encoding="utf-8"), path


def test_web_ext_lint_firefox_build_no_errors_or_warnings(extension_dist: dict[str, Path]) -> None:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    result = ext.lint(extension_dist["firefox"], as_json=True)
    report = json.loads(result.stdout)
    assert report["count"] == 0, json.dumps(report["errors"] + report["warnings"] + report["notices"], indent=1)[:3000]
    assert result.returncode == 0
