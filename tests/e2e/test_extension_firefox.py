"""The Firefox build of the extension in real Firefox ESR (WebDriver BiDi): installs and labels the C2PA AI image."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

from e2e_support import C2PA_AI, free_port
from firefox_bidi import BiDi, connect, write_profile

from buildtasks.extension import GECKO_ID

ADDON_UUID = "5f0c2a4e-7d1b-4e59-9c3a-0b6f1d2e8a47"
POLL_S = 0.25
WAIT_S = 45


async def _run(firefox: str, ext_dir: Path, server_url: str, page_url: str, badge_src: str, profile: Path,
               shot: Path) -> dict:
    port = free_port()
    write_profile(profile, {"extensions.webextensions.uuids": json.dumps({GECKO_ID: ADDON_UUID})})
    proc = subprocess.Popen([firefox, "--headless", "--no-remote", "--profile", str(profile),
                             f"--remote-debugging-port={port}", "--remote-allow-hosts=127.0.0.1", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ws = await connect(port, proc)
        async with ws:
            bidi = BiDi(ws)
            await bidi.call("session.new", {"capabilities": {}})
            installed = await bidi.call("webExtension.install",
                                        {"extensionData": {"type": "path", "path": str(ext_dir)}})
            # On first install the add-on opens its options page (BiDi may not navigate to moz-extension:// URLs).
            options = None
            for _ in range(int(WAIT_S / POLL_S)):
                tree = await bidi.call("browsingContext.getTree", {})
                options = next((c["context"] for c in tree["contexts"] if c["url"].startswith("moz-extension://")), None)
                if options and await bidi.evaluate(options, "document.body.dataset.ready === 'true'"):
                    break
                await asyncio.sleep(POLL_S)
            assert options, tree
            context = (await bidi.call("browsingContext.create", {"type": "tab"}))["context"]
            # Settings through the options page, as a user would (an extension page -> set-settings).
            await bidi.evaluate(options, "VerifyMessages.request('set-settings', "
                                         f"{{settings: {{serverUrl: {json.dumps(server_url)}}}}}).then(() => true)")
            await bidi.navigate(context, page_url)
            selector = json.dumps(f'[data-verity-src="{badge_src}"]')
            label = None
            for _ in range(int(WAIT_S / POLL_S)):
                label = await bidi.evaluate(
                    context, f"document.querySelector({selector})?.getAttribute('data-verity-label') ?? null")
                if label:
                    break
                await asyncio.sleep(POLL_S)
            title = await bidi.evaluate(context, f"document.querySelector({selector})?.title ?? null")
            await bidi.screenshot(context, shot)
            return {"extension": installed.get("extension"), "label": label, "title": title}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_firefox_build_installs_and_labels_c2pa_image(firefox_binary, extension_dist, verity_server, test_site,
                                                      tmp_path: Path, artifacts: Path) -> None:
    result = asyncio.run(_run(firefox_binary, extension_dist["firefox"], verity_server.url, f"{test_site}/page.html",
                              f"{test_site}/fixtures/{C2PA_AI}", tmp_path / "ff-profile",
                              artifacts / "firefox-page-en.png"))
    assert result["extension"] == GECKO_ID
    assert result["label"] == "synthetic", result
    assert "AI-generated" in (result["title"] or "")
