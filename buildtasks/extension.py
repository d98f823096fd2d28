"""`build.py extension [--no-lint]`: build the browser extension for Chromium and Firefox, zip it, lint the Firefox build.

extension/ is the single source, with the Chromium manifest as the canonical one. This writes

    dist/chromium/  + dist/verity-chromium-<version>.zip   (Chrome Web Store upload)
    dist/firefox/   + dist/verity-firefox-<version>.zip    (AMO upload)

The Firefox manifest is generated (uBO Lite's per-browser manifests): Firefox wants `background.scripts` (with
`"type": "module"`) instead of `service_worker`, and a gecko id. Icons are drawn here with Pillow, so the source tree
holds no binaries. `web-ext lint` (npm, pinned, installed into the git-ignored node_modules/) checks the Firefox build.

Standalone mode reads C2PA in the browser with `@contentauth/c2pa-wasm` (the c2pa-rs WebAssembly that
`@contentauth/c2pa-web` wraps; c2pa-web's own worker must come from an https: or blob: URL, which an extension's CSP
forbids, so the extension runs the same engine in its own module worker). npm packages come from package.json +
the committed package-lock.json (integrity hashes) with `npm ci`; the engine's JS + .wasm and the server's C2PA trust
settings (server/verify/trust/c2pa_settings.json, so "Trusted" means the same in both) are copied into
`vendor/c2pa/` of both packages. Nothing is fetched at run time.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "extension"
DIST = ROOT / "dist"
WEB_EXT_VERSION = "10.7.0"
GECKO_ID = "verity-extension@verity.example"
# Chromium's extension id, fixed by the public key in manifest.json ("key"): the first 128 bits of the key's SHA-256,
# hex digits 0-f written as a-p. The private key is not kept in the repository (a store upload is signed by the store).
CHROMIUM_ID = "ooilldgjbgincpcjiamblbepnpjeceba"
GECKO_MIN_VERSION = "142.0"
ICON_SIZES = (16, 32, 48, 128)
# Fixed timestamp inside the zips, so the same sources give byte-identical packages.
ZIP_DATE = (2026, 1, 1, 0, 0, 0)
NODE_MODULES = ROOT / "node_modules"
C2PA_WASM = NODE_MODULES / "@contentauth" / "c2pa-wasm"
# (source, name inside the package's vendor/c2pa/): the engine and the trust configuration the server ships.
VENDOR_FILES: tuple[tuple[Path, str], ...] = (
    (C2PA_WASM / "pkg" / "c2pa.js", "c2pa.js"),
    (C2PA_WASM / "pkg" / "c2pa_bg.wasm", "c2pa_bg.wasm"),
    (C2PA_WASM / "LICENSE", "LICENSE"),
    (ROOT / "server" / "verify" / "trust" / "c2pa_settings.json", "c2pa_settings.json"),
)


def source_manifest() -> dict[str, Any]:
    return json.loads((SOURCE / "manifest.json").read_text(encoding="utf-8"))


def chromium_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """The canonical manifest as is (service_worker + type module)."""
    return json.loads(json.dumps(manifest))


def firefox_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """Firefox: background scripts instead of a service worker, a gecko id, no Chrome-only keys."""
    out = json.loads(json.dumps(manifest))
    worker = out["background"]["service_worker"]
    out["background"] = {"scripts": [worker], "type": "module"}
    out.pop("minimum_chrome_version", None)
    out.pop("key", None)
    # Firefox runs the C2PA worker from its background page: no offscreen document (nor its permission) there.
    out["permissions"] = [p for p in out.get("permissions", []) if p != "offscreen"]
    out["browser_specific_settings"] = {
        "gecko": {
            "id": GECKO_ID,
            "strict_min_version": GECKO_MIN_VERSION,
            # The media a page shows is sent to the Verity server the user configured (the add-on's function).
            "data_collection_permissions": {"required": ["websiteContent"]},
        }
    }
    return out


def chromium_id(manifest: dict[str, Any]) -> str:
    """The Chromium extension id that the manifest's public key gives."""
    import base64
    import hashlib

    digest = hashlib.sha256(base64.b64decode(manifest["key"])).hexdigest()[:32]
    return "".join(chr(ord("a") + int(c, 16)) for c in digest)


def draw_icon(size: int, path: Path) -> None:
    """Verity's icon: a check mark in a rounded blue square."""
    from PIL import Image, ImageDraw

    scale = 4  # draw large, then downsample for smooth edges
    s = size * scale
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((0, 0, s - 1, s - 1), radius=int(s * 0.22), fill=(26, 115, 232, 255))
    w = max(scale * 2, int(s * 0.12))
    d.line([(s * 0.25, s * 0.52), (s * 0.43, s * 0.70), (s * 0.76, s * 0.32)], fill=(255, 255, 255, 255), width=w,
           joint="curve")
    img.resize((size, size), Image.Resampling.LANCZOS).save(path, optimize=True)


