"""The Firefox build of the extension in real Firefox ESR (WebDriver BiDi): installs and labels the C2PA AI image."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from e2e_support import C2PA_AI
from firefox_bidi import firefox_with_addon, tab_labels

from buildtasks.extension import GECKO_ID

ADDON_UUID = "5f0c2a4e-7d1b-4e59-9c3a-0b6f1d2e8a47"
POLL_S = 0.25
WAIT_S = 45


async def _run(firefox: str, ext_dir: Path, server_url: str, page_url: str, badge_src: str, profile: Path,
               shot: Path) -> dict:
    async with firefox_with_addon(firefox, ext_dir, profile, {GECKO_ID: ADDON_UUID}) as (bidi, installed, options):
        context = (await bidi.call("browsingContext.create", {"type": "tab"}))["context"]
        # Settings through the options page, as a user would (an extension page -> set-settings).
        await bidi.evaluate(options, "VerifyMessages.request('set-settings', "
                                     f"{{settings: {{serverUrl: {json.dumps(server_url)}}}}}).then(() => true)")
        await bidi.navigate(context, page_url)
        label = None
        for _ in range(int(WAIT_S / POLL_S)):
            shown = await tab_labels(bidi, options, page_url)
            label = next((x for x in shown["labels"] if x["url"] == badge_src), None)
            if label:
                break
            await asyncio.sleep(POLL_S)
        await bidi.screenshot(context, shot)
        return {"extension": installed, "label": label and label["label"], "text": label and label["text"]}


def test_firefox_build_installs_and_labels_c2pa_image(firefox_binary, extension_dist, verity_server, test_site,
                                                      tmp_path: Path, artifacts: Path) -> None:
    result = asyncio.run(_run(firefox_binary, extension_dist["firefox"], verity_server.url, f"{test_site}/page.html",
                              f"{test_site}/fixtures/{C2PA_AI}", tmp_path / "ff-profile",
                              artifacts / "firefox-page-en.png"))
    assert result["extension"] == GECKO_ID
    assert result["label"] == "synthetic", result
    assert "AI-generated" in (result["text"] or "")