def npm_ci() -> None:
    """`npm ci` from the committed package-lock.json, unless node_modules already holds exactly that lockfile's install
    (npm writes node_modules/.package-lock.json; the stamp is the committed lockfile's hash)."""
    lock = ROOT / "package-lock.json"
    stamp = NODE_MODULES / ".verity-lock.sha256"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text(encoding="utf-8").strip() == digest and C2PA_WASM.exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("build.py: npm is needed (install Node.js and npm)")
    print("build.py: npm ci (package-lock.json)", flush=True)
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    stamp.write_text(digest + "\n", encoding="utf-8")


def _vendor(target: Path) -> None:
    """The C2PA engine and trust settings, into the package (vendor/c2pa/)."""
    folder = target / "vendor" / "c2pa"
    folder.mkdir(parents=True, exist_ok=True)
    for source, name in VENDOR_FILES:
        shutil.copyfile(source, folder / name)


def vendor_bytes(target: Path) -> int:
    """Bytes that vendor/ adds to an unpacked package."""
    return sum(p.stat().st_size for p in (target / "vendor").rglob("*") if p.is_file())


def _copy_tree(target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(SOURCE, target, ignore=shutil.ignore_patterns("manifest.json", ".*", "*.md"))
    _vendor(target)
    icons = target / "icons"
    icons.mkdir(exist_ok=True)
    for size in ICON_SIZES:
        draw_icon(size, icons / f"icon-{size}.png")


def _zip(folder: Path, zip_path: Path) -> None:
    zip_path.unlink(missing_ok=True)
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, path.read_bytes())


def build() -> dict[str, Path]:
    """Write dist/chromium, dist/firefox and their zips. Returns {"chromium": dir, "firefox": dir, ...zips}."""
    from . import labels_vocabulary

    if labels_vocabulary.write():  # the standalone reader's tables, generated from the server's metadata_labels check
        print(f"build.py: wrote {labels_vocabulary.TARGET.relative_to(ROOT)}", flush=True)
    npm_ci()
    manifest = source_manifest()
    version = manifest["version"]
    DIST.mkdir(exist_ok=True)
    out: dict[str, Path] = {}
    for browser, make in (("chromium", chromium_manifest), ("firefox", firefox_manifest)):
        target = DIST / browser
        _copy_tree(target)
        (target / "manifest.json").write_text(json.dumps(make(manifest), indent=2, ensure_ascii=False) + "\n",
                                              encoding="utf-8")
        zip_path = DIST / f"verity-{browser}-{version}.zip"
        _zip(target, zip_path)
        out[browser] = target
        out[f"{browser}_zip"] = zip_path
    return out


def web_ext() -> Path:
    """The pinned web-ext CLI under node_modules/ (package.json devDependencies, installed by `npm ci`)."""
    binary = NODE_MODULES / ".bin" / "web-ext"
    package = NODE_MODULES / "web-ext" / "package.json"
    if not (package.exists() and json.loads(package.read_text(encoding="utf-8")).get("version") == WEB_EXT_VERSION):
        npm_ci()
    return binary


def lint(firefox_dir: Path, as_json: bool = False) -> subprocess.CompletedProcess[str]:
    """`web-ext lint` on the Firefox build (errors or warnings make it fail)."""
    args = [str(web_ext()), "lint", "--source-dir", str(firefox_dir), "--warnings-as-errors", "--no-config-discovery"]
    if as_json:
        args.append("--output=json")
    return subprocess.run(args, cwd=ROOT, capture_output=as_json, text=True)


def main(argv: list[str]) -> int:
    out = build()
    for key, path in out.items():
        size = path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        print(f"{key:16} {path.relative_to(ROOT)}  {size / 1e6:.2f} MB")
    for browser in ("chromium", "firefox"):
        with zipfile.ZipFile(out[f"{browser}_zip"]) as zf:
            added = sum(i.compress_size for i in zf.infolist() if i.filename.startswith("vendor/"))
        print(f"standalone C2PA ({browser}): +{vendor_bytes(out[browser]) / 1e6:.2f} MB unpacked, "
              f"+{added / 1e6:.2f} MB in the zip (vendor/c2pa/)")
    if "--no-lint" in argv:
        return 0
    return lint(out["firefox"]).returncode
